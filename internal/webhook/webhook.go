// Package webhook delivers the events the account service queues to
// sites' endpoints: a leased relay like the mail relay's, an HTTP sender
// that signs as the Standard Webhooks convention says and connects only
// to addresses the operator allows, and the signature check sites use.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"

	"pforte/internal/account"
	"pforte/internal/relay"
)

// Sign is the webhook-signature header's value for a message: "v1,"
// and the base64 HMAC-SHA256 of "id.timestamp.body" under key.
func Sign(key []byte, id string, timestamp time.Time, body []byte) string {
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s.%d.", id, timestamp.Unix())
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Tolerance is how far a message's timestamp may be from now for Verify.
const Tolerance = 5 * time.Minute

// ErrSignature: a message's signature or timestamp does not check out.
var ErrSignature = errors.New("webhook: bad signature or timestamp")

// Verify checks a received message's headers against the endpoint's
// secret ("whsec_" and base64), as a site would: one of the
// space-separated signatures must match, and the timestamp must be
// within Tolerance of now.
func Verify(secret string, h http.Header, body []byte, now time.Time) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return ErrSignature
	}
	sec, err := strconv.ParseInt(h.Get("webhook-timestamp"), 10, 64)
	if err != nil {
		return ErrSignature
	}
	ts := time.Unix(sec, 0)
	if now.Sub(ts) > Tolerance || ts.Sub(now) > Tolerance {
		return ErrSignature
	}
	want := Sign(key, h.Get("webhook-id"), ts, body)
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return nil
		}
	}
	return ErrSignature
}

// Sender posts one delivery.
type Sender struct {
	Client *http.Client
	Now    func() time.Time // nil: time.Now
}

// NewSender returns a sender whose connections go only to addresses
// account.WebhookAddressAllowed accepts, checked on the address dialled
// (after DNS), so that a name cannot be pointed at the internal network
// later. It follows no redirects.
func NewSender(allowPrivate bool, timeout time.Duration) *Sender {
	dialer := &net.Dialer{Timeout: timeout, Control: func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil || !account.WebhookAddressAllowed(ap.Addr(), allowPrivate) {
			return fmt.Errorf("webhook: address %s is not allowed (see --webhook-allow-private)", address)
		}
		return nil
	}}
	transport := &http.Transport{DialContext: dialer.DialContext, TLSHandshakeTimeout: timeout, MaxIdleConnsPerHost: 2,
		IdleConnTimeout: time.Minute, ResponseHeaderTimeout: timeout, ForceAttemptHTTP2: true}
	return &Sender{Client: &http.Client{Transport: transport, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Send posts d and returns the answer's status (0: none) and an error
// unless the answer was 2xx.
func (s *Sender) Send(ctx context.Context, d account.OutgoingWebhook) (int, error) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.Body))
	if err != nil {
		return 0, err
	}
	ts := now()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "pforte-webhooks")
	req.Header.Set("webhook-id", d.EventID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set("webhook-signature", Sign(d.Secret, d.EventID, ts, d.Body))
	res, err := s.Client.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10)) // lets the connection be reused
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return res.StatusCode, fmt.Errorf("the endpoint answered %s", res.Status)
	}
	return res.StatusCode, nil
}

// Queue is what the relay needs from the account service.
type Queue interface {
	Claim(ctx context.Context, owner string, limit int) ([]account.OutgoingWebhook, error)
	Delivered(ctx context.Context, d account.OutgoingWebhook, status int) error
	Failed(ctx context.Context, d account.OutgoingWebhook, status int, cause error) (failed, disabled bool, err error)
	Release(ctx context.Context, d account.OutgoingWebhook) error
	Queued() <-chan struct{}
}

// Relay delivers what the queue holds, claiming due deliveries with a
// lease, one at a time, and reporting each outcome; the service decides
// about retries. Relays in replicas on one database never hold the same
// delivery at once. Delivery is at least once: a relay that stops
// between the endpoint's answer and the record of it leaves the
// delivery to be sent again, with the same webhook-id, when its lease
// expires.
type Relay struct {
	Queue  Queue
	Sender interface {
		Send(ctx context.Context, d account.OutgoingWebhook) (int, error)
	}
	Owner    string        // the lease owner; empty: a random one
	Batch    int           // deliveries per claim; 0: 10
	Poll     time.Duration // the wait when nothing was due; 0: 5 s
	Logger   *slog.Logger
	Observer interface {
		ObserveWebhook(outcome string)
	}
}

// Run delivers until ctx is done, then returns nil. A delivery in
// progress finishes and is recorded; the rest of a batch goes back.
func (r *Relay) Run(ctx context.Context) error {
	if r.Queue == nil || r.Sender == nil {
		return errors.New("webhook relay: no queue or no sender")
	}
	owner := r.Owner
	if owner == "" {
		owner = relay.NewOwner("webhooks-")
	}
	batch, poll := r.Batch, r.Poll
	if batch <= 0 {
		batch = 10
	}
	if poll <= 0 {
		poll = 5 * time.Second
	}
	log := r.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("relay", owner)
	relay.Loop[account.OutgoingWebhook]{
		Claim: func(ctx context.Context, n int) ([]account.OutgoingWebhook, error) {
			return r.Queue.Claim(ctx, owner, n)
		},
		Handle:      func(ctx context.Context, d account.OutgoingWebhook) { r.deliver(ctx, log, d) },
		Release:     func(ctx context.Context, ds []account.OutgoingWebhook) { r.release(ctx, log, ds) },
		Queued:      r.Queue.Queued(),
		Batch:       batch,
		Poll:        poll,
		ClaimFailed: func(err error) { log.Error("claiming webhook deliveries", "err", err) },
	}.Run(ctx)
	return nil
}

// deliver posts one delivery and records the outcome. Logs name the
// delivery, never its payload.
func (r *Relay) deliver(ctx context.Context, log *slog.Logger, d account.OutgoingWebhook) {
	log = log.With("delivery_id", d.ID, "webhook_id", d.EndpointID, "type", d.Type, "attempt", d.Attempts)
	budget := 30 * time.Second
	if d.LeaseUntil != nil {
		budget = min(budget, time.Until(d.LeaseUntil.Add(-5*time.Second)))
	}
	sendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), max(budget, time.Second))
	status, err := r.Sender.Send(sendCtx, d)
	cancel()
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer rcancel()
	if err == nil {
		if err := r.Queue.Delivered(rctx, d, status); err != nil {
			log.Error("recording a webhook delivery", "err", err)
		}
		r.observe("delivered")
		return
	}
	log.Warn("webhook not delivered", "status", status, "err", err)
	failed, disabled, ferr := r.Queue.Failed(rctx, d, status, err)
	switch {
	case ferr != nil:
		log.Error("recording a failed webhook delivery", "err", ferr)
	case disabled:
		r.observe("endpoint_disabled")
	}
	if failed {
		r.observe("failed")
	} else {
		r.observe("retry")
	}
}

func (r *Relay) observe(outcome string) {
	if r.Observer != nil {
		r.Observer.ObserveWebhook(outcome)
	}
}

func (r *Relay) release(ctx context.Context, log *slog.Logger, ds []account.OutgoingWebhook) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	for _, d := range ds {
		if err := r.Queue.Release(rctx, d); err != nil {
			log.Error("releasing a webhook delivery", "delivery_id", d.ID, "err", err)
		}
	}
}
