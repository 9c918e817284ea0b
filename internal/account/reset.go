package account

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"
)

// setPassword stores a new hash; ends pending resets, invitations and
// registration claims, and every session but keep (0: all); and lifts
// login throttling.
func (s *Service) setPassword(ctx context.Context, tx Tx, cust *Customer, hash string, keep int64) error {
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

// resettable: customers with an online account. Offline contacts have none
// and disabled ones may not get back in by mail.
func resettable(st State) bool {
	return st == StatePending || st == StatePendingActive || st == StateActive
}

// ResetResult is a reset token with the customer it was issued for, for
// callers that receive tokens and send the mail themselves.
type ResetResult struct {
	Token    string
	Customer Customer
}

var errEmailUnknown = &Error{Kind: KindNotFound, Code: "email_unknown", Message: "no customer has this email address"}

// RequestPasswordReset issues a reset token if the email belongs to a
// customer who may reset, replacing older ones. It answers the same either
// way; the token comes back only to callers that receive tokens.
func (s *Service) RequestPasswordReset(ctx context.Context, c Caller, email string) (ResetResult, error) {
	defer s.uniform(ctx, time.Now())
	key, fe := s.emailKey(c.Tenant, email)
	if fe != nil {
		return ResetResult{}, Invalid(*fe)
	}
	if !c.delivers() {
		// The new token would reach nobody and void the one the site mailed.
		return ResetResult{}, nil
	}
	var res ResetResult
	err := s.inTx(ctx, func(tx Tx) error {
		cust, err := tx.CustomerByEmailKey(ctx, c.Tenant.ID, key)
		cust.reachedAt(email)
		if errors.Is(err, ErrNotFound) {
			if c.RevealUnknownEmail {
				return errEmailUnknown
			}
			return nil
		} else if err != nil {
			return err
		}
		if !resettable(cust.State) {
			return nil
		}
		if c.sendsMail() {
			// A flood of requests must not become a flood of mail; past
			// the limit the last link sent stays valid.
			if full, err := s.mailLimitReached(ctx, tx, cust, 5, MailPasswordReset); err != nil || full {
				return err
			}
		}
		res.Customer = cust
		if res.Token, err = s.issueToken(ctx, tx, cust, PurposePasswordReset); err != nil {
			return err
		}
		return s.enqueue(ctx, tx, c, cust, outgoing{kind: MailPasswordReset, action: ActionReset, token: res.Token, validFor: s.cfg.ResetTTL})
	})
	if err == nil {
		s.notifyQueued()
	}
	if err != nil || !c.receivesTokens() || res.Token == "" {
		return ResetResult{}, err
	}
	return res, nil
}

// mailPasswordChanged notifies the customer of a new password (NIST SP
// 800-63B asks for it after a reset; pforte sends it after every change).
func (s *Service) mailPasswordChanged(ctx context.Context, tx Tx, c Caller, cust Customer) error {
	return s.enqueue(ctx, tx, c, cust, outgoing{kind: MailPasswordChanged})
}

// CompletePasswordReset sets a new password with a reset token. Every
// session ends and a new one is opened. A reset proves control of the
// mailbox, so it also confirms a pending customer's email.
func (s *Service) CompletePasswordReset(ctx context.Context, c Caller, token, newPw string, confirmation *string) (Customer, NewSession, error) {
	return s.setPasswordWithToken(ctx, c, PurposePasswordReset, newPw, confirmation, s.spendToken(ctx, c, token, PurposePasswordReset, nil))
}

// CompletePasswordResetFor is CompletePasswordReset for a site that names
// the customer (by id or uuid) along with the token (seed 004's
// /accounts/customers/{id}): a token issued for any other customer is
// refused and stays unused. An unknown customer fails at the same point
// and cost as a wrong one, so the path cannot probe for ids.
func (s *Service) CompletePasswordResetFor(ctx context.Context, c Caller, ref, token, newPw string) (Customer, NewSession, error) {
	match := func(cust Customer) bool {
		return ref == strconv.FormatInt(cust.ID, 10) || strings.EqualFold(ref, cust.UUID)
	}
	return s.setPasswordWithToken(ctx, c, PurposePasswordReset, newPw, nil, s.spendToken(ctx, c, token, PurposePasswordReset, match))
}

// spend uses up a token or a code inside tx and returns its customer; a
// refusal rolls everything back, the token included.
type spend func(tx Tx) (Customer, error)

// spendToken spends a link token of purpose p, whose customer, when match
// is given, must match.
func (s *Service) spendToken(ctx context.Context, c Caller, token string, p Purpose, match func(Customer) bool) spend {
	return func(tx Tx) (Customer, error) {
		_, cust, err := s.consumeToken(ctx, tx, c.Tenant.ID, token, p)
		if err != nil {
			return Customer{}, err
		}
		if match != nil && !match(cust) {
			return Customer{}, errTokenInvalid
		}
		return cust, nil
	}
}

// AcceptInvite sets the first password of a customer created without one
// and activates the account.
func (s *Service) AcceptInvite(ctx context.Context, c Caller, token, newPw string, confirmation *string) (Customer, NewSession, error) {
	return s.setPasswordWithToken(ctx, c, PurposeInvite, newPw, confirmation, s.spendToken(ctx, c, token, PurposeInvite, nil))
}

// setPasswordWithToken spends a token or code of purpose p to set a
// password (or, for an invitation to a customer who has one, none: newPw
// empty), confirm the address and log the customer in, all in one
// transaction: whatever refuses the request leaves the token unspent.
func (s *Service) setPasswordWithToken(ctx context.Context, c Caller, p Purpose, newPw string, confirmation *string, use spend) (Customer, NewSession, error) {
	keepPassword := newPw == "" && p == PurposeInvite
	var hash string
	if !keepPassword {
		if fields := s.checkNewPassword("password", newPw, "", confirmation); len(fields) > 0 {
			return Customer{}, NewSession{}, Invalid(fields...)
		}
		var err error
		if hash, err = s.hash(ctx, newPw); err != nil {
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
				return Invalid(FieldError{Field: "password", Code: "required", Message: "is required: the account has no password yet"})
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
		if p == PurposePasswordReset {
			if err := s.mailPasswordChanged(ctx, tx, c, cust); err != nil {
				return err
			}
		}
		sess, err = s.logIn(ctx, tx, c, cust)
		return err
	})
	if err != nil {
		return Customer{}, NewSession{}, err
	}
	s.notifyQueued()
	s.log.Info("password set with token", "purpose", p, "tenant", c.Tenant.Slug, "customer_id", cust.ID)
	return cust, sess, nil
}
