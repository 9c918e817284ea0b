package account

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// mailLocale is de or en: the customer's, else the tenant's default.
func mailLocale(cust Customer, t Tenant) string {
	for _, l := range []string{cust.Locale, t.Setting("default_locale")} {
		if lang, _, _ := strings.Cut(strings.ToLower(l), "-"); lang == "de" || lang == "en" {
			return lang
		}
	}
	return "de"
}

// outgoing is one mail a flow wants sent.
type outgoing struct {
	kind     MailKind
	action   string // for the link; empty for mails without one
	token    string
	code     string
	validFor time.Duration
	username string // the username the request asked for, for the link
	to       string // the recipient, when not the customer's address
	newEmail string // see MailData.NewEmail
	device   string // see MailData.Device
	queued   *Mail  // when set, receives the outbox row written
	// notBefore holds the mail back until then (zero: send at once), to
	// spread a bulk import's invitations.
	notBefore time.Time
}

// copiedToPrevious are the kinds that also go to a customer's previous
// address while a back office's change is unconfirmed (Customer.PreviousEmail).
var copiedToPrevious = map[MailKind]bool{MailPasswordReset: true, MailPasswordChanged: true}

// enqueue renders a mail for the customer and writes it to the outbox in
// tx, so that it exists exactly when the change that caused it commits.
// It does nothing for callers whose delivery sends no mail.
func (s *mailer) enqueue(ctx context.Context, tx Tx, c Caller, cust Customer, o outgoing) error {
	if !c.sendsMail() {
		return nil
	}
	if s.cfg.Renderer == nil {
		return errors.New("no mail renderer configured")
	}
	to := cust.mailAddress()
	if o.to != "" {
		to = o.to
	}
	if prev := cust.PreviousEmail; copiedToPrevious[o.kind] && prev != "" && prev != to {
		copied := o
		copied.to = prev
		if err := s.enqueue(ctx, tx, c, Customer{ID: cust.ID, TenantID: cust.TenantID, Locale: cust.Locale,
			FirstName: cust.FirstName, LastName: cust.LastName, NamesUnconfirmed: cust.NamesUnconfirmed}, copied); err != nil {
			return err
		}
	}
	if to == "" {
		// email_storage=hmac and a flow whose request named no address.
		s.log.InfoContext(ctx, "mail not sent: the tenant keeps no addresses", "tenant", c.Tenant.Slug, "kind", o.kind, "customer_id", cust.ID)
		return nil
	}
	// Names a stranger may have typed into a public registration must not
	// greet the address's owner (see Customer.NamesUnconfirmed).
	name := cust.Name()
	if cust.NamesUnconfirmed {
		name = ""
	}
	d := MailData{Kind: o.kind, Locale: mailLocale(cust, c.Tenant), Tenant: c.Tenant.Slug, Name: name,
		Email: to, Code: o.code, ValidFor: o.validFor, NewEmail: o.newEmail, Device: o.device}
	if o.action != "" {
		var shown string
		if d.Link, shown = s.mailLink(c, Link{Action: o.action, Token: o.token, Customer: cust, Username: o.username}); d.Link == "" {
			d.Token = shown
		}
	}
	dir := c.Tenant.Setting("templates")
	r, err := s.cfg.Renderer.Render(dir, d)
	if err != nil && dir != "" {
		// The directory was checked when it was set; if it broke since,
		// the mail still goes out, with the default templates.
		s.log.ErrorContext(ctx, "tenant mail templates failed; using the defaults", "tenant", c.Tenant.Slug, "kind", o.kind, "err", err)
		r, err = s.cfg.Renderer.Render("", d)
	}
	if err != nil {
		return fmt.Errorf("rendering %s mail: %w", o.kind, err)
	}
	from := c.Tenant.Setting("mail_from")
	if from == "" {
		from = s.cfg.MailFrom
	}
	sender, err := ParseMailFrom(from)
	if err != nil {
		return fmt.Errorf("mail sender %q: %w", from, err)
	}
	env := Envelope{To: to, ToName: name, From: sender.Address, FromName: sender.Name,
		Subject: r.Subject, Text: r.Text, HTML: r.HTML}
	if d.Link != "" {
		env.Links = []string{d.Link}
	}
	now := s.now()
	m := Mail{TenantID: c.Tenant.ID, CustomerID: cust.ID, Kind: o.kind, Locale: d.Locale,
		MessageID: newMessageID(sender.Address), Status: MailUnsent, NextAttemptAt: now, CreatedAt: now}
	if o.notBefore.After(now) {
		m.NextAttemptAt = o.notBefore
	}
	if m.Sealed, err = s.keys.seal(env, m.MessageID); err != nil {
		return err
	}
	if err := tx.EnqueueMail(ctx, &m); err != nil {
		return err
	}
	if o.queued != nil {
		*o.queued = m
	}
	return nil
}

// newMessageID makes an RFC 5322 Message-ID on the sender's domain; it is
// stored, so every retry sends the same one.
func newMessageID(from string) string {
	b := make([]byte, 16)
	rand.Read(b)
	domain := "pforte.invalid"
	if _, d, ok := strings.Cut(from, "@"); ok && d != "" {
		domain = d
	}
	return "<" + hex.EncodeToString(b) + "@" + domain + ">"
}

// notifyQueued wakes this process's relay after a commit that queued mail.
func (s *mailer) notifyQueued() {
	select {
	case s.queued <- struct{}{}:
	default:
	}
}

// cancelMail fails a customer's unsent mail in tx: nothing queued for an
// erased, disabled or re-addressed customer goes out, and its sealed
// content is erased.
func (s *mailer) cancelMail(ctx context.Context, tx Tx, cust Customer, reason string) error {
	return tx.CancelMail(ctx, cust.TenantID, cust.ID, s.now(), reason)
}

// mailPasswordChanged notifies the customer of a new password (NIST SP
// 800-63B asks for it after a reset; pforte sends it after every change).
func (s *mailer) mailPasswordChanged(ctx context.Context, tx Tx, c Caller, cust Customer) error {
	return s.enqueue(ctx, tx, c, cust, outgoing{kind: MailPasswordChanged})
}

// mailLimit bounds mails of some kinds to one customer per hour, so that
// nobody can flood an address through public endpoints.
func (s *mailer) mailLimitReached(ctx context.Context, tx Tx, cust Customer, max int, kinds ...MailKind) (bool, error) {
	n, err := tx.CountMail(ctx, cust.TenantID, cust.ID, kinds, s.now().Add(-time.Hour))
	return n >= max, err
}

// mailer schedules the flows' mail: it renders each one and writes it to
// the outbox in the flow's transaction, and wakes the relay after commit.
type mailer struct {
	*core
	queued chan struct{} // see Outbox.Queued
}
