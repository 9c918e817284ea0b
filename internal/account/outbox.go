package account

import (
	"context"
	"crypto/rand"
	"errors"
	"math/big"
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

// Queued is signalled after this process queued mail.
func (s *Outbox) Queued() <-chan struct{} { return s.mail.queued }

// Claim leases due mails for a relay and opens them. A mail that
// cannot be opened is failed at once.
func (s *Outbox) Claim(ctx context.Context, owner string, limit int) ([]OutgoingMail, error) {
	now := s.now()
	ms, err := s.store.ClaimMail(ctx, owner, now, now.Add(s.cfg.MailLease), limit)
	if err != nil {
		return nil, Internal(err)
	}
	out := make([]OutgoingMail, 0, len(ms))
	for _, m := range ms {
		env, err := s.keys.open(m)
		if err != nil {
			// Sealed under another secret: a replica (or a restart) with
			// that secret can still send it, so it waits rather than fails,
			// until the give-up time like any other mail.
			s.log.ErrorContext(ctx, "outbox mail cannot be opened with this server's secret", "mail_id", m.ID, "err", err)
			if _, ferr := s.Failed(ctx, OutgoingMail{Mail: m}, err, false); ferr != nil {
				s.log.ErrorContext(ctx, "rescheduling outbox mail", "mail_id", m.ID, "err", ferr)
			}
			continue
		}
		out = append(out, OutgoingMail{Mail: m, Envelope: env})
	}
	return out, nil
}

// Release hands a claimed mail that was never tried back to the queue
// at once, for a relay that is shutting down.
func (s *Outbox) Release(ctx context.Context, m OutgoingMail) error {
	if err := s.store.RescheduleMail(ctx, m.ID, m.LeaseOwner, s.now(), m.LastError); err != nil && !errors.Is(err, ErrNotFound) {
		return Internal(err)
	}
	return nil
}

// Sent records that the SMTP server accepted a mail; its content is
// erased.
func (s *Outbox) Sent(ctx context.Context, id int64) error {
	now := s.now()
	// One transaction: whoever sees the mail sent sees its proof's time.
	err := s.store.InTx(ctx, func(tx Tx) error {
		if err := tx.MarkMailSent(ctx, id, now); err != nil {
			return err
		}
		return tx.ProofMailAccepted(ctx, id, now)
	})
	if err != nil {
		return Internal(err)
	}
	return nil
}

// Failed records a failed attempt. A permanent refusal, or a mail
// undelivered for giveUpAfter, fails for good; anything else is retried
// after a backoff that doubles from retryBase up to retryMax, with jitter
// so that relays do not retry in step. failed reports that the mail failed
// for good.
func (s *Outbox) Failed(ctx context.Context, m OutgoingMail, cause error, permanent bool) (failed bool, err error) {
	now := s.now()
	reason := cause.Error()
	if len(reason) > 500 {
		reason = reason[:500]
	}
	if permanent || now.Sub(m.CreatedAt) >= s.cfg.MailGiveUp {
		if !permanent {
			reason = "gave up after " + s.cfg.MailGiveUp.String() + ": " + reason
		}
		s.log.WarnContext(ctx, "mail failed", "mail_id", m.ID, "kind", m.Kind, "tenant_id", m.TenantID, "attempts", m.Attempts, "err", reason)
		err := s.store.InTx(ctx, func(tx Tx) error {
			if err := tx.FailMail(ctx, m.ID, now, reason); err != nil {
				return err
			}
			return s.mailFailedEvent(ctx, tx, m.Mail) // the reason may name the address: not in the payload
		})
		if err != nil && !errors.Is(err, ErrNotFound) {
			return false, Internal(err)
		}
		return true, nil
	}
	next := now.Add(backoff(s.cfg.MailRetryBase, s.cfg.MailRetryMax, m.Attempts))
	s.log.InfoContext(ctx, "mail will be retried", "mail_id", m.ID, "kind", m.Kind, "tenant_id", m.TenantID, "attempts", m.Attempts,
		"next_attempt_at", next, "err", reason)
	if err := s.store.RescheduleMail(ctx, m.ID, m.LeaseOwner, next, reason); err != nil && !errors.Is(err, ErrNotFound) {
		return false, Internal(err)
	}
	return false, nil
}

// backoff is the wait after the given number of attempts: base,
// doubling, capped at most, then ±20 % jitter, so that relays do not
// retry in step. The mail and the webhook outboxes share it.
func backoff(base, most time.Duration, attempts int) time.Duration {
	d := most
	if shift := attempts - 1; shift >= 0 && shift < 30 {
		d = min(base<<shift, most)
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

// List lists the newest mails of a tenant ("" for every tenant).
func (s *Outbox) List(ctx context.Context, slug string, limit int) ([]MailView, error) {
	var tenantID int64
	if slug != "" {
		t, err := s.tenants.BySlug(ctx, slug)
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
		out = append(out, s.view(m))
	}
	return out, nil
}

// Outbox is what the mail relay needs: claiming due mail, recording what
// became of it, and listing it for people.
type Outbox struct{ *core }

// Get is one outbox row for people, with its content while it is unsent.
func (s *Outbox) Get(ctx context.Context, id int64) (MailView, error) {
	m, err := s.store.MailByID(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return MailView{}, Errorf(KindNotFound, CodeNotFound, "no mail %d", id)
	} else if err != nil {
		return MailView{}, Internal(err)
	}
	return s.view(m), nil
}

// view opens a row's content, if it still has one this server can open.
func (s *Outbox) view(m Mail) MailView {
	v := MailView{Mail: m}
	if len(m.Sealed) > 0 {
		if env, err := s.keys.open(m); err == nil {
			v.Envelope = &env
		}
	}
	return v
}

// mailFailedEvent emits mail.failed for a customer's mail, in tx.
func (s *Outbox) mailFailedEvent(ctx context.Context, tx Tx, m Mail) error {
	if m.CustomerID == 0 {
		return nil
	}
	t, err := s.tenants.byID(ctx, m.TenantID)
	if err != nil {
		return err
	}
	cust, err := tx.CustomerByID(ctx, m.TenantID, m.CustomerID)
	if errors.Is(err, ErrNotFound) {
		return nil // erased meanwhile
	} else if err != nil {
		return err
	}
	return s.webhooks.emit(ctx, tx, t, EventMailFailed, cust.ID, map[string]any{"tenant": t.Slug,
		"customer": customerData(t, cust), "mail": map[string]any{"id": m.ID, "kind": m.Kind, "message_id": m.MessageID}})
}
