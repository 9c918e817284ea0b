package account

import "context"

// AcceptCode activates an invited or pending customer with the
// email address and the 8-digit code of the activation mail. A password is
// needed only if the customer has none yet.
func (s *Invitations) AcceptCode(ctx context.Context, c Caller, email, code, newPw string, confirmation *string) (Customer, NewSession, error) {
	return s.creds.useCode(ctx, c, email, code, PurposeInvite, newPw, confirmation)
}

// Activation is what a site needs to activate a customer itself.
type Activation struct {
	Link  string // built from the caller's application or tenant; empty if none is configured
	Token string
	Code  string
}

// Issue gives a pending customer a fresh activation link and
// code (secret key only). Only hashes are stored, so the old ones cannot be
// shown again: issuing new ones revokes them. Customers that need no
// activation get none.
func (s *Invitations) Issue(ctx context.Context, c Caller, cust Customer) (Activation, error) {
	if err := c.requireSecret(); err != nil {
		return Activation{}, err
	}
	// Under delivery=mail no token or code appears in any answer.
	if (cust.State != StatePending && cust.State != StatePendingActive) || !c.receivesTokens() {
		return Activation{}, nil
	}
	var a Activation
	err := s.inTx(ctx, func(tx Tx) error {
		var issued Token
		var err error
		if a.Token, issued, err = s.tokens.issueToken(ctx, tx, cust, PurposeInvite); err != nil {
			return err
		}
		if a.Code, err = s.tokens.newCode(ctx, tx, cust, PurposeInvite); err != nil {
			return err
		}
		// The site mails the link itself: the proof has no mail of pforte's.
		return s.proveRequest(ctx, tx, c, ProofInvitation, cust, issued.ID, nil, nil)
	})
	if err != nil {
		return Activation{}, err
	}
	a.Link = s.link(c, ActionActivate, a.Token, cust.ID)
	return a, nil
}

// Accept sets the first password of a customer created without one
// and activates the account.
func (s *Invitations) Accept(ctx context.Context, c Caller, token, newPw string, confirmation *string) (Customer, NewSession, error) {
	return s.creds.setPasswordWithToken(ctx, c, PurposeInvite, newPw, confirmation, s.tokens.spendToken(ctx, c, token, PurposeInvite, nil))
}
