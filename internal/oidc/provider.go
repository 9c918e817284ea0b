// Package oidc makes each tenant an OpenID Connect provider, so that a
// site logs its customers in by sending them to pforte's hosted login
// and learning who came back. The protocol (discovery, authorization
// codes with PKCE, tokens, userinfo, revocation, logout) is the certified
// github.com/zitadel/oidc/v3 op package's; this package supplies its
// storage from account.Service, the login (the hosted pages, which carry
// an authorization through login, registration and password reset), and
// the customer's claims. See docs/oidc.md.
package oidc

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rs/cors"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"

	"pforte/internal/account"
	"pforte/internal/api/wire"
	"pforte/internal/pages"
)

// Prefix is where the providers live: a tenant's issuer is
// {public URL}/oidc/{tenant}, or https://{host}/oidc on a host name the
// tenant claims.
const Prefix = "/oidc"

// Tenant settings of the provider.
const (
	SettingSigningAlg     = "oidc.signing_alg"
	SettingAccessTokenTTL = "oidc.access_token_ttl"
)

// IDTokenTTL is how long an ID token is valid. It proves a login to the
// client once; the client keeps its own session.
const IDTokenTTL = time.Hour

func init() {
	account.RegisterSettings(
		account.SettingSpec{Key: SettingSigningAlg, Type: account.SettingEnum, Default: account.AlgRS256,
			Values: account.SigningAlgorithms,
			Doc:    "the algorithm of the tenant's next OpenID Connect signing key (RS256, ES256 or EdDSA); it applies from the next `pforte oidc rotate-key`, or the first key"},
		account.SettingSpec{Key: SettingAccessTokenTTL, Type: account.SettingString, Default: "10m", Validate: validateTTL,
			Doc: "how long an OpenID Connect access token is valid, from 1m to 1h; sites verify it offline, so a revoked grant's token lives on until then"},
	)
}

func validateTTL(v string) error {
	d, err := time.ParseDuration(v)
	if err != nil || d < time.Minute || d > time.Hour {
		return fmt.Errorf("must be a duration from 1m to 1h, such as 10m")
	}
	return nil
}

func accessTokenTTL(t account.Tenant) time.Duration {
	d, err := time.ParseDuration(t.Setting(SettingAccessTokenTTL))
	if err != nil {
		return 10 * time.Minute
	}
	return d
}

// Provider serves every tenant's OpenID Connect endpoints.
type Provider struct {
	svc        *account.Service
	log        *slog.Logger
	pages      *pages.Pages
	publicURL  string
	publicHost string
	clients    wire.Clients
	op         *op.Provider
	cors       http.Handler // serve, answering CORS
}

// maxBody bounds every request body: the endpoints take short forms.
const maxBody = 64 << 10

// New returns the provider of svc's tenants. publicURL is where pforte is
// reached; pg renders the error pages of the browser-facing endpoints.
// clients bounds how many authorizations a client address may start.
func New(svc *account.Service, log *slog.Logger, pg *pages.Pages, publicURL string, clients wire.Clients) (*Provider, error) {
	p := &Provider{svc: svc, log: log, pages: pg, publicURL: strings.TrimRight(publicURL, "/"), clients: clients}
	if u, err := url.Parse(publicURL); err == nil {
		p.publicHost = wire.NormalHost(u.Hostname())
	}
	config := &op.Config{
		CodeMethodS256:        true,
		AuthMethodPost:        true,
		GrantTypeRefreshToken: true,
		SupportedUILocales:    []language.Tag{language.German, language.English},
		SupportedClaims: []string{"sub", "aud", "exp", "iat", "iss", "auth_time", "nonce", "amr", "at_hash", "c_hash",
			"azp", "sid", "name", "given_name", "family_name", "locale", "email", "email_verified", ClaimPartnerRef},
		SupportedScopes: []string{"openid", "profile", "email", "offline_access"},
	}
	// Codes are opaque to the client; the provider seals the request ID
	// into them under this key. Each code's hash is also kept, and a code
	// counts only while its authorization has it.
	copy(config.CryptoKey[:], svc.Keyring.DialectKey("oidc code"))
	issuer := func(bool) (op.IssuerFromRequest, error) {
		return func(r *http.Request) string { return tenantOf(r.Context()).issuer }, nil
	}
	st := &storage{p: p}
	// Any site's script may call the endpoints, never with cookies: a
	// single-page app redeems its code and refreshes from the browser.
	corsOptions := cors.Options{
		AllowedOrigins: []string{"*"},
		AllowedMethods: []string{http.MethodGet, http.MethodPost},
		AllowedHeaders: []string{"Authorization", "Content-Type"},
		ExposedHeaders: []string{"WWW-Authenticate", "Retry-After"},
	}
	provider, err := op.NewProvider(config, st, issuer,
		op.WithAllowInsecure(), // the public URL is checked at start-up: https but on loopback
		// A logout's ID token hint may be older than the published keys.
		op.WithIDTokenHintKeySet(&op.OpenIDKeySet{Storage: hintStorage{st}}),
		// Every algorithm a tenant's keys may use, not the library's RSA
		// and ECDSA only.
		op.WithAccessTokenVerifierOpts(op.WithSupportedAccessTokenSigningAlgorithms(account.SigningAlgorithms...)),
		op.WithIDTokenHintVerifierOpts(op.WithSupportedIDTokenHintSigningAlgorithms(account.SigningAlgorithms...)),
		op.WithCORSOptions(&corsOptions),
	)
	if err != nil {
		return nil, err
	}
	p.op = provider
	p.cors = cors.New(corsOptions).Handler(http.HandlerFunc(p.serve))
	return p, nil
}

// tenantContext is what a request to a tenant's provider carries.
type tenantContext struct {
	caller account.Caller
	issuer string
	// loginURL is the hosted login page, absolute, on the issuer's host.
	loginURL string
	// session is the hosted pages' session token, from its cookie.
	session string
	// ended is set when a logout ended the browser's page session, so
	// that its cookie is cleared.
	ended bool
	// client is the client a token request authenticated as, app its
	// application, and verifier and redirectURI what it sent with a code.
	client, verifier, redirectURI string
	app                           *account.Application
}

type ctxKey struct{}

func tenantOf(ctx context.Context) *tenantContext {
	tc, _ := ctx.Value(ctxKey{}).(*tenantContext)
	if tc == nil {
		return &tenantContext{}
	}
	return tc
}

// ServeHTTP serves a path under Prefix. It answers CORS for every
// answer, its own included, and hands the rest to serve.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.cors.ServeHTTP(w, r) }

// serve finds the tenant, by the path on the public URL's host and by the
// host name on a tenant's own, refuses what the library would take
// too readily, and hands the rest of the path to the library.
func (p *Provider) serve(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, Prefix+"/")
	if !ok {
		p.notFound(w, r)
		return
	}
	tc, rest, err := p.resolve(r, rest)
	if err != nil {
		p.notFound(w, r)
		return
	}
	if ck, err := r.Cookie(pages.SessionCookie(tc.caller.Tenant.Slug)); err == nil {
		tc.session = ck.Value
	}
	r2 := r.Clone(context.WithValue(r.Context(), ctxKey{}, tc))
	r2.URL.Path = "/" + rest
	r2.URL.RawPath = ""
	r2.Body = http.MaxBytesReader(w, r.Body, maxBody)
	path := r2.URL.Path
	switch {
	case path == "/healthz" || path == "/ready":
		p.notFound(w, r) // the library's probes: the server has its own
		return
	case backChannel(path) && r.Method != http.MethodPost:
		w.Header().Set("Allow", "POST")
		writeOAuthError(w, http.StatusMethodNotAllowed, "invalid_request", "use POST")
		return
	case backChannel(path) && r.URL.RawQuery != "":
		// Credentials and tokens belong in the body, never in a URL
		// that logs and proxies keep.
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "send the parameters in the body, not the query")
		return
	}
	// A query or form that does not parse is the client's fault: the
	// library would call it a server error.
	if err := r2.ParseForm(); err != nil {
		if browserFacing(path) {
			p.pages.ProviderError(w, r, tc.caller, http.StatusBadRequest)
		} else {
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", "the query or form cannot be read")
		}
		return
	}
	switch path {
	case "/authorize":
		// Each authorization is a stored row, asked for without a key.
		if err := p.clients.Limit(r); err != nil {
			if e := account.AsError(err); e != nil && e.RetryAfter > 0 {
				w.Header().Set("Retry-After", fmt.Sprint(int(e.RetryAfter.Seconds()+0.999)))
			}
			http.Error(w, "too many requests", http.StatusTooManyRequests)
			return
		}
	case "/authorize/callback":
		// Only the browser that approved the login has the secret.
		if err := p.svc.Authorizations.CheckCallback(r.Context(), tc.caller.Tenant.ID, r2.Form.Get("id"), r2.Form.Get("k")); err != nil {
			p.pages.ProviderError(w, r, tc.caller, http.StatusBadRequest)
			return
		}
	case "/oauth/token":
		// The client proves itself before a code is looked at, so that a
		// wrong secret or another client cannot spend one; the code's
		// verifier and redirect URI are checked before it is spent too.
		if !p.authenticateClient(w, r2, tc) {
			return
		}
		tc.verifier, tc.redirectURI = r2.PostForm.Get("code_verifier"), r2.PostForm.Get("redirect_uri")
	case discoveryPath:
		p.discovery(w, r2)
		return
	}
	if browserFacing(path) {
		w = &errorPage{ResponseWriter: w, r: r, p: p, tc: tc}
	}
	p.op.ServeHTTP(w, r2)
	if ep, ok := w.(*errorPage); ok {
		ep.finish()
	}
}

// backChannel reports whether a client's backend, not a browser, calls
// path: with POST and credentials in the body only.
func backChannel(path string) bool {
	return path == "/oauth/token" || path == "/revoke" || path == "/oauth/introspect"
}

// resolve finds the tenant of a request whose path under Prefix is rest,
// and returns the path under its issuer. On a host name a tenant claims
// by name the issuer is https://{host}/oidc, built from the claimed name
// and not from the Host header; a tenant that claims every host ("*")
// has its issuer under the public URL, as every tenant does.
func (p *Provider) resolve(r *http.Request, rest string) (*tenantContext, string, error) {
	ctx, host := r.Context(), wire.Host(r)
	if host != p.publicHost {
		t, owned, err := p.svc.Tenants.ClaimedBy(ctx, host)
		if err == nil && owned {
			c, err := p.svc.Tenants.Caller(ctx, t.Slug)
			if err != nil {
				return nil, "", err
			}
			origin := "https://" + host
			return &tenantContext{caller: c, issuer: origin + Prefix, loginURL: origin + pages.Prefix + "/login"}, rest, nil
		}
	}
	slug, rest, _ := strings.Cut(rest, "/")
	c, err := p.svc.Tenants.Caller(ctx, slug)
	if err != nil {
		return nil, "", err
	}
	return &tenantContext{caller: c, issuer: p.publicURL + Prefix + "/" + slug,
		loginURL: p.publicURL + pages.Prefix + "/" + slug + "/login"}, rest, nil
}

// authenticateClient checks a token request's client: a confidential
// one by its secret (HTTP Basic or client_secret in the form), a public
// one by name alone (PKCE proves it). It answers invalid_client itself
// and returns false if that fails.
func (p *Provider) authenticateClient(w http.ResponseWriter, r *http.Request, tc *tenantContext) bool {
	id, secret, basic := r.BasicAuth()
	if basic {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	app, err := p.svc.Apps.ByClientID(r.Context(), tc.caller.Tenant.ID, id)
	ok := err == nil && (app.Client.Type == account.ClientPublic && secret == "" || app.Client.CheckSecret(secret))
	if !ok {
		if basic {
			w.Header().Set("WWW-Authenticate", `Basic realm="`+tc.issuer+`"`)
		}
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "invalid client_id / client_secret")
		return false
	}
	tc.client, tc.app = id, &app
	return true
}

func writeOAuthError(w http.ResponseWriter, status int, code, description string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":%q,"error_description":%q}`+"\n", code, description)
}

const discoveryPath = "/.well-known/openid-configuration"

// discovery serves the library's discovery document, less what the
// library lists but pforte's clients cannot use: implicit and hybrid
// responses, grants beyond the code and refresh, the device endpoint.
func (p *Provider) discovery(w http.ResponseWriter, r *http.Request) {
	ctx := op.ContextWithIssuer(r.Context(), tenantOf(r.Context()).issuer)
	doc := op.CreateDiscoveryConfig(ctx, p.op, p.op.Storage())
	doc.ResponseTypesSupported = []string{string(oidc.ResponseTypeCode)}
	doc.ResponseModesSupported = []string{string(oidc.ResponseModeQuery)}
	doc.GrantTypesSupported = []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
	doc.DeviceAuthorizationEndpoint = ""
	w.Header().Set("Cache-Control", "public, max-age=300")
	op.Discover(w, doc)
}

// browserFacing reports whether a browser, not a client's backend, asks
// for path: its errors are pages, not JSON.
func browserFacing(path string) bool {
	switch path {
	case "/authorize", "/authorize/callback", "/end_session":
		return true
	}
	return false
}

func (p *Provider) notFound(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusNotFound)
	fmt.Fprintln(w, `{"error":"invalid_request","error_description":"no such issuer"}`)
}

// errorPage turns the provider's error answers to a browser (a plain
// text or JSON 4xx: an unknown client, a redirect URI the client did not
// register) into a hosted page; redirects and successes pass.
type errorPage struct {
	http.ResponseWriter
	r       *http.Request
	p       *Provider
	tc      *tenantContext
	status  int
	failed  bool
	written bool
	detail  strings.Builder
}

func (e *errorPage) WriteHeader(status int) {
	if e.written {
		return
	}
	e.written = true
	e.status = status
	if status >= 400 {
		e.failed = true
		return
	}
	if e.tc.ended {
		http.SetCookie(e.ResponseWriter, pages.ClearSessionCookie(e.tc.caller.Tenant.Slug))
	}
	e.ResponseWriter.WriteHeader(status)
}

func (e *errorPage) Write(b []byte) (int, error) {
	if !e.written {
		e.WriteHeader(http.StatusOK)
	}
	if e.failed {
		if e.detail.Len() < 1024 {
			e.detail.Write(b)
		}
		return len(b), nil
	}
	return e.ResponseWriter.Write(b)
}

func (e *errorPage) finish() {
	if !e.failed {
		return
	}
	e.p.log.InfoContext(e.r.Context(), "oidc request refused", "tenant", e.tc.caller.Tenant.Slug, "path", e.r.URL.Path,
		"status", e.status, "detail", strings.TrimSpace(e.detail.String()))
	for _, k := range []string{"Content-Type", "Content-Length", "X-Content-Type-Options"} {
		e.ResponseWriter.Header().Del(k)
	}
	e.p.pages.ProviderError(e.ResponseWriter, e.r, e.tc.caller, e.status)
}
