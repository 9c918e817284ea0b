package native_test

import (
	"bytes"
	"net/http"
	"testing"

	"pforte/internal/account"
	"pforte/internal/api/apitest"
	"pforte/internal/store/teststore"
)

// TestNoSecretsAtRest walks every flow that makes a secret and then reads
// the whole database, byte by byte: no token, session token, API key or
// password may be found in it.
func TestNoSecretsAtRest(t *testing.T) {
	t.Parallel()
	teststore.EachDumped(t, func(t *testing.T, st account.Store, dump teststore.Dumper) {
		t.Parallel()
		h := newHarness(t, nil, apitest.WithStore(st))

		const email, pw, newPw, invitedPw = "secretive@example.com", "first-Hidden-phrase-1", "second-Hidden-phrase-2", "invited-Hidden-phrase-3"
		secrets := map[string]string{"secret API key": h.secret, "public API key": h.public,
			"password": pw, "new password": newPw, "invited password": invitedPw}
		reg := h.mustRegister(t, email, pw)
		secrets["confirmation token"] = reg.ConfirmationToken
		secrets["confirm session"] = h.mustConfirm(t, reg.ConfirmationToken).Session.Token
		secrets["login session"] = h.mustLogin(t, email, pw).Session.Token
		reset := h.mustRequestReset(t, email)
		secrets["reset token"] = reset
		res := h.Post(t, h.secret, "/api/v1/password-resets/complete", map[string]any{"token": reset, "password": newPw})
		secrets["reset session"] = apitest.MustJSON[customerSession](t, res, http.StatusOK).Session.Token
		secrets["unused reset token"] = h.mustRequestReset(t, email)
		secrets["second login session"] = h.mustLogin(t, email, newPw).Session.Token
		inv := h.mustCreate(t, map[string]any{"email": "invitee@example.com"})
		secrets["invite token"] = inv.InviteToken
		res = h.Post(t, h.public, "/api/v1/invitations/accept", map[string]any{"token": inv.InviteToken, "password": invitedPw})
		secrets["invite session"] = apitest.MustJSON[customerSession](t, res, http.StatusOK).Session.Token
		secrets["pending confirmation token"] = h.mustRegister(t, "unconfirmed@example.com", pw).ConfirmationToken

		data := dump(t)
		// The dump must hold the data, or finding nothing proves nothing.
		for _, want := range []string{email, "invitee@example.com", "$argon2id$"} {
			if !bytes.Contains(data, []byte(want)) {
				t.Fatalf("the dump (%d bytes) lacks %q: it does not read the data", len(data), want)
			}
		}
		for what, s := range secrets {
			if len(s) < 8 {
				t.Fatalf("%s is %q", what, s)
			}
			if bytes.Contains(data, []byte(s)) {
				t.Errorf("the %s is stored in the clear", what)
			}
		}
	})
}
