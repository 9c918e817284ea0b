package account

import (
	"context"
	"errors"
	"strconv"
)

// PurposeSignInAlert is the token of a new sign-in mail's link.
const PurposeSignInAlert Purpose = "sign_in_alert"

// ActionSignInAlert is the link action of a new sign-in mail, as a
// request endpoint receives it.
const ActionSignInAlert = "signInAlert"

// SignInAlerts mails a customer about a login from a device and network
// not seen for them before (tenant setting session.new_sign_in_mail), and
// spends the mail's link: that login ends and a password reset starts.
type SignInAlerts struct{ *core }

// see records the place of a login's new session in tx and, if the
// tenant asks for it and the customer has logged in from elsewhere
// before but never from here, queues the mail. A place is an HMAC of the
// device label and the client's /24 or /48 network, whatever the tenant
// keeps of the address.
func (s *SignInAlerts) see(ctx context.Context, tx Tx, c Caller, cust Customer, sess Session) error {
	if sess.ID == 0 || c.Tenant.Setting("session.new_sign_in_mail") != "true" {
		return nil
	}
	req := RequesterFrom(ctx)
	network := storedAddress(req.Addr, AddressTruncated)
	place := s.keys.tenantHMAC(labelSignInPlace, cust.TenantID,
		[]byte(strconv.FormatInt(cust.ID, 10)+"\x00"+sess.Device+"\x00"+network))
	seen, others, err := tx.SeeSignInPlace(ctx, cust.TenantID, cust.ID, place, sess.CreatedAt)
	if err != nil || seen || others == 0 {
		return err // known, or the first place of all: nothing to tell
	}
	// Beside earlier alerts: each new place's link ends its own login.
	raw, _, err := s.addSealed(ctx, tx, cust, PurposeSignInAlert, undoTTL, sealedClaim{SessionID: sess.ID})
	if err != nil {
		return err
	}
	return s.mail.enqueue(ctx, tx, c, cust, outgoing{kind: MailNewSignIn, action: ActionSignInAlert, token: raw,
		validFor: undoTTL, device: sess.Device})
}

// Preview is the session a live alert's token is about; ErrTokenInvalid
// if the token is dead, and ErrSessionNotFound if that login has ended
// already. It spends nothing.
func (s *SignInAlerts) Preview(ctx context.Context, c Caller, token string) (Session, error) {
	t, claim, err := s.tokens.liveClaim(ctx, c.Tenant.ID, token, PurposeSignInAlert)
	if err != nil {
		return Session{}, err
	}
	sess, err := s.store.SessionByID(ctx, t.TenantID, claim.SessionID)
	if errors.Is(err, ErrNotFound) || err == nil && !s.now().Before(sess.EndsAt()) {
		return Session{}, ErrSessionNotFound
	} else if err != nil {
		return Session{}, Internal(err)
	}
	return sess, nil
}

// Act spends an alert's token: the login it is about ends, if it has not
// yet, and a password reset link goes to the customer.
func (s *SignInAlerts) Act(ctx context.Context, c Caller, token string) error {
	var cust Customer
	err := s.inTx(ctx, func(tx Tx) error {
		_, current, claim, err := s.tokens.consumeClaim(ctx, tx, c.Tenant.ID, token, PurposeSignInAlert)
		if err != nil {
			return err
		}
		if err := tx.DeleteSession(ctx, current.TenantID, claim.SessionID); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		cust = current
		if !resettable(current.State) {
			return nil
		}
		_, err = s.mailReset(ctx, tx, c, current, "")
		return err
	})
	if err != nil {
		return err
	}
	s.mail.notifyQueued()
	s.log.InfoContext(ctx, "a login reported by its customer ended", "tenant", c.Tenant.Slug, "customer_id", cust.ID)
	return nil
}
