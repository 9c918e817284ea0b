package native_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"pforte/internal/account"
	"pforte/internal/api/apitest"
	"pforte/internal/mail"
	"pforte/internal/mail/mailtest"
	"pforte/internal/password"
	"pforte/internal/server"
	"pforte/internal/store/teststore"
)

// mailBench is a server on a SQLite store with its outbox relay sending to
// an in-process SMTP server, at the default argon2id parameters.
type mailBench struct {
	smtp    *mailtest.Server
	handler http.Handler
	key     string
	svc     *account.Service
}

func newMailBench(b *testing.B, retryBase time.Duration) *mailBench {
	ctx := context.Background()
	templates, err := mail.NewTemplates()
	if err != nil {
		b.Fatal(err)
	}
	hasher, err := password.NewHasher(password.DefaultParams(), password.NewPool(0, 0))
	if err != nil {
		b.Fatal(err)
	}
	svc := account.NewService(account.Config{Store: teststore.SQLite(b), Hasher: hasher, Policy: password.DefaultPolicy(),
		Renderer: templates, MailFrom: "Bench <bench@example.com>", MailRetryBase: retryBase})
	if err := svc.Start(ctx, nil); err != nil {
		b.Fatal(err)
	}
	key, _, err := svc.APIKeys.Create(ctx, account.DefaultTenant, account.KeyPublic, "bench")
	if err != nil {
		b.Fatal(err)
	}
	smtp := mailtest.Start(b)
	cfg, err := mail.ParseSMTPURL(smtp.URL())
	if err != nil {
		b.Fatal(err)
	}
	relayCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	relay := &mail.Relay{Outbox: svc.Outbox, Sender: mail.NewSMTPSender(cfg, 30*time.Second), Poll: 100 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler)}
	go func() { relay.Run(relayCtx); close(done) }()
	b.Cleanup(func() { stop(); <-done })
	return &mailBench{smtp: smtp, key: key, svc: svc,
		handler: server.New(server.Deps{Service: svc, Logger: slog.New(slog.DiscardHandler)})}
}

func (m *mailBench) register(b *testing.B, i int) {
	body := fmt.Sprintf(`{"email":"bench%d@example.com","password":"correct horse battery staple"}`, i)
	rec := apitest.Serve(m.handler, http.MethodPost, "/api/v1/registrations", m.key, body)
	if rec.Code != http.StatusAccepted {
		b.Fatalf("register: %d %s", rec.Code, rec.Body)
	}
}

// BenchmarkRegisterSMTP compares public registrations (one argon2id hash,
// a claim and a queued mail each) with a healthy SMTP server and with one
// that answers DATA only after 5 s. The API never waits on SMTP, so the
// two should be the same within noise:
//
//	go test -run '^$' -bench RegisterSMTP -benchtime 40x ./internal/api/native/
func BenchmarkRegisterSMTP(b *testing.B) {
	for _, tc := range []struct {
		name string
		slow time.Duration
	}{{"healthy", 0}, {"slow5s", 5 * time.Second}} {
		b.Run(tc.name, func(b *testing.B) {
			m := newMailBench(b, 0)
			if tc.slow > 0 {
				m.smtp.Slow(tc.slow)
			}
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				m.register(b, i)
			}
		})
	}
}

// BenchmarkOutageRecovery queues 20 registration mails while the SMTP
// server refuses connections for 30 s, then reports how long after it
// came back the last of them arrived, and how many arrived twice. It takes
// about a minute; run it on its own:
//
//	go test -run '^$' -bench OutageRecovery -benchtime 1x ./internal/api/native/
func BenchmarkOutageRecovery(b *testing.B) {
	for b.Loop() {
		m := newMailBench(b, 0) // the production backoff: 1 s doubling
		m.smtp.Refuse()
		start := time.Now()
		for i := range 20 {
			m.register(b, i)
		}
		time.Sleep(30*time.Second - time.Since(start))
		m.smtp.Resume()
		back := time.Now()
		msgs := m.smtp.WaitFor(b, 20, 5*time.Minute)
		recovered := time.Since(back)
		seen := map[string]int{}
		for _, msg := range m.smtp.Messages() {
			seen[msg.MessageID]++
		}
		twice := 0
		for _, n := range seen {
			if n > 1 {
				twice++
			}
		}
		b.ReportMetric(recovered.Seconds(), "s-after-recovery")
		b.ReportMetric(float64(len(msgs)), "mails")
		b.ReportMetric(float64(twice), "duplicates")
	}
}
