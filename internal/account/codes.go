package account

import (
	"context"
	"errors"
	"math"
	"time"
)

// Codes are for sites whose customers type what the mail says (seed 001's
// activation and reset codes). Each is 8 digits, dies after 5 guesses, and
// stands for a token of the same purpose: using it runs the same flow as
// the link.

// ActivateWithCode activates an invited or pending customer with the
// email address and the 8-digit code of the activation mail. A password is
// needed only if the customer has none yet.
func (s *Service) ActivateWithCode(ctx context.Context, c Caller, email, code, newPw string, confirmation *string) (Customer, NewSession, error) {
	return s.useCode(ctx, c, email, code, PurposeInvite, newPw, confirmation)
}

// ResetWithCode sets a new password with the email address and the 8-digit
// code of a reset.
func (s *Service) ResetWithCode(ctx context.Context, c Caller, email, code, newPw string) (Customer, NewSession, error) {
	if newPw == "" {
		return Customer{}, NewSession{}, Invalid(FieldError{Field: "password", Code: "required", Message: "is required"})
	}
	return s.useCode(ctx, c, email, code, PurposePasswordReset, newPw, nil)
}

// useCode spends a code and completes the flow of its purpose in one
// transaction, exactly as the link would. The guess is counted first, on
// its own, so that it counts whatever happens next; everything else (a
// missing password, a disabled account) is said only after a right code,
// and leaves the code unspent. Answers take at least UniformResponse, so
// neither they nor their timing tell which addresses have accounts.
func (s *Service) useCode(ctx context.Context, c Caller, email, code string, p Purpose, newPw string, confirmation *string) (Customer, NewSession, error) {
	defer s.uniform(ctx, time.Now())
	key, fe := s.emailKey(c.Tenant, email)
	if fe != nil {
		return Customer{}, NewSession{}, Invalid(*fe)
	}
	if !codePattern.MatchString(code) {
		return Customer{}, NewSession{}, errTokenInvalid
	}
	cust, err := s.store.CustomerByEmailKey(ctx, c.Tenant.ID, key)
	cust.reachedAt(email)
	if errors.Is(err, ErrNotFound) {
		return Customer{}, NewSession{}, errTokenInvalid
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
		return Customer{}, NewSession{}, errTokenInvalid
	}
	use := func(tx Tx) (Customer, error) {
		_, err := tx.ConsumeToken(ctx, c.Tenant.ID, hashCode(s.secret, cust.ID, p, code), p, s.now(), math.MaxInt32)
		if errors.Is(err, ErrNotFound) {
			return Customer{}, errTokenInvalid
		} else if err != nil {
			return Customer{}, err
		}
		current, err := tx.CustomerByID(ctx, cust.TenantID, cust.ID)
		current.reachedAt(email)
		return current, err
	}
	return s.setPasswordWithToken(ctx, c, p, newPw, confirmation, use)
}

var errNoTokensInMailDelivery = &Error{Kind: KindForbidden, Code: "tokens_not_returned",
	Message: "with delivery=mail pforte mails codes and returns none; set delivery to return or both"}

// Activation is what a site needs to activate a customer itself.
type Activation struct {
	Link  string // built from the caller's application or tenant; empty if none is configured
	Token string
	Code  string
}

// IssueActivation gives a pending customer a fresh activation link and
// code (secret key only). Only hashes are stored, so the old ones cannot be
// shown again: issuing new ones revokes them. Customers that need no
// activation get none.
func (s *Service) IssueActivation(ctx context.Context, c Caller, cust Customer) (Activation, error) {
	if err := c.requireSecret(); err != nil {
		return Activation{}, err
	}
	// Under delivery=mail no token or code appears in any answer.
	if (cust.State != StatePending && cust.State != StatePendingActive) || !c.receivesTokens() {
		return Activation{}, nil
	}
	var a Activation
	err := s.inTx(ctx, func(tx Tx) error {
		var err error
		if a.Token, err = s.issueToken(ctx, tx, cust, PurposeInvite); err != nil {
			return err
		}
		a.Code, err = s.newCode(ctx, tx, cust, PurposeInvite)
		return err
	})
	if err != nil {
		return Activation{}, err
	}
	a.Link = c.link(ActionActivate, a.Token, cust.ID)
	return a, nil
}

// IssueResetCode gives a site a reset code for a customer (secret key
// only), replacing older reset tokens and codes. It does not mail.
func (s *Service) IssueResetCode(ctx context.Context, c Caller, email string) (Customer, string, error) {
	if err := c.requireSecret(); err != nil {
		return Customer{}, "", err
	}
	if !c.receivesTokens() {
		return Customer{}, "", errNoTokensInMailDelivery
	}
	cust, err := s.CustomerByEmail(ctx, c, email)
	if err != nil {
		return Customer{}, "", err
	}
	if !resettable(cust.State) {
		return Customer{}, "", Errorf(KindForbidden, "not_resettable", "a %s customer cannot reset a password", cust.State)
	}
	code, err := s.IssueCode(ctx, cust.TenantID, cust.ID, PurposePasswordReset)
	return cust, code, err
}
