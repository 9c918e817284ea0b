package account

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"
)

// A customer's own change of address (Bearer or page session, with the
// current password):
//
//  1. Request mails a link to the new address; nothing changes yet. An
//     address that belongs to another customer of the tenant gets a "someone
//     tried to use your address" mail instead, and the answer is the same.
//  2. Confirm, with that link's token, changes the address, ends every
//     other session and every open token, and mails the old address a
//     notice with a link that undoes the change for 7 days.
//  3. Undo, with the notice's token, restores the old address, ends every
//     session and starts a password reset.
//
// A back office's change (Customers.Update) notifies the old address too,
// and keeps it as PreviousEmail, where password mail also goes, until the
// customer confirms an address again.

// Purposes of the tokens of an address change.
const (
	PurposeEmailChange Purpose = "email_change" // confirms a new address
	PurposeEmailUndo   Purpose = "email_undo"   // takes a change back
)

// Link actions of an address change, as a request endpoint receives them.
const (
	ActionEmailChange = "confirmEmail"
	ActionEmailUndo   = "undoEmail"
)

// undoTTL is how long the old address may take a change back.
const undoTTL = 7 * 24 * time.Hour

// maxChangeMails bounds confirmation mails of address changes per
// customer and hour, so that a session cannot mail any address at will.
const maxChangeMails = 5

// EmailChanges changes a customer's address on the customer's word.
type EmailChanges struct{ *core }

// EmailChangeRequest is a logged-in customer's request for a new address.
type EmailChangeRequest struct {
	NewEmail string
	Password string // the current one
	App      string // the application whose links the mail carries; empty: the caller's
	// CurrentEmail, optional, is the address being replaced, for tenants
	// that keep none (email_storage=hmac): with it the old address gets
	// its notice and its undo link. It must be the customer's.
	CurrentEmail string
}

// EmailChangeRequested is what a secret-key caller that receives tokens
// gets back: the token the site mails to the new address itself.
type EmailChangeRequested struct {
	Token    string
	Customer Customer
}

// sealedClaim is what an address change's or a sign-in alert's token
// carries, sealed: the new address, the address it replaces, and the
// session that asked or that the alert is about.
type sealedClaim struct {
	NewEmail  string `json:"new_email,omitempty"`
	OldEmail  string `json:"old_email,omitempty"`
	OldKey    string `json:"old_key,omitempty"`
	SessionID int64  `json:"session_id,omitempty"`
}

// Request checks the session and the current password and mails a
// confirmation link to the new address. The answer is the same whether
// the address is free or another customer's, except to a secret key,
// which is told (409 email_taken), as registration tells it.
func (s *EmailChanges) Request(ctx context.Context, c Caller, token string, req EmailChangeRequest) (EmailChangeRequested, error) {
	cust, sess, err := s.sessions.Lookup(ctx, c.Tenant.ID, token)
	if err != nil {
		return EmailChangeRequested{}, err
	}
	if c, err = s.sessionCaller(ctx, c, sess); err != nil {
		return EmailChangeRequested{}, err
	}
	if req.App != "" {
		if c, err = s.apps.With(ctx, c, req.App); err != nil {
			return EmailChangeRequested{}, err
		}
	}
	newKey, fe := s.emailKey(c.Tenant, req.NewEmail)
	if fe != nil {
		fe.Field = "new_email"
		return EmailChangeRequested{}, Invalid(*fe)
	}
	if newKey == cust.EmailKey {
		return EmailChangeRequested{}, Invalid(FieldError{Field: "new_email", Code: FieldInvalid, Message: "is the current address"})
	}
	if req.CurrentEmail != "" {
		if key, fe := s.emailKey(c.Tenant, req.CurrentEmail); fe != nil || key != cust.EmailKey {
			return EmailChangeRequested{}, Invalid(FieldError{Field: "current_email", Code: FieldInvalid, Message: "is not the current address"})
		}
		cust.reachedAt(req.CurrentEmail)
	}
	if err := s.checkPassword(ctx, cust, req.Password); err != nil {
		return EmailChangeRequested{}, err
	}
	var res EmailChangeRequested
	err = s.inTx(ctx, func(tx Tx) error {
		other, err := tx.CustomerByEmailKey(ctx, c.Tenant.ID, newKey)
		switch {
		case err == nil:
			if c.IsSecret() {
				return ErrEmailTaken
			}
			// Told to its owner, not to the asker.
			other.reachedAt(req.NewEmail)
			if full, err := s.mail.mailLimitReached(ctx, tx, other, maxChangeMails, MailEmailInUse); err != nil || full {
				return err
			}
			return s.mail.enqueue(ctx, tx, c, other, outgoing{kind: MailEmailInUse})
		case !errors.Is(err, ErrNotFound):
			return err
		}
		if full, err := s.mail.mailLimitReached(ctx, tx, cust, maxChangeMails, MailEmailChange); err != nil || full {
			return err
		}
		claim := sealedClaim{NewEmail: req.NewEmail, OldEmail: cust.mailAddress(), OldKey: cust.EmailKey, SessionID: sess.ID}
		raw, issued, err := s.issueSealed(ctx, tx, cust, PurposeEmailChange, s.cfg.ConfirmTTL, claim)
		if err != nil {
			return err
		}
		res = EmailChangeRequested{Token: raw, Customer: cust}
		var queued Mail
		if err := s.mail.enqueue(ctx, tx, c, cust, outgoing{kind: MailEmailChange, action: ActionEmailChange, token: raw,
			validFor: s.cfg.ConfirmTTL, to: req.NewEmail, queued: &queued}); err != nil {
			return err
		}
		var mail *Mail
		if queued.ID != 0 {
			mail = &queued
		}
		return s.proveRequest(ctx, tx, c, ProofEmailChange, cust, issued.ID, nil, mail)
	})
	if err != nil {
		return EmailChangeRequested{}, err
	}
	s.mail.notifyQueued()
	s.log.InfoContext(ctx, "email change requested", "tenant", c.Tenant.Slug, "customer_id", cust.ID)
	if !c.receivesTokens() {
		return EmailChangeRequested{}, nil
	}
	return res, nil
}

// checkPassword checks the current password as a login does: counted
// against the address before it is checked, a wrong one a failure.
func (s *EmailChanges) checkPassword(ctx context.Context, cust Customer, pw string) error {
	if err := s.checkLoginPassword("password", pw); err != nil {
		return err
	}
	ctx, release, err := s.cfg.Hasher.Hold(ctx)
	if err != nil {
		return hashError(err)
	}
	defer release()
	if _, err := s.guard.checkPassword(ctx, cust.TenantID, cust.EmailKey, &cust, pw); err != nil {
		if IsKind(err, KindForbidden) {
			return ErrInvalidCredentials // a claim's password is not the current one
		}
		return err
	}
	return s.guard.clearFailures(ctx, cust.TenantID, cust.EmailKey)
}

// sessionCaller is c, or, for a request that came with a session alone,
// the session's tenant.
func (s *core) sessionCaller(ctx context.Context, c Caller, sess Session) (Caller, error) {
	if c.Tenant.ID != 0 {
		return c, nil
	}
	t, err := s.tenants.byID(ctx, sess.TenantID)
	if err != nil {
		return Caller{}, err
	}
	c.Tenant = t
	return c, nil
}

// Preview is the address a live token of an address change would set: a
// change's new address, an undo's old one. It spends nothing.
func (s *EmailChanges) Preview(ctx context.Context, c Caller, p Purpose, token string) (string, error) {
	if p != PurposeEmailChange && p != PurposeEmailUndo {
		return "", ErrTokenInvalid
	}
	_, claim, err := s.tokens.liveClaim(ctx, c.Tenant.ID, token, p)
	if err != nil {
		return "", err
	}
	if p == PurposeEmailChange {
		return claim.NewEmail, nil
	}
	return claim.OldEmail, nil
}

// Confirm spends a change's token: the address changes, every session but
// the one that asked ends with every open token, and the old address gets
// a notice with a link that takes the change back. Of concurrent
// confirmations exactly one succeeds.
func (s *EmailChanges) Confirm(ctx context.Context, c Caller, token string) (Customer, error) {
	var cust Customer
	err := s.inTx(ctx, func(tx Tx) error {
		t, current, claim, err := s.tokens.consumeClaim(ctx, tx, c.Tenant.ID, token, PurposeEmailChange)
		if err != nil {
			return err
		}
		if current.EmailKey != claim.OldKey {
			return ErrTokenInvalid // the address changed meanwhile
		}
		if current.State == StateDisabled {
			return errAccountDisabled
		}
		newKey, fe := s.emailKey(c.Tenant, claim.NewEmail)
		if fe != nil {
			return ErrTokenInvalid
		}
		if _, err := tx.CustomerByEmailKey(ctx, c.Tenant.ID, newKey); err == nil {
			return ErrEmailTaken // taken since the request: the token stays unspent
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		now := s.now()
		old := current
		current.Email, current.EmailKey = storedEmail(c.Tenant, claim.NewEmail), newKey
		current.reachedAt(claim.NewEmail)
		current.EmailConfirmedAt, current.PreviousEmail, current.UpdatedAt = &now, "", now
		if err := tx.UpdateCustomer(ctx, &current); err != nil {
			return err
		}
		if err := tx.DeleteAllTokens(ctx, current.TenantID, current.ID); err != nil {
			return err
		}
		if err := tx.DeleteSessions(ctx, current.TenantID, current.ID, claim.SessionID); err != nil {
			return err
		}
		old.reachedAt(claim.OldEmail)
		if old.mailAddress() == "" {
			cust = current
			return nil
		}
		if err := s.proveConfirmation(ctx, tx, c, current.TenantID, t.ID); err != nil {
			return err
		}
		if err := s.audit.record(ctx, tx, c.Tenant, AuditEvent{Type: AuditEmailChanged, Actor: "customer", CustomerID: current.ID,
			Detail: map[string]string{"how": "confirmed"}}); err != nil {
			return err
		}
		undo := sealedClaim{OldEmail: claim.OldEmail, OldKey: claim.OldKey}
		raw, _, err := s.issueSealed(ctx, tx, current, PurposeEmailUndo, undoTTL, undo)
		if err != nil {
			return err
		}
		cust = current
		return s.mail.enqueue(ctx, tx, c, old, outgoing{kind: MailEmailChanged, action: ActionEmailUndo, token: raw,
			validFor: undoTTL, newEmail: claim.NewEmail})
	})
	if err != nil {
		return Customer{}, err
	}
	s.mail.notifyQueued()
	s.log.InfoContext(ctx, "email changed", "tenant", c.Tenant.Slug, "customer_id", cust.ID)
	return cust, nil
}

// Undo spends the old address's token: the old address comes back,
// every session and open token ends, and a password reset is mailed to
// the old address. If another customer took the old address meanwhile,
// the address stays, but the sessions end and the reset goes out all the
// same.
func (s *EmailChanges) Undo(ctx context.Context, c Caller, token string) (Customer, error) {
	var cust Customer
	err := s.inTx(ctx, func(tx Tx) error {
		_, current, claim, err := s.tokens.consumeClaim(ctx, tx, c.Tenant.ID, token, PurposeEmailUndo)
		if err != nil {
			return err
		}
		now := s.now()
		if taken, err := tx.CustomerByEmailKey(ctx, c.Tenant.ID, claim.OldKey); errors.Is(err, ErrNotFound) {
			current.Email, current.EmailKey = storedEmail(c.Tenant, claim.OldEmail), claim.OldKey
			current.EmailConfirmedAt = &now
		} else if err != nil {
			return err
		} else if taken.ID != current.ID {
			s.log.WarnContext(ctx, "email change undone, but the old address belongs to another customer now",
				"tenant", c.Tenant.Slug, "customer_id", current.ID)
		}
		current.PreviousEmail, current.UpdatedAt = "", now
		if err := tx.UpdateCustomer(ctx, &current); err != nil {
			return err
		}
		if err := tx.DeleteAllTokens(ctx, current.TenantID, current.ID); err != nil {
			return err
		}
		if err := tx.DeleteSessions(ctx, current.TenantID, current.ID, 0); err != nil {
			return err
		}
		if err := s.audit.record(ctx, tx, c.Tenant, AuditEvent{Type: AuditEmailChanged, Actor: "customer", CustomerID: current.ID,
			Detail: map[string]string{"how": "undone"}}); err != nil {
			return err
		}
		current.reachedAt(claim.OldEmail)
		cust = current
		if !resettable(current.State) {
			return nil
		}
		_, err = s.mailReset(ctx, tx, c, current, claim.OldEmail)
		return err
	})
	if err != nil {
		return Customer{}, err
	}
	s.mail.notifyQueued()
	s.log.InfoContext(ctx, "email change undone", "tenant", c.Tenant.Slug, "customer_id", cust.ID)
	return cust, nil
}

// issueSealed replaces the customer's live tokens of purpose p with one
// that carries claim, sealed under the server secret: the addresses in it
// are not readable from a copy of the database. It returns the token's
// secret and the stored token.
func (s *core) issueSealed(ctx context.Context, tx Tx, cust Customer, p Purpose, ttl time.Duration, claim sealedClaim) (string, Token, error) {
	if err := tx.DeleteTokens(ctx, cust.TenantID, cust.ID, p); err != nil {
		return "", Token{}, err
	}
	return s.addSealed(ctx, tx, cust, p, ttl, claim)
}

// addSealed is issueSealed beside the customer's live tokens of p.
func (s *core) addSealed(ctx context.Context, tx Tx, cust Customer, p Purpose, ttl time.Duration, claim sealedClaim) (string, Token, error) {
	raw, hash := newSecret()
	sealed, err := s.keys.sealClaim(cust, p, claim)
	if err != nil {
		return "", Token{}, err
	}
	now := s.now()
	t := Token{TenantID: cust.TenantID, CustomerID: cust.ID, Purpose: p, Hash: hash, Payload: sealed,
		CreatedAt: now, ExpiresAt: now.Add(ttl)}
	return createToken(ctx, tx, raw, t)
}

// consumeClaim is consumeToken for a token that carries a sealed claim,
// opened. A claim that does not open (the secret changed) is
// ErrTokenInvalid, and rolls the spending back with tx.
func (s *tokens) consumeClaim(ctx context.Context, tx Tx, tenantID int64, raw string, p Purpose) (Token, Customer, sealedClaim, error) {
	t, cust, err := s.consumeToken(ctx, tx, tenantID, raw, p)
	if err != nil {
		return Token{}, Customer{}, sealedClaim{}, err
	}
	var claim sealedClaim
	if err := s.keys.openClaim(t, &claim); err != nil {
		return Token{}, Customer{}, sealedClaim{}, ErrTokenInvalid
	}
	return t, cust, claim, nil
}

// liveClaim is liveToken for a token that carries a sealed claim, opened.
func (s *tokens) liveClaim(ctx context.Context, tenantID int64, raw string, p Purpose) (Token, sealedClaim, error) {
	t, err := s.liveToken(ctx, tenantID, raw, p)
	if err != nil {
		return Token{}, sealedClaim{}, err
	}
	var claim sealedClaim
	if err := s.keys.openClaim(t, &claim); err != nil {
		return Token{}, sealedClaim{}, ErrTokenInvalid
	}
	return t, claim, nil
}

// claimAAD binds a sealed claim to its customer and purpose.
func claimAAD(tenantID, customerID int64, p Purpose) []byte {
	return []byte(strconv.FormatInt(tenantID, 10) + "\x00" + strconv.FormatInt(customerID, 10) + "\x00" + string(p))
}

func (k *Keyring) sealClaim(cust Customer, p Purpose, claim sealedClaim) ([]byte, error) {
	plain, err := json.Marshal(claim)
	if err != nil {
		return nil, err
	}
	return k.sealUnder(labelChangeClaim, plain, claimAAD(cust.TenantID, cust.ID, p))
}

func (k *Keyring) openClaim(t Token, claim *sealedClaim) error {
	plain, err := k.openUnder(labelChangeClaim, t.Payload, claimAAD(t.TenantID, t.CustomerID, t.Purpose))
	if err != nil {
		return err
	}
	return json.Unmarshal(plain, claim)
}
