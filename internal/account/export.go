package account

import (
	"context"
	"encoding/hex"
	"time"
)

// CustomerExport is everything pforte holds about a customer, as one
// document (GDPR Art. 15 and 20): the format docs/export.md describes.
// Secrets (password hash, token hashes) are not in it; nor are mail
// bodies, erased once a mail is sent.
type CustomerExport struct {
	Format      string           `json:"format"`  // ExportFormat
	Version     int              `json:"version"` // ExportVersion
	ExportedAt  time.Time        `json:"exported_at"`
	Tenant      string           `json:"tenant"`
	Customer    ExportedCustomer `json:"customer"`
	Sessions    []ExportedLogin  `json:"sessions"`
	Mail        []ExportedMail   `json:"mail"`
	AuditEvents []ExportedEvent  `json:"audit_events"`
	Proofs      []ExportedProof  `json:"optin_proofs"`
}

// ExportedProof is an opt-in proof as the export, the API and the
// command line show it.
type ExportedProof struct {
	Kind           string     `json:"kind"`
	Channel        string     `json:"channel"`
	RequestedAt    time.Time  `json:"requested_at"`
	RequestAddress string     `json:"request_address"`
	RequestAgent   string     `json:"request_agent"`
	ConsentVersion string     `json:"consent_version"`
	ConsentLang    string     `json:"consent_lang"`
	ConsentSHA256  string     `json:"consent_sha256"` // hex; empty when the text was not given
	MessageID      string     `json:"message_id"`
	MailAcceptedAt *time.Time `json:"mail_accepted_at"`
	ConfirmedAt    *time.Time `json:"confirmed_at"`
	ConfirmAddress string     `json:"confirm_address"`
	ConfirmAgent   string     `json:"confirm_agent"`
}

// Exported is the proof as ExportedProof shows it.
func (p OptInProof) Exported() ExportedProof {
	return ExportedProof{Kind: p.Kind, Channel: p.Channel, RequestedAt: p.RequestedAt, RequestAddress: p.RequestAddress,
		RequestAgent: p.RequestAgent, ConsentVersion: p.ConsentVersion, ConsentLang: p.ConsentLang,
		ConsentSHA256: hex.EncodeToString(p.ConsentHash), MessageID: p.MessageID, MailAcceptedAt: p.MailAcceptedAt,
		ConfirmedAt: p.ConfirmedAt, ConfirmAddress: p.ConfirmAddress, ConfirmAgent: p.ConfirmAgent}
}

// The export's format and version.
const (
	ExportFormat  = "pforte-customer-export"
	ExportVersion = 1
)

// ExportedCustomer is the customer's profile and state.
type ExportedCustomer struct {
	ID               int64      `json:"id"`
	UUID             string     `json:"uuid"`
	Email            string     `json:"email"` // empty under email_storage=hmac
	EmailConfirmedAt *time.Time `json:"email_confirmed_at"`
	PreviousEmail    string     `json:"previous_email,omitempty"`
	Username         string     `json:"username"`
	Salutation       string     `json:"salutation"`
	FirstName        string     `json:"first_name"`
	LastName         string     `json:"last_name"`
	Locale           string     `json:"locale"`
	PartnerRef       string     `json:"partner_ref"`
	State            State      `json:"state"`
	HasPassword      bool       `json:"has_password"`
	CreatedAt        time.Time  `json:"created_at"`
	UpdatedAt        time.Time  `json:"updated_at"`
}

// Exported is the customer's profile and state as an export shows it.
func (c Customer) Exported() ExportedCustomer {
	return ExportedCustomer{ID: c.ID, UUID: c.UUID, Email: c.Email, EmailConfirmedAt: c.EmailConfirmedAt,
		PreviousEmail: c.PreviousEmail, Username: c.Username, Salutation: c.Salutation, FirstName: c.FirstName,
		LastName: c.LastName, Locale: c.Locale, PartnerRef: c.PartnerRef, State: c.State,
		HasPassword: c.HasPassword(), CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

// ExportedLogin is a live session, without its token.
type ExportedLogin struct {
	ID            int64     `json:"id"`
	Device        string    `json:"device"`
	ClientAddress string    `json:"client_address"`
	Remembered    bool      `json:"remembered"`
	CreatedAt     time.Time `json:"created_at"`
	LastSeenAt    time.Time `json:"last_seen_at"`
	ExpiresAt     time.Time `json:"expires_at"`
}

// ExportedMail is a mail pforte sent or means to send to the customer.
type ExportedMail struct {
	Kind       MailKind   `json:"kind"`
	MessageID  string     `json:"message_id"`
	Status     MailStatus `json:"status"`
	CreatedAt  time.Time  `json:"created_at"`
	FinishedAt *time.Time `json:"finished_at"`
}

// ExportedEvent is one of the customer's audit events.
type ExportedEvent struct {
	Seq           int64             `json:"seq"`
	At            time.Time         `json:"at"`
	Type          AuditType         `json:"type"`
	Actor         string            `json:"actor"`
	Outcome       string            `json:"outcome"`
	ClientAddress string            `json:"client_address"`
	Detail        map[string]string `json:"detail"`
}

// Export is everything about a customer (secret key only).
func (s *Customers) Export(ctx context.Context, c Caller, ref string) (CustomerExport, error) {
	cust, err := s.Get(ctx, c, ref)
	if err != nil {
		return CustomerExport{}, err
	}
	return s.export(ctx, c.Tenant, cust)
}

// ExportMine is Export of the session's customer.
func (s *Customers) ExportMine(ctx context.Context, tenantID int64, token string) (CustomerExport, error) {
	cust, sess, err := s.sessions.Lookup(ctx, tenantID, token)
	if err != nil {
		return CustomerExport{}, err
	}
	t, err := s.tenants.byID(ctx, sess.TenantID)
	if err != nil {
		return CustomerExport{}, err
	}
	return s.export(ctx, t, cust)
}

func (s *Customers) export(ctx context.Context, t Tenant, cust Customer) (CustomerExport, error) {
	x := CustomerExport{Format: ExportFormat, Version: ExportVersion, ExportedAt: s.now(), Tenant: t.Slug,
		Customer: cust.Exported(),
		Sessions: []ExportedLogin{}, Mail: []ExportedMail{}, AuditEvents: []ExportedEvent{}, Proofs: []ExportedProof{}}
	proofs, err := s.store.ProofsOf(ctx, t.ID, cust.ID)
	if err != nil {
		return CustomerExport{}, Internal(err)
	}
	for _, p := range proofs {
		x.Proofs = append(x.Proofs, p.Exported())
	}
	sessions, err := s.devices.live(ctx, cust)
	if err != nil {
		return CustomerExport{}, err
	}
	for _, l := range sessions {
		x.Sessions = append(x.Sessions, ExportedLogin{ID: l.ID, Device: l.Device, ClientAddress: l.ClientAddress,
			Remembered: l.Remembered, CreatedAt: l.CreatedAt, LastSeenAt: l.LastSeenAt, ExpiresAt: l.EndsAt()})
	}
	mail, err := s.store.MailOf(ctx, t.ID, cust.ID)
	if err != nil {
		return CustomerExport{}, Internal(err)
	}
	for _, m := range mail {
		x.Mail = append(x.Mail, ExportedMail{Kind: m.Kind, MessageID: m.MessageID, Status: m.Status,
			CreatedAt: m.CreatedAt, FinishedAt: m.FinishedAt})
	}
	for after := int64(0); ; {
		page, err := s.store.ListAudit(ctx, AuditQuery{TenantID: t.ID, CustomerID: cust.ID, AfterSeq: after, Limit: 1000})
		if err != nil {
			return CustomerExport{}, Internal(err)
		}
		for _, e := range page {
			x.AuditEvents = append(x.AuditEvents, ExportedEvent{Seq: e.Seq, At: e.At, Type: e.Type, Actor: e.Actor,
				Outcome: e.Outcome, ClientAddress: e.ClientAddress, Detail: e.Detail})
			after = e.Seq
		}
		if len(page) < 1000 {
			break
		}
	}
	return x, nil
}
