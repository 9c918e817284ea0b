package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"pforte/internal/account"
	"pforte/internal/api/wire"
	"pforte/internal/mail"
	"pforte/internal/metrics"
	"pforte/internal/password"
	"pforte/internal/server"
)

func (e env) serve(args []string) error {
	fs := e.flags("serve")
	addr := fs.string("addr", "127.0.0.1:8080", "address to listen on")
	dsn := fs.db()
	logFormat := fs.string("log-format", "text", "log format: text or json")
	logLevel := fs.string("log-level", "info", "log level: debug, info, warn or error")
	secret := fs.string("secret", "", "server secret (at least 16 characters) everything keyed derives from; generated and stored in the database when empty")
	def := password.DefaultParams()
	memory := fs.int("argon2-memory", int(def.Memory), "argon2id memory in KiB")
	iterations := fs.int("argon2-iterations", int(def.Iterations), "argon2id passes")
	parallelism := fs.int("argon2-parallelism", int(def.Parallelism), "argon2id lanes")
	slots := fs.int("hash-slots", 0, "password hashes run at once (0: one per CPU)")
	queue := fs.int("hash-queue", 0, "password hashes that may wait for a slot before the API answers 503 (0: 32 per slot)")
	blocklist := fs.bool("password-blocklist", true, "refuse common passwords")
	confirmTTL := fs.duration("confirm-ttl", 24*time.Hour, "lifetime of confirmation tokens")
	resetTTL := fs.duration("reset-ttl", time.Hour, "lifetime of password reset tokens")
	inviteTTL := fs.duration("invite-ttl", 7*24*time.Hour, "lifetime of invitation tokens")
	idle := fs.duration("session-idle", 24*time.Hour, "sessions end after this long unused")
	maxAge := fs.duration("session-max-age", 30*24*time.Hour, "sessions end this long after login")
	uniform := fs.duration("uniform-response", 250*time.Millisecond, "least duration of answers that must not reveal whether an account exists")
	corsOrigins := fs.string("cors-origins", "", "comma-separated origins allowed to call the API from a browser, or *")
	smtpURL := fs.string("smtp-url", "", "SMTP server for the outbox, e.g. smtp://user:pass@host:587?tls=starttls (tls: none, starttls, tls); empty: mail stays in the outbox")
	mailRetention := fs.duration("mail-retention", 30*24*time.Hour, "how long the record of a sent or failed mail (recipient and content are erased at once) stays for 'pforte mail list'; at least 24h")
	mailFrom := fs.string("mail-from", "pforte <noreply@localhost>", "sender of mail when a tenant sets no mail_from")
	publicURL := fs.string("public-url", "", "URL pforte is reached at from outside, for links to its own endpoints, e.g. https://accounts.example.org (https except on localhost); empty: http://localhost:PORT")
	clientRate := fs.int("client-rate-limit", 120, "requests a minute each client address may make to the keyless dialects (/login_api, /api/2/auth); 0: no limit")
	clientBurst := fs.int("client-burst", 30, "requests a client address may make at once to the keyless dialects")
	metricsAddr := fs.string("metrics-addr", "", "address of a separate listener for Prometheus metrics at /metrics, e.g. 127.0.0.1:9464; empty: none")
	trustedProxies := fs.string("trusted-proxies", "", "comma-separated addresses or CIDR prefixes of reverse proxies whose X-Forwarded-For is believed")
	if done, err := fs.parse(args); done {
		return err
	}
	if len(fs.args) > 0 {
		return fmt.Errorf("%w: unexpected argument %q (flags such as --db go after the command: pforte COMMAND --db ...)", ErrUsage, fs.args[0])
	}
	log, err := newLogger(e.stderr, *logFormat, *logLevel)
	if err != nil {
		return err
	}
	params := password.Params{Memory: uint32(*memory), Iterations: uint32(*iterations), Parallelism: uint8(*parallelism),
		SaltLength: def.SaltLength, KeyLength: def.KeyLength}
	if *parallelism < 1 || *parallelism > 255 || *memory < 1 || *iterations < 1 {
		return fmt.Errorf("%w: argon2 parameters must be positive (parallelism at most 255)", ErrUsage)
	}
	pool := password.NewPool(*slots, *queue)
	hasher, err := password.NewHasher(params, pool)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUsage, err)
	}
	policy := password.DefaultPolicy()
	policy.Blocklist = *blocklist

	if *mailRetention < 24*time.Hour {
		return fmt.Errorf("%w: --mail-retention must be at least 24h", ErrUsage)
	}
	if *clientRate < 0 || *clientBurst < 1 {
		return fmt.Errorf("%w: --client-rate-limit must be 0 or more and --client-burst at least 1", ErrUsage)
	}
	proxies, err := wire.ParseProxies(splitList(*trustedProxies))
	if err != nil {
		return fmt.Errorf("%w: --trusted-proxies: %v", ErrUsage, err)
	}
	if *publicURL == "" {
		*publicURL, err = localURL(*addr)
		if err != nil {
			return err
		}
		log.Warn("no --public-url given: links to pforte's own endpoints use " + *publicURL + ", which only this machine can open")
	} else if err := account.CheckPublicURL(*publicURL); err != nil {
		return fmt.Errorf("%w: --public-url: %v", ErrUsage, err)
	}
	*publicURL = strings.TrimRight(*publicURL, "/")
	if _, err := account.ParseMailFrom(*mailFrom); err != nil {
		return fmt.Errorf("%w: --mail-from: %v", ErrUsage, err)
	}
	var sender *mail.SMTPSender
	if *smtpURL != "" {
		cfg, err := mail.ParseSMTPURL(*smtpURL)
		if err != nil {
			return fmt.Errorf("%w: --smtp-url: %v", ErrUsage, err)
		}
		sender = mail.NewSMTPSender(cfg, 30*time.Second)
	}
	templates, err := mail.NewTemplates()
	if err != nil {
		return err
	}

	st, err := e.openStore(*dsn)
	if err != nil {
		return err
	}
	defer st.Close()
	svc := account.NewService(account.Config{
		Store: st, Hasher: hasher, Policy: policy, Logger: log,
		ConfirmTTL: *confirmTTL, ResetTTL: *resetTTL, InviteTTL: *inviteTTL,
		SessionIdle: *idle, SessionMaxAge: *maxAge, UniformResponse: *uniform,
		Renderer: templates, MailFrom: *mailFrom, MailRetention: *mailRetention,
	})
	if err := svc.Start(e.ctx, []byte(*secret)); errors.Is(err, account.ErrShortSecret) {
		return fmt.Errorf("%w: --secret: %v", ErrUsage, err)
	} else if err != nil {
		return err
	}
	deps := server.Deps{Service: svc, Logger: log, CORSOrigins: splitList(*corsOrigins),
		PublicURL: *publicURL, TrustedProxies: proxies,
		ClientLimiter: wire.NewClientLimiter(*clientRate, *clientBurst, nil, log)}
	var met *metrics.Metrics
	if *metricsAddr != "" {
		met = metrics.New(pool)
		deps.Observer = met
		stop, err := serveMetrics(*metricsAddr, met, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	if sender != nil {
		relay := &mail.Relay{Outbox: svc.Outbox, Sender: sender, Logger: log}
		if met != nil {
			relay.Observer = met
		}
		relayCtx, stopRelay := context.WithCancel(e.ctx)
		relayDone := make(chan struct{})
		go func() { relay.Run(relayCtx); close(relayDone) }()
		// However serve ends, the relay stops and records its last result
		// before the store closes.
		defer func() { stopRelay(); <-relayDone }()
		log.Info("mail relay running", "smtp", sender.String())
	} else {
		log.Warn("no SMTP server configured: mail stays in the outbox as unsent; read it with 'pforte mail list', " +
			"or start with --smtp-url smtp://USER:PASS@HOST:587?tls=starttls")
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           server.New(deps),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	log.Info("pforte listening", "addr", ln.Addr().String(), "db", redactDSN(*dsn))

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

// localURL is the public URL of a server nobody configured one for: its
// own address on this machine.
func localURL(addr string) (string, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("%w: --addr %q: %v", ErrUsage, addr, err)
	}
	return "http://localhost:" + port, nil
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
