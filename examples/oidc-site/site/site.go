// Package site is a small web site whose customers log in with pforte,
// through OpenID Connect's authorization code flow with PKCE. It has no
// login, registration or password reset of its own: the customer does
// those on pforte's hosted pages, and the site learns from a verified ID
// token who came back. Its own session is a random cookie that names
// what it learnt, kept on the server.
//
// It uses only the standard library, golang.org/x/oauth2 and
// github.com/coreos/go-oidc/v3, so the same code works against any
// OpenID Connect provider.
package site

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Config is what the site knows of pforte and of itself.
type Config struct {
	// Issuer is the pforte tenant's issuer, e.g.
	// http://127.0.0.1:8080/oidc/default.
	Issuer string
	// ClientID and ClientSecret are what `pforte app create NAME --oidc
	// confidential` printed.
	ClientID, ClientSecret string
	// BaseURL is where browsers reach the site, e.g.
	// http://localhost:3000. The application must list BaseURL/callback
	// as a redirect URI and BaseURL/ as a post-logout URI.
	BaseURL string
	// Logger hears why logins failed; nil: slog.Default().
	Logger *slog.Logger
}

const (
	// loginTTL is how long a customer may take on pforte's pages
	// (registering and confirming by mail included) before the login
	// must start again: as long as pforte keeps an authorization open.
	loginTTL = time.Hour
	// sessionTTL is the site's own session. pforte's ID token proves the
	// login once; how long the site trusts it is the site's decision.
	sessionTTL = 12 * time.Hour
	// maxPendingLogins bounds the memory that anyone can fill by
	// requesting /login without ever finishing.
	maxPendingLogins = 100_000
)

// site serves the pages.
type site struct {
	log        *slog.Logger
	client     *http.Client
	oauth      oauth2.Config
	verifier   *oidc.IDTokenVerifier
	endSession *url.URL // nil if the provider names no end_session_endpoint
	baseURL    string
	secure     bool // the site is served over https: cookies are Secure and __Host-

	logins   *store[pendingLogin]
	sessions *store[session]
}

// pendingLogin is a login sent to pforte and not back yet.
type pendingLogin struct {
	state    string // ties the callback to this login
	nonce    string // ties the ID token to this login
	verifier string // PKCE: only this site can redeem the code
}

// session is a logged-in customer, as the ID token described them.
type session struct {
	Subject    string // the customer's uuid at pforte: the key to store data under
	Email      string
	Name       string
	PartnerRef string
	idToken    string        // sent back as id_token_hint at logout
	token      *oauth2.Token // the access token, for APIs that take it
}

// New discovers the issuer and returns the site's handler. ctx bounds
// the discovery only.
func New(ctx context.Context, cfg Config) (http.Handler, error) {
	base, err := url.Parse(strings.TrimSuffix(cfg.BaseURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" || base.Path != "" || base.RawQuery != "" {
		return nil, fmt.Errorf("base URL %q: want http(s)://host[:port] without a path", cfg.BaseURL)
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("the client id and secret are required (pforte app create NAME --oidc confidential prints them)")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	// Every call to pforte goes through this client: the default one
	// waits forever.
	client := &http.Client{Timeout: 10 * time.Second}
	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, client), cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("discovery of %s: %w", cfg.Issuer, err)
	}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := provider.Claims(&meta); err != nil {
		return nil, fmt.Errorf("discovery of %s: %w", cfg.Issuer, err)
	}
	s := &site{
		log:    log,
		client: client,
		oauth: oauth2.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			Endpoint:     provider.Endpoint(),
			RedirectURL:  base.String() + "/callback",
			// offline_access is left out: the site needs no refresh
			// token, because it keeps its own session.
			Scopes: []string{oidc.ScopeOpenID, "email", "profile"},
		},
		verifier: provider.Verifier(&oidc.Config{ClientID: cfg.ClientID}),
		baseURL:  base.String(),
		secure:   base.Scheme == "https",
		logins:   newStore[pendingLogin](maxPendingLogins),
		sessions: newStore[session](0),
	}
	// The secret goes in the Authorization header, pforte's default
	// (client_secret_basic); naming it spares x/oauth2 a guess.
	s.oauth.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	if meta.EndSession != "" {
		if s.endSession, err = url.Parse(meta.EndSession); err != nil {
			return nil, fmt.Errorf("end_session_endpoint %q: %w", meta.EndSession, err)
		}
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.home)
	mux.HandleFunc("GET /login", s.login)
	mux.HandleFunc("GET /register", s.register)
	mux.HandleFunc("GET /callback", s.callback)
	mux.HandleFunc("POST /logout", s.logout)
	// Logout is a POST, so that another site cannot log the customer out
	// with a link; this refuses cross-origin POSTs.
	return http.NewCrossOriginProtection().Handler(mux), nil
}

var page = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Example site</title>
<h1>Example site</h1>
{{with .Error}}<p role="alert">{{.}}</p>{{end}}
{{with .Session}}
<p>You are logged in as {{.Email}}{{with .Name}} ({{.}}){{end}}.</p>
<form method="post" action="/logout"><button type="submit">Log out</button></form>
{{else}}
<p>You are not logged in. <a href="/login">Log in</a> or <a href="/register">create an account</a>.</p>
{{end}}
</html>
`))

type view struct {
	Session *session
	Error   string
}

func (s *site) render(w http.ResponseWriter, status int, v view) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store") // the page is the customer's own
	w.WriteHeader(status)
	if err := page.Execute(w, v); err != nil {
		s.log.Error("render", "err", err)
	}
}

func (s *site) home(w http.ResponseWriter, r *http.Request) {
	_, sess := s.current(r)
	s.render(w, http.StatusOK, view{Session: sess})
}

// current is the browser's session and its key, if it has one.
func (s *site) current(r *http.Request) (string, *session) {
	ck, err := r.Cookie(s.cookieName("session"))
	if err != nil {
		return "", nil
	}
	sess, ok := s.sessions.get(ck.Value)
	if !ok {
		return "", nil
	}
	return ck.Value, &sess
}

func (s *site) login(w http.ResponseWriter, r *http.Request) { s.start(w, r) }

// register sends the customer to pforte's registration page rather than
// its login page; they come back logged in, as from a login.
func (s *site) register(w http.ResponseWriter, r *http.Request) {
	s.start(w, r, oauth2.SetAuthURLParam("prompt", "create"))
}

// start sends the browser to pforte's authorization endpoint. The
// login's secrets stay on the server, under a random key in a cookie
// that ties the callback to this browser: a code that an attacker sends
// to another browser finds nothing there (login CSRF).
func (s *site) start(w http.ResponseWriter, r *http.Request, opts ...oauth2.AuthCodeOption) {
	p := pendingLogin{state: rand.Text(), nonce: rand.Text(), verifier: oauth2.GenerateVerifier()}
	key, err := s.logins.put(p, loginTTL)
	if err != nil {
		s.log.Warn("login refused", "err", err)
		http.Error(w, "Too many logins at once; please try again later.", http.StatusServiceUnavailable)
		return
	}
	http.SetCookie(w, s.cookie("login", key, loginTTL))
	opts = append(opts, oidc.Nonce(p.nonce), oauth2.S256ChallengeOption(p.verifier))
	http.Redirect(w, r, s.oauth.AuthCodeURL(p.state, opts...), http.StatusFound)
}

// callback is where pforte sends the browser back: with a code and the
// state, or with an error.
func (s *site) callback(w http.ResponseWriter, r *http.Request) {
	// Each login comes back once: its entry and cookie go now, whatever
	// happens next.
	var p pendingLogin
	found := false
	if ck, err := r.Cookie(s.cookieName("login")); err == nil {
		p, found = s.logins.take(ck.Value)
	}
	http.SetCookie(w, s.cookie("login", "", -1))
	q := r.URL.Query()
	switch {
	case !found:
		s.fail(w, "no login was started in this browser, or it expired", nil)
		return
	case subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(p.state)) != 1:
		s.fail(w, "the state is not this login's", nil)
		return
	case q.Get("error") != "":
		// pforte refused, e.g. access_denied or, for prompt=none,
		// login_required.
		s.fail(w, "pforte answered "+q.Get("error"), errors.New(q.Get("error_description")))
		return
	}
	ctx := oidc.ClientContext(r.Context(), s.client)
	tok, err := s.oauth.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(p.verifier))
	if err != nil {
		s.fail(w, "the code was not redeemed", err)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	// Verify checks the signature against the issuer's keys, the issuer,
	// the audience (our client id) and the expiry.
	idt, err := s.verifier.Verify(ctx, raw)
	if err != nil {
		s.fail(w, "the ID token is not valid", err)
		return
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(p.nonce)) != 1 {
		s.fail(w, "the ID token is not this login's", nil)
		return
	}
	var claims struct {
		Email      string `json:"email"`
		Name       string `json:"name"`
		PartnerRef string `json:"partner_ref"`
	}
	if err := idt.Claims(&claims); err != nil {
		s.fail(w, "the ID token's claims cannot be read", err)
		return
	}
	// A new key for every login, so that a key planted before the login
	// (session fixation) never becomes a logged-in one.
	key, err := s.sessions.put(session{Subject: idt.Subject, Email: claims.Email, Name: claims.Name,
		PartnerRef: claims.PartnerRef, idToken: raw, token: tok}, sessionTTL)
	if err != nil {
		s.fail(w, "no session", err)
		return
	}
	http.SetCookie(w, s.cookie("session", key, sessionTTL))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// fail shows that the login did not work; the reason goes to the log,
// not to the browser.
func (s *site) fail(w http.ResponseWriter, reason string, err error) {
	args := []any{"reason", reason}
	if err != nil {
		args = append(args, "err", err)
	}
	s.log.Info("login failed", args...)
	s.render(w, http.StatusBadRequest, view{Error: "The login did not work. Please try again."})
}

// logout ends the site's session, then sends the browser to pforte's
// end_session_endpoint: without that, the customer's session at pforte
// would log them straight back in at the next /login.
func (s *site) logout(w http.ResponseWriter, r *http.Request) {
	key, sess := s.current(r)
	http.SetCookie(w, s.cookie("session", "", -1))
	if sess != nil {
		s.sessions.delete(key)
	}
	if sess == nil || s.endSession == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	u := *s.endSession
	q := u.Query()
	// pforte ends a session only for an ID token it issued to this
	// client (an expired one will do), and returns only to a registered
	// post-logout URI.
	q.Set("id_token_hint", sess.idToken)
	q.Set("post_logout_redirect_uri", s.baseURL+"/")
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

// cookie is one of the site's cookies; maxAge < 0 deletes it. They are
// HttpOnly, and SameSite=Lax, which still sends them when pforte sends
// the browser back to /callback.
func (s *site) cookie(name, value string, maxAge time.Duration) *http.Cookie {
	c := &http.Cookie{Name: s.cookieName(name), Value: value, Path: "/", HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: int(maxAge.Seconds())}
	if maxAge < 0 {
		c.MaxAge = -1
	}
	return c
}

// cookieName: over https the __Host- prefix keeps other hosts of the
// domain from setting the cookie; browsers take it only over https.
func (s *site) cookieName(name string) string {
	if s.secure {
		return "__Host-site-" + name
	}
	return "site-" + name
}

// store keeps values in memory under random keys until they expire. A
// site with several replicas keeps them in its database or a shared
// cache instead.
type store[T any] struct {
	limit   int // entries at most; 0: no bound
	mu      sync.Mutex
	entries map[string]entry[T]
	swept   time.Time
}

type entry[T any] struct {
	value   T
	expires time.Time
}

func newStore[T any](limit int) *store[T] {
	return &store[T]{limit: limit, entries: map[string]entry[T]{}}
}

// put keeps v for ttl and returns its new key.
func (s *store[T]) put(v T, ttl time.Duration) (string, error) {
	key := rand.Text() // 130 random bits
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	full := s.limit > 0 && len(s.entries) >= s.limit
	if full || now.Sub(s.swept) > time.Minute {
		for k, e := range s.entries {
			if !now.Before(e.expires) {
				delete(s.entries, k)
			}
		}
		s.swept = now
	}
	if s.limit > 0 && len(s.entries) >= s.limit {
		return "", errors.New("the store is full")
	}
	s.entries[key] = entry[T]{value: v, expires: now.Add(ttl)}
	return key, nil
}

// get returns the value under key, while it lives.
func (s *store[T]) get(key string) (T, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.live(key)
}

// take returns the value under key and forgets it, so that of two
// concurrent takes one gets it.
func (s *store[T]) take(key string) (T, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.live(key)
	delete(s.entries, key)
	return v, ok
}

func (s *store[T]) live(key string) (T, bool) {
	e, ok := s.entries[key]
	if !ok || !time.Now().Before(e.expires) {
		var zero T
		return zero, false
	}
	return e.value, true
}

func (s *store[T]) delete(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.entries, key)
}
