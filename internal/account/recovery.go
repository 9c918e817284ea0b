package account

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"
)

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

var errEmailUnknown = &Error{Kind: KindNotFound, Code: CodeEmailUnknown, Message: "no customer has this email address"}

// Request issues a reset token if the email belongs to a
// customer who may reset, replacing older ones. It answers the same either
// way; the token comes back only to callers that receive tokens.
func (s *Recovery) Request(ctx context.Context, c Caller, email string) (ResetResult, error) {
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
			if c.revealsUnknownEmail() {
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
			if full, err := s.mail.mailLimitReached(ctx, tx, cust, 5, MailPasswordReset); err != nil || full {
				return err
			}
		}
		res.Customer = cust
		res.Token, err = s.mailReset(ctx, tx, c, cust, "")
		return err
	})
	if err == nil {
		s.mail.notifyQueued()
	}
	if err != nil || !c.receivesTokens() || res.Token == "" {
		return ResetResult{}, err
	}
	return res, nil
}

// mailReset replaces the customer's reset tokens with a new one and mails
// its link in tx, to the address to if given, else to the customer's. It
// returns the token's secret.
func (s *core) mailReset(ctx context.Context, tx Tx, c Caller, cust Customer, to string) (string, error) {
	raw, _, err := s.tokens.issueToken(ctx, tx, cust, PurposePasswordReset)
	if err != nil {
		return "", err
	}
	return raw, s.mail.enqueue(ctx, tx, c, cust, outgoing{kind: MailPasswordReset, action: ActionReset, token: raw,
		validFor: s.cfg.ResetTTL, to: to})
}

// Complete sets a new password with a reset token. Every
// session ends and a new one is opened. A reset proves control of the
// mailbox, so it also confirms a pending customer's email.
func (s *Recovery) Complete(ctx context.Context, c Caller, token, newPw string, confirmation *string) (Customer, NewSession, error) {
	return s.creds.setPasswordWithToken(ctx, c, PurposePasswordReset, newPw, confirmation, s.tokens.spendToken(ctx, c, token, PurposePasswordReset, nil))
}

// CompleteFor is Complete for a site that names
// the customer (by id or uuid) along with the token (Betterez's
// /accounts/customers/{id}): a token issued for any other customer is
// refused and stays unused. An unknown customer fails at the same point
// and cost as a wrong one, so the path cannot probe for ids.
func (s *Recovery) CompleteFor(ctx context.Context, c Caller, ref, token, newPw string) (Customer, NewSession, error) {
	match := func(cust Customer) bool {
		return ref == strconv.FormatInt(cust.ID, 10) || strings.EqualFold(ref, cust.UUID)
	}
	return s.creds.setPasswordWithToken(ctx, c, PurposePasswordReset, newPw, nil, s.tokens.spendToken(ctx, c, token, PurposePasswordReset, match))
}

// CompleteWithCode sets a new password with the email address and the 8-digit
// code of a reset.
func (s *Recovery) CompleteWithCode(ctx context.Context, c Caller, email, code, newPw string) (Customer, NewSession, error) {
	if newPw == "" {
		return Customer{}, NewSession{}, Invalid(FieldError{Field: "password", Code: FieldRequired, Message: "is required"})
	}
	return s.creds.useCode(ctx, c, email, code, PurposePasswordReset, newPw, nil)
}

var errNoTokensInMailDelivery = &Error{Kind: KindForbidden, Code: CodeTokensNotReturned,
	Message: "with delivery=mail pforte mails codes and returns none; set delivery to return or both"}

// IssueCode gives a site a reset code for a customer (secret key
// only), replacing older reset tokens and codes. It does not mail.
func (s *Recovery) IssueCode(ctx context.Context, c Caller, email string) (Customer, string, error) {
	if err := c.requireSecret(); err != nil {
		return Customer{}, "", err
	}
	if !c.receivesTokens() {
		return Customer{}, "", errNoTokensInMailDelivery
	}
	cust, err := s.customers.ByEmail(ctx, c, email)
	if err != nil {
		return Customer{}, "", err
	}
	if !resettable(cust.State) {
		return Customer{}, "", Errorf(KindForbidden, CodeNotResettable, "a %s customer cannot reset a password", cust.State)
	}
	code, err := s.tokens.issueCode(ctx, cust.TenantID, cust.ID, PurposePasswordReset)
	return cust, code, err
}
