package pages_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"pforte/internal/account"
	"pforte/internal/api/apitest"
	"pforte/internal/pages"
	"pforte/internal/password"
	"pforte/internal/server"
	"pforte/internal/store/teststore"
)

// browser is a plain HTTP client of the pages that keeps their cookies
// by hand (they are Secure, and the test server is plain http) and reads
// each form's token.
type browser struct {
	t       *testing.T
	h       *apitest.Harness
	cookies map[string]string
}

func newBrowser(t *testing.T, h *apitest.Harness) *browser {
	h.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &browser{t: t, h: h, cookies: map[string]string{}}
}

func (b *browser) do(method, path string, form url.Values, header ...string) *apitest.Response {
	b.t.Helper()
	r := apitest.Request{Method: method, Path: path, Header: http.Header{}}
	if form != nil {
		r.Body, r.ContentType = form.Encode(), "application/x-www-form-urlencoded"
	}
	var cookies []string
	for name, value := range b.cookies {
		cookies = append(cookies, name+"="+value)
	}
	if len(cookies) > 0 {
		r.Header.Set("Cookie", strings.Join(cookies, "; "))
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	res, err := b.h.RoundTrip(r)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	if res.Status >= 500 {
		b.t.Fatalf("%s %s: %s", method, path, res)
	}
	for _, c := range (&http.Response{Header: res.Header}).Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
	return res
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// form is the token of the page's first form.
func (b *browser) form(res *apitest.Response) string {
	b.t.Helper()
	m := csrfField.FindSubmatch(res.Body)
	if m == nil {
		b.t.Fatalf("%s %s: no form token in\n%s", res.Method, res.Path, res.Body)
	}
	return string(m[1])
}

func wantStatus(t *testing.T, res *apitest.Response, status int) {
	t.Helper()
	if res.Status != status {
		t.Fatalf("%s %s: %d, want %d\n%s", res.Method, res.Path, res.Status, status, res.Body)
	}
}

// mustConfirmToken registers an address with a secret caller, which gets
// the confirmation token back.
func mustConfirmToken(t *testing.T, h *apitest.Harness, email string) string {
	t.Helper()
	c, err := h.Svc.Tenants.Caller(context.Background(), account.DefaultTenant)
	if err != nil {
		t.Fatal(err)
	}
	c.Key = account.KeySecret
	res, err := h.Svc.Registrations.Register(context.Background(), c, account.Registration{Email: email, Password: "Lange-Seiten-Phrase-2030"})
	if err != nil || res.ConfirmToken == "" {
		t.Fatalf("Register: %+v, %v", res, err)
	}
	return res.ConfirmToken
}

// TestConfirmSpendsOnlyOnPost: fetching a confirmation link any number
// of times with GET or HEAD spends nothing; the button's POST confirms
// once, replaces the page session and leads to the account page.
func TestConfirmSpendsOnlyOnPost(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := apitest.New(t, open)
		b := newBrowser(t, h)
		token := mustConfirmToken(t, h, "scan@example.com")
		link := "/p/default/confirm?token=" + url.QueryEscape(token)
		for range 3 {
			wantStatus(t, b.do(http.MethodHead, link, nil), http.StatusOK)
			wantStatus(t, b.do(http.MethodGet, link, nil), http.StatusOK)
		}
		page := b.do(http.MethodGet, link, nil)
		// The page says whose address the link confirms, and asks for no
		// password: the registration's claim brings one.
		if body := string(page.Body); !strings.Contains(body, "scan@example.com") || strings.Contains(body, `name="password"`) {
			t.Fatalf("confirm page:\n%s", body)
		}
		res := b.do(http.MethodPost, "/p/default/confirm", url.Values{"csrf": {b.form(page)}, "token": {token}})
		wantStatus(t, res, http.StatusSeeOther)
		if loc := res.Header.Get("Location"); loc != "/p/default/account?done=confirmed" {
			t.Fatalf("confirmed, then sent to %q", loc)
		}
		if b.cookies["__Host-pforte-default"] == "" {
			t.Fatal("no page session after confirming")
		}
		account := b.do(http.MethodGet, "/p/default/account", nil)
		wantStatus(t, account, http.StatusOK)
		if !strings.Contains(string(account.Body), "scan@example.com") {
			t.Fatalf("account page:\n%s", account.Body)
		}
		again := b.do(http.MethodPost, "/p/default/confirm", url.Values{"csrf": {b.form(page)}, "token": {token}})
		wantStatus(t, again, http.StatusBadRequest)
		// A used link's page says so at once, still spending nothing.
		wantStatus(t, b.do(http.MethodGet, link, nil), http.StatusBadRequest)
	})
}

// TestBadPosts: every malformed or unprotected post gets a 4xx page, never
// a 5xx, and changes nothing.
func TestBadPosts(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := apitest.New(t, open)
		b := newBrowser(t, h)
		token := b.form(b.do(http.MethodGet, "/p/default/login", nil))
		cases := []struct {
			name        string
			body        string
			contentType string
			header      []string
			status      int
		}{
			{"no form token", "email=a%40example.com&password=x", "application/x-www-form-urlencoded", nil, http.StatusForbidden},
			{"wrong form token", "csrf=forged&email=a%40example.com", "application/x-www-form-urlencoded", nil, http.StatusForbidden},
			{"cross-site", "csrf=" + token, "application/x-www-form-urlencoded", []string{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"}, http.StatusForbidden},
			{"JSON", `{"email":"a@example.com"}`, "application/json", nil, http.StatusUnsupportedMediaType},
			{"multipart", "--x--", "multipart/form-data; boundary=x", nil, http.StatusUnsupportedMediaType},
			{"too large", "csrf=" + token + "&email=" + strings.Repeat("a", 20<<10), "application/x-www-form-urlencoded", nil, http.StatusRequestEntityTooLarge},
			{"invalid UTF-8", "csrf=" + token + "&email=%ff%fe", "application/x-www-form-urlencoded", nil, http.StatusBadRequest},
			{"repeated field", "csrf=" + token + "&email=a%40example.com&email=b%40example.com", "application/x-www-form-urlencoded", nil, http.StatusBadRequest},
			{"broken encoding", "csrf=" + token + "&email=%zz", "application/x-www-form-urlencoded", nil, http.StatusBadRequest},
		}
		for _, c := range cases {
			r := apitest.Request{Method: http.MethodPost, Path: "/p/default/login", Body: c.body, ContentType: c.contentType,
				Header: http.Header{"Cookie": {"__Host-pforte.csrf=" + b.cookies["__Host-pforte.csrf"]}}}
			for i := 0; i+1 < len(c.header); i += 2 {
				r.Header.Set(c.header[i], c.header[i+1])
			}
			res, err := h.RoundTrip(r)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != c.status || !strings.Contains(res.Header.Get("Content-Type"), "text/html") {
				t.Errorf("%s: %d %s, want %d with a page", c.name, res.Status, res.Header.Get("Content-Type"), c.status)
			}
		}
	})
}

// TestPageHeaders: every page forbids framing, caching and referrers and
// carries a CSP without inline script or style.
func TestPageHeaders(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := apitest.New(t, open)
		b := newBrowser(t, h)
		for _, path := range []string{"/p/default/register", "/p/default/login", "/p/default/forgot", "/p/default/confirm?token=x",
			"/p/default/activate/code", "/p/nobody/login", "/p/default/nothing"} {
			res := b.do(http.MethodGet, path, nil)
			csp := res.Header.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "form-action 'self'", "style-src 'self'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("%s: CSP %q lacks %s", path, csp, want)
				}
			}
			if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "script-src") {
				t.Errorf("%s: CSP %q allows scripts or inline code", path, csp)
			}
			for name, want := range map[string]string{"Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff",
				"Cache-Control": "no-store", "X-Frame-Options": "DENY"} {
				if got := res.Header.Get(name); got != want {
					t.Errorf("%s: %s %q, want %q", path, name, got, want)
				}
			}
		}
		if b.cookies["__Host-pforte.csrf"] == "" {
			t.Error("no form-token cookie")
		}
	})
}

// TestTenantsOfHosts: a path names its tenant; on a host that another
// tenant claims it is not found, and pages without a tenant in the path
// belong to the host's tenant.
func TestTenantsOfHosts(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := apitest.New(t, open)
		ctx := context.Background()
		if _, err := h.Svc.Tenants.Create(ctx, "shop"); err != nil {
			t.Fatal(err)
		}
		h.MustSetting(t, "shop", "hosts", "shop.example")
		h.MustSetting(t, "shop", "pages.display_name", "Beispiel-Shop")
		get := func(host, path string) *apitest.Response {
			res, err := h.RoundTrip(apitest.Request{Method: http.MethodGet, Path: path, Host: host})
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		if res := get("shop.example", "/p/login"); res.Status != http.StatusOK || !strings.Contains(string(res.Body), "Beispiel-Shop") {
			t.Errorf("the host's own pages: %s", res)
		}
		if res := get("shop.example", "/p/default/login"); res.Status != http.StatusNotFound {
			t.Errorf("another tenant's page on the shop's host: %d", res.Status)
		}
		if res := get("accounts.example", "/p/shop/login"); res.Status != http.StatusOK {
			t.Errorf("a tenant's page at the public URL's host: %d", res.Status)
		}
		// Once a tenant claims a host, other hosts belong to nobody.
		if res := get("elsewhere.example", "/p/login"); res.Status != http.StatusNotFound {
			t.Errorf("an unclaimed host: %d", res.Status)
		}
		if res := get("elsewhere.example", "/p/shop/login"); res.Status != http.StatusNotFound {
			t.Errorf("a path tenant at an unclaimed host: %d", res.Status)
		}
		// A tenant that owns every other host owns them for path pages too.
		h.MustSetting(t, account.DefaultTenant, "hosts", "*")
		if res := get("elsewhere.example", "/p/shop/login"); res.Status != http.StatusNotFound {
			t.Errorf("another tenant's page on a host default owns by *: %d", res.Status)
		}
		if res := get("elsewhere.example", "/p/default/login"); res.Status != http.StatusOK {
			t.Errorf("default's page on a host it owns by *: %d", res.Status)
		}
		// A name no application can have is no application, not a 500.
		if res := get("accounts.example", "/p/shop/login?app=a%00b"); res.Status != http.StatusOK {
			t.Errorf("an application name with NUL: %d", res.Status)
		}
	})
}

// TestReturnTo: after a login the browser goes to a return URL only if
// the tenant configures it.
func TestReturnTo(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := apitest.New(t, open)
		h.MustSetting(t, account.DefaultTenant, "pages.return_urls", "https://www.shop.example/konto,https://www.shop.example/kasse")
		b := newBrowser(t, h)
		token := mustConfirmToken(t, h, "ret@example.com")
		if _, _, err := h.Svc.Registrations.Confirm(context.Background(), account.Caller{Tenant: mustTenant(t, h)}, token, ""); err != nil {
			t.Fatal(err)
		}
		for returnTo, want := range map[string]string{
			"https://www.shop.example/kasse": "https://www.shop.example/kasse",
			"https://evil.example/":          "https://www.shop.example/konto",
			"//evil.example":                 "https://www.shop.example/konto",
		} {
			page := b.do(http.MethodGet, "/p/default/login?return_to="+url.QueryEscape(returnTo), nil)
			res := b.do(http.MethodPost, "/p/default/login", url.Values{"csrf": {b.form(page)}, "email": {"ret@example.com"},
				"password": {"Lange-Seiten-Phrase-2030"}, "return_to": {returnTo}})
			wantStatus(t, res, http.StatusSeeOther)
			if got := res.Header.Get("Location"); got != want {
				t.Errorf("return_to %q: sent to %q, want %q", returnTo, got, want)
			}
		}
	})
}

func mustTenant(t *testing.T, h *apitest.Harness) account.Tenant {
	t.Helper()
	tenant, err := h.Svc.Tenants.BySlug(context.Background(), account.DefaultTenant)
	if err != nil {
		t.Fatal(err)
	}
	return tenant
}

var templateKeys = regexp.MustCompile(`\.L\.Tf? "([^"]+)"|\(\.F "[^"]+" "([^"]+)"`)

// TestCatalogues: both languages have every message, and every message a
// template names exists.
func TestCatalogues(t *testing.T) {
	cats := map[string]map[string]string{}
	for _, lang := range []string{"de", "en"} {
		b, err := os.ReadFile("messages/" + lang + ".json")
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		cats[lang] = m
	}
	for key := range cats["de"] {
		if _, ok := cats["en"][key]; !ok {
			t.Errorf("%s is German only", key)
		}
	}
	for key := range cats["en"] {
		if _, ok := cats["de"][key]; !ok {
			t.Errorf("%s is English only", key)
		}
	}
	files, _ := os.ReadDir("templates")
	for _, f := range files {
		b, err := os.ReadFile("templates/" + f.Name())
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range templateKeys.FindAllStringSubmatch(string(b), -1) {
			key := m[1] + m[2]
			if _, ok := cats["de"][key]; !ok {
				t.Errorf("%s names %q, which no catalogue has", f.Name(), key)
			}
		}
	}
}

// BenchmarkRegisterPage renders the register page through the whole
// handler (tenant, language, form token, template) on SQLite, without a
// network.
func BenchmarkRegisterPage(b *testing.B) {
	svc := account.NewService(account.Config{Store: teststore.SQLite(b), Policy: password.DefaultPolicy()})
	if err := svc.Start(context.Background(), nil); err != nil {
		b.Fatal(err)
	}
	handler := server.New(server.Deps{Service: svc, Logger: slog.New(slog.DiscardHandler), PublicURL: "https://accounts.example"})
	req := httptest.NewRequest(http.MethodGet, "/p/default/register", nil)
	req.Header.Set("Accept-Language", "de-DE,de;q=0.9")
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("register page: %d", w.Code)
		}
	}
}

// TestTemplateOverrides: a tenant's directory replaces the page templates
// it has files for; a broken or relative one is refused when set.
func TestTemplateOverrides(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := apitest.New(t, open)
		ctx := context.Background()
		dir := t.TempDir()
		own := `{{define "content"}}<p class="own">Eigene Seite von {{.Brand.Name}}</p><form method="post" action="{{.Action}}">{{template "csrf" .}}<button type="submit">{{.L.T "register.submit"}}</button></form>{{end}}`
		if err := os.WriteFile(dir+"/register.html", []byte(own), 0o644); err != nil {
			t.Fatal(err)
		}
		h.MustSetting(t, account.DefaultTenant, "pages.templates", dir)
		b := newBrowser(t, h)
		if res := b.do(http.MethodGet, "/p/default/register", nil); !strings.Contains(string(res.Body), "Eigene Seite von default") {
			t.Fatalf("the tenant's register template is not used:\n%s", res.Body)
		}
		if res := b.do(http.MethodGet, "/p/default/login", nil); !strings.Contains(string(res.Body), `autocomplete="current-password"`) {
			t.Fatalf("a page the directory lacks does not come from the defaults:\n%s", res.Body)
		}
		broken := t.TempDir()
		if err := os.WriteFile(broken+"/login.html", []byte(`{{define "content"}}{{.NoSuchField}}{{end}}`), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{broken, "relative/dir", dir + "/register.html"} {
			if err := h.Svc.Tenants.Set(ctx, account.DefaultTenant, "pages.templates", bad); !account.IsKind(err, account.KindInvalid) {
				t.Errorf("pages.templates=%s: %v, want invalid", bad, err)
			}
		}
	})
}

// TestApplicationOverrides: an application overrides the tenant's page
// settings for requests that name it (?app=, and the forms and links
// after it), and mailed links carry it.
func TestApplicationOverrides(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := apitest.New(t, open, apitest.WithDefaultLinks(pages.LinkTemplates))
		ctx := context.Background()
		c, err := h.Svc.Tenants.Caller(ctx, account.DefaultTenant)
		if err != nil {
			t.Fatal(err)
		}
		c.Key = account.KeySecret
		name := "kiosk"
		if _, err := h.Svc.Apps.Create(ctx, c, account.AppPatch{Name: &name, Settings: map[string]string{"hosts": "kiosk.example"}}); !account.IsKind(err, account.KindInvalid) {
			t.Fatalf("an application overriding hosts: %v", err)
		}
		if _, err := h.Svc.Apps.Create(ctx, c, account.AppPatch{Name: &name, Settings: map[string]string{
			"pages.display_name": "Kiosk am Markt", "pages.return_urls": "https://kiosk.example/fertig"}}); err != nil {
			t.Fatal(err)
		}
		b := newBrowser(t, h)
		if res := b.do(http.MethodGet, "/p/default/login", nil); strings.Contains(string(res.Body), "Kiosk am Markt") {
			t.Fatal("the application's name shows without ?app=")
		}
		page := b.do(http.MethodGet, "/p/default/register?app=kiosk", nil)
		if !strings.Contains(string(page.Body), "Kiosk am Markt") || !strings.Contains(string(page.Body), `name="app" value="kiosk"`) {
			t.Fatalf("register?app=kiosk:\n%s", page.Body)
		}
		res := b.do(http.MethodPost, "/p/default/register", url.Values{"csrf": {b.form(page)}, "app": {"kiosk"},
			"email": {"kiosk@example.com"}, "password": {"Lange-Seiten-Phrase-2030"}, "password_confirmation": {"Lange-Seiten-Phrase-2030"}})
		wantStatus(t, res, http.StatusOK)
		mails, err := h.Svc.Outbox.List(ctx, account.DefaultTenant, 1)
		if err != nil || len(mails) != 1 || mails[0].Envelope == nil || len(mails[0].Envelope.Links) != 1 {
			t.Fatalf("the confirmation mail: %+v, %v", mails, err)
		}
		link, err := url.Parse(mails[0].Envelope.Links[0])
		if err != nil || link.Query().Get("app") != "kiosk" {
			t.Fatalf("the mailed link %s does not name the application", mails[0].Envelope.Links[0])
		}
		confirm := b.do(http.MethodGet, link.RequestURI(), nil)
		res = b.do(http.MethodPost, "/p/default/confirm", url.Values{"csrf": {b.form(confirm)}, "app": {"kiosk"}, "token": {link.Query().Get("token")}})
		wantStatus(t, res, http.StatusSeeOther)
		if got := res.Header.Get("Location"); got != "https://kiosk.example/fertig" {
			t.Fatalf("after confirming for the application: sent to %q", got)
		}
	})
}
