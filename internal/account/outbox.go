package account

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Retry policy of the outbox. The first retries come within seconds, so a
// short SMTP outage is over within about a minute; the backoff doubles up
// to retryMax, and a mail not delivered within giveUpAfter is failed.
const (
	defaultRetryBase   = time.Second
	defaultRetryMax    = 10 * time.Minute
	defaultGiveUpAfter = 48 * time.Hour
	defaultMailLease   = 5 * time.Minute
)

// sendsMail: pforte mails tokens in mail and both delivery.
func (c Caller) sendsMail() bool {
	d := c.Delivery()
	return d == DeliveryMail || d == DeliveryBoth
}

// Delivery is the caller's delivery mode: its application's, else its
// tenant's.
func (c Caller) Delivery() Delivery {
	if c.App != nil && c.App.Delivery != "" {
		return c.App.Delivery
	}
	return c.Tenant.Delivery()
}

// link builds the URL a mail leads to, only from configured URLs: the
// caller's application, else the tenant's settings. A link template wins
// over the request endpoint. Without either, there is no link and the mail
// shows the token to enter on the site.
func (c Caller) link(action, token string, customerID int64) string {
	var tmpl, endpoint string
	pick := func(confirm, reset, invite string) string {
		return map[string]string{ActionConfirm: confirm, ActionReset: reset, ActionActivate: invite}[action]
	}
	if c.App != nil {
		tmpl, endpoint = pick(c.App.ConfirmURL, c.App.ResetURL, c.App.InviteURL), c.App.Endpoint
	}
	if tmpl == "" && endpoint == "" {
		t := c.Tenant
		tmpl = pick(t.Setting("confirm_url"), t.Setting("reset_url"), t.Setting("invite_url"))
		endpoint = t.Setting("endpoint")
	}
	id := strconv.FormatInt(customerID, 10)
	switch {
	case tmpl != "":
		return strings.NewReplacer("{token}", url.PathEscape(token), "{customerId}", id,
			"{accountId}", url.PathEscape(c.Tenant.Slug)).Replace(tmpl)
	case endpoint != "":
		// The order of seed 004's example, which url.Values would sort away.
		sep := "?"
		if strings.Contains(endpoint, "?") {
			sep = "&"
		}
		return endpoint + sep + "accountId=" + url.QueryEscape(c.Tenant.Slug) + "&customerId=" + id +
			"&token=" + url.QueryEscape(token) + "&action=" + action
	}
	return ""
}

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
}

// enqueue renders a mail for the customer and writes it to the outbox in
// tx, so that it exists exactly when the change that caused it commits.
// It does nothing for callers whose delivery sends no mail.
func (s *Service) enqueue(ctx context.Context, tx Tx, c Caller, cust Customer, o outgoing) error {
	if !c.sendsMail() {
		return nil
	}
	if s.cfg.Renderer == nil {
		return errors.New("no mail renderer configured")
	}
	to := cust.mailAddress()
	if to == "" {
		// email_storage=hmac and a flow whose request named no address.
		s.log.Info("mail not sent: the tenant keeps no addresses", "tenant", c.Tenant.Slug, "kind", o.kind, "customer_id", cust.ID)
		return nil
	}
	// Names a stranger may have typed into a public registration must not
	// greet the address's owner (see Customer.NamesUnconfirmed).
	name := cust.Name()
	if cust.NamesUnconfirmed {
		name = ""
	}
	d := MailData{Kind: o.kind, Locale: mailLocale(cust, c.Tenant), Tenant: c.Tenant.Slug, Name: name,
		Email: to, Code: o.code, ValidFor: o.validFor}
	if o.action != "" {
		var shown string
		if d.Link, shown = c.mailLink(o.action, o.token, cust); d.Link == "" {
			d.Token = shown
		}
	}
	dir := c.Tenant.Setting("templates")
	r, err := s.cfg.Renderer.Render(dir, d)
	if err != nil && dir != "" {
		// The directory was checked when it was set; if it broke since,
		// the mail still goes out, with the default templates.
		s.log.Error("tenant mail templates failed; using the defaults", "tenant", c.Tenant.Slug, "kind", o.kind, "err", err)
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
	if m.Sealed, err = s.seal(env, m.MessageID); err != nil {
		return err
	}
	return tx.EnqueueMail(ctx, &m)
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

// mailKey derives the outbox key from the server secret, so that a copy of
// the database alone does not reveal the tokens in queued mail.
func (s *Service) mailKey() []byte {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte("pforte outbox v1"))
	return m.Sum(nil)
}

func (s *Service) seal(env Envelope, messageID string) ([]byte, error) {
	plain, err := json.Marshal(env)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(s.mailKey())
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	rand.Read(nonce)
	return gcm.Seal(nonce, nonce, plain, []byte(messageID)), nil
}

func (s *Service) open(m Mail) (Envelope, error) {
	block, err := aes.NewCipher(s.mailKey())
	if err != nil {
		return Envelope{}, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return Envelope{}, err
	}
	if len(m.Sealed) < gcm.NonceSize() {
		return Envelope{}, errors.New("no sealed content")
	}
	plain, err := gcm.Open(nil, m.Sealed[:gcm.NonceSize()], m.Sealed[gcm.NonceSize():], []byte(m.MessageID))
	if err != nil {
		return Envelope{}, errors.New("cannot open: the server secret has changed since the mail was queued")
	}
	var env Envelope
	return env, json.Unmarshal(plain, &env)
}

// notifyQueued wakes this process's relay after a commit that queued mail.
func (s *Service) notifyQueued() {
	select {
	case s.queued <- struct{}{}:
	default:
	}
}

// MailQueued is signalled after this process queued mail.
func (s *Service) MailQueued() <-chan struct{} { return s.queued }

// ClaimMail leases due mails for a relay and opens them. A mail that
// cannot be opened is failed at once.
func (s *Service) ClaimMail(ctx context.Context, owner string, limit int) ([]OutgoingMail, error) {
	now := s.now()
	ms, err := s.store.ClaimMail(ctx, owner, now, now.Add(s.cfg.MailLease), limit)
	if err != nil {
		return nil, Internal(err)
	}
	out := make([]OutgoingMail, 0, len(ms))
	for _, m := range ms {
		env, err := s.open(m)
		if err != nil {
			// Sealed under another secret: a replica (or a restart) with
			// that secret can still send it, so it waits rather than fails,
			// until the give-up time like any other mail.
			s.log.Error("outbox mail cannot be opened with this server's secret", "mail_id", m.ID, "err", err)
			if _, ferr := s.MailFailed(ctx, OutgoingMail{Mail: m}, err, false); ferr != nil {
				s.log.Error("rescheduling outbox mail", "mail_id", m.ID, "err", ferr)
			}
			continue
		}
		out = append(out, OutgoingMail{Mail: m, Envelope: env})
	}
	return out, nil
}

// ReleaseMail hands a claimed mail that was never tried back to the queue
// at once, for a relay that is shutting down.
func (s *Service) ReleaseMail(ctx context.Context, m OutgoingMail) error {
	if err := s.store.RescheduleMail(ctx, m.ID, m.LeaseOwner, s.now(), m.LastError); err != nil && !errors.Is(err, ErrNotFound) {
		return Internal(err)
	}
	return nil
}

// cancelMail fails a customer's unsent mail in tx: nothing queued for an
// erased, disabled or re-addressed customer goes out, and its sealed
// content is erased.
func (s *Service) cancelMail(ctx context.Context, tx Tx, cust Customer, reason string) error {
	return tx.CancelMail(ctx, cust.TenantID, cust.ID, s.now(), reason)
}

// MailSent records that the SMTP server accepted a mail; its content is
// erased.
func (s *Service) MailSent(ctx context.Context, id int64) error {
	if err := s.store.MarkMailSent(ctx, id, s.now()); err != nil {
		return Internal(err)
	}
	return nil
}

// MailFailed records a failed attempt. A permanent refusal, or a mail
// undelivered for giveUpAfter, fails for good; anything else is retried
// after a backoff that doubles from retryBase up to retryMax, with jitter
// so that relays do not retry in step. failed reports that the mail failed
// for good.
func (s *Service) MailFailed(ctx context.Context, m OutgoingMail, cause error, permanent bool) (failed bool, err error) {
	now := s.now()
	reason := cause.Error()
	if len(reason) > 500 {
		reason = reason[:500]
	}
	if permanent || now.Sub(m.CreatedAt) >= s.cfg.MailGiveUp {
		if !permanent {
			reason = "gave up after " + s.cfg.MailGiveUp.String() + ": " + reason
		}
		s.log.Warn("mail failed", "mail_id", m.ID, "kind", m.Kind, "tenant_id", m.TenantID, "attempts", m.Attempts, "err", reason)
		if err := s.store.FailMail(ctx, m.ID, now, reason); err != nil && !errors.Is(err, ErrNotFound) {
			return false, Internal(err)
		}
		return true, nil
	}
	next := now.Add(s.backoff(m.Attempts))
	s.log.Info("mail will be retried", "mail_id", m.ID, "kind", m.Kind, "tenant_id", m.TenantID, "attempts", m.Attempts,
		"next_attempt_at", next, "err", reason)
	if err := s.store.RescheduleMail(ctx, m.ID, m.LeaseOwner, next, reason); err != nil && !errors.Is(err, ErrNotFound) {
		return false, Internal(err)
	}
	return false, nil
}

// backoff is the wait after the given number of attempts: retryBase,
// doubling, capped at retryMax, then ±20 % jitter.
func (s *Service) backoff(attempts int) time.Duration {
	d := s.cfg.MailRetryMax
	if shift := attempts - 1; shift >= 0 && shift < 30 {
		d = min(s.cfg.MailRetryBase<<shift, s.cfg.MailRetryMax)
	}
	n, _ := rand.Int(rand.Reader, big.NewInt(401))
	return d * time.Duration(800+n.Int64()) / 1000
}

// MailView is an outbox row for people: its content is shown while the
// mail is unsent, and gone once it was sent.
type MailView struct {
	Mail
	Envelope *Envelope // nil once sent or failed
}

// Mails lists the newest mails of a tenant ("" for every tenant).
func (s *Service) Mails(ctx context.Context, slug string, limit int) ([]MailView, error) {
	var tenantID int64
	if slug != "" {
		t, err := s.TenantBySlug(ctx, slug)
		if err != nil {
			return nil, err
		}
		tenantID = t.ID
	}
	ms, err := s.store.ListMail(ctx, tenantID, limit)
	if err != nil {
		return nil, Internal(err)
	}
	out := make([]MailView, 0, len(ms))
	for _, m := range ms {
		v := MailView{Mail: m}
		if len(m.Sealed) > 0 {
			if env, err := s.open(m); err == nil {
				v.Envelope = &env
			}
		}
		out = append(out, v)
	}
	return out, nil
}
