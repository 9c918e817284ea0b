package pages

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"pforte/internal/account"
	"pforte/internal/api/wire"
)

// maxForm bounds the body of every page's form post.
const maxForm = 16 << 10

// Cookies. __Host- makes the browser refuse them unless they are Secure,
// for the whole host (Path=/) and set by it (no Domain).
const (
	sessionCookiePrefix = "__Host-pforte-" // + the tenant's slug: one session per tenant
	// The others have a dot, which no slug has, so that no tenant's
	// session cookie can take their names.
	anonCookie = "__Host-pforte.csrf"
	langCookie = "__Host-pforte.lang"
)

// request is one page request: its tenant, language, page session and the
// form token its forms carry.
type request struct {
	*http.Request
	c       account.Caller
	base    string
	loc     *locale
	session string // the page session's token, "" without one
	anon    string // the anonymous form-token cookie
	// authz is the OpenID Connect authorization the page carries, and
	// client the name its client's site goes by.
	authz  *account.Authorization
	client string
}

// page adapts a page's function to http.Handler: it resolves the tenant,
// sets the headers every page carries, and for a POST checks the client's
// rate, the origin and the form token before fn runs.
func (p *Pages) page(fn func(w http.ResponseWriter, q *request) error) http.Handler {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setHeaders(w, nil)
		c, err := p.tenant(r)
		if account.IsKind(err, account.KindNotFound) {
			p.fail(w, r, nil, http.StatusNotFound, "error.not_found")
			return
		} else if err != nil {
			p.failErr(w, &request{Request: r, base: Prefix, loc: p.locale(nil, &request{Request: r})}, err)
			return
		}
		c.Policy.Channel = "pages"
		q := &request{Request: r, c: c, base: base(r, c.Tenant.Slug)}
		q.loc = p.locale(w, q)
		if ck, err := r.Cookie(sessionCookiePrefix + c.Tenant.Slug); err == nil {
			q.session = ck.Value
		}
		if ck, err := r.Cookie(anonCookie); err == nil {
			q.anon = ck.Value
		}
		if r.Method == http.MethodPost {
			if err := p.checkPost(w, q); err != nil {
				p.failErr(w, q, err)
				return
			}
		}
		if err := p.withApp(q); err != nil {
			p.failErr(w, q, err)
			return
		}

		if ok, err := p.withAuthorization(w, q); err != nil {
			p.failErr(w, q, err)
			return
		} else if !ok {
			return
		}
		// Forms may redirect to the return URLs of the tenant or the
		// application, and, carrying an authorization, on to its client:
		// browsers hold the redirects after a form to form-action.
		setHeaders(w, append(returnOrigins(q.c), authorizationOrigin(q)...))
		if r.Method != http.MethodPost && q.anon == "" {
			q.anon = newNonce()
			http.SetCookie(w, &http.Cookie{Name: anonCookie, Value: q.anon, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		}
		if err := fn(w, q); err != nil {
			p.failErr(w, q, err)
		}
	})
	return p.origin.Handler(h)
}

// withApp adds the application the request names (app in the query, or
// in a posted form) to the caller: its link URLs, delivery and page
// settings apply. An unknown name is ignored.
func (p *Pages) withApp(q *request) error {
	name := q.URL.Query().Get("app")
	if q.Method == http.MethodPost {
		name = q.PostForm.Get("app")
	}
	c, err := p.svc.Apps.With(q.Context(), q.c, name)
	q.c = c
	return err
}

// tenant is the request's tenant. Without one in the path it is the
// host's (see Tenants.ForHost). A path's tenant is served at the public
// URL's host, which every tenant's mailed links share; elsewhere only if
// the host is that tenant's own, or no tenant owns it (by name or by *)
// and the host is not refused.
func (p *Pages) tenant(r *http.Request) (account.Caller, error) {
	ctx, host := r.Context(), wire.Host(r)
	slug := r.PathValue("tenant")
	if slug == "" {
		return p.svc.Tenants.ForHost(ctx, host)
	}
	c, err := p.svc.Tenants.Caller(ctx, slug)
	if err != nil || host == p.publicHost {
		return c, err
	}
	owner, owned, err := p.svc.Tenants.ClaimedBy(ctx, host)
	if err == nil && !owned {
		owner, owned, err = p.svc.Tenants.ClaimedBy(ctx, "*")
	}
	switch {
	case err != nil:
		return account.Caller{}, err
	case owned && owner.ID != c.Tenant.ID:
		return account.Caller{}, account.ErrNotFound
	case !owned:
		if _, err := p.svc.Tenants.ForHost(ctx, host); err != nil {
			return account.Caller{}, err
		}
	}
	return c, nil
}

// setHeaders sets what every page answer carries: no caching (pages show
// tokens and personal data), no framing, no referrer (URLs carry tokens),
// and a Content-Security-Policy without inline script or style. Forms may
// be sent to the pages themselves and redirect to the tenant's return
// URLs.
func setHeaders(w http.ResponseWriter, formTargets []string) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' https:; "+
		"form-action 'self'"+strings.Join(append([]string{""}, formTargets...), " ")+"; frame-ancestors 'none'; base-uri 'none'")
}

// checkPost refuses a post before anything of it is used: past the
// client's rate, without the form token of this browser's page session or
// anonymous cookie, or with a body that is no small UTF-8 form.
func (p *Pages) checkPost(w http.ResponseWriter, q *request) error {
	if err := p.clients.Limit(q.Request); err != nil {
		return err
	}
	if mt, _, err := mime.ParseMediaType(q.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		return formError(http.StatusUnsupportedMediaType)
	}
	q.Body = http.MaxBytesReader(w, q.Body, maxForm)
	if err := q.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return formError(http.StatusRequestEntityTooLarge)
		}
		return formError(http.StatusBadRequest)
	}
	for _, vs := range q.PostForm {
		if len(vs) != 1 {
			return formError(http.StatusBadRequest)
		}
		if !utf8.ValidString(vs[0]) {
			return formError(http.StatusBadRequest)
		}
	}
	got := q.PostForm.Get("csrf")
	if !p.validToken(got, "session\x00"+q.session, q.session != "") && !p.validToken(got, "anon\x00"+q.anon, q.anon != "") {
		return errFormToken
	}
	return nil
}

// formError is a form the pages could not read.
type formError int

func (e formError) Error() string { return "unreadable form: " + http.StatusText(int(e)) }

var errFormToken = errors.New("missing or wrong form token")

// csrf is the form token of this request's forms: an HMAC, under a key
// derived from the server secret, of the page session or, without one,
// of the anonymous cookie.
func (p *Pages) csrf(q *request) string {
	if q.session != "" {
		return p.formToken("session\x00" + q.session)
	}
	return p.formToken("anon\x00" + q.anon)
}

func (p *Pages) formToken(binding string) string {
	m := hmac.New(sha256.New, p.svc.Keyring.DialectKey("pages form token"))
	m.Write([]byte(binding))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (p *Pages) validToken(got, binding string, bound bool) bool {
	return bound && got != "" && hmac.Equal([]byte(got), []byte(p.formToken(binding)))
}

func newNonce() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// startSession replaces the page session, and its cookie, with a new
// session: the one the browser had ends, whoever's it was.
func (p *Pages) startSession(w http.ResponseWriter, q *request, sess account.NewSession) {
	if sess.Token == "" {
		return
	}
	if q.session != "" {
		if err := p.svc.Sessions.Logout(q.Context(), q.c.Tenant.ID, q.session); err != nil && !account.IsKind(err, account.KindUnauthorized) {
			p.log.WarnContext(q.Context(), "ending the page's previous session failed", "err", err)
		}
	}
	q.session = sess.Token
	ck := &http.Cookie{Name: sessionCookiePrefix + q.c.Tenant.Slug, Value: sess.Token, Path: "/",
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode}
	if sess.Remembered {
		// Only a remembered session outlives the browser; others end
		// with it, or sooner on the server.
		ck.MaxAge = int(sess.ExpiresAt.Sub(sess.CreatedAt) / time.Second)
	}
	http.SetCookie(w, ck)
}

// endSession clears the page session's cookie.
func endSession(w http.ResponseWriter, q *request) {
	q.session = ""
	http.SetCookie(w, ClearSessionCookie(q.c.Tenant.Slug))
}

// failErr answers an error that no page shows next to its form.
func (p *Pages) failErr(w http.ResponseWriter, q *request, err error) {
	var fe formError
	var e *account.Error
	switch {
	case errors.As(err, &fe):
		p.fail(w, q.Request, q, int(fe), "error.form")
	case errors.Is(err, errFormToken):
		p.fail(w, q.Request, q, http.StatusForbidden, "error.csrf")
	case errors.As(err, &e) && e.Kind == account.KindRateLimited:
		setRetryAfter(w, e.RetryAfter)
		key := "error.too_many_requests"
		if e.Code == account.CodeTooManyAttempts {
			key = "error.too_many_attempts"
		}
		p.fail(w, q.Request, q, http.StatusTooManyRequests, key)
	case errors.As(err, &e) && e.Kind == account.KindUnavailable:
		setRetryAfter(w, e.RetryAfter)
		p.fail(w, q.Request, q, http.StatusServiceUnavailable, "error.busy")
	case errors.As(err, &e) && e.Kind == account.KindNotFound:
		p.fail(w, q.Request, q, http.StatusNotFound, "error.not_found")
	default:
		p.log.ErrorContext(q.Context(), "page failed", "route", q.Pattern, "err", err)
		p.fail(w, q.Request, q, http.StatusInternalServerError, "error.generic")
	}
}

func setRetryAfter(w http.ResponseWriter, d time.Duration) {
	if d > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(d.Seconds()))))
	}
}

// fail renders the message page with status. q may be nil when the
// tenant is unknown, or the request was refused before a page took it
// (a path that is no page, a method it does not take, a cross-origin
// post): the page then has no tenant's brand, and gets here the headers
// every page carries.
func (p *Pages) fail(w http.ResponseWriter, r *http.Request, q *request, status int, key string) {
	if q == nil {
		setHeaders(w, nil)
		q = &request{Request: r, base: Prefix, loc: p.locale(nil, &request{Request: r})}
	}
	v := p.view(q, "error.title")
	if status == http.StatusNotFound {
		v.Title = q.loc.T("notfound.title")
	}
	v.Message = q.loc.T(key)
	p.render(w, status, "message", v)
}

// render writes a page.
func (p *Pages) render(w http.ResponseWriter, status int, name string, v *view) {
	var buf bytes.Buffer
	if v.templates != "" {
		// The directory was checked when it was set; if it broke since,
		// the page still shows, with the default templates.
		if views := p.custom.views(v.templates); views == nil {
			p.log.ErrorContext(v.ctx, "tenant page templates failed; using the defaults", "dir", v.templates)
		} else if err := views[name].ExecuteTemplate(&buf, "layout", v); err != nil {
			p.log.ErrorContext(v.ctx, "tenant page template failed; using the default", "page", name, "err", err)
			buf.Reset()
		}
	}
	if buf.Len() == 0 {
		if err := p.views[name].ExecuteTemplate(&buf, "layout", v); err != nil {
			p.log.ErrorContext(v.ctx, "rendering a page failed", "page", name, "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// redirect sends the browser on after a flow: to the return URL asked
// for, if the tenant configures it, else to page.
func redirect(w http.ResponseWriter, q *request, returnTo, page string) {
	target := q.base + "/" + page
	if q.c.App != nil {
		sep := "?"
		if strings.Contains(page, "?") {
			sep = "&"
		}
		target += sep + "app=" + url.QueryEscape(q.c.App.Name)
	}
	if allowedReturn(q.c, returnTo) {
		target = returnTo
	}
	http.Redirect(w, q.Request, target, http.StatusSeeOther)
}

// pageURL is the URL of one of the tenant's pages, with a query.
func pageURL(q *request, page string, query url.Values) string {
	if q.c.App != nil {
		query = cloneValues(query)
		query.Set("app", q.c.App.Name)
	}
	u := q.base + "/" + page
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	return u
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}
