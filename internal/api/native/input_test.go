package native_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"pforte/internal/api/apitest"
	"pforte/internal/store/teststore"
)

// TestRegistrationBadInput: every kind of bad registration gets a 4xx
// problem with a code (and field entries for validation), and nothing is
// stored.
func TestRegistrationBadInput(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		valid := func(email string) string {
			return fmt.Sprintf(`{"email":%q,"password":"fine-Secret-phrase"}`, email)
		}
		tests := []struct {
			name        string
			email       string // that the body would register
			body        string
			contentType string
			status      int
			code        string
			field       string // for validation_failed: the field named
			fieldCode   string
		}{
			{name: "malformed JSON", email: "malformed@example.com", body: `{"email":"malformed@example.com","password":`,
				status: 400, code: "malformed_json"},
			{name: "bad JSON syntax", email: "syntax@example.com", body: `{"email":"syntax@example.com" "password":"fine-Secret-phrase"}`,
				status: 400, code: "malformed_json"},
			{name: "empty body", body: ``, status: 400, code: "malformed_json"},
			{name: "blank body", body: " \n\t ", status: 400, code: "malformed_json"},
			{name: "array", body: `[{"email":"array@example.com"}]`, email: "array@example.com", status: 400, code: "malformed_json"},
			{name: "string", body: `"array@example.com"`, email: "array@example.com", status: 400, code: "malformed_json"},
			{name: "null", body: `null`, status: 400, code: "validation_failed", field: "email", fieldCode: "required"},
			{name: "text/plain", email: "plain@example.com", body: valid("plain@example.com"), contentType: "text/plain",
				status: 415, code: "unsupported_media_type"},
			{name: "form", email: "form@example.com", body: "email=form%40example.com&password=fine-Secret-phrase",
				contentType: "application/x-www-form-urlencoded", status: 415, code: "unsupported_media_type"},
			{name: "no content type", email: "none@example.com", body: valid("none@example.com"), contentType: "-",
				status: 415, code: "unsupported_media_type"},
			{name: "latin1", email: "latin1@example.com", body: valid("latin1@example.com"), contentType: "application/json; charset=iso-8859-1",
				status: 415, code: "unsupported_charset"},
			{name: "unknown field", email: "unknown-field@example.com",
				body:   `{"email":"unknown-field@example.com","password":"fine-Secret-phrase","nickname":"x"}`,
				status: 400, code: "validation_failed", field: "nickname", fieldCode: "unknown_field"},
			{name: "field of another endpoint", email: "state@example.com",
				body:   `{"email":"state@example.com","password":"fine-Secret-phrase","state":"active"}`,
				status: 400, code: "validation_failed", field: "state", fieldCode: "unknown_field"},
			{name: "media type parameter", email: "param@example.com", body: valid("param@example.com"), contentType: "application/json; profile=other",
				status: 415, code: "unsupported_media_type"},
			{name: "field name in capitals", email: "capitals@example.com",
				body:   `{"email":"capitals@example.com","password":"fine-Secret-phrase","PASSWORD":"other-Secret-phrase"}`,
				status: 400, code: "validation_failed", field: "PASSWORD", fieldCode: "unknown_field"},
			{name: "trailing object", email: "trailing@example.com", body: valid("trailing@example.com") + `{}`,
				status: 400, code: "malformed_json"},
			{name: "trailing garbage", email: "garbage@example.com", body: valid("garbage@example.com") + ` x`,
				status: 400, code: "malformed_json"},
			{name: "invalid UTF-8", email: "utf8@example.com", body: "{\"email\":\"utf8@example.com\",\"password\":\"fine-\xff\xfe-phrase\"}",
				status: 400, code: "invalid_utf8"},
			{name: "70 KiB", email: "large@example.com",
				body:   `{"email":"large@example.com","password":"fine-Secret-phrase","first_name":"` + strings.Repeat("a", 70<<10) + `"}`,
				status: 413, code: "body_too_large"},
			{name: "email a number", body: `{"email":5,"password":"fine-Secret-phrase"}`,
				status: 400, code: "validation_failed", field: "email", fieldCode: "wrong_type"},
			{name: "password a boolean", email: "bool@example.com", body: `{"email":"bool@example.com","password":true}`,
				status: 400, code: "validation_failed", field: "password", fieldCode: "wrong_type"},
			{name: "first_name an object", email: "object@example.com", body: `{"email":"object@example.com","password":"fine-Secret-phrase","first_name":{}}`,
				status: 400, code: "validation_failed", field: "first_name", fieldCode: "wrong_type"},
			{name: "confirmation an array", email: "arr@example.com", body: `{"email":"arr@example.com","password":"fine-Secret-phrase","password_confirmation":[]}`,
				status: 400, code: "validation_failed", field: "password_confirmation", fieldCode: "wrong_type"},
			{name: "invalid email", email: "not-an-email", body: valid("not-an-email"),
				status: 400, code: "validation_failed", field: "email", fieldCode: "invalid"},
			{name: "email without dot in domain", email: "nodot@localhost", body: valid("nodot@localhost"),
				status: 400, code: "validation_failed", field: "email", fieldCode: "invalid"},
			{name: "email with a name", body: valid("Eve <eve@example.com>"),
				status: 400, code: "validation_failed", field: "email", fieldCode: "invalid"},
			{name: "email with CRLF", body: valid("eve@example.com\r\nBcc: all@example.com"),
				status: 400, code: "validation_failed", field: "email", fieldCode: "invalid"},
			{name: "missing email", body: `{"password":"fine-Secret-phrase"}`,
				status: 400, code: "validation_failed", field: "email", fieldCode: "required"},
			{name: "7 characters", email: "short@example.com", body: `{"email":"short@example.com","password":"abc4567"}`,
				status: 400, code: "validation_failed", field: "password", fieldCode: "too_short"},
			{name: "7 characters in 14 bytes", email: "short2@example.com", body: `{"email":"short2@example.com","password":"äöüäöüä"}`,
				status: 400, code: "validation_failed", field: "password", fieldCode: "too_short"},
			{name: "257 characters", email: "long@example.com", body: `{"email":"long@example.com","password":"` + strings.Repeat("x", 257) + `"}`,
				status: 400, code: "validation_failed", field: "password", fieldCode: "too_long"},
			{name: "common", email: "common@example.com", body: `{"email":"common@example.com","password":"password123"}`,
				status: 400, code: "validation_failed", field: "password", fieldCode: "too_common"},
			{name: "common in capitals", email: "common2@example.com", body: `{"email":"common2@example.com","password":"PASSWORD123"}`,
				status: 400, code: "validation_failed", field: "password", fieldCode: "too_common"},
			{name: "equal to email", email: "Same.As.Email@Example.com", body: `{"email":"Same.As.Email@Example.com","password":"same.as.email@example.com"}`,
				status: 400, code: "validation_failed", field: "password", fieldCode: "equals_email"},
			{name: "mismatched confirmation", email: "mismatch@example.com",
				body:   `{"email":"mismatch@example.com","password":"fine-Secret-phrase","password_confirmation":"fine-Secret-phrasE"}`,
				status: 400, code: "validation_failed", field: "password_confirmation", fieldCode: "mismatch"},
			{name: "empty confirmation", email: "empty-conf@example.com",
				body:   `{"email":"empty-conf@example.com","password":"fine-Secret-phrase","password_confirmation":""}`,
				status: 400, code: "validation_failed", field: "password_confirmation", fieldCode: "mismatch"},
			{name: "CRLF in first_name", email: "crlf@example.com",
				body:   `{"email":"crlf@example.com","password":"fine-Secret-phrase","first_name":"Eve\r\nBcc: all@example.com"}`,
				status: 400, code: "validation_failed", field: "first_name", fieldCode: "invalid"},
			{name: "LF in last_name", email: "lf@example.com",
				body:   `{"email":"lf@example.com","password":"fine-Secret-phrase","last_name":"Eve\n"}`,
				status: 400, code: "validation_failed", field: "last_name", fieldCode: "invalid"},
			{name: "long last_name", email: "long-name@example.com",
				body:   `{"email":"long-name@example.com","password":"fine-Secret-phrase","last_name":"` + strings.Repeat("n", 101) + `"}`,
				status: 400, code: "validation_failed", field: "last_name", fieldCode: "too_long"},
			{name: "bad salutation", email: "salutation@example.com",
				body:   `{"email":"salutation@example.com","password":"fine-Secret-phrase","salutation":"herr"}`,
				status: 400, code: "validation_failed", field: "salutation", fieldCode: "invalid"},
			{name: "bad username", email: "username@example.com",
				body:   `{"email":"username@example.com","password":"fine-Secret-phrase","username":"-eve"}`,
				status: 400, code: "validation_failed", field: "username", fieldCode: "invalid"},
			{name: "bad locale", email: "locale@example.com",
				body:   `{"email":"locale@example.com","password":"fine-Secret-phrase","locale":"german"}`,
				status: 400, code: "validation_failed", field: "locale", fieldCode: "invalid"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				for _, key := range []string{h.secret, h.public} {
					res := h.Do(t, request{Method: http.MethodPost, Path: "/api/v1/registrations", Key: key, Body: tt.body, ContentType: tt.contentType})
					if tt.field != "" {
						apitest.MustFieldError(t, res, tt.field, tt.fieldCode)
					} else {
						apitest.MustProblem(t, res, tt.status, tt.code)
					}
				}
				if tt.email != "" && !strings.ContainsAny(tt.email, " \r\n<") && strings.Contains(tt.email, ".") {
					h.mustNotStored(t, tt.email)
				}
			})
		}
		if got := apitest.MustJSON[customerList](t, h.Get(t, h.secret, "/api/v1/customers"), http.StatusOK); len(got.Customers) != 0 {
			t.Errorf("bad registrations stored %+v", got.Customers)
		}

		// Several bad fields are reported together.
		p := apitest.MustProblem(t, h.Post(t, h.secret, "/api/v1/registrations",
			map[string]any{"email": "x", "password": "short", "first_name": "a\nb"}), http.StatusBadRequest, "validation_failed")
		for _, f := range []string{"email", "password", "first_name"} {
			if p.Field(f) == nil {
				t.Errorf("no entry for %s in %+v", f, p.Errors)
			}
		}

		// Passwords are taken as they are: never trimmed or case-folded.
		const spaced = "  Spaced-Secret-phrase  "
		h.mustSignUp(t, "spaced@example.com", spaced)
		for _, wrong := range []string{strings.TrimSpace(spaced), strings.ToLower(spaced), strings.ToUpper(spaced)} {
			apitest.MustProblem(t, h.Login(t, h.secret, "spaced@example.com", wrong), http.StatusUnauthorized, "invalid_credentials")
		}
		h.mustLogin(t, "spaced@example.com", spaced)

		// The limits themselves are fine.
		for i, pw := range []string{"abcd5678", strings.Repeat("y", 256), strings.Repeat("ä", 256), "äöüäöüäö"} {
			email := fmt.Sprintf("edge%d@example.com", i)
			res := h.Do(t, request{Method: http.MethodPost, Path: "/api/v1/registrations", Key: h.secret,
				Body: map[string]any{"email": email, "password": pw, "password_confirmation": pw}, ContentType: "application/json; charset=UTF-8"})
			h.mustConfirm(t, apitest.MustJSON[registered](t, res, http.StatusCreated).ConfirmationToken)
			h.mustLogin(t, email, pw) // stored and compared whole: no truncation
			if len(pw) > 8 {
				apitest.MustProblem(t, h.Login(t, h.secret, email, pw[:len(pw)-2]), http.StatusUnauthorized, "invalid_credentials")
			}
		}
	})
}

// TestStructuralErrorsEverywhere: every endpoint that takes a body refuses
// malformed, oversized, mistyped and unknown input the same way, before it
// changes anything.
func TestStructuralErrorsEverywhere(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		const email, pw = "structure@example.com", "structure-Secret-phrase"
		cs := h.mustSignUp(t, email, pw)
		reset := h.mustRequestReset(t, email)
		id := itoa(cs.Customer.ID)
		endpoints := []struct {
			request
			field string // a string field of the endpoint, for the wrong-type case
		}{
			{request{Method: http.MethodPost, Path: "/api/v1/registrations", Key: h.secret}, "password"},
			{request{Method: http.MethodPost, Path: "/api/v1/confirmations", Key: h.secret}, "token"},
			{request{Method: http.MethodPost, Path: "/api/v1/sessions", Key: h.secret}, "password"},
			{request{Method: http.MethodPost, Path: "/api/v1/password-resets", Key: h.secret}, "email"},
			{request{Method: http.MethodPost, Path: "/api/v1/password-resets/complete", Key: h.secret}, "password"},
			{request{Method: http.MethodPost, Path: "/api/v1/invitations/accept", Key: h.secret}, "password"},
			{request{Method: http.MethodPut, Path: "/api/v1/password", Bearer: cs.Session.Token}, "current_password"},
			{request{Method: http.MethodPost, Path: "/api/v1/customers", Key: h.secret}, "email"},
			{request{Method: http.MethodPatch, Path: "/api/v1/customers/" + id, Key: h.secret}, "first_name"},
			{request{Method: http.MethodPut, Path: "/api/v1/customers/" + id + "/password", Key: h.secret}, "password"},
		}
		bad := []struct {
			name, body, contentType string
			status                  int
			code                    string
		}{
			{"malformed", `{"email":`, "", 400, "malformed_json"},
			{"empty", ``, "", 400, "malformed_json"},
			{"trailing", `{}{}`, "", 400, "malformed_json"},
			{"text/plain", `{}`, "text/plain; charset=utf-8", 415, "unsupported_media_type"},
			{"invalid UTF-8", "{\"password\":\"\xc3\x28\"}", "", 400, "invalid_utf8"},
			{"70 KiB", `{"password":"` + strings.Repeat("p", 70<<10) + `"}`, "", 413, "body_too_large"},
			{"just over 64 KiB", `{"password":"` + strings.Repeat("p", 64<<10-14) + `"}`, "", 413, "body_too_large"},
			{"unknown field", `{"bogus":1}`, "", 400, "validation_failed"},
			{"wrong type", `{"FIELD":1}`, "", 400, "validation_failed"},
		}
		for _, ep := range endpoints {
			for _, b := range bad {
				t.Run(ep.Method+" "+ep.Path+" "+b.name, func(t *testing.T) {
					r := ep.request
					r.Body, r.ContentType = strings.ReplaceAll(b.body, "FIELD", ep.field), b.contentType
					p := apitest.MustProblem(t, h.Do(t, r), b.status, b.code)
					switch b.name {
					case "unknown field":
						if fe := p.Field("bogus"); fe == nil || fe.Code != "unknown_field" {
							t.Errorf("unknown field not named: %+v", p.Errors)
						}
					case "wrong type":
						if fe := p.Field(ep.field); fe == nil || fe.Code != "wrong_type" {
							t.Errorf("wrong type not named: %+v", p.Errors)
						}
					}
				})
			}
		}
		// Exactly 64 KiB is within the limit (and then fails validation).
		body := `{"email":"x@example.com","password":"` + strings.Repeat("p", 64<<10-40) + `"}`
		body += strings.Repeat(" ", 64<<10-len(body))
		apitest.MustFieldError(t, h.Do(t, request{Method: http.MethodPost, Path: "/api/v1/registrations", Key: h.secret, Body: body}), "password", "too_long")

		// Nothing changed.
		h.mustSessionValid(t, cs.Session.Token)
		h.mustLogin(t, email, pw)
		apitest.MustStatus(t, h.Post(t, h.secret, "/api/v1/password-resets/complete", map[string]any{"token": reset, "password": "structure-New-phrase"}), http.StatusOK)
		if got := h.mustFind(t, email); len(got) != 1 || got[0].State != "active" || got[0].FirstName != "" {
			t.Errorf("customer changed: %+v", got)
		}
		apitest.MustProblem(t, h.Login(t, h.secret, email, strings.Repeat("p", 257)), http.StatusBadRequest, "validation_failed")
		apitest.MustFieldError(t, h.Login(t, h.secret, "not-an-email", pw), "email", "invalid")
		apitest.MustFieldError(t, h.Login(t, h.secret, email, ""), "password", "required")
	})
}
