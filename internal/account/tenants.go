package account

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"
)

// DefaultTenant is the slug of the tenant that exists after the first start.
const DefaultTenant = "default"

// Tenant is a website or organisation using pforte. Every row of every other
// table belongs to exactly one tenant.
type Tenant struct {
	ID        int64
	Slug      string
	Settings  map[string]string // only explicitly set values; see Setting
	CreatedAt time.Time
}

// Setting returns the tenant's value for key, or the key's default.
func (t Tenant) Setting(key string) string {
	if v, ok := t.Settings[key]; ok {
		return v
	}
	if spec, ok := settingSpec(key); ok {
		return spec.Default
	}
	return ""
}

// RememberMaxAge is how long a login that asks to be remembered lasts
// (session.remember_max_age); 0: the tenant remembers none.
func (t Tenant) RememberMaxAge() time.Duration { return t.duration("session.remember_max_age") }

// duration is a setting that holds a Go duration, checked when it was set.
func (t Tenant) duration(key string) time.Duration {
	d, _ := time.ParseDuration(t.Setting(key))
	return d
}

// Delivery is how tokens reach the customer.
type Delivery string

const (
	// DeliveryReturn hands tokens to secret-key callers; the site sends its
	// own mail and pforte sends none.
	DeliveryReturn Delivery = "return"
	// DeliveryMail sends mail; no token appears in any response.
	DeliveryMail Delivery = "mail"
	// DeliveryBoth sends mail and also hands tokens to secret-key callers.
	DeliveryBoth Delivery = "both"
)

// Delivery returns the tenant's token delivery mode.
func (t Tenant) Delivery() Delivery { return Delivery(t.Setting("delivery")) }

var slugPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

var hostPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`)

// validateHosts accepts host names in lower case, without ports, separated
// by commas.
func validateHosts(v string) error {
	for _, h := range SplitHosts(v) {
		if h != anyHost && (len(h) > 253 || !hostPattern.MatchString(h)) {
			return fmt.Errorf("%q is not a host name in lower case without a port, nor *", h)
		}
	}
	return nil
}

// SplitHosts splits a hosts setting into its names.
func SplitHosts(v string) []string {
	var hosts []string
	for _, h := range strings.Split(v, ",") {
		if h = strings.TrimSpace(h); h != "" {
			hosts = append(hosts, h)
		}
	}
	return hosts
}

// hostsTTL bounds how long a changed hosts setting takes to reach a running
// server (the CLI and other replicas change it behind its back).
const hostsTTL = 2 * time.Second

// ForHost resolves a request that carries no API key to a tenant, by
// its host name (the Host header without a port), matched against the
// tenants' hosts settings. A host no tenant names belongs to the tenant
// whose hosts setting is "*"; without one, to default while no tenant
// claims any host, and to nobody (ErrUnknownHost) once one does: a host
// meant for a tenant whose setting has not arrived yet must not fall to
// another tenant's data. This is the only use pforte makes of a Host
// header: links are never built from it.
func (s *Tenants) ForHost(ctx context.Context, host string) (Caller, error) {
	c, err := s.forHost(ctx, host)
	if err == nil {
		tenantSeen(ctx, c.Tenant)
	}
	return c, err
}

func (s *Tenants) forHost(ctx context.Context, host string) (Caller, error) {
	t, claimed, err := s.ClaimedBy(ctx, host)
	if err != nil || claimed {
		return Caller{Tenant: t}, err
	}
	if t, claimed, err = s.ClaimedBy(ctx, anyHost); err != nil || claimed {
		return Caller{Tenant: t}, err
	}
	s.mu.Lock()
	anyClaims := len(s.hosts) > 0
	s.mu.Unlock()
	if anyClaims {
		return Caller{}, ErrUnknownHost
	}
	return s.Caller(ctx, DefaultTenant)
}

// anyHost in a hosts setting claims every host no other tenant names.
const anyHost = "*"

// ErrUnknownHost: no tenant claims the request's host name.
var ErrUnknownHost = &Error{Kind: KindNotFound, Code: CodeUnknownHost, Message: "no tenant serves this host name"}

// ClaimedBy is the tenant whose hosts setting names host, if any.
func (s *Tenants) ClaimedBy(ctx context.Context, host string) (Tenant, bool, error) {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if err := s.readClaims(ctx); err != nil {
		return Tenant{}, false, err
	}
	s.mu.Lock()
	id, known := s.hosts[host]
	s.mu.Unlock()
	if !known {
		return Tenant{}, false, nil
	}
	t, err := s.byID(ctx, id)
	return t, err == nil, err
}

// readClaims rereads every tenant's hosts and cors_origins once they are
// older than hostsTTL.
func (s *Tenants) readClaims(ctx context.Context) error {
	s.mu.Lock()
	fresh := s.hosts != nil && s.cfg.Now().Sub(s.hostsAt) < hostsTTL
	s.mu.Unlock()
	if fresh {
		return nil
	}
	tenants, err := s.store.ListTenants(ctx)
	if err != nil {
		return Internal(err)
	}
	hosts, origins := map[string]int64{}, map[string]bool{}
	for _, t := range tenants {
		for _, h := range SplitHosts(t.Setting("hosts")) {
			hosts[h] = t.ID
		}
		for _, o := range SplitHosts(t.Setting("cors_origins")) {
			origins[o] = true
		}
	}
	s.mu.Lock()
	s.hosts, s.origins, s.hostsAt = hosts, origins, s.cfg.Now()
	s.mu.Unlock()
	return nil
}

// OriginListed reports whether any tenant's cors_origins names origin. A
// preflight request carries no key, so it cannot be told which tenant it
// is for: it is allowed for every listed origin, and the answer to the
// request itself is readable only where its own tenant lists the origin.
func (s *Tenants) OriginListed(ctx context.Context, origin string) (bool, error) {
	if err := s.readClaims(ctx); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.origins[origin], nil
}

// AllowsOrigin reports whether the tenant's cors_origins names origin.
func (t Tenant) AllowsOrigin(origin string) bool {
	for _, o := range SplitHosts(t.Setting("cors_origins")) {
		if o == origin {
			return true
		}
	}
	return false
}

type tenantSeenKey struct{}

// WithTenantSeen returns a context under which seen hears of the tenant a
// request's API key or host name resolves to, before anything is written:
// the server's CORS lets the tenant's own origins read the answer.
func WithTenantSeen(ctx context.Context, seen func(Tenant)) context.Context {
	return context.WithValue(ctx, tenantSeenKey{}, seen)
}

// tenantSeen tells the context's listener, if any, of a resolved tenant.
func tenantSeen(ctx context.Context, t Tenant) {
	if seen, ok := ctx.Value(tenantSeenKey{}).(func(Tenant)); ok {
		seen(t)
	}
}

// hostsFree refuses host names that another tenant already claims: a host
// must lead to one tenant.
func (s *Tenants) hostsFree(ctx context.Context, t Tenant, value string) error {
	tenants, err := s.store.ListTenants(ctx)
	if err != nil {
		return Internal(err)
	}
	for _, other := range tenants {
		if other.ID == t.ID {
			continue
		}
		for _, h := range SplitHosts(other.Setting("hosts")) {
			for _, want := range SplitHosts(value) {
				if h == want {
					return Errorf(KindConflict, CodeHostTaken, "host %s already belongs to tenant %s", h, other.Slug)
				}
			}
		}
	}
	return nil
}

type cachedTenant struct {
	tenant Tenant
	at     time.Time
}

// byID returns a tenant from a short-lived cache, so that settings changed
// elsewhere (the CLI, another replica) apply within TenantCacheTTL.
func (s *Tenants) byID(ctx context.Context, id int64) (Tenant, error) {
	s.mu.Lock()
	c, ok := s.cache[id]
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
	s.cache[id] = cachedTenant{tenant: t, at: s.cfg.Now()}
	s.mu.Unlock()
	return t, nil
}

// Caller returns a caller for a tenant found without a key.
func (s *Tenants) Caller(ctx context.Context, slug string) (Caller, error) {
	t, err := s.BySlug(ctx, slug)
	return Caller{Tenant: t}, err
}

// CommandLineCaller is the caller of the pforte command for the tenant
// with this slug: a secret key's rights, audited as ActorCLI.
func (s *Tenants) CommandLineCaller(ctx context.Context, slug string) (Caller, error) {
	t, err := s.BySlug(ctx, slug)
	return Caller{Tenant: t, Key: KeySecret, CommandLine: true}, err
}

// Create adds a tenant.
func (s *Tenants) Create(ctx context.Context, slug string) (Tenant, error) {
	if !slugPattern.MatchString(slug) {
		return Tenant{}, Invalid(FieldError{Field: "slug", Code: FieldInvalid, Message: "must be 1 to 63 lower-case letters, digits or dashes"})
	}
	t := Tenant{Slug: slug, CreatedAt: s.now(), Settings: map[string]string{}}
	if err := s.store.CreateTenant(ctx, &t); errors.Is(err, ErrDuplicate) {
		return Tenant{}, Errorf(KindConflict, CodeTenantExists, "tenant %q already exists", slug)
	} else if err != nil {
		return Tenant{}, Internal(err)
	}
	return t, nil
}

// List lists every tenant.
func (s *Tenants) List(ctx context.Context) ([]Tenant, error) {
	ts, err := s.store.ListTenants(ctx)
	if err != nil {
		return nil, Internal(err)
	}
	return ts, nil
}

// BySlug finds a tenant.
func (s *Tenants) BySlug(ctx context.Context, slug string) (Tenant, error) {
	// Slugs never change, so a known one leads to the cached tenant.
	s.mu.Lock()
	id, known := s.slugs[slug]
	s.mu.Unlock()
	if known {
		return s.byID(ctx, id)
	}
	t, err := s.store.TenantBySlug(ctx, slug)
	if errors.Is(err, ErrNotFound) {
		return Tenant{}, errTenantNotFound
	} else if err != nil {
		return Tenant{}, Internal(err)
	}
	s.mu.Lock()
	s.slugs[slug] = t.ID
	s.cache[t.ID] = cachedTenant{tenant: t, at: s.cfg.Now()}
	s.mu.Unlock()
	return t, nil
}

// Set validates and stores one setting. A templates
// directory is parsed and rendered now, so that a broken template is
// refused here rather than when a mail is sent.
func (s *Tenants) Set(ctx context.Context, slug, key, value string) error {
	if err := ValidateSetting(key, value); err != nil {
		return err
	}
	if key == "templates" && value != "" {
		if s.cfg.Renderer == nil {
			return Errorf(KindInternal, CodeNoRenderer, "no mail renderer configured")
		}
		if err := s.cfg.Renderer.Check(value); err != nil {
			return Errorf(KindInvalid, CodeInvalidSetting, "templates: %v", err)
		}
	}
	t, err := s.BySlug(ctx, slug)
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
			if list, err := s.store.ListCustomers(ctx, t.ID, CustomerFilter{}, 0, 1); err != nil {
				return Internal(err)
			} else if len(list) > 0 {
				return Errorf(KindConflict, CodeTenantHasCustomers, "email_storage can only change while the tenant has no customers")
			}
		}
	}
	if err := s.store.SetTenantSetting(ctx, t.ID, key, value); err != nil {
		return Internal(err)
	}
	s.audit.recordAlone(ctx, t.ID, AuditEvent{Type: AuditSettingChanged, Actor: ActorCLI, Detail: map[string]string{"key": key}})
	s.mu.Lock()
	delete(s.cache, t.ID)
	s.hostsAt = time.Time{}
	s.mu.Unlock()
	return nil
}

// Tenants manages tenants, their settings and the host names that lead to
// them. It keeps tenants in a short-lived cache, so that settings changed
// elsewhere (the CLI, another replica) apply within TenantCacheTTL.
type Tenants struct {
	*core

	mu      sync.Mutex
	cache   map[int64]cachedTenant
	slugs   map[string]int64 // slug -> tenant ID, see BySlug
	hosts   map[string]int64 // host name -> tenant ID, see ForHost
	origins map[string]bool  // every tenant's cors_origins, see OriginListed
	hostsAt time.Time        // when hosts and origins were read
}
