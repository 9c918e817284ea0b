package account

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"pforte/internal/password"
)

// Config holds what a Service needs. Zero durations take the defaults.
type Config struct {
	Store  Store
	Hasher *password.Hasher
	Policy password.Policy
	Logger *slog.Logger
	Now    func() time.Time // injectable clock for tests

	ConfirmTTL    time.Duration // default 24 h
	ResetTTL      time.Duration // default 1 h
	InviteTTL     time.Duration // default 7 days
	SessionIdle   time.Duration // default 24 h
	SessionMaxAge time.Duration // default 30 days

	// UniformResponse is the least time that flows whose work depends on
	// whether an account exists (password reset requests, public
	// registration) take, so their timing does not tell. Default 0: off.
	UniformResponse time.Duration
	// TenantCacheTTL bounds how long a changed tenant setting takes to reach
	// a running server. Default 2 s.
	TenantCacheTTL time.Duration

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
	// MailRetention is how long the record of a sent or failed mail (no
	// content: that is erased when it finishes) stays in the outbox;
	// default 30 days, at least a day.
	MailRetention time.Duration
}

// Service carries every flow of pforte. API packages translate their wire
// formats into calls of its methods; stores only persist.
type Service struct {
	cfg    Config
	store  Store
	log    *slog.Logger
	secret []byte

	mu      sync.Mutex
	tenants map[int64]cachedTenant
	hosts   map[string]int64 // host name -> tenant ID, see TenantForHost
	hostsAt time.Time

	queued chan struct{} // see MailQueued
}

type cachedTenant struct {
	tenant Tenant
	at     time.Time
}

// NewService returns a Service; call Start before serving.
func NewService(cfg Config) *Service {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&cfg.ConfirmTTL, 24*time.Hour)
	def(&cfg.ResetTTL, time.Hour)
	def(&cfg.InviteTTL, 7*24*time.Hour)
	def(&cfg.SessionIdle, 24*time.Hour)
	def(&cfg.SessionMaxAge, 30*24*time.Hour)
	def(&cfg.TenantCacheTTL, 2*time.Second)
	def(&cfg.MailLease, defaultMailLease)
	def(&cfg.MailRetryBase, defaultRetryBase)
	def(&cfg.MailRetryMax, defaultRetryMax)
	def(&cfg.MailGiveUp, defaultGiveUpAfter)
	def(&cfg.MailRetention, 30*24*time.Hour)
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
	return &Service{cfg: cfg, store: cfg.Store, log: cfg.Logger, tenants: map[int64]cachedTenant{}, queued: make(chan struct{}, 1)}
}

// Start makes sure the default tenant and the server secret exist, for a
// server. It is safe for several replicas to start at once. A secret given
// by the operator is used as it is and never stored; without one, the
// first start generates one and keeps it in the database, where it is only
// as safe as the database itself. The first server start also keeps a
// check value of the secret, and every later start with another secret is
// refused (ErrWrongSecret): email keys (email_storage=hmac), codes, sealed
// mail, numeric sessions, signed links and public keys all derive from
// it, and with another one they would silently stop matching.
func (s *Service) Start(ctx context.Context, secret []byte) error {
	return s.start(ctx, secret, true)
}

// Attach is Start for administrative commands: it compares the secret
// with the check a server keeps, but writes neither a check nor a
// generated secret, so that a command cannot decide the secret for the
// server. Before the first server start a command without a secret works
// with a random one it forgets (no command keeps anything derived from
// it).
func (s *Service) Attach(ctx context.Context, secret []byte) error {
	return s.start(ctx, secret, false)
}

func (s *Service) start(ctx context.Context, secret []byte, server bool) error {
	if len(secret) > 0 {
		s.secret = secret
		if server {
			// Short secrets are refused when an installation is set up; one
			// already set up with a shorter secret must keep it.
			if _, err := s.store.ServerState(ctx, secretCheckKey, nil); errors.Is(err, ErrNotFound) && len(secret) < MinSecretLength {
				return ErrShortSecret
			} else if err != nil && !errors.Is(err, ErrNotFound) {
				return Internal(err)
			}
		}
	} else {
		stored, err := s.generatedSecret(ctx, server)
		if err != nil {
			return err
		}
		s.secret = stored
	}
	keepCheck := server
	check := secretCheck(s.secret)
	var kept []byte
	var err error
	if keepCheck {
		kept, err = s.store.ServerState(ctx, secretCheckKey, check)
	} else if kept, err = s.store.ServerState(ctx, secretCheckKey, nil); errors.Is(err, ErrNotFound) {
		kept, err = check, nil // no server has started yet
	}
	if err != nil {
		return Internal(err)
	}
	if !hmac.Equal(kept, check) {
		return ErrWrongSecret
	}
	if _, err := s.store.TenantBySlug(ctx, DefaultTenant); errors.Is(err, ErrNotFound) {
		t := Tenant{Slug: DefaultTenant, CreatedAt: s.now()}
		if err := s.store.CreateTenant(ctx, &t); err != nil && !errors.Is(err, ErrDuplicate) {
			return Internal(err)
		}
	} else if err != nil {
		return Internal(err)
	}
	return nil
}

// The server_state rows the service keeps: a generated secret, and the
// check value of whichever secret the installation runs with.
const (
	secretKey      = "secret"
	secretCheckKey = "secret_check"
)

// ErrWrongSecret refuses a start with a secret other than the one the
// database was set up with, or without the one it runs with.
var ErrWrongSecret = errors.New("the server secret (--secret, PFORTE_SECRET) is not the one this database was set up with: " +
	"hashed addresses, codes, queued mail, sessions and links made with it would stop matching. " +
	"Give the secret the server runs with, or, if the first start generated one, the value 'pforte secret show' prints")

// generatedSecret reads the generated secret, or generates and stores one
// on the first start; concurrent first starts agree on one. A check value
// without a generated secret means the installation runs with a given
// secret, and a start without it is refused before anything is stored.
func (s *Service) generatedSecret(ctx context.Context, store bool) ([]byte, error) {
	stored, err := s.store.ServerState(ctx, secretKey, nil)
	if errors.Is(err, ErrNotFound) {
		if _, cerr := s.store.ServerState(ctx, secretCheckKey, nil); cerr == nil {
			// Or another replica is starting for the first time: it
			// stores the secret before the check, so read once more.
			if stored, err = s.store.ServerState(ctx, secretKey, nil); errors.Is(err, ErrNotFound) {
				return nil, ErrWrongSecret
			}
		} else if !errors.Is(cerr, ErrNotFound) {
			return nil, Internal(cerr)
		} else if random, _ := newSecret(); store {
			stored, err = s.store.ServerState(ctx, secretKey, []byte(random))
		} else {
			return []byte(random), nil
		}
	}
	if err != nil {
		return nil, Internal(err)
	}
	return stored, nil
}

// secretCheck is the value the database keeps to recognise its secret.
func secretCheck(secret []byte) []byte { return deriveKey(secret, "secret check") }

// MinSecretLength bounds a given secret from below when an installation is
// set up: the check value the database keeps would let a dump test
// guesses of a short one.
const MinSecretLength = 16

// ErrShortSecret refuses a first start with a secret under MinSecretLength.
var ErrShortSecret = fmt.Errorf("the server secret must be at least %d characters; 'openssl rand -base64 32' makes a good one", MinSecretLength)

// ErrStaleSecret: the database holds a generated secret, but the server
// runs with another, given one.
var ErrStaleSecret = errors.New("the secret stored in the database is not the one the server runs with (it runs with a given --secret); the stored one is unused")

// StoredSecret is the secret the first start generated and kept in the
// database, for an operator moving it to --secret: ErrNotFound when there
// is none, ErrStaleSecret when the server runs with another one. It needs
// no Start.
func (s *Service) StoredSecret(ctx context.Context) ([]byte, error) {
	v, err := s.store.ServerState(ctx, secretKey, nil)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrNotFound
	} else if err != nil {
		return nil, Internal(err)
	}
	check, err := s.store.ServerState(ctx, secretCheckKey, nil)
	if err == nil && !hmac.Equal(check, secretCheck(v)) {
		return nil, ErrStaleSecret
	} else if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, Internal(err)
	}
	return v, nil
}

// ForgetStoredSecret deletes the generated secret from the database, so
// that a dump no longer holds it: once the server runs with it as
// --secret, or when it is stale. given must be the secret a server started
// with (the check value says so); from then on every start needs it.
func (s *Service) ForgetStoredSecret(ctx context.Context, given []byte) error {
	if _, err := s.store.ServerState(ctx, secretKey, nil); errors.Is(err, ErrNotFound) {
		return ErrNotFound
	} else if err != nil {
		return Internal(err)
	}
	check, err := s.store.ServerState(ctx, secretCheckKey, nil)
	if errors.Is(err, ErrNotFound) {
		return errors.New("no server has started with this database yet: start it with --secret first")
	} else if err != nil {
		return Internal(err)
	}
	if len(given) == 0 || !hmac.Equal(check, secretCheck(given)) {
		return ErrWrongSecret
	}
	if err := s.store.DeleteServerState(ctx, secretKey); err != nil {
		return Internal(err)
	}
	return nil
}

// Ready checks that the store answers.
func (s *Service) Ready(ctx context.Context) error { return s.store.Ping(ctx) }

// Purge removes tokens and sessions a day after they expired, login
// failure records untouched for failureMemory, and the records of mail
// finished longer than MailRetention ago.
func (s *Service) Purge(ctx context.Context) error {
	now := s.now()
	if err := s.store.Purge(ctx, now.Add(-24*time.Hour), now.Add(-failureMemory)); err != nil {
		return Internal(err)
	}
	if err := s.store.PurgeMail(ctx, now.Add(-s.cfg.MailRetention)); err != nil {
		return Internal(err)
	}
	return nil
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

// Caller is who makes a request: the tenant, the kind of key it used, and
// the application it named, if any.
type Caller struct {
	Tenant Tenant
	Key    KeyKind      // empty when the tenant was not resolved through a key
	App    *Application // the application named by the request; nil: the tenant's defaults
	// AlwaysTokens is set by dialects whose vendor hands every token to
	// the site (seed 000): a secret-key caller then receives tokens
	// whatever the delivery mode. Public keys still never do.
	AlwaysTokens bool
	// Links, when set, builds the links of the caller's mail instead of
	// the tenant's URLs: for dialects whose links lead to pforte's own
	// endpoints (seed 003's verify link) or carry the token in another
	// form. action is one of the Action constants. It returns the link
	// and, for a mail without one, the token to show instead (the form
	// the dialect's API takes).
	Links func(action, token string, cust Customer) (link, shown string)
	// RevealUnknownEmail makes a password reset request for an address
	// without a customer fail with email_unknown, for dialects whose
	// vendor answers so and whose tenant opted in (seed 003). It lets
	// anyone find out which addresses have accounts.
	RevealUnknownEmail bool
	// NoSession is set by dialects whose vendor logs nobody in when a
	// token or code is used (confirmation, reset, activation): the flows
	// then open no session, so that none exists that nobody holds.
	NoSession bool
}

// IsSecret reports whether the caller used a secret key.
func (c Caller) IsSecret() bool { return c.Key == KeySecret }

// receivesTokens: tokens go back only to servers (secret keys) of tenants
// whose sites send their own mail. A browser never sees one.
func (c Caller) receivesTokens() bool {
	d := c.Delivery()
	return c.IsSecret() && (c.AlwaysTokens || d == DeliveryReturn || d == DeliveryBoth)
}

var errSecretKeyRequired = &Error{Kind: KindForbidden, Code: "secret_key_required", Message: "this call needs a secret API key"}

func (c Caller) requireSecret() error {
	if !c.IsSecret() {
		return errSecretKeyRequired
	}
	return nil
}

// delivers reports whether a token issued for this caller reaches anyone:
// it comes back to callers that receive tokens, and (with the outbox) goes
// out by mail. A token nobody receives would only replace one the site had
// mailed itself.
func (c Caller) delivers() bool { return c.receivesTokens() || c.sendsMail() }

// NewSession is a session together with its token, which exists only in
// this value and in the response that carries it.
type NewSession struct {
	Session
	Token string
}

// ---- API keys and tenants ----

var errAPIKeyInvalid = &Error{Kind: KindUnauthorized, Code: "api_key_invalid", Message: "the API key is missing, unknown or revoked"}

// AuthenticateKey resolves an API key to its caller. A revoked key fails at
// once: keys are never cached.
func (s *Service) AuthenticateKey(ctx context.Context, raw string) (Caller, error) {
	if raw == "" || len(raw) > 200 {
		return Caller{}, errAPIKeyInvalid
	}
	k, err := s.store.APIKeyByHash(ctx, HashSecret(raw))
	if errors.Is(err, ErrNotFound) || (err == nil && k.RevokedAt != nil) {
		return Caller{}, errAPIKeyInvalid
	}
	if err != nil {
		return Caller{}, Internal(err)
	}
	t, err := s.tenant(ctx, k.TenantID)
	if err != nil {
		return Caller{}, err
	}
	// Record use at most once a minute, not on every request.
	now := s.now()
	if k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) > time.Minute {
		if err := s.store.TouchAPIKey(ctx, k.ID, now); err != nil {
			s.log.Warn("recording API key use failed", "key_id", k.ID, "err", err)
		}
	}
	return Caller{Tenant: t, Key: k.Kind}, nil
}

// tenant returns a tenant from a short-lived cache, so that settings changed
// elsewhere (the CLI, another replica) apply within TenantCacheTTL.
func (s *Service) tenant(ctx context.Context, id int64) (Tenant, error) {
	s.mu.Lock()
	c, ok := s.tenants[id]
	s.mu.Unlock()
	if ok && s.cfg.Now().Sub(c.at) < s.cfg.TenantCacheTTL {
		return c.tenant, nil
	}
	t, err := s.store.TenantByID(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return Tenant{}, errTenantNotFound
	} else if err != nil {
		return Tenant{}, Internal(err)
	}
	s.mu.Lock()
	s.tenants[id] = cachedTenant{tenant: t, at: s.cfg.Now()}
	s.mu.Unlock()
	return t, nil
}

// TenantCaller returns a caller for a tenant found without a key.
func (s *Service) TenantCaller(ctx context.Context, slug string) (Caller, error) {
	t, err := s.TenantBySlug(ctx, slug)
	return Caller{Tenant: t}, err
}

// CreateTenant adds a tenant.
func (s *Service) CreateTenant(ctx context.Context, slug string) (Tenant, error) {
	if !slugPattern.MatchString(slug) {
		return Tenant{}, Invalid(FieldError{Field: "slug", Code: "invalid", Message: "must be 1 to 63 lower-case letters, digits or dashes"})
	}
	t := Tenant{Slug: slug, CreatedAt: s.now(), Settings: map[string]string{}}
	if err := s.store.CreateTenant(ctx, &t); errors.Is(err, ErrDuplicate) {
		return Tenant{}, Errorf(KindConflict, "tenant_exists", "tenant %q already exists", slug)
	} else if err != nil {
		return Tenant{}, Internal(err)
	}
	return t, nil
}

// Tenants lists every tenant.
func (s *Service) Tenants(ctx context.Context) ([]Tenant, error) {
	ts, err := s.store.ListTenants(ctx)
	if err != nil {
		return nil, Internal(err)
	}
	return ts, nil
}

// TenantBySlug finds a tenant.
func (s *Service) TenantBySlug(ctx context.Context, slug string) (Tenant, error) {
	t, err := s.store.TenantBySlug(ctx, slug)
	if errors.Is(err, ErrNotFound) {
		return Tenant{}, errTenantNotFound
	} else if err != nil {
		return Tenant{}, Internal(err)
	}
	return t, nil
}

// SetTenantSetting validates and stores one setting. A templates
// directory is parsed and rendered now, so that a broken template is
// refused here rather than when a mail is sent.
func (s *Service) SetTenantSetting(ctx context.Context, slug, key, value string) error {
	if err := ValidateSetting(key, value); err != nil {
		return err
	}
	if key == "templates" && value != "" {
		if s.cfg.Renderer == nil {
			return Errorf(KindInternal, "no_renderer", "no mail renderer configured")
		}
		if err := s.cfg.Renderer.Check(value); err != nil {
			return Errorf(KindInvalid, "invalid_setting", "templates: %v", err)
		}
	}
	t, err := s.TenantBySlug(ctx, slug)
	if err != nil {
		return err
	}
	switch key {
	case "hosts":
		if err := s.hostsFree(ctx, t, value); err != nil {
			return err
		}
	case "email_storage":
		// Existing keys were computed the other way: lookups would miss.
		if value != t.Setting(key) {
			if list, err := s.store.ListCustomers(ctx, t.ID, 0, 1); err != nil {
				return Internal(err)
			} else if len(list) > 0 {
				return Errorf(KindConflict, "tenant_has_customers", "email_storage can only change while the tenant has no customers")
			}
		}
	}
	if err := s.store.SetTenantSetting(ctx, t.ID, key, value); err != nil {
		return Internal(err)
	}
	s.mu.Lock()
	delete(s.tenants, t.ID)
	s.hostsAt = time.Time{}
	s.mu.Unlock()
	return nil
}

// CreateAPIKey makes a key for a tenant. The raw key is returned once and
// never stored.
func (s *Service) CreateAPIKey(ctx context.Context, slug string, kind KeyKind, name string) (string, APIKey, error) {
	if kind != KeyPublic && kind != KeySecret {
		return "", APIKey{}, Invalid(FieldError{Field: "kind", Code: "invalid", Message: "must be public or secret"})
	}
	if err := checkText("name", name, 100); err != nil {
		return "", APIKey{}, Invalid(*err)
	}
	t, err := s.TenantBySlug(ctx, slug)
	if err != nil {
		return "", APIKey{}, err
	}
	secret, _ := newSecret()
	raw := map[KeyKind]string{KeyPublic: "pk_", KeySecret: "sk_"}[kind] + secret
	k := APIKey{TenantID: t.ID, Kind: kind, Name: name, Prefix: raw[:11], Hash: HashSecret(raw), CreatedAt: s.now()}
	if err := s.store.CreateAPIKey(ctx, &k); err != nil {
		return "", APIKey{}, Internal(err)
	}
	return raw, k, nil
}

// APIKeys lists a tenant's keys, revoked ones included.
func (s *Service) APIKeys(ctx context.Context, slug string) ([]APIKey, error) {
	t, err := s.TenantBySlug(ctx, slug)
	if err != nil {
		return nil, err
	}
	ks, err := s.store.ListAPIKeys(ctx, t.ID)
	if err != nil {
		return nil, Internal(err)
	}
	return ks, nil
}

// RevokeAPIKey ends a key at once.
func (s *Service) RevokeAPIKey(ctx context.Context, slug string, id int64) error {
	t, err := s.TenantBySlug(ctx, slug)
	if err != nil {
		return err
	}
	if err := s.store.RevokeAPIKey(ctx, t.ID, id, s.now()); errors.Is(err, ErrNotFound) {
		return Errorf(KindNotFound, "api_key_not_found", "no live API key %d in tenant %q", id, slug)
	} else if err != nil {
		return Internal(err)
	}
	return nil
}

// ---- validation ----

// Profile is the descriptive part of a customer.
type Profile struct {
	Salutation string
	FirstName  string
	LastName   string
	Username   string
	Locale     string
	PartnerRef string
}

// Salutations are the forms of address pforte knows; dialects map theirs onto these.
var Salutations = []string{"mr", "ms", "mx"}

var (
	usernamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	localePattern   = regexp.MustCompile(`^[a-z]{2}(-[A-Z]{2})?$`)
)

// checkText refuses control characters (CR and LF above all: names reach
// mail headers) and overlong values.
func checkText(field, v string, max int) *FieldError {
	if utf8.RuneCountInString(v) > max {
		return &FieldError{Field: field, Code: "too_long", Message: "must be at most " + strconv.Itoa(max) + " characters"}
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return &FieldError{Field: field, Code: "invalid", Message: "must not contain control characters"}
		}
	}
	return nil
}

func (p Profile) validate() []FieldError {
	var fields []FieldError
	add := func(fe *FieldError) {
		if fe != nil {
			fields = append(fields, *fe)
		}
	}
	add(checkText("first_name", p.FirstName, 100))
	add(checkText("last_name", p.LastName, 100))
	add(checkText("partner_ref", p.PartnerRef, 64))
	if p.Salutation != "" && !contains(Salutations, p.Salutation) {
		add(&FieldError{Field: "salutation", Code: "invalid", Message: "must be one of " + strings.Join(Salutations, ", ")})
	}
	if p.Username != "" && !usernamePattern.MatchString(p.Username) {
		add(&FieldError{Field: "username", Code: "invalid", Message: "must be 1 to 64 letters, digits, dots, dashes or underscores, starting with a letter or digit"})
	}
	if p.Locale != "" && !localePattern.MatchString(p.Locale) {
		add(&FieldError{Field: "locale", Code: "invalid", Message: "must be a language tag such as de or en-GB"})
	}
	return fields
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// checkNewPassword applies the policy to a password being set. email may
// be empty where it is not known yet.
func (s *Service) checkNewPassword(field, pw, email string, confirmation *string) []FieldError {
	var fields []FieldError
	if pw == "" {
		return []FieldError{{Field: field, Code: "required", Message: "is required"}}
	}
	if v := s.cfg.Policy.Check(pw, email); v != "" {
		fields = append(fields, FieldError{Field: field, Code: string(v), Message: v.Message(s.cfg.Policy)})
	}
	if confirmation != nil && *confirmation != pw {
		fields = append(fields, FieldError{Field: field + "_confirmation", Code: "mismatch", Message: "does not match the password"})
	}
	return fields
}

func (s *Service) hash(ctx context.Context, pw string) (string, error) {
	h, err := s.cfg.Hasher.Hash(ctx, pw)
	return h, hashError(err)
}

func hashError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, password.ErrBusy), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &Error{Kind: KindUnavailable, Code: "busy", Message: "the service is busy; try again shortly", RetryAfter: time.Second, Cause: err}
	}
	return Internal(err)
}

// uniform waits until at least UniformResponse has passed since start.
func (s *Service) uniform(ctx context.Context, start time.Time) {
	wait := s.cfg.UniformResponse - time.Since(start)
	if wait <= 0 {
		return
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// ---- tokens and sessions (inside transactions) ----

func (s *Service) ttl(p Purpose) time.Duration {
	switch p {
	case PurposeConfirm:
		return s.cfg.ConfirmTTL
	case PurposePasswordReset:
		return s.cfg.ResetTTL
	default:
		return s.cfg.InviteTTL
	}
}

// issueToken replaces the customer's live tokens of this purpose with a new one.
func (s *Service) issueToken(ctx context.Context, tx Tx, c Customer, p Purpose) (string, error) {
	if err := tx.DeleteTokens(ctx, c.TenantID, c.ID, p); err != nil {
		return "", err
	}
	raw, hash := newSecret()
	now := s.now()
	t := Token{TenantID: c.TenantID, CustomerID: c.ID, Purpose: p, Hash: hash, CreatedAt: now, ExpiresAt: now.Add(s.ttl(p))}
	return raw, tx.CreateToken(ctx, &t)
}

// consumeToken uses a token up, or fails with token_invalid whatever the
// reason (unknown, used, expired, other purpose or tenant).
func (s *Service) consumeToken(ctx context.Context, tx Tx, tenantID int64, raw string, p Purpose) (Token, Customer, error) {
	if raw == "" || len(raw) > 256 {
		return Token{}, Customer{}, errTokenInvalid
	}
	t, err := tx.ConsumeToken(ctx, tenantID, HashSecret(raw), p, s.now(), maxCodeAttempts)
	if errors.Is(err, ErrNotFound) {
		return Token{}, Customer{}, errTokenInvalid
	} else if err != nil {
		return Token{}, Customer{}, err
	}
	c, err := tx.CustomerByID(ctx, tenantID, t.CustomerID)
	if errors.Is(err, ErrNotFound) {
		return Token{}, Customer{}, errTokenInvalid
	}
	return t, c, err
}

// logIn opens the session a flow that proves the customer (confirmation,
// reset, activation) ends with, unless the caller keeps none.
func (s *Service) logIn(ctx context.Context, tx Tx, c Caller, cust Customer) (NewSession, error) {
	if c.NoSession {
		return NewSession{}, nil
	}
	return s.newSession(ctx, tx, cust)
}

func (s *Service) newSession(ctx context.Context, tx Tx, c Customer) (NewSession, error) {
	raw, hash := newSecret()
	now := s.now()
	sess := Session{TenantID: c.TenantID, CustomerID: c.ID, Hash: hash, CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(s.cfg.SessionMaxAge), IdleExpiry: s.cfg.SessionIdle}
	if err := tx.CreateSession(ctx, &sess); err != nil {
		return NewSession{}, err
	}
	return NewSession{Session: sess, Token: raw}, nil
}

// setState moves a customer through the transition table.
func setState(c *Customer, to State) error {
	if !CanTransition(c.State, to) {
		return Errorf(KindConflict, "invalid_transition", "a %s customer cannot become %s", c.State, to)
	}
	c.State = to
	return nil
}

// inTx runs fn in a transaction. When a concurrent writer wins a race for
// a unique index (possible on PostgreSQL), fn runs again and sees the
// winner's row. Store errors become internal errors; the service's own
// errors pass through unchanged.
func (s *Service) inTx(ctx context.Context, fn func(tx Tx) error) error {
	var err error
	for range 3 {
		if err = s.store.InTx(ctx, fn); !errors.Is(err, ErrDuplicate) {
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

// ---- codes ----

var codePattern = regexp.MustCompile(`^[0-9]{8}$`)

// maxCodeTTL bounds the lifetime of 8-digit codes.
const maxCodeTTL = 24 * time.Hour

// IssueCode replaces the customer's live tokens of this purpose with an
// 8-digit code, for dialects whose users type a code from a mail.
func (s *Service) IssueCode(ctx context.Context, tenantID, customerID int64, p Purpose) (string, error) {
	var code string
	err := s.inTx(ctx, func(tx Tx) error {
		if err := tx.DeleteTokens(ctx, tenantID, customerID, p); err != nil {
			return err
		}
		var err error
		code, err = s.newCode(ctx, tx, Customer{ID: customerID, TenantID: tenantID}, p)
		return err
	})
	return code, err
}

// newCode adds an 8-digit code beside the customer's other tokens of this
// purpose (an invitation mail carries a link and a code).
func (s *Service) newCode(ctx context.Context, tx Tx, cust Customer, p Purpose) (string, error) {
	code := newCode()
	now := s.now()
	// A code sent by mail is valid for 24 hours at most (NIST SP 800-63B),
	// even beside a longer-lived invitation link.
	t := Token{TenantID: cust.TenantID, CustomerID: cust.ID, Purpose: p, Code: true,
		Hash: hashCode(s.secret, cust.ID, p, code), CreatedAt: now, ExpiresAt: now.Add(min(s.ttl(p), maxCodeTTL))}
	return code, tx.CreateToken(ctx, &t)
}

// ConsumeCode uses up a code. Each guess is counted before it is checked,
// atomically, so that of any number of concurrent guesses at most
// maxCodeAttempts are ever compared; after that the code is dead.
func (s *Service) ConsumeCode(ctx context.Context, tenantID, customerID int64, p Purpose, code string) error {
	if !codePattern.MatchString(code) {
		return errTokenInvalid
	}
	attempts, err := s.store.RecordCodeFailure(ctx, tenantID, customerID, p, s.now())
	if err != nil {
		return Internal(err)
	}
	// This guess is number attempts; only the first maxCodeAttempts are
	// ever compared. A counted guess may still win after later ones
	// pushed the count past the limit, so the consume itself does not look
	// at the count.
	if attempts == 0 || attempts > maxCodeAttempts {
		return errTokenInvalid
	}
	_, err = s.store.ConsumeToken(ctx, tenantID, hashCode(s.secret, customerID, p, code), p, s.now(), math.MaxInt32)
	if errors.Is(err, ErrNotFound) {
		return errTokenInvalid
	} else if err != nil {
		return Internal(err)
	}
	return nil
}

// customerByRef finds a customer by numeric id or by uuid.
func customerByRef(ctx context.Context, tx Tx, tenantID int64, ref string) (Customer, error) {
	var c Customer
	var err error
	if id, perr := strconv.ParseInt(ref, 10, 64); perr == nil {
		c, err = tx.CustomerByID(ctx, tenantID, id)
	} else if u, perr := uuid.Parse(ref); perr == nil && len(ref) == 36 {
		c, err = tx.CustomerByUUID(ctx, tenantID, u.String())
	} else {
		return Customer{}, errCustomerNotFound // neither an id nor a uuid
	}
	if errors.Is(err, ErrNotFound) {
		return Customer{}, errCustomerNotFound
	}
	return c, err
}

var (
	errUUIDTaken     = &Error{Kind: KindConflict, Code: "uuid_taken", Message: "a customer with this uuid already exists"}
	errUsernameTaken = &Error{Kind: KindConflict, Code: "username_taken", Message: "this username is taken"}
)

// checkUnique reports the first of a customer's unique fields that another
// customer of the tenant already holds. Inside a transaction this gives a
// precise error; the unique indexes stay the final guard.
func checkUnique(ctx context.Context, tx Tx, c Customer) error {
	type lookup struct {
		find  func() (Customer, error)
		taken *Error
	}
	lookups := []lookup{
		{func() (Customer, error) { return tx.CustomerByEmailKey(ctx, c.TenantID, c.EmailKey) }, errEmailTaken},
		{func() (Customer, error) { return tx.CustomerByUUID(ctx, c.TenantID, c.UUID) }, errUUIDTaken},
	}
	if c.Username != "" {
		lookups = append(lookups, lookup{func() (Customer, error) { return tx.CustomerByUsername(ctx, c.TenantID, c.Username) }, errUsernameTaken})
	}
	for _, l := range lookups {
		other, err := l.find()
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return err
		case other.ID != c.ID:
			return l.taken
		}
	}
	return nil
}
