package propstack_test

import (
	"regexp"
	"testing"

	"pforte/internal/api/apitest"
	"pforte/internal/store/teststore"
)

// The golden exchanges, testdata/*.http, are replayed by apitest.Golden,
// with numbers (ids) replaced by their names too.

// tokenShape is a token of pforte's: 256 random bits, base64url.
var tokenShape = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

func mustTokenShape(t *testing.T, g *apitest.Golden, name string) string {
	t.Helper()
	tok := g.Var(name)
	if !tokenShape.MatchString(tok) {
		t.Fatalf("%s %q is not a token", name, tok)
	}
	return tok
}

// TestGolden replays Propstack's examples (testdata/01 to 13: register,
// confirm, log in, ask for a reset, reset with Propstack's spelling and
// with the right one, log in with each new password) and the error
// answers (14 onwards) on both stores. Propstack's own password 12345678
// is a common one, so its registration (01) is refused and its login (04)
// fails; 02 and 05 are the same with a strong password. Its new password
// 87654321 is not on the list and is accepted as Propstack's documentation shows (07).
func TestGolden(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		g := apitest.NewGolden(h.Do)
		g.Numbers = true
		g.Set("secretKey", h.secret)
		g.Set("publicKey", h.public)
		var tokens []string

		g.Exchange(t, "01_register_seed.http")
		g.Exchange(t, "02_register.http", apitest.Capture{Name: "confirmationToken", Path: []string{"confirmation_token"}})
		tokens = append(tokens, mustTokenShape(t, g, "confirmationToken"))
		g.Exchange(t, "03_confirm.http", apitest.Capture{Name: "clientId", Path: []string{"client", "id"}})
		g.Exchange(t, "04_login_seed.http")
		g.Exchange(t, "05_login.http")
		g.Exchange(t, "06_send_password_reset.http", apitest.Capture{Name: "resetToken", Path: []string{"token"}})
		tokens = append(tokens, mustTokenShape(t, g, "resetToken"))
		g.Exchange(t, "07_reset_password_seed.http")
		g.Exchange(t, "08_login_seed_reset_password.http")
		g.Exchange(t, "09_send_password_reset_again.http", apitest.Capture{Name: "resetToken", Path: []string{"token"}})
		tokens = append(tokens, mustTokenShape(t, g, "resetToken"))
		g.Exchange(t, "10_reset_password.http")
		g.Exchange(t, "11_reset_token_used.http")
		g.Exchange(t, "12_confirm_token_used.http")
		g.Exchange(t, "13_register_taken.http")

		g.Exchanges(t,
			"14_malformed_json.http",
			"15_unknown_field.http",
			"16_wrong_nesting.http",
			"17_short_password.http",
			"18_password_mismatch.http",
			"19_unknown_salutation.http",
			"20_login_unknown_email.http",
			"21_login_wrong_password.http",
			"22_send_password_reset_unknown_email.http",
			"23_missing_key.http",
			"24_public_key.http",
			"25_wrong_method.http",
			"26_wrong_content_type.http",
		)
		g.MustAllUsed(t)
		h.mustNotLeak(t, tokens...)
	})
}
