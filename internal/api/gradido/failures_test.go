package gradido_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"pforte/internal/account"
	"pforte/internal/api/apitest"
	"pforte/internal/store/teststore"
)

// TestBadInput: a body that is not what a call takes is a 4xx in the
// dialect's error format, never a 500 and never a 200, and registers
// nobody: malformed or truncated JSON, wrong types, unknown, repeated or
// differently cased fields, an oversize body, another content type or
// charset, invalid UTF-8.
func TestBadInput(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open, passwordsOn())
		const user = `"email": "max.musterman@gmail.de", "first_name": "Max", "last_name": "Musterman", "password": "` + strongPassword + `"`
		huge := `{"email": "max.musterman@gmail.de", "password": "` + strings.Repeat("x", 64<<10) + `"}`
		for _, c := range []struct {
			name, call, body, contentType string
			status                        int
			code                          string
		}{
			{"truncated", "unsecureLogin", `{"email": "max.musterman@gmail.de"`, "", 400, "malformed_json"},
			{"empty body", "unsecureLogin", ``, "", 400, "malformed_json"},
			{"blank body", "logout", "  \n", "", 400, "malformed_json"},
			{"trailing data", "unsecureLogin", `{"email": "a@example.de", "password": "x"} {}`, "", 400, "malformed_json"},
			{"array", "unsecureLogin", `[{"email": "a@example.de"}]`, "", 400, "malformed_json"},
			{"string", "logout", `"-127182"`, "", 400, "malformed_json"},
			{"email as number", "unsecureLogin", `{"email": 5, "password": "x"}`, "", 400, "validation_failed"},
			{"password as object", "unsecureLogin", `{"email": "a@example.de", "password": {"x": 1}}`, "", 400, "validation_failed"},
			{"unknown field", "unsecureLogin", `{"email": "a@example.de", "password": "x", "remember": true}`, "", 400, "validation_failed"},
			{"field in other case", "unsecureLogin", `{"Email": "a@example.de", "password": "x"}`, "", 400, "validation_failed"},
			{"repeated field", "unsecureLogin", `{"email": "a@example.de", "email": "b@example.de", "password": "x"}`, "", 400, "validation_failed"},
			{"emailType as string", "createUser", `{` + user + `, "emailType": "2"}`, "", 400, "validation_failed"},
			{"emailType fractional", "createUser", `{` + user + `, "emailType": 2.5}`, "", 400, "validation_failed"},
			{"first_name as number", "createUser", `{"email": "a@example.de", "first_name": 1, "emailType": 2, "password": "` + strongPassword + `"}`, "", 400, "validation_failed"},
			{"login_after_register as string", "createUser", `{` + user + `, "emailType": 2, "login_after_register": "yes"}`, "", 400, "validation_failed"},
			{"group_id", "createUser", `{` + user + `, "emailType": 2, "group_id": 1}`, "", 400, "validation_failed"},
			{"session_id as string", "logout", `{"session_id": "-127182"}`, "", 400, "validation_failed"},
			{"session_id fractional", "logout", `{"session_id": -127182.5}`, "", 400, "validation_failed"},
			{"session_id exponent", "logout", `{"session_id": 1e5}`, "", 400, "validation_failed"},
			{"session_id beyond int64", "logout", `{"session_id": 99999999999999999999}`, "", 400, "validation_failed"},
			{"session_id as boolean", "logout", `{"session_id": true}`, "", 400, "validation_failed"},
			{"oversize", "unsecureLogin", huge, "", 413, "body_too_large"},
			{"form", "createUser", `email=max.musterman%40gmail.de`, "application/x-www-form-urlencoded", 415, "unsupported_media_type"},
			{"text", "unsecureLogin", `{"email": "a@example.de", "password": "x"}`, "text/plain", 415, "unsupported_media_type"},
			{"no content type", "logout", `{"session_id": 1}`, "-", 415, "unsupported_media_type"},
			{"latin1", "unsecureLogin", `{"email": "a@example.de", "password": "x"}`, "application/json; charset=iso-8859-1", 415, "unsupported_charset"},
			{"invalid UTF-8", "createUser", "{\"email\": \"max\xff@example.de\", \"emailType\": 2, \"password\": \"" + strongPassword + "\"}", "", 400, "invalid_utf8"},
		} {
			t.Run(c.name, func(t *testing.T) {
				r := h.send(t, call{Call: c.call, Body: c.body, ContentType: c.contentType})
				e := mustFail(t, r, c.status, "error", c.code)
				if c.code == "validation_failed" && len(e.Details) != 1 {
					t.Errorf("%s: details %q, want the one offending field", r, e.Details)
				}
			})
		}
		// None of them registered anybody.
		mustFail(t, h.login(t, seedEmail, strongPassword), 200, "error", "invalid_credentials")
		mustFail(t, h.login(t, "a@example.de", strongPassword), 200, "error", "invalid_credentials")
		// charset=utf-8 is the one parameter a JSON body may have.
		mustFail(t, h.send(t, call{Call: "logout", Body: `{"session_id": 1}`, ContentType: "application/json; charset=UTF-8"}),
			200, "error", "session_invalid")
	})
}

// sameAnswer is everything of an answer that may tell two requests apart:
// status, headers other than the request id and the date, and the body.
func sameAnswer(r *response) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d\n", r.Status)
	keys := make([]string, 0, len(r.Header))
	for k := range r.Header {
		if k != "X-Request-Id" && k != "Date" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\n", k, strings.Join(r.Header[k], ", "))
	}
	b.WriteString("\n")
	b.Write(r.Body)
	return b.String()
}

// TestSameAnswer: a login with an unknown address answers exactly what a
// wrong password answers (status, headers, body byte for byte), whatever
// state the account is in and whether the address has an account in
// another tenant; and after five failures both are throttled alike.
func TestSameAnswer(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open, passwordsOn())
		h.MustSetting(t, otherTenantSlug, settingPasswords, "true")
		h.mustRegister(t, "", "aktiv@example.de", strongPassword, "Aktive", "Kundin")
		h.mustRegister(t, "", "gesperrt@example.de", strongPassword, "Gesperrte", "Kundin")
		h.mustSetState(t, mustLogin(t, h.login(t, "gesperrt@example.de", strongPassword)).User.ID, "disabled")
		h.mustRegister(t, otherHost, "anderswo@example.de", strongPassword, "", "")

		want := h.login(t, "niemand@example.de", strongPassword)
		mustFail(t, want, http.StatusOK, "error", "invalid_credentials")
		for _, email := range []string{"aktiv@example.de", "gesperrt@example.de", "anderswo@example.de", "Niemand@Example.DE"} {
			if got := h.login(t, email, otherPassword); sameAnswer(got) != sameAnswer(want) || !bytes.Equal(got.Body, want.Body) {
				t.Errorf("%s: %s\nwant the unknown address's %s", email, got, want)
			}
		}

		// Five more failures each, then both addresses are locked alike.
		for range 4 {
			h.login(t, "niemand@example.de", otherPassword)
			h.login(t, "aktiv@example.de", otherPassword)
		}
		unknown := h.login(t, "niemand@example.de", otherPassword)
		wrong := h.login(t, "aktiv@example.de", otherPassword)
		mustFail(t, unknown, http.StatusTooManyRequests, "error", "too_many_attempts")
		if unknown.Header.Get("Retry-After") == "" {
			t.Errorf("%s: no Retry-After", unknown)
		}
		if sameAnswer(unknown) != sameAnswer(wrong) {
			t.Errorf("throttled: %s\nwant the unknown address's %s", wrong, unknown)
		}
		// Locked means locked: the right password waits too, then works.
		mustFail(t, h.login(t, "aktiv@example.de", strongPassword), http.StatusTooManyRequests, "error", "too_many_attempts")
		h.Clock.Advance(31 * time.Second)
		mustLogin(t, h.login(t, "aktiv@example.de", strongPassword))
	})
}

// TestLoginStates: only after the right password does the account's state
// show, in the login server's words: a disabled account is state
// "disabled"; a registration through the native API that waits for its
// confirmation is "email not activated".
func TestLoginStates(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open, passwordsOn())
		h.mustRegister(t, "", "gesperrt@example.de", strongPassword, "", "")
		h.mustSetState(t, mustLogin(t, h.login(t, "gesperrt@example.de", strongPassword)).User.ID, "disabled")
		e := mustFail(t, h.login(t, "gesperrt@example.de", strongPassword), http.StatusOK, "disabled", "account_disabled")
		if e.Msg != "user is disabled" {
			t.Errorf("msg %q", e.Msg)
		}

		r := h.Do(t, apitest.Request{Method: http.MethodPost, Path: "/api/v1/registrations", Key: h.Public,
			Body: map[string]string{"email": "wartet@example.de", "password": strongPassword}})
		if r.Status != http.StatusAccepted {
			t.Fatalf("native registration: %s", r)
		}
		e = mustFail(t, h.login(t, "wartet@example.de", strongPassword), http.StatusOK, "error", "email_not_confirmed")
		if e.Msg != "email not activated" {
			t.Errorf("msg %q", e.Msg)
		}
		mustFail(t, h.login(t, "wartet@example.de", otherPassword), http.StatusOK, "error", "invalid_credentials")

		// email_checked is whether the address was confirmed, not the state:
		// a back office may create active customers it never mailed.
		r = h.Do(t, apitest.Request{Method: http.MethodPost, Path: "/api/v1/customers", Key: h.Secret,
			Body: map[string]string{"email": "importiert@example.de", "password": strongPassword, "state": "active"}})
		if r.Status != http.StatusCreated {
			t.Fatalf("native create: %s", r)
		}
		l := mustLogin(t, h.login(t, "importiert@example.de", strongPassword))
		if c := h.MustGetCustomer(t, h.Secret, l.User.ID); c.State != "active" || l.User.EmailChecked != (c.EmailConfirmedAt != nil) {
			t.Errorf("email_checked %v, customer %+v", l.User.EmailChecked, c)
		}
	})
}

// TestSessions: a session id ends once (a second logout is "session not
// found"), expires after 24 hours idle, belongs to its tenant only (the
// other tenant's logout, by host or by key, cannot end it), and ends no
// other session of the same customer. Ids out of JavaScript's range, 0
// and missing are nobody's.
func TestSessions(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open, passwordsOn())
		h.mustRegister(t, "", seedEmail, strongPassword, "Max", "Musterman")

		// Twice.
		first := mustLogin(t, h.login(t, seedEmail, strongPassword)).SessionID
		second := mustLogin(t, h.login(t, seedEmail, strongPassword)).SessionID
		if first == second {
			t.Fatal("two logins, one session id")
		}
		mustSuccess(t, h.logout(t, "", first))
		mustFail(t, h.logout(t, "", first), http.StatusOK, "error", "session_invalid")
		mustSuccess(t, h.logout(t, "", second))

		// Expired after 24 hours without use.
		idle := mustLogin(t, h.login(t, seedEmail, strongPassword)).SessionID
		h.Clock.Advance(24*time.Hour + time.Second)
		mustFail(t, h.logout(t, "", idle), http.StatusOK, "error", "session_invalid")

		// Another tenant's: tenant andere knows the same address as another
		// customer, reached by its host.
		h.MustSetting(t, otherTenantSlug, settingPasswords, "true")
		h.mustRegister(t, otherHost, seedEmail, otherPassword, "Max", "Anders")
		other := mustLogin(t, h.send(t, call{Call: "unsecureLogin", Host: otherHost,
			Body: map[string]string{"email": seedEmail, "password": otherPassword}}))
		if other.User.GroupAlias != otherTenantSlug || other.User.LastName != "Anders" {
			t.Fatalf("the other host's login: %+v", other.User)
		}
		mustFail(t, h.send(t, call{Call: "unsecureLogin", Host: otherHost,
			Body: map[string]string{"email": seedEmail, "password": strongPassword}}), http.StatusOK, "error", "invalid_credentials")
		mine := mustLogin(t, h.login(t, seedEmail, strongPassword))
		if mine.User.ID == other.User.ID || mine.User.GroupAlias != account.DefaultTenant {
			t.Fatalf("one customer across tenants: %+v, %+v", mine.User, other.User)
		}
		mustFail(t, h.logout(t, "", other.SessionID), http.StatusOK, "error", "session_invalid")
		mustFail(t, h.send(t, call{Call: "logout", Key: h.Secret, Host: otherHost,
			Body: map[string]int64{"session_id": other.SessionID}}), http.StatusOK, "error", "session_invalid")
		mustFail(t, h.logout(t, otherHost, mine.SessionID), http.StatusOK, "error", "session_invalid")
		// Neither attempt ended anything: each tenant ends its own.
		mustSuccess(t, h.send(t, call{Call: "logout", Key: h.otherSecret, Body: map[string]int64{"session_id": other.SessionID}}))
		mustSuccess(t, h.logout(t, "", mine.SessionID))

		for _, body := range []string{`{"session_id": 0}`, `{}`, `{"session_id": null}`,
			`{"session_id": 9007199254740992}`, `{"session_id": -9007199254740992}`, `{"session_id": 9223372036854775807}`} {
			mustFail(t, h.send(t, call{Call: "logout", Body: body}), http.StatusOK, "error", "session_invalid")
		}
		h.mustNotLog(t, first, second, idle, other.SessionID, mine.SessionID)
	})
}

// TestPasswordSwitch: without gradido.allow_password_via_json (the
// default) unsecureLogin does not exist, answered exactly like any unknown
// call, whatever the method; createUser refuses a registration and an
// admin's password, but an admin's invitation without one still works.
// Switched on, both work; the switch is the tenant's own.
func TestPasswordSwitch(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		unknown := h.send(t, call{Call: "noSuchCall", Body: `{}`})
		mustFail(t, unknown, http.StatusNotFound, "error", "unknown_call")
		off := h.login(t, seedEmail, strongPassword)
		if sameAnswer(off) != sameAnswer(unknown) {
			t.Errorf("unsecureLogin switched off: %s\nwant an unknown call's %s", off, unknown)
		}
		for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodOptions} {
			mustFail(t, h.send(t, call{Method: m, Call: "unsecureLogin"}), http.StatusNotFound, "error", "unknown_call")
		}
		mustFail(t, h.register(t, "", seedEmail, strongPassword, "Max", "Musterman"), http.StatusForbidden, "error", "password_via_json_disabled")
		mustFail(t, h.send(t, call{Call: "createUser", Body: map[string]any{"email": seedEmail, "password": strongPassword}}),
			http.StatusForbidden, "error", "password_via_json_disabled")
		mustFail(t, h.send(t, call{Call: "createUser", Key: h.Secret, Body: map[string]any{"email": seedEmail, "emailType": 5, "password": strongPassword}}),
			http.StatusForbidden, "error", "password_via_json_disabled")
		// The admin's invitation: the customer sets a password on activation.
		mustSuccess(t, h.send(t, call{Call: "createUser", Key: h.Secret, Body: map[string]any{"email": "eingeladen@example.de",
			"first_name": "Erika", "emailType": 5}}))
		mustFail(t, h.logout(t, "", 12345), http.StatusOK, "error", "session_invalid")

		h.MustSetting(t, account.DefaultTenant, settingPasswords, "true")
		mustFail(t, h.send(t, call{Method: http.MethodGet, Call: "unsecureLogin"}), http.StatusMethodNotAllowed, "error", "method_not_allowed")
		// The invited customer has no password yet: every one is wrong.
		mustFail(t, h.login(t, "eingeladen@example.de", strongPassword), http.StatusOK, "error", "invalid_credentials")
		h.mustRegister(t, "", seedEmail, strongPassword, "Max", "Musterman")
		l := mustLogin(t, h.login(t, seedEmail, strongPassword))
		if l.User.FirstName != "Max" || l.User.EmailChecked {
			t.Errorf("after registering: %+v", l.User)
		}
		// Tenant andere has not switched it on.
		mustFail(t, h.send(t, call{Call: "unsecureLogin", Host: otherHost, Body: map[string]string{"email": seedEmail, "password": strongPassword}}),
			http.StatusNotFound, "error", "unknown_call")
		mustFail(t, h.register(t, otherHost, seedEmail, strongPassword, "", ""), http.StatusForbidden, "error", "password_via_json_disabled")
	})
}

// allowHeaders lists the Access-Control-Allow-* headers of an answer.
func allowHeaders(r *response) []string {
	var hs []string
	for k := range r.Header {
		if strings.HasPrefix(k, "Access-Control-Allow-") {
			hs = append(hs, k)
		}
	}
	return hs
}

// TestCORS: without gradido.allow_cors_all no answer of the dialect
// carries an Access-Control-Allow-* header, and a preflight is answered
// without one (so the browser sends nothing); with it, every answer,
// successes and errors alike, allows any origin, and a preflight allows a
// JSON POST. The setting is the tenant's: by host, and by key.
func TestCORS(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open, passwordsOn())
		h.mustRegister(t, "", seedEmail, strongPassword, "Max", "Musterman")
		origin := map[string]string{"Origin": "https://wallet.example"}
		preflight := call{Method: http.MethodOptions, Call: "unsecureLogin",
			Header: map[string]string{"Origin": "https://wallet.example", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}}
		answers := func(host, key string) []*response {
			return []*response{
				h.send(t, call{Call: "unsecureLogin", Host: host, Key: key, Header: origin, Body: map[string]string{"email": seedEmail, "password": strongPassword}}),
				h.send(t, call{Call: "unsecureLogin", Host: host, Key: key, Header: origin, Body: map[string]string{"email": seedEmail, "password": otherPassword}}),
				h.send(t, call{Call: "logout", Host: host, Key: key, Header: origin, Body: `{"session_id": "x"}`}),
				h.send(t, call{Call: "createUser", Host: host, Key: key, Header: origin, Body: map[string]any{"email": seedEmail, "emailType": 9}}),
				h.send(t, call{Call: "unknown", Host: host, Key: key, Header: origin, Body: `{}`}),
				h.send(t, call{Method: http.MethodGet, Call: "logout", Host: host, Key: key, Header: origin}),
			}
		}

		for _, r := range answers("", "") {
			if hs := allowHeaders(r); len(hs) > 0 {
				t.Errorf("switched off: %s carries %v", r, hs)
			}
		}
		r := h.send(t, preflight)
		if r.Status != http.StatusNoContent || len(allowHeaders(r)) > 0 || r.Header.Get("Allow") != "POST, OPTIONS" {
			t.Errorf("switched off, preflight: %s %v", r, r.Header)
		}

		h.MustSetting(t, account.DefaultTenant, settingCORS, "true")
		for _, r := range append(answers("", ""), h.send(t, call{Call: "logout", Key: "pk_nonsense", Header: origin, Body: `{"session_id": 1}`})) {
			if got := r.Header.Get("Access-Control-Allow-Origin"); got != "*" || r.Header.Get("Access-Control-Allow-Credentials") != "" {
				t.Errorf("switched on: %s: Access-Control-Allow-Origin %q", r, got)
			}
		}
		r = h.send(t, preflight)
		if r.Status != http.StatusNoContent || r.Header.Get("Access-Control-Allow-Origin") != "*" ||
			r.Header.Get("Access-Control-Allow-Methods") != "POST, OPTIONS" || r.Header.Get("Access-Control-Allow-Headers") != "Content-Type" ||
			r.Header.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("switched on, preflight: %s %v", r, r.Header)
		}
		preflight.Call = "nope"
		mustFail(t, h.send(t, preflight), http.StatusNotFound, "error", "unknown_call")

		// Tenant andere has not switched it on: not by its host, nor by its key.
		h.MustSetting(t, otherTenantSlug, settingPasswords, "true")
		for _, r := range append(answers(otherHost, ""), answers("", h.otherSecret)...) {
			if hs := allowHeaders(r); len(hs) > 0 {
				t.Errorf("tenant andere: %s carries %v", r, hs)
			}
		}
		preflight.Call, preflight.Host = "logout", otherHost
		if r := h.send(t, preflight); r.Status != http.StatusNoContent || len(allowHeaders(r)) > 0 {
			t.Errorf("tenant andere, preflight: %s %v", r, r.Header)
		}
	})
}

// TestEmailTypes: emailType 5 needs a secret key (no key, a public key: 403;
// a bad key: 401) and then creates nobody; emailTypes other than 2 and 5
// are a 400; a missing or null emailType is 2. A registration answers the
// same whether the address is new or not, with a secret key too: only an
// admin's createUser (emailType 5) learns that an address exists.
func TestEmailTypes(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open, passwordsOn())
		admin := func(key string) *response {
			return h.send(t, call{Call: "createUser", Key: key, Body: map[string]any{"email": "erika@example.de", "first_name": "Erika",
				"last_name": "Musterfrau", "emailType": 5, "password": strongPassword}})
		}
		mustFail(t, admin(""), http.StatusForbidden, "error", "secret_key_required")
		mustFail(t, admin(h.Public), http.StatusForbidden, "error", "secret_key_required")
		mustFail(t, admin("sk_nonsense"), http.StatusUnauthorized, "error", "api_key_invalid")
		mustFail(t, h.login(t, "erika@example.de", strongPassword), http.StatusOK, "error", "invalid_credentials")

		for _, et := range []string{"0", "1", "3", "4", "6", "7", "-2", "2147483648"} {
			r := h.send(t, call{Call: "createUser", Body: `{"email": "erika@example.de", "emailType": ` + et + `, "password": "` + strongPassword + `"}`})
			mustFail(t, r, http.StatusBadRequest, "error", "validation_failed")
		}
		mustFail(t, h.login(t, "erika@example.de", strongPassword), http.StatusOK, "error", "invalid_credentials")

		for i, body := range []string{
			`{"email": "ohne@example.de", "password": "` + strongPassword + `"}`,
			`{"email": "null@example.de", "emailType": null, "password": "` + strongPassword + `"}`,
		} {
			mustSuccess(t, h.send(t, call{Call: "createUser", Body: body}))
			email := []string{"ohne@example.de", "null@example.de"}[i]
			if l := mustLogin(t, h.login(t, email, strongPassword)); l.User.EmailChecked {
				t.Errorf("%s: %+v", email, l.User)
			}
		}

		// A registration of an address that exists, with and without a
		// secret key, answers as for a new one.
		fresh := h.register(t, "", "neu@example.de", strongPassword, "", "")
		for _, key := range []string{"", h.Secret, h.Public} {
			r := h.send(t, call{Call: "createUser", Key: key, Body: map[string]any{"email": "ohne@example.de", "emailType": 2, "password": otherPassword}})
			if sameAnswer(r) != sameAnswer(fresh) {
				t.Errorf("key %q: %s, want a new address's %s", key, r, fresh)
			}
		}
		// The admin learns it.
		r := h.send(t, call{Call: "createUser", Key: h.Secret, Body: map[string]any{"email": "ohne@example.de", "emailType": 5}})
		mustFail(t, r, http.StatusOK, "exist", "email_taken")
	})
}

// TestClientIP: clientIP is the peer's address; X-Forwarded-For counts
// only from the trusted proxies given to the server, read from the right.
func TestClientIP(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		for _, c := range []struct {
			name    string
			proxies []netip.Prefix
			xff     string
			want    string
		}{
			{"no proxies, no header", nil, "", "127.0.0.1"},
			{"no proxies: the header is ignored", nil, "203.0.113.7", "127.0.0.1"},
			{"trusted proxy, no header", []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, "", "127.0.0.1"},
			{"trusted proxy", []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, "203.0.113.7", "203.0.113.7"},
			{"spoofed entries left of the client", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, "198.51.100.1, 203.0.113.7", "203.0.113.7"},
			{"other proxies are not trusted", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, "203.0.113.7", "127.0.0.1"},
		} {
			t.Run(c.name, func(t *testing.T) {
				h := newHarness(t, open, passwordsOn(), apitest.WithTrustedProxies(c.proxies...))
				h.mustRegister(t, "", seedEmail, strongPassword, "Max", "Musterman")
				var header map[string]string
				if c.xff != "" {
					header = map[string]string{"X-Forwarded-For": c.xff}
				}
				l := mustLogin(t, h.send(t, call{Call: "unsecureLogin", Header: header, Body: map[string]string{"email": seedEmail, "password": strongPassword}}))
				if l.ClientIP != c.want {
					t.Errorf("clientIP %q, want %q", l.ClientIP, c.want)
				}
			})
		}
	})
}

// TestClientLimit: with a limit per client address, requests beyond the
// burst answer 429 with Retry-After in this dialect's shape (readable by
// a browser when CORS is on); other clients (by X-Forwarded-For from a
// trusted proxy) and the same client a little later are served.
func TestClientLimit(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open, passwordsOn(), apitest.WithClientLimit(60, 3),
			apitest.WithTrustedProxies(netip.MustParsePrefix("127.0.0.1/32")))
		h.MustSetting(t, account.DefaultTenant, settingCORS, "true")
		from := func(ip string) map[string]string {
			return map[string]string{"X-Forwarded-For": ip, "Origin": "https://wallet.example"}
		}
		body := map[string]string{"email": seedEmail, "password": strongPassword}
		for i := range 3 {
			if r := h.send(t, call{Call: "unsecureLogin", Header: from("203.0.113.7"), Body: body}); r.Status != http.StatusOK {
				t.Fatalf("request %d within the burst: %s", i+1, r)
			}
		}
		r := h.send(t, call{Call: "unsecureLogin", Header: from("203.0.113.7"), Body: body})
		var doc struct{ State, Msg, Code string }
		if err := json.Unmarshal(r.Body, &doc); err != nil || r.Status != http.StatusTooManyRequests || doc.State != "error" ||
			doc.Code != "too_many_requests" || r.Header.Get("Retry-After") == "" || r.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("beyond the burst: %s %v", r, r.Header)
		}
		if r := h.send(t, call{Call: "unsecureLogin", Header: from("203.0.113.8"), Body: body}); r.Status != http.StatusOK {
			t.Fatalf("another client: %s", r)
		}
		// A site's server with its key is not limited, and neither are
		// preflights; a bad key counts like no key.
		if r := h.send(t, call{Call: "logout", Key: h.Secret, Header: from("203.0.113.7"), Body: `{"session_id": 1}`}); r.Status != http.StatusOK {
			t.Fatalf("a call with a secret key from a limited address: %s", r)
		}
		preflight := from("203.0.113.7")
		preflight["Access-Control-Request-Method"] = "POST"
		if r := h.send(t, call{Method: http.MethodOptions, Call: "unsecureLogin", Header: preflight}); r.Status != http.StatusNoContent {
			t.Fatalf("a preflight from a limited address: %s", r)
		}
		if r := h.send(t, call{Call: "logout", Key: "pk_nonsense", Header: from("203.0.113.7"), Body: `{"session_id": 1}`}); r.Status != http.StatusTooManyRequests {
			t.Fatalf("a bad key from a limited address: %s", r)
		}
		if r := h.send(t, call{Call: "logout", Key: h.Public, Header: from("203.0.113.7"), Body: `{"session_id": 1}`}); r.Status != http.StatusTooManyRequests {
			t.Fatalf("a public key from a limited address: %s", r)
		}
		h.Clock.Advance(2 * time.Second)
		if r := h.send(t, call{Call: "unsecureLogin", Header: from("203.0.113.7"), Body: body}); r.Status != http.StatusOK {
			t.Fatalf("two seconds later: %s", r)
		}
	})
}
