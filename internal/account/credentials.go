package account

import (
	"context"
	"errors"
	"math"
	"pforte/internal/password"
	"time"
)

// useCode spends a code and completes the flow of its purpose in one
// transaction, exactly as the link would. The guess is counted first, on
// its own, so that it counts whatever happens next; everything else (a
// missing password, a disabled account) is said only after a right code,
// and leaves the code unspent. Answers take at least UniformResponse, so
// neither they nor their timing tell which addresses have accounts.
func (s *credentials) useCode(ctx context.Context, c Caller, email, code string, p Purpose, newPw string, confirmation *string) (Customer, NewSession, error) {
	defer s.uniform(ctx, time.Now())
	key, fe := s.emailKey(c.Tenant, email)
	if fe != nil {
		return Customer{}, NewSession{}, Invalid(*fe)
	}
	if !codePattern.MatchString(code) {
		return Customer{}, NewSession{}, ErrTokenInvalid
	}
	// What can be said of a new password without the customer is said
	// before the address is looked up, for known and unknown alike.
	if newPw != "" || p != PurposeInvite {
		if fields := s.checkNewPassword("password", newPw, "", confirmation); len(fields) > 0 {
			return Customer{}, NewSession{}, Invalid(fields...)
		}
	}
	cust, err := s.store.CustomerByEmailKey(ctx, c.Tenant.ID, key)
	cust.reachedAt(email)
	if errors.Is(err, ErrNotFound) {
		return Customer{}, NewSession{}, ErrTokenInvalid
	} else if err != nil {
		return Customer{}, NewSession{}, Internal(err)
	}
	attempts, err := s.store.RecordCodeFailure(ctx, cust.TenantID, cust.ID, p, s.now())
	if err != nil {
		return Customer{}, NewSession{}, Internal(err)
	}
	// Only the first maxCodeAttempts guesses are compared; a counted guess
	// may still win after later ones pushed the count past the limit, so
	// the consume itself does not look at the count.
	if attempts == 0 || attempts > maxCodeAttempts {
		return Customer{}, NewSession{}, ErrTokenInvalid
	}
	use := func(tx Tx) (Customer, error) {
		_, err := tx.ConsumeToken(ctx, c.Tenant.ID, s.keys.codeHash(cust.ID, p, code), p, s.now(), math.MaxInt32)
		if errors.Is(err, ErrNotFound) {
			return Customer{}, ErrTokenInvalid
		} else if err != nil {
			return Customer{}, err
		}
		current, err := tx.CustomerByID(ctx, cust.TenantID, cust.ID)
		current.reachedAt(email)
		return current, err
	}
	return s.setPasswordWithToken(ctx, c, p, newPw, confirmation, use)
}

// setPassword stores a new hash; ends pending resets, invitations and
// registration claims, and every session but keep (0: all); and lifts
// login throttling.
func (s *credentials) setPassword(ctx context.Context, tx Tx, cust *Customer, hash string, keep int64) error {
	cust.PasswordHash, cust.UpdatedAt = hash, s.now()
	if err := tx.UpdateCustomer(ctx, cust); err != nil {
		return err
	}
	for _, p := range []Purpose{PurposePasswordReset, PurposeInvite, PurposeClaim} {
		if err := tx.DeleteTokens(ctx, cust.TenantID, cust.ID, p); err != nil {
			return err
		}
	}
	// Registrations waiting on a pending customer would replace this
	// password when confirmed; links without a claim still confirm.
	if err := tx.DeleteClaims(ctx, cust.TenantID, cust.ID); err != nil {
		return err
	}
	if err := tx.DeleteSessions(ctx, cust.TenantID, cust.ID, keep); err != nil {
		return err
	}
	return tx.ClearLoginFailures(ctx, cust.TenantID, cust.EmailKey)
}

// setPasswordWithToken spends a token or code of purpose p to set a
// password (or, for an invitation to a customer who has one, none: newPw
// empty), confirm the address and log the customer in, all in one
// transaction: whatever refuses the request leaves the token unspent.
func (s *credentials) setPasswordWithToken(ctx context.Context, c Caller, p Purpose, newPw string, confirmation *string, use spend) (Customer, NewSession, error) {
	keepPassword := newPw == "" && p == PurposeInvite
	var hash string
	if !keepPassword {
		var err error
		if hash, err = s.hashNew(ctx, newPw, confirmation); err != nil {
			return Customer{}, NewSession{}, err
		}
	}
	var cust Customer
	var sess NewSession
	err := s.inTx(ctx, func(tx Tx) error {
		var err error
		if cust, err = use(tx); err != nil {
			return err
		}
		if cust.State == StateDisabled {
			return errAccountDisabled
		}
		if keepPassword {
			if !cust.HasPassword() {
				return Invalid(FieldError{Field: "password", Code: FieldRequired, Message: "is required: the account has no password yet"})
			}
			hash = cust.PasswordHash
		} else if fields := s.checkNewPassword("password", newPw, s.addressFor(cust, newPw), nil); len(fields) > 0 {
			return Invalid(fields...) // rolls back: the token stays usable
		}
		if err := s.setPassword(ctx, tx, &cust, hash, 0); err != nil {
			return err
		}
		if err := s.markConfirmed(ctx, tx, &cust); err != nil {
			return err
		}
		if p == PurposeInvite {
			if err := s.proveAcceptance(ctx, tx, c, cust); err != nil {
				return err
			}
		}
		if err := s.audit.record(ctx, tx, c.Tenant, AuditEvent{Type: AuditPasswordChanged, Actor: "customer", CustomerID: cust.ID,
			Detail: map[string]string{"how": string(p)}}); err != nil {
			return err
		}
		if p == PurposePasswordReset {
			if err := s.mail.mailPasswordChanged(ctx, tx, c, cust); err != nil {
				return err
			}
		}
		sess, err = s.logIn(ctx, tx, c, cust)
		return err
	})
	if err != nil {
		return Customer{}, NewSession{}, err
	}
	s.mail.notifyQueued()
	s.log.InfoContext(ctx, "password set with token", "purpose", p, "tenant", c.Tenant.Slug, "customer_id", cust.ID)
	return cust, sess, nil
}

// markConfirmed records that the customer controls the mailbox, makes the
// account active, and ends every open registration claim.
func (s *credentials) markConfirmed(ctx context.Context, tx Tx, cust *Customer) error {
	now := s.now()
	if cust.EmailConfirmedAt == nil {
		cust.EmailConfirmedAt = &now
	}
	cust.NamesUnconfirmed = false // the mailbox's owner took the registration
	if cust.State != StateActive {
		if err := setState(cust, StateActive); err != nil {
			return err
		}
	}
	cust.UpdatedAt = now
	if err := tx.UpdateCustomer(ctx, cust); err != nil {
		return err
	}
	if err := tx.DeleteTokens(ctx, cust.TenantID, cust.ID, PurposeConfirm); err != nil {
		return err
	}
	return tx.DeleteTokens(ctx, cust.TenantID, cust.ID, PurposeClaim)
}

// checkNewPassword applies the policy to a password being set. email may
// be empty where it is not known yet.
func (s *core) checkNewPassword(field, pw, email string, confirmation *string) []FieldError {
	var fields []FieldError
	if pw == "" {
		return []FieldError{{Field: field, Code: FieldRequired, Message: "is required"}}
	}
	if v := s.cfg.Policy.Check(pw, email); v != "" {
		fields = append(fields, FieldError{Field: field, Code: string(v), Message: v.Message(s.cfg.Policy)})
	}
	if confirmation != nil && *confirmation != pw {
		fields = append(fields, FieldError{Field: field + "_confirmation", Code: FieldMismatch, Message: "does not match the password"})
	}
	return fields
}

// logIn opens the session a flow that proves the customer (confirmation,
// reset, activation) ends with, unless the caller keeps none.
func (s *credentials) logIn(ctx context.Context, tx Tx, c Caller, cust Customer) (NewSession, error) {
	if !c.opensSession() {
		return NewSession{}, nil
	}
	return s.sessions.newSession(ctx, tx, opening{tenant: c.Tenant, customer: cust})
}

func (s *core) checkLoginPassword(field, pw string) error {
	if pw == "" {
		return Invalid(FieldError{Field: field, Code: FieldRequired, Message: "is required"})
	}
	// Too long is refused before any hashing; too short is not, so that
	// imported customers with older, shorter passwords can still log in.
	if v := s.cfg.Policy.CheckLength(pw); v == password.TooLong || v == password.NotUTF8 {
		return Invalid(FieldError{Field: field, Code: string(v), Message: v.Message(s.cfg.Policy)})
	}
	return nil
}

// hashNew checks a new password against the policy, as far as it can
// without the customer, and hashes it.
func (s *core) hashNew(ctx context.Context, pw string, confirmation *string) (string, error) {
	if fields := s.checkNewPassword("password", pw, "", confirmation); len(fields) > 0 {
		return "", Invalid(fields...)
	}
	return s.hash(ctx, pw)
}
