package hgsp_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"pforte/internal/account"
	"pforte/internal/api/apitest"
	"pforte/internal/store/teststore"
)

const strongPw = "Ein-sicheres-Passwort-2030"

// TestRegisterServiceUser covers POST /registeruserrequest with a secret
// key: states, identifiers, salutations and the refusals, none of which
// stores anything.
func TestRegisterServiceUser(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)

		t.Run("states", func(t *testing.T) {
			for _, c := range []struct {
				state, password, want string
				mail                  bool // an activation mail with a code goes out
			}{
				{"", strongPw, "PENDING", true},
				{"", "", "PENDING", true},
				{"PENDING", strongPw, "PENDING", true},
				{"PENDING_ACTIVE", strongPw, "PENDING_ACTIVE", true},
				{"ACTIVE", strongPw, "ACTIVE", false},
				{"OFFLINE", "", "OFFLINE", false},
			} {
				email := strings.ToLower("state-"+c.state+"-"+map[bool]string{true: "pw", false: "nopw"}[c.password != ""]) + "@example.com"
				res := h.mustRegister(t, reg{Email: email, Password: c.password, State: c.state})
				if res.State != c.want {
					t.Errorf("%s: state %s, want %s", email, res.State, c.want)
				}
				stored := h.mustStored(t, email)
				if stored.UUID != res.HMGUserID || strings.ToUpper(string(stored.State)) != c.want || stored.HasPassword() != (c.password != "") {
					t.Errorf("%s: stored %+v, answered %+v", email, stored, res)
				}
				if c.mail {
					h.mustActivationMail(t, email)
				} else if ms := h.mails(t, email); len(ms) != 0 {
					t.Errorf("%s: mail to a %s user: %+v", email, c.want, ms)
				}
			}
			h.mustLogin(t, "state-active-pw@example.com", strongPw)
			h.mustLogin(t, "state-pending_active-pw@example.com", strongPw)
		})

		t.Run("HMGUserID", func(t *testing.T) {
			const id = "0b5a4d6e-2f0c-4c1e-9a77-5e8f6f1d2c3b"
			res := h.mustRegister(t, reg{ID: strings.ToUpper(id), Email: "given-id@example.com"})
			if res.HMGUserID != id {
				t.Errorf("HMGUserID %s, want %s", res.HMGUserID, id)
			}
			mustError(t, h.register(t, h.secret, reg{ID: id, Email: "same-id@example.com"}), http.StatusConflict, "uuid_taken")
			mustElementError(t, h.register(t, h.secret, reg{ID: "not-a-uuid", Email: "bad-id@example.com"}), "validation_failed", "HMGUserID")
			h.mustNotStored(t, "same-id@example.com")
			h.mustNotStored(t, "bad-id@example.com")
		})

		t.Run("salutations", func(t *testing.T) {
			for i, c := range []struct{ in, stored, answered string }{
				{"Frau", "ms", "Frau"}, {"Mrs", "ms", "Frau"}, {"Ms", "ms", "Frau"}, {"frau", "ms", "Frau"},
				{"Herr", "mr", "Herr"}, {"Mr", "mr", "Herr"}, {"HERR", "mr", "Herr"},
				{"Divers", "mx", "Divers"}, {"Mx", "mx", "Divers"},
			} {
				email := "salutation-" + string(rune('a'+i)) + "@example.com"
				h.mustRegister(t, reg{Email: email, Salutation: c.in})
				if got := h.mustStored(t, email).Salutation; got != c.stored {
					t.Errorf("%s: stored %q, want %q", c.in, got, c.stored)
				}
				if got := h.mustUser(t, email).NaturalName.Salutation; got != c.answered {
					t.Errorf("%s: answered %q, want %q", c.in, got, c.answered)
				}
			}
		})

		t.Run("refusals", func(t *testing.T) {
			before := h.counts(t)
			for _, c := range []struct {
				name    string
				body    string
				element string
			}{
				{"salutation", reg{Email: "refused@example.com", Salutation: "Dr."}.String(), "Salutation"},
				{"state", reg{Email: "refused@example.com", State: "pending"}.String(), "State"},
				{"disabled", reg{Email: "refused@example.com", State: "DISABLED"}.String(), "State"},
				{"email", reg{Email: "not an address"}.String(), "Email"},
				{"no email", reg{}.String(), "Email"},
				{"common password", reg{Email: "refused@example.com", Password: "password123"}.String(), "Password"},
				{"password is the email", reg{Email: "refused@example.com", Password: "refused@example.com"}.String(), "Password"},
				{"long first name", reg{Email: "refused@example.com", First: strings.Repeat("x", 101)}.String(), "FirstName"},
				{"control character", reg{Email: "refused@example.com", Last: "Muster\tBcc"}.String(), "LastName"},
				{"long RefID", reg{Email: "refused@example.com", RefID: strings.Repeat("6", 65)}.String(), "RefID"},
				{"no NaturalName", doc("RegisterUserRequest", "Email", "refused@example.com"), "NaturalName"},
				{"no FirstName", `<RegisterUserRequest><NaturalName><Salutation>Herr</Salutation><LastName>M</LastName></NaturalName><Email>refused@example.com</Email></RegisterUserRequest>`, "FirstName"},
				{"empty Salutation", `<RegisterUserRequest><NaturalName><Salutation/><FirstName>A</FirstName><LastName>M</LastName></NaturalName><Email>refused@example.com</Email></RegisterUserRequest>`, "Salutation"},
			} {
				t.Run(c.name, func(t *testing.T) {
					mustElementError(t, h.post(t, h.secret, "/registeruserrequest", c.body), "validation_failed", c.element)
				})
			}
			// Several at once are named together.
			e := mustError(t, h.register(t, h.secret, reg{Email: "x", Password: "short", Salutation: "Dr."}), http.StatusBadRequest, "validation_failed")
			if !strings.Contains(e.Message, "Salutation: ") {
				t.Errorf("message %q", e.Message)
			}
			e = mustError(t, h.register(t, h.secret, reg{Email: "x", Password: "short"}), http.StatusBadRequest, "validation_failed")
			if !strings.Contains(e.Message, "Email: ") || !strings.Contains(e.Message, "Password: ") {
				t.Errorf("message %q", e.Message)
			}
			if after := h.counts(t); after != before {
				t.Errorf("refusals stored something: %v, then %v", before, after)
			}
		})

		t.Run("keys", func(t *testing.T) {
			mustError(t, h.register(t, "", reg{Email: "nokey@example.com"}), http.StatusUnauthorized, "api_key_invalid")
			mustError(t, h.register(t, "sk_wrong", reg{Email: "nokey@example.com"}), http.StatusUnauthorized, "api_key_invalid")
			h.mustNotStored(t, "nokey@example.com")
		})
	})
}

// TestRegisterAdoption: HGSP's rule for addresses that already have an
// account. An OFFLINE user keeps its HMGUserID, a PENDING one takes the
// HMGUserID sent; any other state is a conflict.
func TestRegisterAdoption(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		const (
			idA = "aaaaaaaa-0000-4000-8000-000000000001"
			idB = "bbbbbbbb-0000-4000-8000-000000000002"
			idC = "cccccccc-0000-4000-8000-000000000003"
			idD = "dddddddd-0000-4000-8000-000000000004"
		)

		t.Run("offline keeps its identifier", func(t *testing.T) {
			h.mustRegister(t, reg{ID: idA, Email: "offline@example.com", State: "OFFLINE", First: "Old"})
			res := h.mustRegister(t, reg{ID: idB, Email: "Offline@Example.com", First: "New", Password: strongPw})
			if res.HMGUserID != idA || res.State != "PENDING" {
				t.Fatalf("adopted offline: %+v", res)
			}
			c := h.mustStored(t, "offline@example.com")
			if c.UUID != idA || c.FirstName != "New" || c.State != account.StatePending || !c.HasPassword() {
				t.Errorf("stored: %+v", c)
			}
			code := h.mustActivationMail(t, "offline@example.com")
			h.mustActivate(t, h.public, "offline@example.com", code, "")
			h.mustLogin(t, "offline@example.com", strongPw)
		})

		t.Run("pending takes the identifier sent", func(t *testing.T) {
			h.mustRegister(t, reg{ID: idC, Email: "pending@example.com"})
			res := h.mustRegister(t, reg{ID: idD, Email: "pending@example.com", Password: strongPw, RefID: "77"})
			if res.HMGUserID != idD || res.State != "PENDING" {
				t.Fatalf("adopted pending: %+v", res)
			}
			u := h.mustUser(t, "pending@example.com")
			if u.HMGUserID != idD || u.RefID != "77" || u.State != "PENDING" {
				t.Errorf("user: %+v", u)
			}
			// Without one, it keeps its own.
			if res := h.mustRegister(t, reg{Email: "pending@example.com"}); res.HMGUserID != idD {
				t.Errorf("adopted pending without HMGUserID: %+v", res)
			}
		})

		t.Run("other states conflict", func(t *testing.T) {
			h.mustRegister(t, reg{Email: "active@example.com", State: "ACTIVE", Password: strongPw})
			h.mustRegister(t, reg{Email: "pending-active@example.com", State: "PENDING_ACTIVE", Password: strongPw})
			for _, email := range []string{"active@example.com", "pending-active@example.com"} {
				before := h.mustStored(t, email)
				mustError(t, h.register(t, h.secret, reg{ID: idA[:30] + "999999", Email: email, Password: "Ein-anderes-Passwort-2030", First: "Hijack"}),
					http.StatusConflict, "email_taken")
				if after := h.mustStored(t, email); after.UUID != before.UUID || after.FirstName != before.FirstName || after.PasswordHash != before.PasswordHash {
					t.Errorf("%s changed: %+v", email, after)
				}
			}
			h.mustLogin(t, "active@example.com", strongPw)
		})
	})
}

// TestRegisterTemplate: a template user's locale and partner reference go
// to the new user; an unknown template is a 400 that stores nothing.
func TestRegisterTemplate(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		const tmpl = "12345678-0000-4000-8000-00000000000f"
		h.mustTemplate(t, tmpl, "en", "partner-9")

		h.mustRegister(t, reg{Email: "from-template@example.com", Template: tmpl})
		if c := h.mustStored(t, "from-template@example.com"); c.Locale != "en" || c.PartnerRef != "partner-9" {
			t.Errorf("copied: %+v", c)
		}
		// A RefID sent wins over the template's.
		h.mustRegister(t, reg{Email: "own-ref@example.com", Template: tmpl, RefID: "6"})
		if c := h.mustStored(t, "own-ref@example.com"); c.Locale != "en" || c.PartnerRef != "6" {
			t.Errorf("own RefID: %+v", c)
		}
		// The template's locale picks the activation mail's language.
		if ms := h.mails(t, "from-template@example.com"); len(ms) == 0 || ms[0].Locale != "en" {
			t.Errorf("mail: %+v", ms)
		}
		before := h.counts(t)
		for _, unknown := range []string{"ffffffff-ffff-4fff-bfff-ffffffffffff", "nonsense", "999999"} {
			e := mustError(t, h.register(t, h.secret, reg{Email: "no-template@example.com", Template: unknown}), http.StatusBadRequest, "template_user_not_found")
			if !strings.HasPrefix(e.Message, "TemplateUserID: ") {
				t.Errorf("message %q", e.Message)
			}
		}
		if after := h.counts(t); after != before {
			t.Errorf("unknown templates stored something: %v, then %v", before, after)
		}
	})
}

// TestRegisterPublic: with a public key (the ZRP pages) only PENDING
// registrations go through Register, and every one answers the same
// 202, whether or not the address exists, in whatever state.
func TestRegisterPublic(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		h.mustRegister(t, reg{Email: "exists-active@example.com", State: "ACTIVE", Password: strongPw})
		h.mustRegister(t, reg{Email: "exists-pending@example.com"})
		h.mustRegister(t, reg{Email: "exists-offline@example.com", State: "OFFLINE"})

		var first *response
		for _, email := range []string{"new-public@example.com", "exists-active@example.com", "exists-pending@example.com", "exists-offline@example.com", "new-public@example.com"} {
			for _, state := range []string{"", "PENDING"} {
				res := h.register(t, h.public, reg{Email: email, Password: "Oeffentlich-registriert-2030", State: state, RefID: "6"})
				got := mustDoc[registerResponse](t, res, http.StatusAccepted)
				if got.State != "PENDING" || got.HMGUserID != "" {
					t.Fatalf("%s: %s", email, res)
				}
				if first == nil {
					first = res
					continue
				}
				apitest.MustSameAnswer(t, first, res)
			}
		}
		// A public registration's password and profile wait in its claim
		// until the mailbox owner confirms with the mailed link.
		c := h.mustStored(t, "new-public@example.com")
		if c.State != account.StatePending || c.HasPassword() {
			t.Errorf("public registration stored %+v", c)
		}
		ms := h.mails(t, "new-public@example.com")
		if len(ms) == 0 || ms[0].Kind != account.MailConfirm || ms[0].Envelope == nil {
			t.Fatalf("no confirmation mail: %+v", ms)
		}
		m := regexp.MustCompile(`&token=([A-Za-z0-9_-]+)&action=confirm`).FindStringSubmatch(ms[0].Envelope.Text)
		if m == nil {
			t.Fatalf("no confirmation link in\n%s", ms[0].Envelope.Text)
		}
		apitest.MustStatus(t, h.do(t, request{Method: http.MethodPost, Path: "/api/v1/confirmations", Key: h.public,
			Body: `{"token":"` + m[1] + `"}`, ContentType: "application/json"}), http.StatusOK)
		if u := h.mustUser(t, "new-public@example.com"); u.State != "ACTIVE" || u.RefID != "6" || u.NaturalName.FirstName != "Anna" {
			t.Errorf("confirmed: %+v", u)
		}
		h.mustLogin(t, "new-public@example.com", "Oeffentlich-registriert-2030")
		// The existing account is unchanged until the mailbox owner confirms.
		h.mustLogin(t, "exists-active@example.com", strongPw)

		before := h.counts(t)
		mustElementError(t, h.register(t, h.public, reg{Email: "no-password@example.com"}), "validation_failed", "Password")
		mustElementError(t, h.register(t, h.public, reg{Email: "weak@example.com", Password: "123456"}), "validation_failed", "Password")
		for _, c := range []struct {
			r       reg
			element string
		}{
			{reg{Email: "p1@example.com", Password: strongPw, State: "ACTIVE"}, "State"},
			{reg{Email: "p1@example.com", Password: strongPw, State: "OFFLINE"}, "State"},
			{reg{Email: "p1@example.com", Password: strongPw, State: "PENDING_ACTIVE"}, "State"},
			{reg{Email: "p1@example.com", Password: strongPw, ID: "0b5a4d6e-2f0c-4c1e-9a77-5e8f6f1d2c3b"}, "HMGUserID"},
			{reg{Email: "p1@example.com", Password: strongPw, Template: "0b5a4d6e-2f0c-4c1e-9a77-5e8f6f1d2c3b"}, "TemplateUserID"},
		} {
			e := mustError(t, h.register(t, h.public, c.r), http.StatusForbidden, "secret_key_required")
			if !strings.HasPrefix(e.Message, c.element+": ") {
				t.Errorf("message %q, want it to name %s", e.Message, c.element)
			}
		}
		if after := h.counts(t); after != before {
			t.Errorf("refused public registrations stored something: %v, then %v", before, after)
		}
	})
}

// TestActivation: activation by code, with and without a password, from
// the public and the secret key; wrong codes count and five kill the code.
func TestActivation(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)

		t.Run("with the password given at registration", func(t *testing.T) {
			h.mustRegister(t, reg{Email: "with-pw@example.com", Password: strongPw})
			h.mustNoLogin(t, "with-pw@example.com", strongPw) // PENDING
			code := h.mustActivationMail(t, "with-pw@example.com")
			u := h.mustActivate(t, h.public, "with-pw@example.com", code, "")
			if u.Email != "with-pw@example.com" || u.NaturalName.FirstName != "Anna" {
				t.Errorf("activated: %+v", u)
			}
			h.mustLogin(t, "with-pw@example.com", strongPw)
			// Used up.
			mustElementError(t, h.activate(t, h.public, "with-pw@example.com", code, ""), "token_invalid", "ActivationCode")
		})

		t.Run("password set at activation", func(t *testing.T) {
			h.mustRegister(t, reg{Email: "no-pw@example.com"})
			code := h.mustActivationMail(t, "no-pw@example.com")
			mustElementError(t, h.activate(t, h.secret, "no-pw@example.com", code, "123456"), "validation_failed", "Password")
			h.mustActivate(t, h.secret, "no-pw@example.com", code, "Bei-Aktivierung-gesetzt-2030")
			h.mustLogin(t, "no-pw@example.com", "Bei-Aktivierung-gesetzt-2030")
		})

		t.Run("a new password replaces the one given at registration", func(t *testing.T) {
			h.mustRegister(t, reg{Email: "replace-pw@example.com", Password: strongPw})
			code := h.mustActivationMail(t, "replace-pw@example.com")
			h.mustActivate(t, h.public, "replace-pw@example.com", code, "Bei-Aktivierung-ersetzt-2030")
			h.mustNoLogin(t, "replace-pw@example.com", strongPw)
			h.mustLogin(t, "replace-pw@example.com", "Bei-Aktivierung-ersetzt-2030")
		})

		t.Run("five wrong codes kill it", func(t *testing.T) {
			h.mustRegister(t, reg{Email: "guessed@example.com", Password: strongPw})
			code := h.mustActivationMail(t, "guessed@example.com")
			wrong := "00000000"
			if code == wrong {
				wrong = "11111111"
			}
			for range 5 {
				mustElementError(t, h.activate(t, h.public, "guessed@example.com", wrong, ""), "token_invalid", "ActivationCode")
			}
			mustElementError(t, h.activate(t, h.public, "guessed@example.com", code, ""), "token_invalid", "ActivationCode")
			if c := h.mustStored(t, "guessed@example.com"); c.State != account.StatePending {
				t.Errorf("state %s", c.State)
			}
			// A fresh code from GET /users works again.
			fresh := h.mustUser(t, "guessed@example.com").ActivationCode
			h.mustActivate(t, h.public, "guessed@example.com", fresh, "")
		})

		t.Run("refusals", func(t *testing.T) {
			h.mustRegister(t, reg{Email: "refusals@example.com", Password: strongPw})
			code := h.mustActivationMail(t, "refusals@example.com")
			mustElementError(t, h.activate(t, h.public, "nobody@example.com", code, ""), "token_invalid", "ActivationCode")
			mustElementError(t, h.activate(t, h.public, "refusals@example.com", "", ""), "validation_failed", "ActivationCode")
			mustElementError(t, h.activate(t, h.public, "", code, ""), "validation_failed", "Email")
			mustElementError(t, h.activate(t, h.public, "refusals@example.com", "abc", ""), "token_invalid", "ActivationCode")
			mustError(t, h.activate(t, "", "refusals@example.com", code, ""), http.StatusUnauthorized, "api_key_invalid")
			// None of these used the code up.
			h.mustActivate(t, h.public, "refusals@example.com", code, "")
		})
	})
}

// TestUsers: GET /users gives a fresh activation URL and code that work,
// and revokes the ones issued before.
func TestUsers(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		h.mustRegister(t, reg{Email: "fresh@example.com", Password: strongPw, RefID: "6"})
		mailed := h.mustActivationMail(t, "fresh@example.com")
		first := h.mustUser(t, "fresh@example.com")
		second := h.mustUser(t, "fresh@example.com")
		if first.ActivationCode == "" || first.ActivationURL == "" || first.ActivationURL == second.ActivationURL || first.RefID != "6" || first.State != "PENDING" {
			t.Fatalf("users: %+v, then %+v", first, second)
		}
		if !strings.HasPrefix(second.ActivationURL, endpoint+"?accountId=default&customerId=") {
			t.Errorf("activation URL %s", second.ActivationURL)
		}
		for _, old := range []string{mailed, first.ActivationCode} {
			if old != second.ActivationCode {
				mustElementError(t, h.activate(t, h.public, "fresh@example.com", old, ""), "token_invalid", "ActivationCode")
			}
		}
		h.mustActivate(t, h.public, "fresh@example.com", second.ActivationCode, "")
		if u := h.mustUser(t, "fresh@example.com"); u.State != "ACTIVE" || u.ActivationCode != "" || u.ActivationURL != "" {
			t.Errorf("active user: %+v", u)
		}

		// PENDING_ACTIVE users get one too; OFFLINE ones none.
		h.mustRegister(t, reg{Email: "pa@example.com", State: "PENDING_ACTIVE", Password: strongPw})
		if u := h.mustUser(t, "pa@example.com"); u.ActivationCode == "" || u.State != "PENDING_ACTIVE" {
			t.Errorf("pending active: %+v", u)
		}
		h.mustRegister(t, reg{Email: "off@example.com", State: "OFFLINE"})
		if u := h.mustUser(t, "off@example.com"); u.ActivationCode != "" || u.State != "OFFLINE" {
			t.Errorf("offline: %+v", u)
		}

		mustError(t, h.users(t, h.secret, "unknown@example.com"), http.StatusNotFound, "customer_not_found")
		mustError(t, h.users(t, h.public, "fresh@example.com"), http.StatusForbidden, "secret_key_required")
		mustError(t, h.users(t, "", "fresh@example.com"), http.StatusUnauthorized, "api_key_invalid")
		mustElementError(t, h.get(t, h.secret, "/users"), "validation_failed", "email (query parameter)")
		mustElementError(t, h.users(t, h.secret, "nonsense"), "validation_failed", "email (query parameter)")
	})
}

// TestPasswordChange: the user with an SSO token, and a service user.
func TestPasswordChange(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		change := func(key, bearer string, pairs ...string) *response {
			return h.do(t, request{Method: http.MethodPost, Path: "/passwordchangerequest", Key: key, Bearer: bearer,
				Body: doc("PasswordChangeRequest", pairs...)})
		}

		t.Run("SSO", func(t *testing.T) {
			const email = "sso@example.com"
			me := h.mustRegister(t, reg{Email: email, State: "ACTIVE", Password: strongPw})
			other := h.mustRegister(t, reg{Email: "sso-other@example.com", State: "ACTIVE", Password: strongPw})
			token := h.mustLogin(t, email, strongPw)
			second := h.mustLogin(t, email, strongPw)

			mustElementError(t, change("", token, "NewPassword", "Selbst-geaendert-2030"), "validation_failed", "OldPassword")
			mustElementError(t, change("", token, "OldPassword", strongPw), "validation_failed", "NewPassword")
			mustElementError(t, change("", token, "OldPassword", strongPw, "NewPassword", "123456"), "validation_failed", "NewPassword")
			mustError(t, change("", token, "OldPassword", "Falsches-Passwort-2030", "NewPassword", "Selbst-geaendert-2030"), http.StatusUnauthorized, "invalid_credentials")
			mustError(t, change("", "not-a-session", "OldPassword", strongPw, "NewPassword", "Selbst-geaendert-2030"), http.StatusUnauthorized, "session_invalid")
			e := mustError(t, change("", token, "HMGUserID", other.HMGUserID, "OldPassword", strongPw, "NewPassword", "Selbst-geaendert-2030"), http.StatusForbidden, "wrong_user")
			if !strings.HasPrefix(e.Message, "HMGUserID: ") {
				t.Errorf("message %q", e.Message)
			}
			h.mustLogin(t, email, strongPw) // nothing changed

			apitest.MustStatus(t, change("", token, "HMGUserID", me.HMGUserID, "OldPassword", strongPw, "NewPassword", "Selbst-geaendert-2030"), http.StatusNoContent)
			h.mustNoLogin(t, email, strongPw)
			h.mustLogin(t, email, "Selbst-geaendert-2030")
			// The token's own session lives on; the others end.
			if _, _, err := h.svc.Sessions.Lookup(context.Background(), 0, token); err != nil {
				t.Errorf("own session ended: %v", err)
			}
			if _, _, err := h.svc.Sessions.Lookup(context.Background(), 0, second); err == nil {
				t.Error("other session survived")
			}
			// With a key too, the session must be of its tenant.
			apitest.MustStatus(t, change(h.public, token, "OldPassword", "Selbst-geaendert-2030", "NewPassword", "Nochmal-geaendert-2030"), http.StatusNoContent)
			h.mustLogin(t, email, "Nochmal-geaendert-2030")
			// A mail tells the user.
			if ms := h.mails(t, email); len(ms) == 0 || ms[0].Kind != account.MailPasswordChanged {
				t.Errorf("no password-changed mail: %+v", ms)
			}
		})

		t.Run("service user", func(t *testing.T) {
			const email = "service@example.com"
			me := h.mustRegister(t, reg{Email: email, State: "ACTIVE", Password: strongPw})
			token := h.mustLogin(t, email, strongPw)

			mustError(t, change(h.public, "", "HMGUserID", me.HMGUserID, "NewPassword", "Vom-Dienst-gesetzt-2030"), http.StatusForbidden, "secret_key_required")
			mustError(t, change("", "", "HMGUserID", me.HMGUserID, "NewPassword", "Vom-Dienst-gesetzt-2030"), http.StatusUnauthorized, "api_key_invalid")
			mustElementError(t, change(h.secret, "", "NewPassword", "Vom-Dienst-gesetzt-2030"), "validation_failed", "HMGUserID")
			mustElementError(t, change(h.secret, "", "HMGUserID", me.HMGUserID, "OldPassword", strongPw, "NewPassword", "Vom-Dienst-gesetzt-2030"), "validation_failed", "OldPassword")
			mustElementError(t, change(h.secret, "", "HMGUserID", me.HMGUserID, "NewPassword", "password123"), "validation_failed", "NewPassword")
			mustElementError(t, change(h.secret, "", "HMGUserID", me.HMGUserID), "validation_failed", "NewPassword")
			mustError(t, change(h.secret, "", "HMGUserID", "ffffffff-ffff-4fff-bfff-ffffffffffff", "NewPassword", "Vom-Dienst-gesetzt-2030"), http.StatusNotFound, "customer_not_found")
			h.mustLogin(t, email, strongPw)

			apitest.MustStatus(t, change(h.secret, "", "HMGUserID", me.HMGUserID, "NewPassword", "Vom-Dienst-gesetzt-2030"), http.StatusNoContent)
			h.mustNoLogin(t, email, strongPw)
			h.mustLogin(t, email, "Vom-Dienst-gesetzt-2030")
			if _, _, err := h.svc.Sessions.Lookup(context.Background(), 0, token); err == nil {
				t.Error("a session survived a password set by the service user")
			}
		})
	})
}

// TestPasswordReset: a reset code from GET, used by POST.
func TestPasswordReset(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		const email = "reset@example.com"
		h.mustRegister(t, reg{Email: email, State: "ACTIVE", Password: strongPw})
		codeOf := func() string {
			rc := mustDoc[resetCode](t, h.get(t, h.secret, "/passwordresetrequest?email="+email), http.StatusOK)
			if rc.Email != email || len(rc.ResetCode) != 8 {
				t.Fatalf("reset code: %+v", rc)
			}
			return rc.ResetCode
		}
		reset := func(key, email, code, pw string) *response {
			return h.post(t, key, "/passwordresetrequest", doc("PasswordResetRequest", "Email", email, "ResetCode", code, "NewPassword", pw))
		}
		old := codeOf()
		code := codeOf()
		if old != code {
			mustElementError(t, reset(h.public, email, old, "Zurueckgesetzt-2030"), "token_invalid", "ResetCode")
		}
		mustElementError(t, reset(h.public, email, code, "123456"), "validation_failed", "NewPassword")
		mustElementError(t, reset(h.public, email, code, ""), "validation_failed", "NewPassword")
		mustElementError(t, reset(h.public, email, "", "Zurueckgesetzt-2030"), "validation_failed", "ResetCode")
		mustElementError(t, reset(h.public, "nobody@example.com", code, "Zurueckgesetzt-2030"), "token_invalid", "ResetCode")
		h.mustLogin(t, email, strongPw)

		apitest.MustStatus(t, reset(h.public, email, code, "Zurueckgesetzt-2030"), http.StatusNoContent)
		h.mustNoLogin(t, email, strongPw)
		h.mustLogin(t, email, "Zurueckgesetzt-2030")
		mustElementError(t, reset(h.public, email, code, "Nochmal-zurueck-2030"), "token_invalid", "ResetCode")

		// With the secret key too.
		apitest.MustStatus(t, reset(h.secret, email, codeOf(), "Mit-Dienstnutzer-zurueck-2030"), http.StatusNoContent)
		h.mustLogin(t, email, "Mit-Dienstnutzer-zurueck-2030")

		// Five wrong codes kill a reset code too.
		code = codeOf()
		for range 5 {
			wrong := "00000000"
			if code == wrong {
				wrong = "11111111"
			}
			mustElementError(t, reset(h.public, email, wrong, "Geraten-2030-Passwort"), "token_invalid", "ResetCode")
		}
		mustElementError(t, reset(h.public, email, code, "Geraten-2030-Passwort"), "token_invalid", "ResetCode")

		mustError(t, h.get(t, h.public, "/passwordresetrequest?email="+email), http.StatusForbidden, "secret_key_required")
		mustError(t, h.get(t, h.secret, "/passwordresetrequest?email=nobody@example.com"), http.StatusNotFound, "customer_not_found")
		mustElementError(t, h.get(t, h.secret, "/passwordresetrequest"), "validation_failed", "email (query parameter)")
		h.mustRegister(t, reg{Email: "offline-reset@example.com", State: "OFFLINE"})
		mustError(t, h.get(t, h.secret, "/passwordresetrequest?email=offline-reset@example.com"), http.StatusForbidden, "not_resettable")
	})
}

// TestTenantIsolation: a key of another tenant neither sees nor changes
// the user, and its answers are those for an unknown user.
func TestTenantIsolation(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		otherSecret, otherPublic := h.MustTenant(t, "other")
		const email = "isolated@example.com"
		me := h.mustRegister(t, reg{Email: email, Password: strongPw})
		code := h.mustActivationMail(t, email)
		token := ""

		mustError(t, h.users(t, otherSecret, email), http.StatusNotFound, "customer_not_found")
		mustError(t, h.get(t, otherSecret, "/passwordresetrequest?email="+email), http.StatusNotFound, "customer_not_found")
		for _, key := range []string{otherSecret, otherPublic} {
			mustElementError(t, h.activate(t, key, email, code, ""), "token_invalid", "ActivationCode")
		}
		mustError(t, h.post(t, otherSecret, "/passwordchangerequest", doc("PasswordChangeRequest", "HMGUserID", me.HMGUserID, "NewPassword", "Fremd-gesetzt-2030")),
			http.StatusNotFound, "customer_not_found")
		mustError(t, h.register(t, otherSecret, reg{Email: "x@example.com", Template: me.HMGUserID}), http.StatusBadRequest, "template_user_not_found")
		// The code still works in its own tenant: the other tenant's
		// guesses did not count against it.
		h.mustActivate(t, h.public, email, code, "")
		token = h.mustLogin(t, email, strongPw)
		// A reset code of this tenant does not work in the other.
		rc := mustDoc[resetCode](t, h.get(t, h.secret, "/passwordresetrequest?email="+email), http.StatusOK)
		mustElementError(t, h.post(t, otherPublic, "/passwordresetrequest", doc("PasswordResetRequest", "Email", email, "ResetCode", rc.ResetCode, "NewPassword", "Fremd-gesetzt-2030")),
			"token_invalid", "ResetCode")
		// The SSO token with the other tenant's key is no session there.
		mustError(t, h.do(t, request{Method: http.MethodPost, Path: "/passwordchangerequest", Key: otherPublic, Bearer: token,
			Body: doc("PasswordChangeRequest", "OldPassword", strongPw, "NewPassword", "Fremd-gesetzt-2030")}), http.StatusUnauthorized, "session_invalid")
		h.mustLogin(t, email, strongPw)
		if c := h.mustStored(t, email); c.UUID != me.HMGUserID {
			t.Errorf("changed: %+v", c)
		}
		// The same address is a different user in the other tenant.
		if other := mustDoc[registerResponse](t, h.register(t, otherSecret, reg{Email: email}), http.StatusCreated); other.HMGUserID == me.HMGUserID {
			t.Errorf("same HMGUserID in two tenants")
		}
	})
}

// TestMethods: other methods on HGSP paths are 405 errors in XML.
func TestMethods(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		for _, c := range []struct{ method, path, allow string }{
			{http.MethodGet, "/registeruserrequest", "POST"},
			{http.MethodDelete, "/users", "GET"},
			{http.MethodHead, "/users?email=x@example.com", "GET"},
			{http.MethodHead, "/passwordresetrequest?email=x@example.com", "GET"},
			{http.MethodPut, "/activationrequest", "POST"},
			{http.MethodGet, "/passwordchangerequest", "POST"},
			{http.MethodPatch, "/passwordresetrequest", "GET, POST"},
		} {
			res := h.do(t, request{Method: c.method, Path: c.path, Key: h.secret})
			if c.method == http.MethodHead {
				apitest.MustStatus(t, res, http.StatusMethodNotAllowed)
			} else {
				mustError(t, res, http.StatusMethodNotAllowed, "method_not_allowed")
			}
			if got := res.Header.Get("Allow"); got != c.allow {
				t.Errorf("%s %s: Allow %q, want %q", c.method, c.path, got, c.allow)
			}
		}
	})
}
