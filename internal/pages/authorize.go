package pages

import (
	"net/http"
	"net/url"
	"strings"

	"pforte/internal/account"
)

// The pages are the login of each tenant's OpenID Connect provider: a
// client's authorization arrives as ?authorization= on the login page,
// and links carry it to registration and the forgotten-password page.
// When one of those sends mail, a cookie carries it on to the page the
// mailed link opens in the same browser. Whichever flow proves the
// customer then approves the authorization and sends the browser back to
// the provider, which redirects to the client.
const authzCookie = "__Host-pforte.authz"

// SessionCookie is the name of a tenant's page session cookie, which the
// provider's logout ends too.
func SessionCookie(slug string) string { return sessionCookiePrefix + slug }

// ClearSessionCookie is the cookie that ends a tenant's page session in
// the browser.
func ClearSessionCookie(slug string) *http.Cookie {
	return &http.Cookie{Name: SessionCookie(slug), Value: "", Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode}
}

// ProviderError shows an OpenID Connect request the provider refused
// (an unknown client, a redirect URI the client did not register) as a
// page; the browser is never sent to an unchecked address.
func (p *Pages) ProviderError(w http.ResponseWriter, r *http.Request, c account.Caller, status int) {
	setHeaders(w, nil)
	q := &request{Request: r, c: c, base: Prefix + "/" + c.Tenant.Slug}
	q.loc = p.locale(nil, q)
	p.fail(w, r, q, status, "error.oidc_request")
}

// withAuthorization finds the authorization the request carries: in the
// query, or, on the pages mailed links open, in the cookie. From the
// query it must be live, or the page says so; its client's application
// then brands the pages and names the mail's links. From the cookie it is
// only used if still live.
func (p *Pages) withAuthorization(w http.ResponseWriter, q *request) (bool, error) {
	id, fromQuery := q.URL.Query().Get("authorization"), true
	if id == "" {
		ck, err := q.Cookie(authzCookie)
		if err != nil || !opensMailedLink(q.URL.Path) {
			return true, nil
		}
		id, fromQuery = ck.Value, false
	}
	a, app, err := p.svc.Authorizations.Pending(q.Context(), q.c.Tenant.ID, id)
	if err != nil {
		if !account.IsKind(err, account.KindNotFound) {
			return false, err
		}
		if fromQuery {
			p.fail(w, q.Request, q, http.StatusBadRequest, "error.authorization_gone")
			return false, nil
		}
		http.SetCookie(w, clearAuthzCookie())
		return true, nil
	}
	q.authz = &a
	q.c.App = &app
	// The site is named as the customer knows it: its display name,
	// else the application's name.
	q.client = app.Settings[settingName]
	if q.client == "" {
		q.client = app.Name
	}
	if fromQuery {
		http.SetCookie(w, &http.Cookie{Name: authzCookie, Value: a.ID, Path: "/", Secure: true, HttpOnly: true,
			SameSite: http.SameSiteLaxMode, MaxAge: int(account.AuthorizationTTL.Seconds())})
		if q.URL.Query().Get("lang") == "" {
			for _, tag := range a.Request.UILocales {
				if lang, _, _ := strings.Cut(tag, "-"); lang == "de" || lang == "en" {
					q.loc = &locale{Lang: lang, msgs: p.msgs[lang]}
					break
				}
			}
		}
	}
	return true, nil
}

// authorizationOrigin is where a page's form may lead in the end when it
// carries an authorization: the origin of its client's redirect URI (its
// scheme, for a private-use scheme), which the provider checked.
func authorizationOrigin(q *request) []string {
	if q.authz == nil {
		return nil
	}
	u, err := url.Parse(q.authz.Request.RedirectURI)
	switch {
	case err != nil || u.Scheme == "":
		return nil
	case u.Scheme == "http" || u.Scheme == "https":
		return []string{u.Scheme + "://" + u.Host}
	}
	return []string{u.Scheme + ":"}
}

// opensMailedLink reports whether path is a page a mailed link opens:
// only those take the authorization from the cookie.
func opensMailedLink(path string) bool {
	for _, page := range []string{"/confirm", "/activate", "/activate/code", "/reset"} {
		if strings.HasSuffix(path, page) {
			return true
		}
	}
	return false
}

func clearAuthzCookie() *http.Cookie {
	return &http.Cookie{Name: authzCookie, Value: "", Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode}
}

// continueAuthorization approves the request's authorization with sess
// and sends the browser back to the provider. false: there is none, or
// it ended meanwhile; the flow then ends as it would without.
func (p *Pages) continueAuthorization(w http.ResponseWriter, q *request, sess account.Session) bool {
	if q.authz == nil || sess.ID == 0 {
		return false
	}
	callback, err := p.svc.Authorizations.Approve(q.Context(), q.c.Tenant.ID, q.authz.ID, sess)
	if err != nil {
		p.log.InfoContext(q.Context(), "authorization not approved", "err", err)
		return false
	}
	http.SetCookie(w, clearAuthzCookie())
	http.Redirect(w, q.Request, callback, http.StatusSeeOther)
	return true
}

// authorizeWithSession answers the login page of an authorization when
// the browser's page session is enough: approved, unless the client asks
// for a fresh login. It also answers prompt=none without one: the client
// hears login_required at its redirect URI.
func (p *Pages) authorizeWithSession(w http.ResponseWriter, q *request) bool {
	a := q.authz
	if q.session != "" {
		_, sess, err := p.svc.Sessions.Lookup(q.Context(), q.c.Tenant.ID, q.session)
		if err == nil && !a.NeedsLogin(sess.CreatedAt, p.svc.Now()) && p.continueAuthorization(w, q, sess) {
			return true
		}
	}
	if a.Asks(account.PromptNone) {
		// The redirect URI was checked against the client's when the
		// provider took the request.
		if u, err := url.Parse(a.Request.RedirectURI); err == nil {
			query := u.Query()
			query.Set("error", "login_required")
			if a.Request.State != "" {
				query.Set("state", a.Request.State)
			}
			u.RawQuery = query.Encode()
			http.Redirect(w, q.Request, u.String(), http.StatusSeeOther)
			return true
		}
	}
	if a.Asks(account.PromptCreate) && q.URL.Query().Get("login") == "" {
		http.Redirect(w, q.Request, pageURL(q, "register", url.Values{"authorization": {a.ID}}), http.StatusSeeOther)
		return true
	}
	return false
}
