package account

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"pforte/internal/password"
)

// Config holds what a Service needs. Zero durations take the defaults.
type Config struct {
	Store  Store
	Hasher *password.Hasher
	Policy password.Policy
	Logger *slog.Logger
	Now    func() time.Time // injectable clock for tests

	ConfirmTTL time.Duration // default 24 h
	ResetTTL   time.Duration // default 1 h
	InviteTTL  time.Duration // default 7 days
	// Sessions end after SessionMaxAge, or SessionIdle unused (defaults
	// 12 h and 30 min: OWASP ASVS 3.3.2 at level 2); a remembered login
	// lasts the tenant's session.remember_max_age instead.
	SessionIdle   time.Duration
	SessionMaxAge time.Duration

	// UniformResponse is the least time that flows whose work depends on
	// whether an account exists (password reset requests, public
	// registration) take, so their timing does not tell. Default 0: off.
	UniformResponse time.Duration
	// TenantCacheTTL bounds how long a changed tenant setting takes to reach
	// a running server. Default 2 s.
	TenantCacheTTL time.Duration

	// DefaultLinks are link templates by action (ActionConfirm, ...),
	// with {token}, {accountId} and {app} (the application's name; a
	// "&app={app}" is left out without one), for mail whose caller's application
	// and tenant configure no URL: the hosted pages under the public URL.
	// Without one, such a mail shows the token.
	DefaultLinks map[string]string

	// Renderer renders mail for the outbox; needed for mail delivery.
	Renderer Renderer
	// MailFrom is the sender of mail when a tenant sets none.
	MailFrom string
	// MailLease is how long a relay holds a claimed mail before another
	// may take it over (default 5 min); MailRetryBase and MailRetryMax
	// bound the backoff (1 s doubling to 10 min); MailGiveUp fails mail
	// undelivered for that long (48 h).
	MailLease     time.Duration
	MailRetryBase time.Duration
	MailRetryMax  time.Duration
	MailGiveUp    time.Duration
	// WebhookLease, WebhookRetryBase and WebhookGiveUp are the webhook
	// relay's lease (2 min), first retry (5 s, doubling to an hour) and
	// the time after which a delivery fails and an endpoint whose every
	// attempt failed is disabled (72 h). WebhookAllowPrivate lets
	// endpoints be on loopback, private and link-local addresses.
	WebhookLease        time.Duration
	WebhookRetryBase    time.Duration
	WebhookGiveUp       time.Duration
	WebhookAllowPrivate bool
	// MailRetention is how long the record of a sent or failed mail (no
	// content: that is erased when it finishes) stays in the outbox;
	// default 30 days, at least a day.
	MailRetention time.Duration
}

// Service is pforte's domain: one component per concern, sharing the
// store, the configuration and the keyring. API packages translate their
// wire formats into calls of a component's methods; stores only persist.
type Service struct {
	*core

	Tenants       *Tenants       // tenants, their settings and host names
	APIKeys       *APIKeys       // the keys sites and back offices call with
	Apps          *Apps          // a tenant's websites and their link URLs
	Registrations *Registrations // sign-up and double opt-in
	Invitations   *Invitations   // activation of customers a back office created
	Sessions      *Sessions      // login, sessions, logout, password change
	Devices       *Devices       // where a customer is logged in; ending sessions
	EmailChanges  *EmailChanges  // a customer's own change of address
	SignInAlerts  *SignInAlerts  // mail about logins from new places, and what its link does
	Audit         *Audit         // the tamper-evident log of security events
	Consents      *Consents      // versioned consent texts
	Recovery      *Recovery      // forgotten passwords
	Customers     *Customers     // back-office administration of customers
	Outbox        *Outbox        // what the mail relay needs of the outbox
	Webhooks      *Webhooks      // endpoints, and what the webhook relay needs
	Keyring       *Keyring       // keys derived from the server secret
	// OpenID Connect: logins for clients, and the keys that sign tokens.
	Authorizations *Authorizations
	SigningKeys    *SigningKeys
}

// core is what every component shares: configuration, store, clock, log,
// and the components and helpers the flows call across concerns.
type core struct {
	cfg   Config
	store Store
	log   *slog.Logger

	keys          *Keyring
	tenants       *Tenants
	apiKeys       *APIKeys
	apps          *Apps
	registrations *Registrations
	invitations   *Invitations
	sessions      *Sessions
	devices       *Devices
	emailChanges  *EmailChanges
	signInAlerts  *SignInAlerts
	audit         *Audit
	consents      *Consents
	recovery      *Recovery
	customers     *Customers
	outbox        *Outbox
	webhooks      *Webhooks
	hooksQueued   chan struct{}
	authz         *Authorizations
	signingKeys   *SigningKeys
	tokens        *tokens
	mail          *mailer
	creds         *credentials
	guard         *loginGuard
}

// Components of the domain. Each embeds the shared core.
type (
	// Registrations signs customers up and confirms their addresses.
	Registrations struct{ *core }
	// Invitations activates customers that a back office created.
	Invitations struct{ *core }
	// Recovery resets forgotten passwords, by link or by code.
	Recovery struct{ *core }
	// Customers is the back office's administration of customers.
	Customers struct{ *core }
	// Apps manages a tenant's applications.
	Apps struct{ *core }
	// APIKeys creates, lists, revokes and authenticates API keys.
	APIKeys struct{ *core }
	// tokens issues and spends one-time tokens and codes.
	tokens struct{ *core }
	// credentials sets passwords and proves control of a mailbox, for
	// every flow that spends a token.
	credentials struct{ *core }
)

// NewService returns a Service; call Start before serving.
func NewService(cfg Config) *Service {
	cfg = withDefaults(cfg)
	c := &core{cfg: cfg, store: cfg.Store, log: cfg.Logger}
	c.keys = &Keyring{}
	c.tenants = &Tenants{core: c, cache: map[int64]cachedTenant{}, slugs: map[string]int64{}}
	c.apiKeys = &APIKeys{c}
	c.apps = &Apps{c}
	c.registrations = &Registrations{c}
	c.invitations = &Invitations{c}
	c.sessions = &Sessions{c}
	c.devices = &Devices{c}
	c.emailChanges = &EmailChanges{c}
	c.signInAlerts = &SignInAlerts{c}
	c.audit = &Audit{c}
	c.consents = &Consents{c}
	c.recovery = &Recovery{c}
	c.customers = &Customers{c}
	c.outbox = &Outbox{c}
	c.webhooks = &Webhooks{c}
	c.hooksQueued = make(chan struct{}, 1)
	c.authz = &Authorizations{c}
	c.signingKeys = &SigningKeys{core: c}
	c.tokens = &tokens{c}
	c.mail = &mailer{core: c, queued: make(chan struct{}, 1)}
	c.creds = &credentials{c}
	c.guard = &loginGuard{core: c}
	return &Service{core: c, Tenants: c.tenants, APIKeys: c.apiKeys, Apps: c.apps, Registrations: c.registrations,
		Invitations: c.invitations, Sessions: c.sessions, Devices: c.devices, EmailChanges: c.emailChanges, SignInAlerts: c.signInAlerts, Audit: c.audit, Consents: c.consents, Recovery: c.recovery, Customers: c.customers,
		Outbox: c.outbox, Webhooks: c.webhooks, Keyring: c.keys, Authorizations: c.authz, SigningKeys: c.signingKeys}
}

// withDefaults fills the zero values of cfg with the defaults.
func withDefaults(cfg Config) Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&cfg.ConfirmTTL, 24*time.Hour)
	def(&cfg.ResetTTL, time.Hour)
	def(&cfg.InviteTTL, 7*24*time.Hour)
	def(&cfg.SessionIdle, 30*time.Minute)
	def(&cfg.SessionMaxAge, 12*time.Hour)
	def(&cfg.TenantCacheTTL, 2*time.Second)
	def(&cfg.MailLease, defaultMailLease)
	def(&cfg.MailRetryBase, defaultRetryBase)
	def(&cfg.MailRetryMax, defaultRetryMax)
	def(&cfg.MailGiveUp, defaultGiveUpAfter)
	def(&cfg.MailRetention, 30*24*time.Hour)
	def(&cfg.WebhookLease, defaultWebhookLease)
	def(&cfg.WebhookRetryBase, defaultWebhookRetryBase)
	def(&cfg.WebhookGiveUp, defaultWebhookGiveUp)
	cfg.MailRetention = max(cfg.MailRetention, 24*time.Hour)
	if cfg.MailFrom == "" {
		cfg.MailFrom = "pforte <noreply@localhost>"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg
}

// PasswordMinLength is the least length the password policy takes.
func (s *Service) PasswordMinLength() int { return s.cfg.Policy.MinLength }

// Ready checks that the store answers.
func (s *Service) Ready(ctx context.Context) error { return s.store.Ping(ctx) }

// Purge removes tokens, sessions, authorizations and refresh tokens a day
// after they expired, login failure records untouched for failureMemory,
// the records of mail finished longer than MailRetention ago, signing
// keys a day after no ID token hint can need them, audit events and
// unconfirmed registrations past their tenant's retention, and what
// erased customers left for proof_retention.
func (s *Service) Purge(ctx context.Context) error {
	now := s.now()
	if err := s.store.Purge(ctx, now.Add(-24*time.Hour), now.Add(-failureMemory)); err != nil {
		return Internal(err)
	}
	if err := s.store.PurgeMail(ctx, now.Add(-s.cfg.MailRetention)); err != nil {
		return Internal(err)
	}
	if err := s.store.PurgeSigningKeys(ctx, now.Add(-s.signingKeys.retention()-24*time.Hour)); err != nil {
		return Internal(err)
	}
	if err := s.audit.prune(ctx); err != nil {
		return Internal(err)
	}
	if err := s.customers.purgeUnconfirmed(ctx); err != nil {
		return Internal(err)
	}
	if err := s.customers.endRetentions(ctx); err != nil {
		return Internal(err)
	}
	if err := s.store.PurgeDeliveries(ctx, now.Add(-s.cfg.MailRetention)); err != nil {
		return Internal(err)
	}
	return nil
}

func (s *core) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

// HoldHashing gives a request that will hash a password its place among
// the hashing pool's callers first, so that under overload it is refused
// (busy, with Retry-After) before it reads or writes anything, its API
// key included. The returned context carries the place; release gives it
// back.
func (s *Service) HoldHashing(ctx context.Context) (held context.Context, release func(), err error) {
	held, release, err = s.cfg.Hasher.Hold(ctx)
	return held, release, hashError(err)
}

// AwaitHashingTurn waits until the place ctx holds (HoldHashing) has its
// turn to do its work: a few per hashing slot at a time, in the order
// they came, so that the queue's others read and write nothing yet.
func (s *Service) AwaitHashingTurn(ctx context.Context) error {
	return hashError(s.cfg.Hasher.AwaitTurn(ctx))
}

// pause waits until wait fires (or ctx ends) without the request's
// hashing turn, which it takes again before it returns: a wait that
// needs neither the processors nor the database must not hold back the
// places in line behind it.
func (s *core) pause(ctx context.Context, wait <-chan time.Time) error {
	s.cfg.Hasher.Rest(ctx)
	select {
	case <-wait:
	case <-ctx.Done():
		return hashError(ctx.Err())
	}
	return hashError(s.cfg.Hasher.AwaitTurn(ctx))
}

func (s *core) hash(ctx context.Context, pw string) (string, error) {
	h, err := s.cfg.Hasher.Hash(ctx, pw)
	return h, hashError(err)
}

func hashError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, password.ErrBusy), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &Error{Kind: KindUnavailable, Code: CodeBusy, Message: "the service is busy; try again shortly", RetryAfter: time.Second, Cause: err}
	}
	return Internal(err)
}

// uniform waits until at least UniformResponse has passed since start.
// The request's hashing turn, if it holds one, passes to the next in line
// meanwhile: waiting costs nothing, and public registrations would
// otherwise take a turn each for the whole wait.
func (s *core) uniform(ctx context.Context, start time.Time) {
	wait := s.cfg.UniformResponse - time.Since(start)
	if wait <= 0 {
		return
	}
	s.cfg.Hasher.Rest(ctx)
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// inTx runs fn in a transaction. When a concurrent writer wins a race for
// a unique index (possible on PostgreSQL), fn runs again and sees the
// winner's row. Store errors become internal errors; the service's own
// errors pass through unchanged.
func (s *core) inTx(ctx context.Context, fn func(tx Tx) error) error {
	return s.runTx(ctx, s.store.InTx, fn)
}

// inTxWithoutSync is inTx through Store.InTxWithoutSync, for writes that
// a power cut may take back.
func (s *core) inTxWithoutSync(ctx context.Context, fn func(tx Tx) error) error {
	return s.runTx(ctx, s.store.InTxWithoutSync, fn)
}

// inBulkTx is inTx through Store.InBulkTx, for the batches of a bulk
// write.
func (s *core) inBulkTx(ctx context.Context, fn func(tx Tx) error) error {
	return s.runTx(ctx, s.store.InBulkTx, fn)
}

func (s *core) runTx(ctx context.Context, run func(context.Context, func(Tx) error) error, fn func(tx Tx) error) error {
	var err error
	for range 3 {
		if err = run(ctx, fn); !errors.Is(err, ErrDuplicate) {
			break
		}
	}
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) && e != ErrNotFound && e != ErrDuplicate {
		return e
	}
	return Internal(err)
}

// Now is the service's clock, for dialects that put times into tokens.
func (s *Service) Now() time.Time { return s.now() }

// TokenTTL is the lifetime of one-time tokens of purpose p.
func (s *Service) TokenTTL(p Purpose) time.Duration { return s.tokens.ttl(p) }
