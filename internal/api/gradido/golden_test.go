package gradido_test

import (
	"net/http"
	"strconv"
	"testing"

	"pforte/internal/account"
	"pforte/internal/api/apitest"
	"pforte/internal/store/teststore"
)

// TestGolden replays Gradido's examples, testdata/01 to 06, on both
// stores: Gradido's createUser; its unsecureLogin before the address is
// confirmed (email_checked false: Gradido lets users log in first); the
// same after confirming through the native API with the mailed token,
// which is Gradido's example answer with every user field; Gradido's
// logout verbatim (its session id -127182 is nobody's); the logout of the
// real session; and that logout again. 07 onwards are the failures.
func TestGolden(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open, apitest.WithRelay(), passwordsOn())
		g := apitest.NewGolden(h.Do)
		g.Numbers = true
		g.Set("secretKey", h.Secret)
		g.Set("publicKey", h.Public)

		g.Exchange(t, "01_createUser_seed.http")
		g.Exchange(t, "02_unsecureLogin_seed_unconfirmed.http",
			apitest.Capture{Name: "sessionId", Path: []string{"session_id"}},
			apitest.Capture{Name: "userId", Path: []string{"user", "id"}},
			apitest.Capture{Name: "created", Path: []string{"user", "created"}},
			apitest.Capture{Name: "publicHex", Path: []string{"user", "public_hex"}})
		first := g.Var("sessionId")
		id, err := strconv.ParseInt(g.Var("userId"), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := g.Var("created"), strconv.FormatInt(h.MustGetCustomer(t, h.Secret, id).CreatedAt.Unix(), 10); got != want {
			t.Errorf("created %s, want the customer's %s", got, want)
		}
		if got, want := g.Var("publicHex"), h.publicHex(t, id); got != want {
			t.Errorf("public_hex %s, want the service's %s", got, want)
		}

		h.MustConfirm(t, h.Public, mustToken(t, h.mustMailTo(t, 1, seedEmail), confirmLink))
		g.Exchange(t, "03_unsecureLogin_seed.http", apitest.Capture{Name: "sessionId", Path: []string{"session_id"}})
		if g.Var("sessionId") == first {
			t.Fatal("two logins answered one session id")
		}
		g.Exchange(t, "04_logout_seed.http")
		g.Exchange(t, "05_logout.http")
		g.Exchange(t, "06_logout_again.http")

		g.Exchanges(t,
			"07_login_unknown_email.http",
			"08_login_wrong_password.http",
			"09_login_invalid_email.http",
			"10_malformed_json.http",
			"11_unknown_field.http",
			"12_wrong_type.http",
			"13_wrong_content_type.http",
			"14_createUser_existing.http",
			"15_createUser_weak_password.http",
			"16_createUser_emailType_5_without_key.http",
			"17_createUser_emailType_5.http",
			"18_createUser_emailType_5_existing.http",
			"19_createUser_emailType_7.http",
			"20_unknown_call.http",
			"21_wrong_method.http",
		)

		// The tenant takes passwords via JSON no longer.
		h.MustSetting(t, account.DefaultTenant, settingPasswords, "false")
		g.Exchange(t, "22_unsecureLogin_disabled.http")
		g.Exchange(t, "23_createUser_disabled.http")
		g.MustAllUsed(t)

		sessions := []int64{}
		for _, s := range []string{first, g.Var("sessionId")} {
			n, _ := strconv.ParseInt(s, 10, 64)
			sessions = append(sessions, n)
		}
		h.mustNotLog(t, sessions...)
		if r := h.Responses(); len(r) == 0 || r[0].Status != http.StatusOK {
			t.Fatal("the replay recorded no answers")
		}
	})
}
