package native_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"pforte/internal/account"
	"pforte/internal/api/apitest"
	"pforte/internal/mail"
	"pforte/internal/mail/mailtest"
	"pforte/internal/password"
	"pforte/internal/store/postgres"
	"pforte/internal/store/teststore"
)

// The outbox under SMTP failures, crashed relays and replicas: no mail is
// lost, none is sent twice, and tokens never rest in the database in
// clear.

// mustUniqueDelivery checks that the SMTP server received each mail of
// the outbox exactly once: every stored Message-ID once, and nothing else.
func mustUniqueDelivery(t *testing.T, srv *mailtest.Server, ms []account.MailView) {
	t.Helper()
	want := map[string]bool{}
	for _, m := range ms {
		if m.Status != account.MailSent {
			t.Errorf("mail %d is %s (%s), want sent", m.ID, m.Status, m.LastError)
		}
		want[m.MessageID] = true
	}
	got := map[string]int{}
	rcpt := map[string]int{}
	for _, m := range srv.Messages() {
		got[m.MessageID]++
		rcpt[strings.Join(m.To, ",")]++
		if !want[m.MessageID] {
			t.Errorf("mail %s to %v is not in the outbox", m.MessageID, m.To)
		}
	}
	for id := range want {
		if got[id] != 1 {
			t.Errorf("Message-ID %s arrived %d times, want once", id, got[id])
		}
	}
	for to, n := range rcpt {
		if n != 1 {
			t.Errorf("%d mails to %s, want one", n, to)
		}
	}
	if len(rcpt) != len(ms) {
		t.Errorf("mails arrived for %d recipients, the outbox holds %d mails", len(rcpt), len(ms))
	}
}

// TestMailOutage: registrations answer at once while SMTP is down, the
// relay keeps retrying on the outbox's schedule, and when SMTP comes back
// after 30 s every mail arrives within a minute, none twice, each with
// the Message-ID it was queued with. The clock is the service's: the test
// steps it a second at a time and lets the relay catch up at each step.
func TestMailOutage(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open, apitest.WithRelay())
		srv := h.SMTP
		srv.Refuse()

		const n = 20
		h.mustRegisterAtOnce(t, n, "outage-%02d@example.com")
		ms := h.mustQuiesce(t)
		if len(ms) != n {
			t.Fatalf("%d mails queued, want %d", len(ms), n)
		}
		for _, m := range ms {
			if m.Status != account.MailUnsent || m.Attempts != 1 || m.LastError == "" || m.Envelope == nil {
				t.Errorf("after the first refusal: %+v", m.Mail)
			}
		}

		// 30 s of outage on the service's clock.
		down := h.clock.Now()
		for h.clock.Now().Sub(down) < 30*time.Second {
			h.clock.Advance(time.Second)
			ms = h.mustQuiesce(t)
		}
		for _, m := range ms {
			if m.Status != account.MailUnsent || m.Attempts < 3 {
				t.Errorf("after 30 s down: %s, %d attempts, want unsent and retried", m.Status, m.Attempts)
			}
		}
		if srv.Accepted() != 0 || srv.Connections() != 0 {
			t.Fatalf("the refusing server saw %d connections", srv.Connections())
		}
		stored := map[int64]string{}
		for _, m := range ms {
			stored[m.ID] = m.MessageID
		}

		srv.Resume()
		up := h.clock.Now()
		for {
			ms = h.mustQuiesce(t)
			sent := 0
			for _, m := range ms {
				if m.Status == account.MailSent {
					sent++
				}
			}
			if sent == n {
				break
			}
			if h.clock.Now().Sub(up) > time.Minute {
				t.Fatalf("%d of %d mails sent within a minute of SMTP coming back", sent, n)
			}
			h.clock.Advance(time.Second)
		}
		t.Logf("all %d mails sent %v after SMTP came back (service clock)", n, h.clock.Now().Sub(up))
		for _, m := range ms {
			if m.MessageID != stored[m.ID] {
				t.Errorf("mail %d: Message-ID %s, queued as %s", m.ID, m.MessageID, stored[m.ID])
			}
			if m.Envelope != nil || m.FinishedAt == nil {
				t.Errorf("sent mail %d keeps its content or has no finish time", m.ID)
			}
		}
		mustUniqueDelivery(t, srv, ms)
		for i := range n {
			checkMail(t, mustMailTo(t, srv, fmt.Sprintf("outage-%02d@example.com", i)), fmt.Sprintf("outage-%02d@example.com", i))
		}
	})
}

// TestMailPermanentFailure: a 5xx answer fails the mail with the server's
// reason, erases its content, and it is never tried again; other mail
// goes on.
func TestMailPermanentFailure(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open, apitest.WithRelay())
		srv := h.SMTP
		srv.RejectRecipient("bounce@example.com")

		h.mustRegisterPublic(t, "/api/v1/registrations", "de", map[string]any{"email": "bounce@example.com", "password": mailPassword})
		h.mustRegisterPublic(t, "/api/v1/registrations", "de", map[string]any{"email": "fine@example.com", "password": mailPassword})
		mustMailTo(t, srv, "fine@example.com")
		h.mustSettle(t)

		srv.ReplyPerm()
		h.mustRegisterPublic(t, "/api/v1/registrations", "de", map[string]any{"email": "perm@example.com", "password": mailPassword})
		h.mustSettle(t)

		// A day later, with the server accepting again, the failed mails
		// stay failed while new mail goes out.
		srv.Accept()
		h.clock.Advance(24 * time.Hour)
		h.mustRegisterPublic(t, "/api/v1/registrations", "de", map[string]any{"email": "after@example.com", "password": mailPassword})
		mustMailTo(t, srv, "after@example.com")
		ms := h.mustSettle(t)

		for _, email := range []string{"bounce@example.com", "perm@example.com"} {
			got := h.mailsOf(t, ms, email)
			if len(got) != 1 {
				t.Fatalf("%s: %d mails, want 1", email, len(got))
			}
			m := got[0]
			if m.Status != account.MailFailed || m.Attempts != 1 || m.FinishedAt == nil || m.Envelope != nil || m.Sealed != nil || m.LeaseOwner != "" {
				t.Errorf("%s: %+v, want failed after one attempt, content erased", email, m.Mail)
			}
			if !strings.Contains(m.LastError, "550") || !strings.Contains(m.LastError, "no such user") {
				t.Errorf("%s: last error %q, want the server's 550 and its reason", email, m.LastError)
			}
			if strings.Contains(m.LastError, email) {
				t.Errorf("%s: last error %q names the recipient", email, m.LastError)
			}
			if n := len(apitest.MessagesTo(srv.Messages(), email)); n != 0 {
				t.Errorf("%s: %d mails arrived", email, n)
			}
		}
		if n := srv.Accepted(); n != 2 {
			t.Errorf("%d mails arrived, want 2", n)
		}
	})
}

// TestMailLeaseRecovery: a relay that claimed a mail and died holds it
// only for its lease; then the running relay sends it, with the same
// Message-ID.
func TestMailLeaseRecovery(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		srv := mailtest.Start(t)
		h := newHarness(t, open, apitest.WithMailLease(time.Minute))
		h.mustRegisterPublic(t, "/api/v1/registrations", "de", map[string]any{"email": "orphan@example.com", "password": mailPassword})

		claimed, err := h.svc.Outbox.Claim(ctx, "crashed-relay", 10)
		if err != nil || len(claimed) != 1 {
			t.Fatalf("ClaimMail = %d mails, %v; want 1", len(claimed), err)
		}
		// The crashed relay never reports. A relay starts.
		apitest.StartRelay(t, h.svc.Outbox, srv.URL())

		h.clock.Advance(59 * time.Second)
		if got, err := h.svc.Outbox.Claim(ctx, "probe", 10); err != nil || len(got) != 0 {
			t.Fatalf("within the lease, another claim got %d mails (%v)", len(got), err)
		}
		if ms := h.outbox(t); ms[0].LeaseOwner != "crashed-relay" || ms[0].Status != account.MailUnsent {
			t.Fatalf("within the lease: %+v", ms[0].Mail)
		}
		if srv.Accepted() != 0 {
			t.Fatalf("the leased mail was sent within its lease")
		}

		h.clock.Advance(2 * time.Second)
		m := mustMailTo(t, srv, "orphan@example.com")
		if m.MessageID != claimed[0].MessageID {
			t.Errorf("sent as %s, claimed as %s", m.MessageID, claimed[0].MessageID)
		}
		ms := h.mustSettle(t)
		if ms[0].Status != account.MailSent || ms[0].Attempts != 2 {
			t.Errorf("after recovery: %+v", ms[0].Mail)
		}
		mustUniqueDelivery(t, srv, ms)
		// Without a URL anywhere, the mail shows the token to enter.
		h.MustConfirm(t, h.public, tokenFromText(t, m))
	})
}

// tokenFromText is the token a mail without a link shows.
func tokenFromText(t *testing.T, m mailtest.Message) string {
	t.Helper()
	for _, line := range strings.Split(m.Text, "\n") {
		if line = strings.TrimSpace(line); len(line) == 43 && !strings.Contains(line, " ") {
			return line
		}
	}
	t.Fatalf("no token in:\n%s", m.Text)
	return ""
}

// mustRegisterAtOnce registers n addresses (format with the number) at
// once through the public key.
func (h *harness) mustRegisterAtOnce(t *testing.T, n int, format string) {
	t.Helper()
	for i, res := range h.burst(t, n, func(i int) request {
		return request{Method: http.MethodPost, Path: "/api/v1/registrations", Key: h.public,
			Body: map[string]any{"email": fmt.Sprintf(format, i), "password": mailPassword}}
	}) {
		if res == nil {
			t.Fatalf("registration %d failed", i)
		}
		mustAccepted(t, res)
	}
}

// countingSender counts the mails it sends.
type countingSender struct {
	mail.Sender
	n atomic.Int64
}

func (s *countingSender) Send(ctx context.Context, id string, e account.Envelope) error {
	err := s.Sender.Send(ctx, id, e)
	if err == nil {
		s.n.Add(1)
	}
	return err
}

// TestMailTwoRelaysOnePostgres: two replicas, each with its own service
// and store on one PostgreSQL schema, relay one outbox to one SMTP
// server, and every mail arrives exactly once.
func TestMailTwoRelaysOnePostgres(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := teststore.PostgresDSN(t) // skips without PostgreSQL
	openStore := func() account.Store {
		st, err := postgres.Open(ctx, dsn)
		if err != nil {
			t.Fatalf("open postgres: %v", err)
		}
		t.Cleanup(func() { st.Close() })
		if err := st.Migrate(ctx); err != nil {
			t.Fatalf("migrate: %v", err)
		}
		return st
	}
	st1, st2 := openStore(), openStore()
	srv := mailtest.Start(t)
	h := newHarness(t, nil, apitest.WithStore(st1))
	hasher, err := password.NewHasher(apitest.CheapParams(), password.NewPool(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	replica := account.NewService(account.Config{Store: st2, Hasher: hasher, Policy: password.DefaultPolicy(),
		Logger: slog.New(slog.DiscardHandler), Now: h.clock.Now, Renderer: apitest.Templates(t), MailFrom: "Shop <noreply@shop.example>"})
	if err := replica.Start(ctx, nil); err != nil {
		t.Fatalf("Start: %v", err)
	}

	const n = 40
	h.mustRegisterAtOnce(t, n, "replica-%02d@example.com")

	cfg, err := mail.ParseSMTPURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	a := &countingSender{Sender: mail.NewSMTPSender(cfg, 5*time.Second)}
	b := &countingSender{Sender: mail.NewSMTPSender(cfg, 5*time.Second)}
	// One mail per claim: the replicas claim forty times between them, often
	// at the same moment.
	apitest.RunRelay(t, &mail.Relay{Outbox: h.svc.Outbox, Sender: a, Owner: "replica-a", Batch: 1, Poll: apitest.RelayPoll})
	apitest.RunRelay(t, &mail.Relay{Outbox: replica.Outbox, Sender: b, Owner: "replica-b", Batch: 1, Poll: apitest.RelayPoll})

	srv.WaitFor(t, n, apitest.MailWait)
	ms := h.mustSettle(t)
	if len(ms) != n {
		t.Fatalf("%d mails queued, want %d", len(ms), n)
	}
	mustUniqueDelivery(t, srv, ms)
	for _, m := range ms {
		if m.Attempts != 1 {
			t.Errorf("mail %d claimed %d times, want once", m.ID, m.Attempts)
		}
	}
	if got := a.n.Load() + b.n.Load(); got != n {
		t.Errorf("the relays sent %d mails, want %d", got, n)
	}
	t.Logf("replica a sent %d, replica b %d", a.n.Load(), b.n.Load())
}

// TestMailTokensNotAtRest: a queued mail's token is sealed, and a sent
// mail's content is erased: neither the token nor the subject is ever in
// the database in clear, before or after delivery. SQLite is read as
// bytes (the database, its WAL and shared memory); PostgreSQL as every
// row of every table as text.
func TestMailTokensNotAtRest(t *testing.T) {
	t.Parallel()
	teststore.EachDumped(t, func(t *testing.T, st account.Store, dump teststore.Dumper) {
		t.Parallel()
		checkNotAtRest(t, st, dump)
	})
}

// checkNotAtRest queues a mail, looks for its token and subject in what
// dump returns, sends the mail, and looks again.
func checkNotAtRest(t *testing.T, st account.Store, dump teststore.Dumper) {
	t.Helper()
	srv := mailtest.Start(t)
	h := newHarness(t, nil, apitest.WithStore(st))
	h.mustApps(t)
	const email = "sealed@example.com"
	h.mustRegisterPublic(t, "/api/v1/registrations", "de", map[string]any{"email": email, "password": mailPassword, "app": "immobilien"})
	ms := h.outbox(t)
	if len(ms) != 1 || ms[0].Envelope == nil || len(ms[0].Envelope.Links) != 1 || len(ms[0].Sealed) == 0 {
		t.Fatalf("outbox %+v", ms)
	}
	queued := tokenOf(t, ms[0].Envelope.Links[0])
	secrets := func(token string) map[string][]byte {
		return map[string][]byte{
			"token":         []byte(token),
			"token (hex)":   []byte(hex.EncodeToString([]byte(token))),
			"subject":       []byte("Bitte bestätigen Sie Ihre Registrierung"),
			"subject (hex)": []byte(hex.EncodeToString([]byte("Bitte bestätigen Sie Ihre Registrierung"))),
		}
	}
	look := func(when string, token string) {
		t.Helper()
		db := dump(t)
		if !bytes.Contains(db, []byte(email)) {
			t.Fatalf("%s: the dump does not hold even the customer's address; is it the database?", when)
		}
		for name, s := range secrets(token) {
			if bytes.Contains(db, s) {
				t.Errorf("%s: the database holds the %s in clear", when, name)
			}
		}
	}
	look("queued", queued)

	apitest.StartRelay(t, h.svc.Outbox, srv.URL())
	m := mustMailTo(t, srv, email)
	sent := mustTokenMail(t, m, "Bitte bestätigen Sie Ihre Registrierung", "https://www.meine-immobilien.de/confirm/")
	if sent != queued {
		t.Errorf("the mail carries another token than the outbox held")
	}
	ms = h.mustSettle(t)
	if ms[0].Sealed != nil || ms[0].Envelope != nil {
		t.Errorf("a sent mail keeps its content: %+v", ms[0].Mail)
	}
	look("sent", sent)
	h.MustConfirm(t, h.public, sent)
	look("confirmed", sent)
}

// TestMailTemporaryFailures: a 4xx answer and a connection dropped in the
// middle of DATA are retried after the backoff, and the mail then arrives
// once, with the Message-ID it was queued with.
func TestMailTemporaryFailures(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		// A backoff far below the clock's steps: each step makes the mail due.
		h := newHarness(t, open, apitest.WithRelay(), apitest.WithMailRetry(10*time.Millisecond))
		srv := h.SMTP
		srv.ReplyTemp()
		const email = "flaky@example.com"
		h.mustRegisterPublic(t, "/api/v1/registrations", "en", map[string]any{"email": email, "password": mailPassword})

		ms := h.mustQuiesce(t)
		queued := ms[0].MessageID
		if m := ms[0]; m.Status != account.MailUnsent || m.Attempts != 1 || !strings.Contains(m.LastError, "try again later") || m.Envelope == nil {
			t.Fatalf("after a 451: %+v", m.Mail)
		}

		srv.DropInData()
		h.clock.Advance(time.Second)
		ms = h.mustQuiesce(t)
		if m := ms[0]; m.Status != account.MailUnsent || m.Attempts != 2 || m.LastError == "" || strings.Contains(m.LastError, "try again later") {
			t.Fatalf("after a dropped connection: %+v", m.Mail)
		}
		if srv.Accepted() != 0 {
			t.Fatalf("a mail arrived although the server never accepted one")
		}

		srv.Accept()
		h.clock.Advance(time.Second)
		m := mustMailTo(t, srv, email)
		if m.MessageID != queued || m.Subject != "Please confirm your registration" {
			t.Errorf("arrived as %s %q, queued as %s", m.MessageID, m.Subject, queued)
		}
		ms = h.mustSettle(t)
		if ms[0].Attempts != 3 {
			t.Errorf("sent after %d attempts, want 3", ms[0].Attempts)
		}
		mustUniqueDelivery(t, srv, ms)
		h.MustConfirm(t, h.public, tokenFromText(t, m))
	})
}

// TestMailAPIDoesNotWaitForSMTP: while the relay is stuck in the middle of
// a delivery to a server that does not answer, the API goes on answering
// and queueing. (It shows that no request waits on SMTP; the latency
// itself is measured outside the test suite, not asserted here.)
func TestMailAPIDoesNotWaitForSMTP(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		srv := mailtest.Start(t)
		srv.Slow(time.Hour)
		h := newHarness(t, open)
		cfg, err := mail.ParseSMTPURL(srv.URL())
		if err != nil {
			t.Fatal(err)
		}
		// A sender that waits as long as the server: the relay is stuck for
		// its send timeout (which also bounds how long stopping it at the
		// end of the test waits for the send in flight).
		apitest.RunRelay(t, &mail.Relay{Outbox: h.svc.Outbox, Sender: mail.NewSMTPSender(cfg, time.Hour), Owner: "stuck", Batch: 1, Poll: apitest.RelayPoll,
			SendTimeout: 5 * time.Second})

		h.mustRegisterPublic(t, "/api/v1/registrations", "de", map[string]any{"email": "first@example.com", "password": mailPassword})
		eventually(t, "the relay is sending the first mail", func() bool {
			ms := h.outbox(t)
			return len(ms) == 1 && ms[0].LeaseOwner == "stuck"
		})

		for i := range 5 {
			h.mustRegisterPublic(t, "/api/v1/registrations", "de", map[string]any{"email": fmt.Sprintf("next-%d@example.com", i), "password": mailPassword})
		}
		h.mustCreate(t, map[string]any{"email": "active@example.com", "password": mailPassword})
		mustAccepted(t, h.Post(t, h.public, "/api/v1/password-resets", map[string]any{"email": "active@example.com"}))
		h.mustLogin(t, "active@example.com", mailPassword)

		ms := h.outbox(t)
		if len(ms) != 7 {
			t.Fatalf("%d mails queued, want 7", len(ms))
		}
		if first := ms[len(ms)-1]; first.LeaseOwner != "stuck" || first.Status != account.MailUnsent || srv.Accepted() != 0 {
			t.Fatalf("the first delivery ended while the API answered: %+v", first.Mail)
		}
	})
}

// TestMailGiveUp: a mail that could not be delivered for 48 hours fails,
// saying so, and is not sent when SMTP comes back.
func TestMailGiveUp(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open, apitest.WithRelay())
		srv := h.SMTP
		srv.Refuse()
		h.mustRegisterPublic(t, "/api/v1/registrations", "de", map[string]any{"email": "gone@example.com", "password": mailPassword})
		ms := h.mustQuiesce(t)
		if ms[0].Status != account.MailUnsent || ms[0].Attempts != 1 {
			t.Fatalf("after the first refusal: %+v", ms[0].Mail)
		}
		h.clock.Advance(48*time.Hour + time.Minute)
		ms = h.mustQuiesce(t)
		if m := ms[0]; m.Status != account.MailFailed || m.Attempts != 2 || !strings.HasPrefix(m.LastError, "gave up after 48h0m0s: ") || m.Envelope != nil {
			t.Fatalf("after 48 hours: %+v", m.Mail)
		}
		srv.Resume()
		h.clock.Advance(time.Hour)
		h.mustRegisterPublic(t, "/api/v1/registrations", "de", map[string]any{"email": "later@example.com", "password": mailPassword})
		mustMailTo(t, srv, "later@example.com")
		h.mustSettle(t)
		if n := srv.Accepted(); n != 1 {
			t.Errorf("%d mails arrived, want only the later one", n)
		}
	})
}
