package account

import (
	"context"
	"errors"
	"time"
)

// Erasing a customer removes the profile, tokens, sessions, sign-in
// places and unsent mail at once. What a site may need later to defend
// a claim (GDPR Art. 17(3)(e)) is the proof that the customer opted in:
// when the tenant's proof_retention is set, the opt-in proofs and the
// bodies of the customer's audit events stay until it has passed,
// pseudonymised: the row that named the customer is gone, and an
// Erasure keeps only an HMAC of the address under the server secret, so
// that the proofs can be found again by the address a claimant names
// and by nothing else. Without proof_retention they go with the
// customer.

// Erasure records that a customer was erased and that its opt-in proofs
// and audit events are kept until KeepUntil.
type Erasure struct {
	TenantID   int64
	CustomerID int64  // the erased customer's ID, which the kept proofs and events still carry
	Subject    string // HMAC of the normalised address under the server secret
	ErasedAt   time.Time
	KeepUntil  time.Time
}

// erase removes cust in tx, as actor, for reason (what its unsent mail
// failed with). Unless purging, the opt-in proofs and audit events stay
// for the tenant's proof_retention.
func (s *Customers) erase(ctx context.Context, tx Tx, t Tenant, cust Customer, actor, reason string, purging bool) error {
	if err := s.mail.cancelMail(ctx, tx, cust, reason); err != nil {
		return err
	}
	keep := t.duration("proof_retention")
	if keep > 0 && !purging {
		if s.keys.ephemeral {
			return ErrNoSecretYet // the subject would be keyed with a secret no one keeps
		}
		now := s.now()
		err := tx.CreateErasure(ctx, Erasure{TenantID: t.ID, CustomerID: cust.ID, Subject: s.subjectOf(t, cust),
			ErasedAt: now, KeepUntil: now.Add(keep)})
		if err != nil {
			return err
		}
	} else if err := s.forget(ctx, tx, t.ID, cust.ID); err != nil {
		return err
	}
	if err := s.audit.record(ctx, tx, t, AuditEvent{Type: AuditCustomerDeleted, Actor: actor, CustomerID: cust.ID}); err != nil {
		return err
	}
	return tx.DeleteCustomer(ctx, t.ID, cust.ID)
}

// forget removes what an erased customer left behind: its opt-in proofs
// and the bodies of its audit events.
func (s *core) forget(ctx context.Context, tx Tx, tenantID, customerID int64) error {
	if err := tx.DeleteProofs(ctx, tenantID, customerID); err != nil {
		return err
	}
	return tx.EraseAudit(ctx, tenantID, customerID)
}

// subjectOf is the pseudonym an erasure keeps of the customer's
// address: the key an email_storage=hmac tenant keeps anyway.
func (s *core) subjectOf(t Tenant, cust Customer) string {
	if !keepsAddresses(t) {
		return cust.EmailKey
	}
	return s.keys.hashedEmailKey(t.ID, cust.EmailKey)
}

// ErasedProofs is an erased customer's kept opt-in proofs.
type ErasedProofs struct {
	Erasure
	Proofs []OptInProof
}

// Erasures returns the erasures of customers who had the address email,
// with the proofs kept of each, oldest first (secret key only).
func (s *Customers) Erasures(ctx context.Context, c Caller, email string) ([]ErasedProofs, error) {
	if err := c.requireSecret(); err != nil {
		return nil, err
	}
	key, fe := NormalizeEmail(email)
	if fe != nil {
		return nil, Invalid(*fe)
	}
	es, err := s.store.ErasuresOf(ctx, c.Tenant.ID, s.keys.hashedEmailKey(c.Tenant.ID, key))
	if err != nil {
		return nil, Internal(err)
	}
	out := make([]ErasedProofs, 0, len(es))
	for _, e := range es {
		ps, err := s.store.ProofsOf(ctx, e.TenantID, e.CustomerID)
		if err != nil {
			return nil, Internal(err)
		}
		out = append(out, ErasedProofs{Erasure: e, Proofs: ps})
	}
	return out, nil
}

// endRetentions forgets the erasures whose proof_retention has passed.
func (s *Customers) endRetentions(ctx context.Context) error {
	for {
		ended, err := s.store.ErasuresEnded(ctx, s.now(), 500)
		if err != nil {
			return err
		}
		for _, e := range ended {
			err := s.inTx(ctx, func(tx Tx) error {
				if err := s.forget(ctx, tx, e.TenantID, e.CustomerID); err != nil {
					return err
				}
				return tx.DeleteErasure(ctx, e.TenantID, e.CustomerID)
			})
			if err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
		}
		if len(ended) < 500 {
			return nil
		}
	}
}
