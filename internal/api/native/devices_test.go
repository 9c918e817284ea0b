package native_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"pforte/internal/account"
	"pforte/internal/api/apitest"
	"pforte/internal/store/teststore"
)

const (
	firefoxOnWindows = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
	safariOnIPhone   = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
)

// loginFrom logs in with the secret key from a browser with this user
// agent, remembered or not.
func (h *harness) loginFrom(t *testing.T, email, pw, agent string, remember bool) customerSession {
	t.Helper()
	res := h.Do(t, request{Method: http.MethodPost, Path: "/api/v1/sessions", Key: h.secret,
		Body:   map[string]any{"email": email, "password": pw, "remember": remember},
		Header: http.Header{"User-Agent": {agent}}})
	return apitest.MustJSON[customerSession](t, res, http.StatusCreated)
}

// sessionAlive reports whether GET /api/v1/session takes the token.
func (h *harness) sessionAlive(t *testing.T, token string) bool {
	t.Helper()
	res := h.Do(t, request{Method: http.MethodGet, Path: "/api/v1/session", Bearer: token})
	switch res.Status {
	case http.StatusOK:
		return true
	case http.StatusUnauthorized:
		apitest.MustProblem(t, res, http.StatusUnauthorized, "session_invalid")
		return false
	}
	t.Fatalf("%s, want 200 or 401", res)
	return false
}

func (h *harness) mySessions(t *testing.T, token string) []apitest.Device {
	t.Helper()
	res := h.Do(t, request{Method: http.MethodGet, Path: "/api/v1/sessions", Bearer: token})
	return apitest.MustJSON[apitest.Devices](t, res, http.StatusOK).Sessions
}

// TestRememberedSessions: a login that asks to be remembered outlives the
// 30 minutes idle and 12 hours in all of TestSessions, up to the tenant's
// session.remember_max_age, unless the tenant remembers none.
func TestRememberedSessions(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		h.mustSignUp(t, "idle@example.com", "correct horse battery")

		t.Run("remembered", func(t *testing.T) {
			s := h.loginFrom(t, "idle@example.com", "correct horse battery", firefoxOnWindows, true)
			if !s.Session.Remembered || !s.Session.ExpiresAt.Equal(s.Session.CreatedAt.Add(720*time.Hour)) {
				t.Fatalf("session %+v, want one remembered for 720h", s.Session)
			}
			h.clock.Advance(13 * time.Hour) // unused all the while
			if !h.sessionAlive(t, s.Session.Token) {
				t.Fatal("a remembered session was refused after 13 hours unused")
			}
			h.clock.Advance(707 * time.Hour) // 720 h after login
			if h.sessionAlive(t, s.Session.Token) {
				t.Fatal("a remembered session was taken after session.remember_max_age")
			}
		})

		t.Run("remembering refused by the tenant", func(t *testing.T) {
			h.MustSetting(t, "default", "session.remember_max_age", "0")
			s := h.loginFrom(t, "idle@example.com", "correct horse battery", firefoxOnWindows, true)
			if s.Session.Remembered || !s.Session.ExpiresAt.Equal(s.Session.CreatedAt.Add(30*time.Minute)) {
				t.Fatalf("session %+v, want an ordinary one", s.Session)
			}
		})
	})
}

func TestCustomersListAndEndTheirSessions(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		signUp := h.mustSignUp(t, "many@example.com", "correct horse battery")
		other := h.mustSignUp(t, "other@example.com", "correct horse battery")
		laptop := h.loginFrom(t, "many@example.com", "correct horse battery", firefoxOnWindows, false)
		h.clock.Advance(2 * time.Minute)
		phone := h.loginFrom(t, "many@example.com", "correct horse battery", safariOnIPhone, true)

		list := h.mySessions(t, laptop.Session.Token)
		if len(list) != 3 {
			t.Fatalf("GET /api/v1/sessions: %+v, want the phone, the laptop and the sign-up's", list)
		}
		// The laptop's use just now ties with the phone's login: the newer
		// first. The sign-up's own session came from the harness's client.
		want := []apitest.Device{
			{ID: phone.Session.ID, Device: "Safari on iPhone", ClientAddress: "127.0.0.0/24", Remembered: true},
			{ID: laptop.Session.ID, Current: true, Device: "Firefox on Windows", ClientAddress: "127.0.0.0/24"},
			{ID: signUp.Session.ID, Device: "Go-http-client", ClientAddress: "127.0.0.0/24"},
		}
		for i, w := range want {
			g := list[i]
			if g.ID != w.ID || g.Current != w.Current || g.Device != w.Device || g.ClientAddress != w.ClientAddress || g.Remembered != w.Remembered {
				t.Errorf("session %d: %+v, want %+v", i, g, w)
			}
		}

		// Another customer's session, or one that does not exist, is not
		// the bearer's to end.
		for _, id := range []string{fmt.Sprint(other.Session.ID), "999999", "x", "-1"} {
			res := h.Do(t, request{Method: http.MethodDelete, Path: "/api/v1/sessions/" + id, Bearer: laptop.Session.Token})
			apitest.MustProblem(t, res, http.StatusNotFound, "session_not_found")
		}
		if !h.sessionAlive(t, other.Session.Token) {
			t.Fatal("another customer's session ended")
		}

		res := h.Do(t, request{Method: http.MethodDelete, Path: fmt.Sprintf("/api/v1/sessions/%d", phone.Session.ID), Bearer: laptop.Session.Token})
		apitest.MustStatus(t, res, http.StatusNoContent)
		if h.sessionAlive(t, phone.Session.Token) {
			t.Fatal("the phone's session lives on after the laptop ended it")
		}
		res = h.Do(t, request{Method: http.MethodDelete, Path: fmt.Sprintf("/api/v1/sessions/%d", phone.Session.ID), Bearer: laptop.Session.Token})
		apitest.MustProblem(t, res, http.StatusNotFound, "session_not_found")

		// All others end, the sign-up's among them; the bearer's stays.
		tablet := h.loginFrom(t, "many@example.com", "correct horse battery", safariOnIPhone, false)
		res = h.Do(t, request{Method: http.MethodDelete, Path: "/api/v1/session/others", Bearer: laptop.Session.Token})
		apitest.MustStatus(t, res, http.StatusNoContent)
		if h.sessionAlive(t, tablet.Session.Token) || h.sessionAlive(t, signUp.Session.Token) || !h.sessionAlive(t, laptop.Session.Token) {
			t.Fatal("ending the others: want the tablet's and the sign-up's sessions ended and the laptop's alive")
		}
		if list := h.mySessions(t, laptop.Session.Token); len(list) != 1 || !list[0].Current {
			t.Fatalf("after ending the others: %+v, want the current session alone", list)
		}

		// Without a session there is nothing to list.
		res = h.Do(t, request{Method: http.MethodGet, Path: "/api/v1/sessions", Bearer: tablet.Session.Token})
		apitest.MustProblem(t, res, http.StatusUnauthorized, "session_invalid")
	})
}

func TestAdminListsAndEndsSessions(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		cs := h.mustSignUp(t, "admin-ends@example.com", "correct horse battery")
		phone := h.loginFrom(t, "admin-ends@example.com", "correct horse battery", safariOnIPhone, false)
		path := fmt.Sprintf("/api/v1/customers/%d/sessions", cs.Customer.ID)

		res := h.Do(t, request{Method: http.MethodGet, Path: path, Key: h.public})
		apitest.MustProblem(t, res, http.StatusForbidden, "secret_key_required")
		otherSecret, _ := h.MustTenant(t, "globex")
		res = h.Do(t, request{Method: http.MethodGet, Path: path, Key: otherSecret})
		apitest.MustProblem(t, res, http.StatusNotFound, "customer_not_found")
		res = h.Do(t, request{Method: http.MethodDelete, Path: path, Key: otherSecret})
		apitest.MustProblem(t, res, http.StatusNotFound, "customer_not_found")

		res = h.Do(t, request{Method: http.MethodGet, Path: path, Key: h.secret})
		list := apitest.MustJSON[apitest.Devices](t, res, http.StatusOK).Sessions
		if len(list) != 2 || list[0].ID != phone.Session.ID || list[0].Current || list[1].ID != cs.Session.ID {
			t.Fatalf("GET %s: %+v, want the phone's session, then the sign-up's, none current", path, list)
		}

		res = h.Do(t, request{Method: http.MethodDelete, Path: fmt.Sprintf("%s/%d", path, phone.Session.ID), Key: h.secret})
		apitest.MustStatus(t, res, http.StatusNoContent)
		if h.sessionAlive(t, phone.Session.Token) || !h.sessionAlive(t, cs.Session.Token) {
			t.Fatal("ending one session: want the phone's ended and the other alive")
		}
		res = h.Do(t, request{Method: http.MethodDelete, Path: fmt.Sprintf("%s/%d", path, phone.Session.ID), Key: h.secret})
		apitest.MustProblem(t, res, http.StatusNotFound, "session_not_found")

		res = h.Do(t, request{Method: http.MethodDelete, Path: path, Key: h.secret})
		apitest.MustStatus(t, res, http.StatusNoContent)
		if h.sessionAlive(t, cs.Session.Token) {
			t.Fatal("a session lives on after the admin ended them all")
		}
	})
}

func TestSessionClientAddressSetting(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		h.mustSignUp(t, "where@example.com", "correct horse battery")
		for _, tt := range []struct{ setting, want string }{
			{"full", "127.0.0.1"},
			{"none", ""},
			{"truncated", "127.0.0.0/24"},
		} {
			h.MustSetting(t, "default", "session.client_address", tt.setting)
			s := h.loginFrom(t, "where@example.com", "correct horse battery", firefoxOnWindows, false)
			list := h.mySessions(t, s.Session.Token)
			if list[0].ID != s.Session.ID || list[0].ClientAddress != tt.want {
				t.Errorf("session.client_address=%s: %+v, want the new session first with address %q", tt.setting, list[0], tt.want)
			}
		}
	})
}

// TestSessionsKeepTheirLifetimes: a session opened before the defaults
// changed (24 hours idle, 30 days in all, stored with it) keeps them.
func TestSessionsKeepTheirLifetimes(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		cs := h.mustSignUp(t, "before@example.com", "correct horse battery")
		now := h.clock.Now()
		const token = "a-session-token-from-before-the-upgrade-0123456789"
		old := account.Session{TenantID: h.tenant.ID, CustomerID: cs.Customer.ID, Hash: account.HashSecret(token),
			CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(30 * 24 * time.Hour), IdleExpiry: 24 * time.Hour}
		if err := h.Store.CreateSession(t.Context(), &old); err != nil {
			t.Fatal(err)
		}
		h.clock.Advance(23 * time.Hour)
		if !h.sessionAlive(t, token) {
			t.Fatal("a session made with 24 hours idle was refused after 23")
		}
		if h.sessionAlive(t, cs.Session.Token) {
			t.Fatal("a session made with today's defaults lived 23 hours unused")
		}
	})
}

// TestSecretKeyNamesTheCustomer: a site's server logging a customer in
// with a secret key names the customer's address and browser, which the
// session records; a public caller's same headers are ignored.
func TestSecretKeyNamesTheCustomer(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		const email, pw = "behind-a-site@example.com", "correct horse battery"
		h.mustSignUp(t, email, pw)
		onBehalf := http.Header{}
		onBehalf.Set("X-Pforte-Customer-IP", "198.51.100.23")
		onBehalf.Set("X-Pforte-Customer-Agent", firefoxOnWindows)
		login := func(key string) *response {
			return h.Do(t, request{Method: http.MethodPost, Path: "/api/v1/sessions", Key: key, Header: onBehalf,
				Body: map[string]any{"email": email, "password": pw}})
		}
		site := apitest.MustJSON[customerSession](t, login(h.secret), http.StatusCreated)
		browser := apitest.MustJSON[customerSession](t, login(h.public), http.StatusCreated)
		for _, d := range h.mySessions(t, site.Session.Token) {
			switch d.ID {
			case site.Session.ID:
				if d.ClientAddress != "198.51.100.0/24" || d.Device != "Firefox on Windows" {
					t.Errorf("the secret key's login: %+v, want the customer's network and browser", d)
				}
			case browser.Session.ID:
				if d.ClientAddress != "127.0.0.0/24" || d.Device != "Go-http-client" {
					t.Errorf("the public key's login: %+v, want its own address and agent", d)
				}
			}
		}
		onBehalf.Set("X-Pforte-Customer-IP", "not an address")
		apitest.MustProblem(t, login(h.secret), http.StatusBadRequest, "validation_failed")
	})
}
