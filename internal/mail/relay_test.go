package mail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"pforte/internal/account"
	"pforte/internal/mail/mailtest"
	"pforte/internal/relay"
)

// fakeOutbox is an in-memory Outbox: the interface's contract and no
// more. The real one is account.Service on the stores; end-to-end tests
// run the relay against it.
type fakeOutbox struct {
	mu        sync.Mutex
	due       []account.OutgoingMail
	sent      []int64
	failed    []failure
	claims    int
	owner     string // of the last claim
	claimErr  error  // returned by the next ClaimMail, then cleared
	queued    chan struct{}
	changed   chan struct{} // closed and replaced on every report
	lease     time.Duration
	released  []int64
	giveUp    bool // Failed gives temporary failures up too
	sentErrs  int  // Sent fails this many times before it records
	sentTries int
}

type failure struct {
	id        int64
	cause     error
	permanent bool
}

func newFakeOutbox() *fakeOutbox {
	return &fakeOutbox{queued: make(chan struct{}, 1), changed: make(chan struct{}), lease: time.Minute}
}

// add queues mails and signals the relay, as the service does after a
// commit.
func (o *fakeOutbox) add(ms ...account.OutgoingMail) {
	o.mu.Lock()
	o.due = append(o.due, ms...)
	o.mu.Unlock()
	select {
	case o.queued <- struct{}{}:
	default:
	}
}

func (o *fakeOutbox) Claim(_ context.Context, owner string, limit int) ([]account.OutgoingMail, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.claims++
	o.owner = owner
	if err := o.claimErr; err != nil {
		o.claimErr = nil
		return nil, err
	}
	n := min(limit, len(o.due))
	out := append([]account.OutgoingMail(nil), o.due[:n]...)
	o.due = o.due[n:]
	until := time.Now().Add(o.lease)
	for i := range out {
		out[i].Attempts++
		out[i].LeaseOwner, out[i].LeaseUntil = owner, &until
	}
	return out, nil
}

func (o *fakeOutbox) Sent(_ context.Context, id int64) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.sentTries++; o.sentTries <= o.sentErrs {
		return errors.New("database is busy")
	}
	o.sent = append(o.sent, id)
	o.notify()
	return nil
}

func (o *fakeOutbox) Failed(_ context.Context, m account.OutgoingMail, cause error, permanent bool) (bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.failed = append(o.failed, failure{m.ID, cause, permanent})
	o.notify()
	return permanent || o.giveUp, nil
}

func (o *fakeOutbox) Queued() <-chan struct{} { return o.queued }

func (o *fakeOutbox) Release(_ context.Context, m account.OutgoingMail) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	m.LeaseOwner, m.LeaseUntil = "", nil
	o.due = append(o.due, m)
	o.released = append(o.released, m.ID)
	o.notify()
	return nil
}

func (o *fakeOutbox) notify() {
	close(o.changed)
	o.changed = make(chan struct{})
}

// waitReports waits until n mails were reported sent or failed.
func (o *fakeOutbox) waitReports(t *testing.T, n int, timeout time.Duration) ([]int64, []failure) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		o.mu.Lock()
		sent, failed, changed := append([]int64(nil), o.sent...), append([]failure(nil), o.failed...), o.changed
		o.mu.Unlock()
		if len(sent)+len(failed) >= n {
			return sent, failed
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("%d sent and %d failed within %v, want %d reports", len(sent), len(failed), timeout, n)
		}
	}
}

func (o *fakeOutbox) reports() ([]int64, []failure) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]int64(nil), o.sent...), append([]failure(nil), o.failed...)
}

func testMail(id int64) account.OutgoingMail {
	e := testEnvelope()
	e.To = fmt.Sprintf("customer%d@example.org", id)
	return account.OutgoingMail{
		Mail: account.Mail{ID: id, TenantID: 7, Kind: account.MailConfirm, Locale: "de",
			MessageID: fmt.Sprintf("<%d.abc@shop.example>", id), Status: account.MailUnsent},
		Envelope: e,
	}
}

// startRelay runs a relay until the test ends, and returns its log.
func startRelay(t *testing.T, r *Relay) (*syncBuffer, func()) {
	t.Helper()
	logs := &syncBuffer{}
	r.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	stop := func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run = %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return after cancel")
		}
	}
	var once sync.Once
	t.Cleanup(func() { once.Do(stop) })
	return logs, func() { once.Do(stop) }
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Every claimed mail is sent and reported; a full batch is followed by
// another claim at once, not after Poll.
func TestRelaySendsAndReports(t *testing.T) {
	srv := mailtest.Start(t)
	out := newFakeOutbox()
	out.add(testMail(1), testMail(2), testMail(3), testMail(4), testMail(5))
	obs := &outcomes{}
	logs, _ := startRelay(t, &Relay{Outbox: out, Sender: mustSender(t, srv, 5*time.Second), Batch: 2, Poll: time.Hour, Observer: obs})

	sent, failed := out.waitReports(t, 5, 10*time.Second)
	if len(failed) != 0 || fmt.Sprint(sent) != "[1 2 3 4 5]" {
		t.Fatalf("sent %v, failed %v", sent, failed)
	}
	if got := fmt.Sprint(obs.all()); got != "[sent sent sent sent sent]" {
		t.Errorf("observed %s", got)
	}
	ms := srv.WaitFor(t, 5, 5*time.Second)
	for i, m := range ms {
		id := i + 1
		if want := fmt.Sprintf("<%d.abc@shop.example>", id); m.MessageID != want {
			t.Errorf("message %d: Message-Id %q, want %q", id, m.MessageID, want)
		}
		if want := fmt.Sprintf("customer%d@example.org", id); len(m.To) != 1 || m.To[0] != want {
			t.Errorf("message %d: RCPT TO %v", id, m.To)
		}
	}
	// The log names mails by id, kind, tenant and attempt, and never shows
	// the recipient, the subject or the content.
	l := logs.String()
	for _, want := range []string{"mail_id=3", "kind=confirm", "tenant_id=7", "attempt=1"} {
		if !strings.Contains(l, want) {
			t.Errorf("log lacks %q:\n%s", want, l)
		}
	}
	for _, secret := range []string{"@example.org", "Bestätigen", "Hallo", "token="} {
		if strings.Contains(l, secret) {
			t.Errorf("log shows %q:\n%s", secret, l)
		}
	}
}

// A temporary failure is reported as such, and a 5xx as permanent; the
// service decides what follows.
// outcomes records what a relay reports to its Observer.
type outcomes struct {
	mu   sync.Mutex
	seen []string
}

func (o *outcomes) ObserveMail(outcome string, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.seen = append(o.seen, outcome)
}

func (o *outcomes) all() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.seen...)
}

// wait returns the outcomes once there are n (the relay reports a failure
// after recording it), or what there is after a few seconds.
func (o *outcomes) wait(n int) []string {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if got := o.all(); len(got) >= n {
			return got
		}
	}
	return o.all()
}

func TestRelayReportsFailures(t *testing.T) {
	tests := []struct {
		name      string
		set       func(*mailtest.Server)
		permanent bool
		giveUp    bool // the outbox gives the mail up
	}{
		{"4xx", (*mailtest.Server).ReplyTemp, false, false},
		{"4xx, given up", (*mailtest.Server).ReplyTemp, false, true},
		{"refused", (*mailtest.Server).Refuse, false, false},
		{"dropped in DATA", (*mailtest.Server).DropInData, false, false},
		{"slow", func(s *mailtest.Server) { s.Slow(5 * time.Second) }, false, false},
		{"5xx", (*mailtest.Server).ReplyPerm, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := mailtest.Start(t)
			tt.set(srv)
			out := newFakeOutbox()
			out.giveUp = tt.giveUp
			out.add(testMail(1))
			obs := &outcomes{}
			logs, _ := startRelay(t, &Relay{Outbox: out, Sender: mustSender(t, srv, 30*time.Second),
				Poll: time.Hour, SendTimeout: 300 * time.Millisecond, Observer: obs})
			sent, failed := out.waitReports(t, 1, 10*time.Second)
			want := "retry"
			if tt.permanent || tt.giveUp {
				want = "failed"
			}
			if got := obs.wait(1); len(got) != 1 || got[0] != want {
				t.Errorf("observed %v, want [%s]", got, want)
			}
			if len(sent) != 0 || len(failed) != 1 {
				t.Fatalf("sent %v, failed %v", sent, failed)
			}
			f := failed[0]
			if f.id != 1 || f.permanent != tt.permanent || f.cause == nil {
				t.Errorf("Failed(%d, %v, permanent=%v), want permanent=%v", f.id, f.cause, f.permanent, tt.permanent)
			}
			if strings.Contains(f.cause.Error(), "customer1@example.org") || strings.Contains(logs.String(), "customer1@example.org") {
				t.Errorf("the recipient reaches the outbox row or the log: %v", f.cause)
			}
		})
	}
}

// A mail queued while the relay waits is sent at once, not after Poll.
func TestRelayWakesOnMailQueued(t *testing.T) {
	srv := mailtest.Start(t)
	out := newFakeOutbox()
	startRelay(t, &Relay{Outbox: out, Sender: mustSender(t, srv, 5*time.Second), Poll: time.Hour})
	waitFor(t, func() bool { out.mu.Lock(); defer out.mu.Unlock(); return out.claims >= 1 })

	start := time.Now()
	out.add(testMail(1))
	out.waitReports(t, 1, 5*time.Second)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("sent after %v; Poll is an hour", took)
	}
}

// An outbox error is logged and retried after Poll; it does not end Run.
func TestRelaySurvivesOutboxErrors(t *testing.T) {
	srv := mailtest.Start(t)
	out := newFakeOutbox()
	out.add(testMail(1))
	out.claimErr = errors.New("database is down")
	logs, _ := startRelay(t, &Relay{Outbox: out, Sender: mustSender(t, srv, 5*time.Second), Poll: 50 * time.Millisecond})
	out.waitReports(t, 1, 5*time.Second)
	if !strings.Contains(logs.String(), "database is down") {
		t.Errorf("the outbox error is not logged:\n%s", logs)
	}
}

// A sent mail whose recording fails is recorded again, three times at
// most; then the failure is logged (and the lease sends the mail again).
func TestRelayRetriesRecordingASend(t *testing.T) {
	for _, c := range []struct {
		errs     int
		recorded bool
	}{{1, true}, {2, true}, {3, false}} {
		t.Run(fmt.Sprint(c.errs, " failures"), func(t *testing.T) {
			srv := mailtest.Start(t)
			out := newFakeOutbox()
			out.sentErrs = c.errs
			out.add(testMail(1))
			logs, _ := startRelay(t, &Relay{Outbox: out, Sender: mustSender(t, srv, 5*time.Second), Poll: time.Hour})
			if c.recorded {
				if sent, _ := out.waitReports(t, 1, 5*time.Second); len(sent) != 1 {
					t.Fatalf("sent %v", sent)
				}
			} else {
				waitFor(t, func() bool { return strings.Contains(logs.String(), "recording a sent mail") })
			}
			out.mu.Lock()
			tries := out.sentTries
			out.mu.Unlock()
			if want := min(c.errs+1, 3); tries != want {
				t.Errorf("%d tries to record, want %d", tries, want)
			}
			if srv.Accepted() != 1 {
				t.Errorf("%d mails sent, want 1", srv.Accepted())
			}
		})
	}
}

// Cancelling ctx ends Run promptly, even in the middle of a send, and the
// abandoned mail is not reported: its lease expires and it is sent again.
func TestRelayFinishesSendOnShutdown(t *testing.T) {
	srv := mailtest.Start(t)
	srv.Slow(time.Second)
	out := newFakeOutbox()
	out.add(testMail(1), testMail(2))
	_, stop := startRelay(t, &Relay{Outbox: out, Sender: mustSender(t, srv, time.Minute), Poll: time.Hour})
	waitFor(t, func() bool { return srv.Connections() >= 1 })
	time.Sleep(100 * time.Millisecond) // well into the first conversation

	stop() // returns once the send in flight is done and recorded
	sent, failed := out.reports()
	if len(sent) != 1 || sent[0] != 1 || len(failed) != 0 {
		t.Fatalf("after shutdown: sent %v, failed %v; want mail 1 sent and recorded", sent, failed)
	}
	out.mu.Lock()
	released := append([]int64(nil), out.released...)
	out.mu.Unlock()
	if len(released) != 1 || released[0] != 2 {
		t.Fatalf("released %v; want mail 2, never tried, back in the queue", released)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Fatalf("the server got %d mails, want 1", n)
	}
}

// Run returns nil at once when ctx is already done.
func TestRelayStopsWhenIdle(t *testing.T) {
	out := newFakeOutbox()
	_, stop := startRelay(t, &Relay{Outbox: out, Sender: NewSMTPSender(SMTPConfig{Host: "127.0.0.1", Port: 1}, time.Second), Poll: time.Hour})
	waitFor(t, func() bool { out.mu.Lock(); defer out.mu.Unlock(); return out.claims >= 1 })
	stop()
}

// A mail whose lease has (nearly) run out by the time its turn comes is
// not sent: another relay may hold it now, or could claim it mid-send. It
// goes back to the queue.
func TestRelayReleasesShortLeases(t *testing.T) {
	srv := mailtest.Start(t)
	out := newFakeOutbox()
	out.lease = -time.Second
	out.add(testMail(1))
	logs, _ := startRelay(t, &Relay{Outbox: out, Sender: mustSender(t, srv, 5*time.Second), Poll: time.Hour})
	waitFor(t, func() bool { return strings.Contains(logs.String(), "lease too short") })
	if srv.Connections() != 0 {
		t.Error("a mail was sent after its lease had expired")
	}
	if sent, failed := out.reports(); len(sent)+len(failed) != 0 {
		t.Errorf("reported: sent %v, failed %v", sent, failed)
	}
	out.mu.Lock()
	defer out.mu.Unlock()
	if len(out.released) == 0 || out.released[0] != 1 {
		t.Errorf("released %v, want the mail back in the queue", out.released)
	}
}

func TestRelayOwner(t *testing.T) {
	a, b := relay.NewOwner(""), relay.NewOwner("")
	if a == b || a == "" {
		t.Errorf("owners %q and %q", a, b)
	}
	out := newFakeOutbox()
	out.add(testMail(1))
	srv := mailtest.Start(t)
	startRelay(t, &Relay{Outbox: out, Sender: mustSender(t, srv, 5*time.Second), Owner: "replica-1", Poll: time.Hour})
	out.waitReports(t, 1, 5*time.Second)
	out.mu.Lock()
	owner := out.owner
	out.mu.Unlock()
	if owner != "replica-1" {
		t.Errorf("claimed as %q, want replica-1", owner)
	}
	if err := (&Relay{}).Run(context.Background()); err == nil {
		t.Error("Run without outbox and sender succeeded")
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not met within 5s")
}

// A send ends before the mail's lease does, whatever SendTimeout says.
func TestRelayBoundsSendByLease(t *testing.T) {
	srv := mailtest.Start(t)
	srv.Slow(time.Minute)
	out := newFakeOutbox()
	out.lease = leaseMargin + 1500*time.Millisecond // more than half the send timeout
	out.add(testMail(1))
	startRelay(t, &Relay{Outbox: out, Sender: mustSender(t, srv, time.Minute), SendTimeout: 2 * time.Second, Poll: time.Hour})
	start := time.Now()
	_, failed := out.waitReports(t, 1, 5*time.Second)
	if len(failed) != 1 || failed[0].permanent {
		t.Fatalf("failed %v, want one temporary failure", failed)
	}
	if took := time.Since(start); took > 1900*time.Millisecond {
		t.Errorf("the send took %v; the lease allowed 1.5s", took)
	}
}
