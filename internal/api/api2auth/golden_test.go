package api2auth_test

import (
	"testing"

	"pforte/internal/account"
	"pforte/internal/api/apitest"
	"pforte/internal/store/teststore"
)

// The golden exchanges, testdata/*.http, and links, testdata/*.link, are
// replayed by apitest.Golden, to tenant default.

// TestGolden replays the original API's examples on both stores: the registration
// with its jeff body (01 verbatim: the original API's body is not JSON, so it is a
// 400; 02 as JSON), the mail's verification link (03), verify with its 200,
// 400, 401 and 404 (04 to 07), forgot (08) and its mail's link to the reset
// page (09), resetpassword with the original API's body verbatim (10, not JSON), a
// weak password, another user, the original API's body as JSON (13, 200), the used
// token (14), forgot for an unknown address by default (15, 200) and with
// api2.reveal_unknown_email (16, 404); then error answers (17 onwards).
func TestGolden(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		g := apitest.NewGolden(h.do)
		const email = "jeff@example.com"

		g.Exchange(t, "01_register_seed.http")
		g.Exchange(t, "02_register.http")
		v := h.mustVerifyLink(t, email, 1)
		g.Set("verifyToken", v.token)
		g.Link(t, "03_verify_link.link", v.link)
		g.Exchange(t, "04_verify.http")
		g.Exchange(t, "05_verify_already_verified.http")
		g.Set("forgedToken", forge(v.token))
		g.Exchange(t, "06_verify_invalid_jwt.http")
		g.Exchange(t, "07_verify_unknown_user.http")
		h.MustPassword(t, h.Public, email, seedPassword, seedNewPassword)

		g.Exchange(t, "08_forgot.http")
		reset := h.mustResetToken(t, email, 2, resetURL)
		g.Set("resetToken", reset)
		g.Link(t, "09_reset_link.link", h.linkOf(t, email, 2))
		g.Exchange(t, "10_resetpassword_seed.http")
		g.Exchange(t, "11_resetpassword_weak_password.http")
		g.Exchange(t, "12_resetpassword_wrong_user.http")
		g.Exchange(t, "13_resetpassword.http")
		g.Exchange(t, "14_resetpassword_token_used.http")
		h.MustPassword(t, h.Public, email, seedNewPassword, seedPassword)

		g.Exchange(t, "15_forgot_unknown_email.http")
		h.MustSetting(t, account.DefaultTenant, "api2.reveal_unknown_email", "true")
		g.Exchange(t, "16_forgot_unknown_email_reveal.http")
		h.MustSetting(t, account.DefaultTenant, "api2.reveal_unknown_email", "false")

		g.Exchanges(t,
			"17_register_missing_fields.http",
			"18_register_unknown_field.http",
			"19_register_weak_password.http",
			"20_register_invalid_username.http",
			"21_forgot_invalid_email.http",
			"22_verify_missing_token.http",
			"23_wrong_method.http",
			"24_wrong_content_type.http",
		)
		g.MustAllUsed(t)
		h.mustNotLeak(t, v.token, reset)
	})
}

// linkOf returns the link to the reset page in the n-th mail to addr.
func (h *harness) linkOf(t *testing.T, addr string, n int) string {
	t.Helper()
	prefix := resetURL[:len(resetURL)-len("{token}")]
	return mustLink(t, h.mustMail(t, addr, n), prefix)
}

// forge changes one character of a JWT's signature, keeping it in the
// base64url alphabet.
func forge(jwt string) string {
	b := []byte(jwt)
	i := len(b) - 10
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}
