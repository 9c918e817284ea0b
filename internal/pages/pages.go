// Package pages serves pforte's hosted pages in German and English: the
// pages behind every mailed link (confirm, activate, reset), registration
// (with HGSP's ?partnerId=), login, logout, a forgotten password and the
// customer's account. They are server-rendered with html/template from
// embedded files, need no JavaScript, and are one more thin client of
// account.Service, like an API dialect. See README.md.
package pages

import (
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"

	"pforte/internal/account"
	"pforte/internal/api/wire"
)

//go:embed templates/*.html messages/*.json static/*.css
var assets embed.FS

// Prefix is the path under which every page lives. A page's path is
// Prefix + "/{tenant}/{page}", or Prefix + "/{page}" on a host name that
// a tenant claims.
const Prefix = "/p"

// The pages, by the template each renders.
var pageNames = []string{"register", "checkmail", "confirm", "activate", "login", "forgot", "reset", "account", "message",
	"email", "delete"}

// Pages serves the hosted pages. server/routes.go mounts its handlers.
type Pages struct {
	svc     *account.Service
	log     *slog.Logger
	clients wire.Clients
	views   map[string]*template.Template
	msgs    map[string]map[string]string // language -> key -> text
	origin  *http.CrossOriginProtection
	css     []byte
	custom  overrides // tenants' template directories
	// publicHost is the host name of the public URL, whose pages serve
	// every tenant's mailed links.
	publicHost string
}

// New returns the pages over svc; clients bounds how many form posts a
// client address may make, and publicURL is where mailed links lead. Its
// templates and messages are embedded, so an error here is a bug in them,
// which the tests catch: it panics.
func New(svc *account.Service, log *slog.Logger, clients wire.Clients, publicURL string) *Pages {
	p, err := newPages(svc, log, clients)
	if err != nil {
		panic(err)
	}
	if u, err := url.Parse(publicURL); err == nil && publicURL != "" {
		p.publicHost = wire.NormalHost(u.Hostname())
	}
	return p
}

func newPages(svc *account.Service, log *slog.Logger, clients wire.Clients) (*Pages, error) {
	p := &Pages{svc: svc, log: log, clients: clients, msgs: map[string]map[string]string{}, origin: http.NewCrossOriginProtection()}
	views, err := parsePages("")
	if err != nil {
		return nil, fmt.Errorf("pages: %w", err)
	}
	p.views = views
	for _, lang := range languages {
		if p.msgs[lang], err = catalogue(lang); err != nil {
			return nil, fmt.Errorf("pages: %w", err)
		}
	}
	css, err := fs.ReadFile(assets, "static/pforte.css")
	if err != nil {
		return nil, err
	}
	p.css = css
	// A cross-site POST is refused before any form is read.
	p.origin.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.fail(w, r, nil, http.StatusForbidden, "error.csrf")
	}))
	return p, nil
}

// LinkTemplates are the links mail leads to when neither the caller's
// application nor its tenant configures one: these pages under publicURL,
// by account action.
func LinkTemplates(publicURL string) map[string]string {
	base := strings.TrimRight(publicURL, "/") + Prefix + "/{accountId}/"
	return map[string]string{
		account.ActionConfirm:     base + "confirm?token={token}&app={app}",
		account.ActionReset:       base + "reset?token={token}&app={app}",
		account.ActionActivate:    base + "activate?token={token}&app={app}",
		account.ActionEmailChange: base + "email-confirm?token={token}&app={app}",
		account.ActionEmailUndo:   base + "email-undo?token={token}&app={app}",
		account.ActionSignInAlert: base + "sign-in-alert?token={token}&app={app}",
	}
}

// NotAllowed answers a page path with a method it does not take.
func (p *Pages) NotAllowed(allow ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		p.fail(w, r, nil, http.StatusMethodNotAllowed, "error.generic")
	})
}

// NotFound answers a path under Prefix that is no page.
func (p *Pages) NotFound() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.fail(w, r, nil, http.StatusNotFound, "error.not_found")
	})
}

// Stylesheet serves the pages' stylesheet.
func (p *Pages) Stylesheet() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Write(p.css)
	})
}

// BrandStylesheet serves the tenant's colour as a stylesheet: the pages'
// Content-Security-Policy allows no inline style.
func (p *Pages) BrandStylesheet() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := p.tenant(r)
		if err == nil {
			c, err = p.svc.Apps.With(r.Context(), c, r.URL.Query().Get("app"))
		}
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=60")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if colour := brandOf(c).Colour; colour != "" {
			fmt.Fprintf(w, ":root { --primary: %s; }\n", colour)
		}
	})
}

// base is the path of the tenant's pages in this request's form.
func base(r *http.Request, slug string) string {
	if r.PathValue("tenant") == "" {
		return Prefix
	}
	return path.Join(Prefix, slug)
}
