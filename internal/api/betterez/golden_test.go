package betterez_test

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"pforte/internal/api/apitest"
	"pforte/internal/store/teststore"
)

// The golden exchanges, testdata/*.http, and links, testdata/*.link, are
// replayed by apitest.Golden.

// TestGolden replays Betterez's walk (testdata/01 to 08: ask for the mail
// naming the application, take the link apart, reset with PUT; the
// fallbacks; PATCH) and the error answers (09 onwards), on both stores.
func TestGolden(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		g := apitest.NewGolden(h.Do)
		g.Set("publicKey", h.public)
		g.Set("secretKey", h.secret)
		const email = "erika@example.com"
		id := h.mustCustomer(t, h.secret, email, "Erika", "Mustermann")
		g.Set("customerId", id)
		g.Set("created", jsonTime(h.clock.Now()))
		now := func() {
			h.clock.Advance(time.Minute)
			g.Set("now", jsonTime(h.clock.Now()))
		}

		// Step 2 of Betterez's documentation: the mail with the application's link.
		g.Exchange(t, "01_request_reset.http")
		link := h.mustResetLink(t, email, 1)
		g.Set("token", parseLink(t, link).token)
		tokens := []string{g.Var("token")}
		g.Link(t, "02_reset_link.link", link)

		// Step 3: the site sends the link's token for its customerId.
		now()
		g.Exchange(t, "03_reset_password.http")
		g.Exchange(t, "04_reset_token_used.http")
		h.MustPassword(t, h.public, email, newPassword, oldPassword)

		// The same answer for an address without an account; an unknown
		// appName gets the tenant's default link.
		g.Exchange(t, "05_request_reset_unknown_email.http")
		g.Exchange(t, "06_request_reset_unknown_app.http")
		link = h.mustResetLink(t, email, 2)
		g.Set("token", parseLink(t, link).token)
		tokens = append(tokens, g.Var("token"))
		g.Link(t, "07_reset_link_default.link", link)
		now()
		g.Exchange(t, "08_patch_reset_password.http")
		h.MustPassword(t, h.public, email, "Drittes-Passwort-2031", newPassword)

		// Errors.
		g.Exchanges(t,
			"09_malformed_json.http",
			"10_unknown_field.http",
			"11_short_password.http",
			"12_unknown_customer.http",
			"13_missing_key.http",
			"14_wrong_method.http",
			"15_wrong_content_type.http",
		)
		g.MustAllUsed(t)
		h.mustNotLeak(t, tokens...)
	})
}

// jsonTime is t as encoding/json writes it.
func jsonTime(t time.Time) string {
	b, _ := json.Marshal(t)
	s, _ := strconv.Unquote(string(b))
	return s
}
