package mail

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"pforte/internal/account"
	"pforte/internal/relay"
)

// Outbox is what the relay needs from the account service.
type Outbox interface {
	// Claim leases up to limit due mails for owner and opens them.
	Claim(ctx context.Context, owner string, limit int) ([]account.OutgoingMail, error)
	// Sent records that the SMTP server accepted the mail.
	Sent(ctx context.Context, id int64) error
	// Failed records a failed attempt; the service decides between a
	// retry (with backoff) and giving up, and reports failed when it gave up.
	Failed(ctx context.Context, m account.OutgoingMail, cause error, permanent bool) (failed bool, err error)
	// Queued is signalled (non-blocking) whenever this process queued mail, so the relay need not wait for its next poll.
	Queued() <-chan struct{}
	// Release hands a claimed mail that was never tried back to the queue at once.
	Release(ctx context.Context, m account.OutgoingMail) error
}

// Sender delivers one mail. Its errors say whether a retry could succeed
// (see IsPermanent); *SMTPSender implements it.
type Sender interface {
	Send(ctx context.Context, messageID string, e account.Envelope) error
}

// Relay defaults.
const (
	DefaultBatch       = 10
	DefaultPoll        = 5 * time.Second
	DefaultSendTimeout = time.Minute

	recordTimeout = 10 * time.Second // for Sent and Failed
	leaseMargin   = 5 * time.Second  // a send ends this long before its lease
)

// Relay sends what the outbox holds. It claims due mail with a lease,
// sends it one mail at a time, and reports each outcome; the service
// decides about retries. Several relays, in one process or in replicas on
// one database, never hold the same mail at once. Delivery is at least
// once: a relay that stops between the server's acceptance and Sent
// leaves the mail to be sent again when its lease expires.
type Relay struct {
	Outbox Outbox
	Sender Sender
	Owner  string        // the lease owner; empty: a random id for this Run
	Batch  int           // mails per claim; 0: DefaultBatch
	Poll   time.Duration // the wait when the outbox had no more; 0: DefaultPoll
	// SendTimeout bounds one mail's delivery; 0: DefaultSendTimeout. A
	// mail is never sent after its lease ends, whatever this says, so a
	// mail whose lease has passed to another relay is not sent twice.
	SendTimeout time.Duration
	Logger      *slog.Logger // nil: no logs
	// Observer, when set, hears of every delivery attempt: its outcome
	// ("sent", "retry" or "failed") and how long the SMTP exchange took.
	Observer interface {
		ObserveMail(outcome string, took time.Duration)
	}
}

// Run sends mail until ctx is done, and then returns nil. Errors of the
// outbox are logged and retried after Poll; they never end Run. When ctx
// is done, the send in progress finishes (within its timeout) and is
// recorded, so a normal shutdown sends nothing twice; the rest of the
// batch goes back to the queue at once rather than waiting out its lease.
func (r *Relay) Run(ctx context.Context) error {
	if r.Outbox == nil || r.Sender == nil {
		return errors.New("mail relay: no outbox or no sender")
	}
	owner := r.Owner
	if owner == "" {
		owner = relay.NewOwner("")
	}
	batch := orDefault(r.Batch, DefaultBatch)
	poll := orDefault(r.Poll, DefaultPoll)
	log := r.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("relay", owner)
	log.Info("mail relay started", "batch", batch, "poll", poll)
	relay.Loop[account.OutgoingMail]{
		Claim:       func(ctx context.Context, n int) ([]account.OutgoingMail, error) { return r.Outbox.Claim(ctx, owner, n) },
		Handle:      func(ctx context.Context, m account.OutgoingMail) { r.deliver(ctx, log, m) },
		Release:     func(ctx context.Context, ms []account.OutgoingMail) { r.release(ctx, log, ms) },
		Queued:      r.Outbox.Queued(),
		Batch:       batch,
		Poll:        poll,
		ClaimFailed: func(err error) { log.Error("claiming mail", "err", err) },
	}.Run(ctx)
	log.Info("mail relay stopped")
	return nil
}

// deliver sends one claimed mail and reports the outcome. Logs name the
// mail by id, kind, tenant and attempt: never its recipient, subject or
// content.
func (r *Relay) deliver(ctx context.Context, log *slog.Logger, m account.OutgoingMail) {
	log = log.With("mail_id", m.ID, "kind", m.Kind, "tenant_id", m.TenantID, "attempt", m.Attempts)
	timeout := orDefault(r.SendTimeout, DefaultSendTimeout)
	budget := timeout
	if m.LeaseUntil != nil {
		// Done before the lease ends, with room to spare for clocks: then
		// no other relay can claim the mail while this one sends it.
		budget = min(budget, time.Until(m.LeaseUntil.Add(-leaseMargin)))
	}
	if budget < timeout/2 {
		// Too little of the lease is left for a slow send, which a cut
		// could leave half-delivered and sent again. Back to the queue,
		// for a fresh lease.
		log.Info("mail lease too short for a send; released")
		r.release(ctx, log, []account.OutgoingMail{m})
		return
	}
	// The send is not cut short by shutdown: a mail cut off mid-DATA
	// might have been delivered, and would then go out twice.
	sendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), budget)
	start := time.Now()
	err := r.Sender.Send(sendCtx, m.MessageID, m.Envelope)
	cancel()
	took := time.Since(start)
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer rcancel()
	if err == nil {
		r.observe("sent", took)
		log.Info("mail sent", "took", took.Round(time.Millisecond))
		// A sent mail left unrecorded goes out again when its lease
		// expires: try a few times.
		for try := 0; ; try++ {
			err := r.Outbox.Sent(rctx, m.ID)
			if err == nil {
				return
			}
			if try == 2 || rctx.Err() != nil {
				log.Error("recording a sent mail", "err", err)
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	permanent := IsPermanent(err)
	log.Warn("mail not sent", "permanent", permanent, "err", err)
	failed, ferr := r.Outbox.Failed(rctx, m, err, permanent)
	if ferr != nil {
		log.Error("recording a failed mail", "err", ferr)
	}
	// A temporary failure the outbox gave up on counts as failed.
	if failed || permanent {
		r.observe("failed", took)
	} else {
		r.observe("retry", took)
	}
}

func (r *Relay) observe(outcome string, took time.Duration) {
	if r.Observer != nil {
		r.Observer.ObserveMail(outcome, took)
	}
}

// release hands claimed mails that were not tried back to the queue.
func (r *Relay) release(ctx context.Context, log *slog.Logger, ms []account.OutgoingMail) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	for _, m := range ms {
		if err := r.Outbox.Release(rctx, m); err != nil {
			log.Error("releasing a claimed mail", "mail_id", m.ID, "err", err)
		}
	}
}

// orDefault is v, or def when v is not positive.
func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}
