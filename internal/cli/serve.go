package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"pforte/internal/account"
	"pforte/internal/api/wire"
	"pforte/internal/mail"
	"pforte/internal/metrics"
	"pforte/internal/pages"
	"pforte/internal/password"
	"pforte/internal/redislimit"
	"pforte/internal/server"
	"pforte/internal/webhook"
)

func (e env) serve(args []string) error {
	c, done, err := e.parseServeConfig(args)
	if done {
		return err
	}
	log, flushLog, err := newLogger(e.stderr, c.LogFormat, c.LogLevel)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	defer flushLog() // first in, so it runs last: after the shutdown's lines
	// The OpenID Connect library logs through the default logger: the
	// same format, level and destination as pforte's own lines.
	slog.SetDefault(log)
	// Listen first, so that a public URL taken from the listen address
	// has its real port (--addr 127.0.0.1:0 picks one).
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	if c.PublicURL == "" {
		if ap, err := netip.ParseAddrPort(ln.Addr().String()); err == nil && ap.Addr().IsLoopback() {
			c.publicURL = "http://" + ln.Addr().String()
		}
		log.Warn("no --public-url given: links to pforte's own endpoints use " + c.publicURL + ", which only this machine can open")
	}
	st, err := e.openStore(c.DB)
	if err != nil {
		return err
	}
	defer st.Close()
	pool := password.NewPool(c.HashSlots, c.HashQueue)
	password.AddProcessors(pool)
	svc, err := e.startService(c, st, pool, log)
	if err != nil {
		return err
	}
	var met *metrics.Metrics
	if c.MetricsAddr != "" {
		met = metrics.New(pool)
		stop, err := serveMetrics(c.MetricsAddr, met, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	// However serve ends, the relay stops and records its last result
	// before the store closes.
	stopRelay := e.startRelay(c, svc, met, log)
	defer stopRelay()
	stopHooks := startWebhookRelay(e.ctx, c, svc, met, log)
	defer stopHooks()
	limiter, closeLimiter, err := e.clientLimiter(c, log)
	if err != nil {
		return err
	}
	defer closeLimiter()
	return e.run(c, ln, newServer(c, svc, limiter, met, log), svc, log)
}

// clientLimiter is the limit per client address: none, in memory, or in
// Redis with this replica's memory as the fallback. release closes it.
func (e env) clientLimiter(c serveConfig, log *slog.Logger) (l wire.Limiter, release func(), err error) {
	switch {
	case c.ClientRateLimit == 0:
		if c.RedisURL != "" {
			log.Warn("--redis-url is not used: --client-rate-limit is 0, so nothing is limited per client address")
		}
		return nil, func() {}, nil
	case c.RedisURL == "":
		return wire.NewMemoryLimiter(c.ClientRateLimit, c.ClientBurst, nil, log), func() {}, nil
	}
	redislimit.LogTo(log)
	rl, err := redislimit.New(redislimit.Config{URL: c.RedisURL, Prefix: c.RedisPrefix,
		PerMinute: c.ClientRateLimit, Burst: c.ClientBurst, Log: log})
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %v", ErrUsage, flagRef("redis-url"), err)
	}
	// Unreachable, it warns itself, and pforte serves all the same.
	if ok, _ := rl.Shared(e.ctx); ok {
		log.Info("client limits are shared through Redis", "prefix", c.RedisPrefix)
	}
	return rl, func() { rl.Close() }, nil
}

// startService builds the account service from c, every value handed on
// explicitly, and starts it on st.
func (e env) startService(c serveConfig, st account.Store, pool *password.Pool, log *slog.Logger) (*account.Service, error) {
	hasher, err := password.NewHasher(c.params, pool)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	policy := password.DefaultPolicy()
	policy.Blocklist = c.PasswordBlocklist
	templates, err := mail.NewTemplates()
	if err != nil {
		return nil, err
	}
	svc := account.NewService(account.Config{
		Store: st, Hasher: hasher, Policy: policy, Logger: log,
		ConfirmTTL: c.ConfirmTTL, ResetTTL: c.ResetTTL, InviteTTL: c.InviteTTL,
		SessionIdle: c.SessionIdle, SessionMaxAge: c.SessionMaxAge, UniformResponse: c.UniformResponse,
		Renderer: templates, MailFrom: c.MailFrom, MailRetention: c.MailRetention, WebhookAllowPrivate: c.WebhookAllowPrivate,
		// Mail whose tenant and application configure no URL links to
		// the hosted pages.
		DefaultLinks: pages.LinkTemplates(c.publicURL),
	})
	if err := svc.Start(e.ctx, []byte(c.Secret)); errors.Is(err, account.ErrShortSecret) {
		return nil, fmt.Errorf("%w: %s: %v", ErrUsage, flagRef("secret"), err)
	} else if err != nil {
		return nil, err
	}
	return svc, nil
}

// startRelay starts the mail relay when an SMTP server is configured;
// stop ends it and waits until it has recorded its last result.
func (e env) startRelay(c serveConfig, svc *account.Service, met *metrics.Metrics, log *slog.Logger) (stop func()) {
	if c.smtp == nil {
		log.Warn("no SMTP server configured: mail stays in the outbox as unsent; read it with 'pforte mail list', " +
			"or start with --smtp-url smtp://USER:PASS@HOST:587?tls=starttls")
		return func() {}
	}
	sender := mail.NewSMTPSender(*c.smtp, 30*time.Second)
	relay := &mail.Relay{Outbox: svc.Outbox, Sender: sender, Logger: log}
	if met != nil {
		relay.Observer = met
	}
	relayCtx, stopRelay := context.WithCancel(e.ctx)
	relayDone := make(chan struct{})
	go func() { relay.Run(relayCtx); close(relayDone) }()
	log.Info("mail relay running", "smtp", sender.String())
	return func() { stopRelay(); <-relayDone }
}

// startWebhookRelay starts the webhook relay; stop ends it and waits
// until it has recorded its last result.
func startWebhookRelay(ctx context.Context, c serveConfig, svc *account.Service, met *metrics.Metrics, log *slog.Logger) (stop func()) {
	relay := &webhook.Relay{Queue: svc.Webhooks, Sender: webhook.NewSender(c.WebhookAllowPrivate, 20*time.Second), Logger: log}
	if met != nil {
		relay.Observer = met
	}
	relayCtx, stopRelay := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { relay.Run(relayCtx); close(done) }()
	return func() { stopRelay(); <-done }
}

// newServer builds the HTTP server of the API and the dialects.
func newServer(c serveConfig, svc *account.Service, limiter wire.Limiter, met *metrics.Metrics, log *slog.Logger) *http.Server {
	deps := server.Deps{Service: svc, Logger: log, CORSOrigins: splitList(c.CORSOrigins),
		PublicURL: c.publicURL, TrustedProxies: c.proxies, ClientLimiter: limiter}
	if met != nil {
		deps.Observer = met
	}
	return &http.Server{
		Handler:           server.New(deps),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}

// run serves srv on ln until the context ends, then shuts
// it down gracefully.
func (e env) run(c serveConfig, ln net.Listener, srv *http.Server, svc *account.Service, log *slog.Logger) error {
	log.Info("pforte listening", "addr", ln.Addr().String(), "db", redactDSN(c.DB))

	go purgeLoop(e.ctx, svc, log)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-e.ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// serveMetrics serves /metrics on a listener of its own, so that metrics
// never share the public address; stop shuts it down.
func serveMetrics(addr string, met *metrics.Metrics, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", met.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener stopped", "err", err)
		}
	}()
	log.Info("metrics listening", "addr", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// purgeLoop removes expired tokens and sessions every hour.
func purgeLoop(ctx context.Context, svc *account.Service, log interface{ Warn(string, ...any) }) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := svc.Purge(ctx); err != nil {
				log.Warn("purge failed", "err", err)
			}
		}
	}
}
