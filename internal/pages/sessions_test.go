package pages_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"pforte/internal/api/apitest"
	"pforte/internal/store/teststore"
)

const iPhoneSafari = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"

// pageLogin logs b in on the login page, asking to be remembered or not,
// and returns the session cookie the answer set.
func pageLogin(t *testing.T, b *browser, email, pw string, remember bool) *http.Cookie {
	t.Helper()
	form := url.Values{"csrf": {b.form(b.do(http.MethodGet, "/p/default/login", nil))}, "email": {email}, "password": {pw}}
	if remember {
		form.Set("remember", "yes")
	}
	res := b.do(http.MethodPost, "/p/default/login", form)
	wantStatus(t, res, http.StatusSeeOther)
	for _, c := range (&http.Response{Header: res.Header}).Cookies() {
		if c.Name == "__Host-pforte-default" {
			return c
		}
	}
	t.Fatalf("login: no session cookie in %v", res.Header)
	return nil
}

// TestRememberMe: the login page's checkbox makes the session and its
// cookie last the tenant's session.remember_max_age; without it the
// cookie ends with the browser. A tenant that remembers nobody shows no
// checkbox and ignores one posted.
func TestRememberMe(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := apitest.New(t, open)
		h.MustSignUp(t, h.Secret, "remember@example.com", "Lange-Seiten-Phrase-2030")
		b := newBrowser(t, h)
		if !strings.Contains(string(b.do(http.MethodGet, "/p/default/login", nil).Body), `name="remember"`) {
			t.Fatal("the login page has no remember checkbox")
		}
		if c := pageLogin(t, b, "remember@example.com", "Lange-Seiten-Phrase-2030", false); c.MaxAge != 0 || !c.Expires.IsZero() {
			t.Errorf("an ordinary login's cookie: Max-Age %d, Expires %v; want a browser-session cookie", c.MaxAge, c.Expires)
		}
		if c := pageLogin(t, b, "remember@example.com", "Lange-Seiten-Phrase-2030", true); c.MaxAge != int((720 * time.Hour).Seconds()) {
			t.Errorf("a remembered login's cookie: Max-Age %d, want 720h", c.MaxAge)
		}
		h.Clock.Advance(13 * time.Hour)
		wantStatus(t, b.do(http.MethodGet, "/p/default/account", nil), http.StatusOK)

		h.MustSetting(t, "default", "session.remember_max_age", "0")
		if strings.Contains(string(b.do(http.MethodGet, "/p/default/login", nil).Body), `name="remember"`) {
			t.Error("the login page offers to remember though the tenant remembers nobody")
		}
		if c := pageLogin(t, b, "remember@example.com", "Lange-Seiten-Phrase-2030", true); c.MaxAge != 0 {
			t.Errorf("remember posted to a tenant that remembers nobody: cookie Max-Age %d", c.MaxAge)
		}
	})
}

// TestAccountPageSessions: the account page lists where the customer is
// logged in, marks this browser, and logs out one other device or all
// others; a session that is not the customer's is not touched.
func TestAccountPageSessions(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := apitest.New(t, open)
		signUp := h.MustSignUp(t, h.Secret, "devices@example.com", "Lange-Seiten-Phrase-2030")
		stranger := h.MustSignUp(t, h.Secret, "stranger@example.com", "Lange-Seiten-Phrase-2030")
		res := h.Do(t, apitest.Request{Method: http.MethodPost, Path: "/api/v1/sessions", Key: h.Secret,
			Body:   map[string]any{"email": "devices@example.com", "password": "Lange-Seiten-Phrase-2030"},
			Header: http.Header{"User-Agent": {iPhoneSafari}}})
		phone := apitest.MustJSON[apitest.CustomerSession](t, res, http.StatusCreated)
		b := newBrowser(t, h)
		pageLogin(t, b, "devices@example.com", "Lange-Seiten-Phrase-2030", false)

		page := b.do(http.MethodGet, "/p/default/account?lang=en", nil)
		wantStatus(t, page, http.StatusOK)
		body := string(page.Body)
		for _, want := range []string{"Where you are logged in", "Safari on iPhone", "<strong>Go-http-client</strong> (this device)", "network 127.0.0.0/24",
			fmt.Sprintf(`name="session" value="%d"`, phone.Session.ID), fmt.Sprintf(`name="session" value="%d"`, signUp.Session.ID),
			"Log out everywhere else"} {
			if !strings.Contains(body, want) {
				t.Errorf("account page lacks %q:\n%s", want, body)
			}
		}

		end := func(id int64) string {
			t.Helper()
			res := b.do(http.MethodPost, "/p/default/account/sessions/end",
				url.Values{"csrf": {b.form(page)}, "session": {fmt.Sprint(id)}})
			wantStatus(t, res, http.StatusOK)
			return string(res.Body)
		}
		if body := end(phone.Session.ID); !strings.Contains(body, "That device has been logged out.") || strings.Contains(body, "Safari on iPhone") {
			t.Errorf("after logging out the phone:\n%s", body)
		}
		if res := h.Do(t, apitest.Request{Method: http.MethodGet, Path: "/api/v1/session", Bearer: phone.Session.Token}); res.Status != http.StatusUnauthorized {
			t.Errorf("the phone's session after the page ended it: %s", res)
		}
		if body := end(stranger.Session.ID); !strings.Contains(body, "That login had already ended.") {
			t.Errorf("ending another customer's session:\n%s", body)
		}
		if res := h.Do(t, apitest.Request{Method: http.MethodGet, Path: "/api/v1/session", Bearer: stranger.Session.Token}); res.Status != http.StatusOK {
			t.Errorf("another customer's session after a forged end: %s", res)
		}

		res = b.do(http.MethodPost, "/p/default/account/sessions/others", url.Values{"csrf": {b.form(page)}})
		wantStatus(t, res, http.StatusOK)
		if body := string(res.Body); !strings.Contains(body, "Every other device has been logged out.") || strings.Contains(body, "Log out everywhere else") {
			t.Errorf("after logging out everywhere else:\n%s", body)
		}
		if res := h.Do(t, apitest.Request{Method: http.MethodGet, Path: "/api/v1/session", Bearer: signUp.Session.Token}); res.Status != http.StatusUnauthorized {
			t.Errorf("the sign-up's session after logging out everywhere else: %s", res)
		}
		wantStatus(t, b.do(http.MethodGet, "/p/default/account", nil), http.StatusOK)
	})
}
