package account

import (
	"context"
	"crypto/sha256"
	"time"
)

// OptInProof is the record of one double opt-in, written in the
// transactions of the steps it proves: what a site must be able to show
// under GDPR Art. 7(1).
type OptInProof struct {
	ID         int64
	TenantID   int64
	CustomerID int64
	TokenID    int64  // the confirmation token the mail carried
	Kind       string // ProofRegistration
	Channel    string // the API the request came through: native, pages, or a dialect's name
	// The request.
	RequestedAt    time.Time
	RequestAddress string // as the tenant's session.client_address keeps addresses
	RequestAgent   string
	ConsentVersion string
	ConsentLang    string
	ConsentHash    []byte // SHA-256 of the consent text shown; empty when the text is not known
	// The confirmation mail.
	MailID         int64
	MessageID      string
	MailAcceptedAt *time.Time // when the SMTP server accepted it
	// The confirmation.
	ConfirmedAt    *time.Time
	ConfirmAddress string
	ConfirmAgent   string
}

// Kinds of opt-in proofs.
const (
	ProofRegistration = "registration" // a registration's double opt-in
	ProofEmailChange  = "email_change" // a customer's new address, confirmed from its mailbox
	ProofInvitation   = "invitation"   // a back office's invitation, accepted from the mailbox
)

// Consent is the consent text a registrant was shown and accepted.
type Consent struct {
	Version string
	Lang    string
	Text    string // when known, its SHA-256 is recorded
}

// maxAgentLength bounds a user agent kept in a proof.
const maxAgentLength = 512

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// channelOf names the API a caller came through.
func channelOf(c Caller) string {
	if c.Policy.Channel != "" {
		return c.Policy.Channel
	}
	return "native"
}

// proveRequest records, in tx, the request of kind that issued tokenID
// and the confirmation mail that carries it.
func (s *core) proveRequest(ctx context.Context, tx Tx, c Caller, kind string, cust Customer, tokenID int64, consent *Consent, mail *Mail) error {
	req := RequesterFrom(ctx)
	p := OptInProof{TenantID: cust.TenantID, CustomerID: cust.ID, TokenID: tokenID, Kind: kind,
		Channel: channelOf(c), RequestedAt: s.now(),
		RequestAddress: clientAddress(ctx, c.Tenant),
		RequestAgent:   clip(req.UserAgent, maxAgentLength)}
	if consent != nil {
		p.ConsentVersion, p.ConsentLang = clip(consent.Version, 100), clip(consent.Lang, 10)
		if consent.Text != "" {
			h := sha256.Sum256([]byte(consent.Text))
			p.ConsentHash = h[:]
		}
	}
	if mail != nil {
		p.MailID, p.MessageID = mail.ID, mail.MessageID
	}
	return tx.CreateProof(ctx, &p)
}

// proveConfirmation records, in tx, that the token's link was used now,
// from where.
func (s *core) proveConfirmation(ctx context.Context, tx Tx, c Caller, tenantID, tokenID int64) error {
	return tx.ConfirmProof(ctx, tenantID, tokenID, s.now(),
		clientAddress(ctx, c.Tenant), clip(RequesterFrom(ctx).UserAgent, maxAgentLength))
}

// proveAcceptance records, in tx, that the customer took up an
// invitation now, from where: by its link or its code.
func (s *core) proveAcceptance(ctx context.Context, tx Tx, c Caller, cust Customer) error {
	return tx.ConfirmProofsOfKind(ctx, cust.TenantID, cust.ID, ProofInvitation, s.now(),
		clientAddress(ctx, c.Tenant), clip(RequesterFrom(ctx).UserAgent, maxAgentLength))
}

// Proofs returns a customer's opt-in proofs (secret key only).
func (s *Customers) Proofs(ctx context.Context, c Caller, ref string) ([]OptInProof, error) {
	cust, err := s.Get(ctx, c, ref)
	if err != nil {
		return nil, err
	}
	ps, err := s.store.ProofsOf(ctx, cust.TenantID, cust.ID)
	if err != nil {
		return nil, Internal(err)
	}
	return ps, nil
}
