package betterez_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"pforte/internal/api/apitest"
	"pforte/internal/store/teststore"
)

// TestResetLinkOverSMTP is the "done when": a reset link received
// over real SMTP, taken apart exactly as a site does (its query string
// read, then the PUT sent), resets the password.
func TestResetLinkOverSMTP(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		const email = "erika@example.com"
		id := h.mustCustomer(t, h.secret, email, "Erika", "Mustermann")

		h.mustRequestReset(t, h.public, "my-app", email)
		link := parseLink(t, h.mustResetLink(t, email, 1))
		if link.base != appEndpoint || link.accountID != "default" || link.customerID != id {
			t.Fatalf("link %+v, want %s?accountId=default&customerId=%s&token=...&action=resetPwd", link, appEndpoint, id)
		}

		// The site's page: action says which call; customerId and token go into it.
		if link.action != "resetPwd" {
			t.Fatalf("action %q", link.action)
		}
		c := h.mustReset(t, http.MethodPut, h.public, link.customerID, link.token, newPassword)
		if c.AccountID != link.accountID || c.Email != email || c.FirstName != "Erika" || c.LastName != "Mustermann" || c.State != "active" {
			t.Errorf("answer %+v", c)
		}
		if !c.UpdatedAt.Equal(h.clock.Now()) || c.CreatedAt.After(c.UpdatedAt) {
			t.Errorf("createdAt %v, updatedAt %v, now %v", c.CreatedAt, c.UpdatedAt, h.clock.Now())
		}
		h.MustPassword(t, h.public, email, newPassword, oldPassword)
		h.mustNotLeak(t, link.token)
	})
}

// TestResetLinkFallback: an unknown or missing appName gets the tenant's
// default link, and an application of another tenant is unknown here.
func TestResetLinkFallback(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		for _, c := range []struct{ name, email, query, want string }{
			{"named application", "app@example.com", "?appName=my-app", appEndpoint},
			{"unknown appName", "unknown@example.com", "?appName=gibt-es-nicht", tenantEndpoint},
			{"no appName", "none@example.com", "", tenantEndpoint},
			{"empty appName", "empty@example.com", "?appName=", tenantEndpoint},
			{"another tenant's application", "foreign@example.com", "?appName=fremde", tenantEndpoint},
			{"appName too long", "long@example.com", "?appName=" + strings.Repeat("a", 65), tenantEndpoint},
		} {
			t.Run(c.name, func(t *testing.T) {
				id := h.mustCustomer(t, h.secret, c.email, "", "")
				r := h.Do(t, request{Method: http.MethodPost, Path: "/notifications/customers/reset" + c.query, Key: h.public,
					Body: map[string]string{"email": c.email}})
				if r.Status != http.StatusOK {
					t.Fatalf("%s", r)
				}
				link := parseLink(t, h.mustResetLink(t, c.email, 1))
				if link.base != c.want || link.customerID != id || link.accountID != "default" {
					t.Fatalf("link %+v, want one to %s for customer %s", link, c.want, id)
				}
				h.mustReset(t, http.MethodPut, h.public, id, link.token, newPassword)
			})
		}

		// The other tenant's application is there for its own customers,
		// whose links name that tenant.
		id := h.mustCustomer(t, h.otherSecret, "kunde@andere.example", "", "")
		h.mustRequestReset(t, h.otherPublic, "fremde", "kunde@andere.example")
		link := parseLink(t, h.mustResetLink(t, "kunde@andere.example", 1))
		if link.base != "https://www.fremde.example/actions/" || link.accountID != otherTenantSlug || link.customerID != id {
			t.Fatalf("link %+v", link)
		}
		c := h.mustReset(t, http.MethodPut, h.otherPublic, id, link.token, newPassword)
		if c.AccountID != otherTenantSlug {
			t.Errorf("accountId %q, want %s", c.AccountID, otherTenantSlug)
		}
	})
}

// TestResetRequestSameAnswer: an address with an account, one without and
// one with an account only in another tenant get the same status, body and
// headers; only the account gets mail; and no answer carries a token, not
// even to a secret key of a tenant whose delivery (both) hands tokens to
// secret keys in the native API.
func TestResetRequestSameAnswer(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		const email = "erika@example.com"
		h.mustCustomer(t, h.secret, email, "Erika", "Mustermann")
		h.mustCustomer(t, h.otherSecret, "kunde@andere.example", "", "")
		for _, key := range []string{h.public, h.secret} {
			known := h.requestReset(t, key, "my-app", email)
			unknown := h.requestReset(t, key, "my-app", "niemand@example.com")
			other := h.requestReset(t, key, "my-app", "kunde@andere.example")
			for _, r := range []*response{unknown, other} {
				apitest.MustSameAnswer(t, known, r)
			}
			if known.Status != http.StatusOK || string(known.Body) != `{"status":"ok"}`+"\n" {
				t.Errorf("%s, want 200 {\"status\":\"ok\"}", known)
			}
		}
		links := h.mustResetLinks(t, email, 2)
		tokens := []string{parseLink(t, links[0]).token, parseLink(t, links[1]).token}
		h.mustNotLeak(t, tokens...)
		for _, m := range h.smtp.Messages() {
			if m.To[0] != email {
				t.Errorf("mail to %v", m.To)
			}
		}
	})
}

// TestResetDeliveryReturn: with delivery "return" pforte mails nothing, and
// a reset request through this dialect (which never hands out tokens)
// does not void the link mailed before.
func TestResetDeliveryReturn(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		const email = "erika@example.com"
		id := h.mustCustomer(t, h.secret, email, "", "")
		h.mustRequestReset(t, h.public, "my-app", email)
		link := parseLink(t, h.mustResetLink(t, email, 1))

		h.MustSetting(t, "default", "delivery", "return")
		h.mustRequestReset(t, h.secret, "my-app", email)
		h.mustRequestReset(t, h.public, "", email)
		// The relay polls every 10 ms; give it the time to show it sends nothing.
		time.Sleep(200 * time.Millisecond)
		if n := len(h.mustResetLinks(t, email, 1)); n != 1 {
			t.Errorf("%d reset mails with delivery return, want the 1 from before", n)
		}
		h.mustReset(t, http.MethodPut, h.public, id, link.token, newPassword)
		h.mustNotLeak(t, link.token)
	})
}

// TestResetTokenBinding: a token counts only for its customer, tenant and
// purpose, and only once, within its hour. A token refused for another
// customer is not used up.
func TestResetTokenBinding(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)

		t.Run("another customer's path", func(t *testing.T) {
			a := h.mustCustomer(t, h.secret, "a@example.com", "", "")
			b := h.mustCustomer(t, h.secret, "b@example.com", "", "")
			h.mustRequestReset(t, h.public, "my-app", "a@example.com")
			tokA := parseLink(t, h.mustResetLink(t, "a@example.com", 1)).token
			for _, path := range []string{b, "999999", "0", "-1", "abc", "00000000-0000-0000-0000-000000000000"} {
				mustError(t, h.resetPassword(t, http.MethodPut, h.public, path, tokA, newPassword), http.StatusBadRequest, "token_invalid")
			}
			h.MustPassword(t, h.public, "b@example.com", oldPassword, newPassword)
			// Still usable on A's path, and then used up.
			h.mustReset(t, http.MethodPut, h.public, a, tokA, newPassword)
			mustError(t, h.resetPassword(t, http.MethodPut, h.public, a, tokA, "Noch-ein-Passwort-2030"), http.StatusBadRequest, "token_invalid")
			mustError(t, h.resetPassword(t, http.MethodPatch, h.public, a, tokA, "Noch-ein-Passwort-2030"), http.StatusBadRequest, "token_invalid")
			h.MustPassword(t, h.public, "a@example.com", newPassword, oldPassword)
		})

		t.Run("the customer's uuid in the path", func(t *testing.T) {
			id := h.mustCustomer(t, h.secret, "uuid@example.com", "", "")
			h.mustRequestReset(t, h.public, "my-app", "uuid@example.com")
			tok := parseLink(t, h.mustResetLink(t, "uuid@example.com", 1)).token
			uuid := apitest.MustJSON[struct {
				Customer apitest.Customer `json:"customer"`
			}](t, h.Get(t, h.secret, "/api/v1/customers/"+id), http.StatusOK).Customer.UUID
			got := mustCustomerDoc(t, h.resetPassword(t, http.MethodPut, h.public, uuid, tok, newPassword))
			if got.ID != id {
				t.Errorf("_id %q, want the id %s", got.ID, id)
			}
		})

		t.Run("expired", func(t *testing.T) {
			id := h.mustCustomer(t, h.secret, "late@example.com", "", "")
			h.mustRequestReset(t, h.public, "my-app", "late@example.com")
			tok := parseLink(t, h.mustResetLink(t, "late@example.com", 1)).token
			h.clock.Advance(time.Hour + time.Second)
			mustError(t, h.resetPassword(t, http.MethodPut, h.public, id, tok, newPassword), http.StatusBadRequest, "token_invalid")
			h.MustPassword(t, h.public, "late@example.com", oldPassword, newPassword)
		})

		t.Run("another purpose", func(t *testing.T) {
			// A confirmation token of a registration, handed to the secret key.
			reg := h.MustRegister(t, h.secret, "neu@example.com", oldPassword)
			id := itoa(reg.Customer.ID)
			mustError(t, h.resetPassword(t, http.MethodPut, h.public, id, reg.ConfirmationToken, newPassword), http.StatusBadRequest, "token_invalid")
			// Refused, not used up: it still confirms.
			h.MustConfirm(t, h.public, reg.ConfirmationToken)
			h.MustPassword(t, h.public, "neu@example.com", oldPassword, newPassword)
			h.mustNotLeak(t, reg.ConfirmationToken)
		})

		t.Run("another tenant", func(t *testing.T) {
			mine := h.mustCustomer(t, h.secret, "hier@example.com", "", "")
			theirs := h.mustCustomer(t, h.otherSecret, "dort@example.com", "", "")
			h.mustRequestReset(t, h.otherPublic, "fremde", "dort@example.com")
			tok := parseLink(t, h.mustResetLink(t, "dort@example.com", 1)).token
			for _, key := range []string{h.public, h.secret} {
				for _, path := range []string{theirs, mine} {
					mustError(t, h.resetPassword(t, http.MethodPut, key, path, tok, newPassword), http.StatusBadRequest, "token_invalid")
				}
			}
			h.MustPassword(t, h.public, "hier@example.com", oldPassword, newPassword)
			// Still usable in its own tenant.
			h.mustReset(t, http.MethodPut, h.otherPublic, theirs, tok, newPassword)
			h.MustPassword(t, h.otherPublic, "dort@example.com", newPassword, oldPassword)
		})

		t.Run("disabled after the link was sent", func(t *testing.T) {
			id := h.mustCustomer(t, h.secret, "gesperrt@example.com", "", "")
			h.mustRequestReset(t, h.public, "my-app", "gesperrt@example.com")
			tok := parseLink(t, h.mustResetLink(t, "gesperrt@example.com", 1)).token
			r := h.Do(t, request{Method: http.MethodPatch, Path: "/api/v1/customers/" + id, Key: h.secret, Body: map[string]string{"state": "disabled"}})
			if r.Status != http.StatusOK {
				t.Fatalf("disable: %s", r)
			}
			// Disabling voided the link.
			mustError(t, h.resetPassword(t, http.MethodPut, h.public, id, tok, newPassword), http.StatusBadRequest, "token_invalid")
			// A disabled customer gets no new link either, with the same answer.
			h.mustRequestReset(t, h.public, "my-app", "gesperrt@example.com")
		})

		t.Run("a newer link replaces the older", func(t *testing.T) {
			id := h.mustCustomer(t, h.secret, "zweimal@example.com", "", "")
			h.mustRequestReset(t, h.public, "my-app", "zweimal@example.com")
			h.mustRequestReset(t, h.public, "my-app", "zweimal@example.com")
			links := h.mustResetLinks(t, "zweimal@example.com", 2)
			mustError(t, h.resetPassword(t, http.MethodPut, h.public, id, parseLink(t, links[0]).token, newPassword), http.StatusBadRequest, "token_invalid")
			h.mustReset(t, http.MethodPut, h.public, id, parseLink(t, links[1]).token, newPassword)
		})
	})
}

// TestBadInput: every malformed request is a 4xx in this dialect's error
// format (checked for every answer by the harness), and none uses up the
// token.
func TestBadInput(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		const email = "erika@example.com"
		id := h.mustCustomer(t, h.secret, email, "", "")
		h.mustRequestReset(t, h.public, "my-app", email)
		tok := parseLink(t, h.mustResetLink(t, email, 1)).token
		reset := "/accounts/customers/" + id
		const ask = "/notifications/customers/reset"
		body := func(pw string) string { return `{"token":"` + tok + `","password":"` + pw + `"}` }

		for _, c := range []struct {
			name   string
			req    request
			status int
			code   string
			field  string // the field named, for validation errors
		}{
			{"malformed JSON", request{Method: http.MethodPut, Path: reset, Key: h.public, Body: `{"token":`}, 400, "malformed_json", ""},
			{"not an object", request{Method: http.MethodPut, Path: reset, Key: h.public, Body: `["token"]`}, 400, "malformed_json", ""},
			{"empty body", request{Method: http.MethodPut, Path: reset, Key: h.public, Body: ``}, 400, "malformed_json", ""},
			{"trailing data", request{Method: http.MethodPut, Path: reset, Key: h.public, Body: body(newPassword) + `{}`}, 400, "malformed_json", ""},
			{"unknown field", request{Method: http.MethodPut, Path: reset, Key: h.public, Body: `{"token":"` + tok + `","password":"` + newPassword + `","passwordConfirmation":"x"}`}, 400, "validation_failed", "passwordConfirmation"},
			{"field in another case", request{Method: http.MethodPut, Path: reset, Key: h.public, Body: `{"Token":"` + tok + `","password":"` + newPassword + `"}`}, 400, "validation_failed", "Token"},
			{"repeated field", request{Method: http.MethodPut, Path: reset, Key: h.public, Body: `{"token":"x","token":"` + tok + `","password":"` + newPassword + `"}`}, 400, "validation_failed", "token"},
			{"wrong type", request{Method: http.MethodPut, Path: reset, Key: h.public, Body: `{"token":"` + tok + `","password":12345678}`}, 400, "validation_failed", "password"},
			{"short password", request{Method: http.MethodPut, Path: reset, Key: h.public, Body: body("kurz")}, 400, "validation_failed", "password"},
			{"common password", request{Method: http.MethodPut, Path: reset, Key: h.public, Body: body("password123")}, 400, "validation_failed", "password"},
			{"password is the email", request{Method: http.MethodPut, Path: reset, Key: h.public, Body: body(email)}, 400, "validation_failed", "password"},
			{"no password", request{Method: http.MethodPut, Path: reset, Key: h.public, Body: `{"token":"` + tok + `"}`}, 400, "validation_failed", "password"},
			{"no token", request{Method: http.MethodPatch, Path: reset, Key: h.public, Body: `{"password":"` + newPassword + `"}`}, 400, "token_invalid", ""},
			{"overlong token", request{Method: http.MethodPut, Path: reset, Key: h.public, Body: `{"token":"` + strings.Repeat("t", 5000) + `","password":"` + newPassword + `"}`}, 400, "token_invalid", ""},
			{"too large", request{Method: http.MethodPut, Path: reset, Key: h.public, Body: `{"token":"` + strings.Repeat("t", 70<<10) + `"}`}, 413, "body_too_large", ""},
			{"not UTF-8", request{Method: http.MethodPut, Path: reset, Key: h.public, Body: []byte("{\"token\":\"\xff\"}")}, 400, "invalid_utf8", ""},
			{"no content type", request{Method: http.MethodPut, Path: reset, Key: h.public, Body: body(newPassword), ContentType: "-"}, 415, "unsupported_media_type", ""},
			{"form", request{Method: http.MethodPut, Path: reset, Key: h.public, Body: "token=" + tok, ContentType: "application/x-www-form-urlencoded"}, 415, "unsupported_media_type", ""},
			{"other charset", request{Method: http.MethodPut, Path: reset, Key: h.public, Body: body(newPassword), ContentType: "application/json; charset=latin1"}, 415, "unsupported_charset", ""},
			{"no key", request{Method: http.MethodPut, Path: reset, Body: body(newPassword)}, 401, "api_key_invalid", ""},
			{"wrong key", request{Method: http.MethodPut, Path: reset, Key: "pk_nope", Body: body(newPassword)}, 401, "api_key_invalid", ""},
			{"reset: no key", request{Method: http.MethodPost, Path: ask, Body: `{"email":"` + email + `"}`}, 401, "api_key_invalid", ""},
			{"reset: invalid email", request{Method: http.MethodPost, Path: ask, Key: h.public, Body: `{"email":"not-an-address"}`}, 400, "validation_failed", "email"},
			{"reset: no email", request{Method: http.MethodPost, Path: ask, Key: h.public, Body: `{}`}, 400, "validation_failed", "email"},
			{"reset: appName in the body", request{Method: http.MethodPost, Path: ask, Key: h.public, Body: `{"email":"` + email + `","appName":"my-app"}`}, 400, "validation_failed", "appName"},
			{"reset: malformed JSON", request{Method: http.MethodPost, Path: ask, Key: h.public, Body: `{"email"`}, 400, "malformed_json", ""},
			{"reset: GET", request{Method: http.MethodGet, Path: ask + "?appName=my-app", Key: h.public}, 405, "method_not_allowed", ""},
			{"reset: PUT", request{Method: http.MethodPut, Path: ask, Key: h.public, Body: `{"email":"` + email + `"}`}, 405, "method_not_allowed", ""},
			{"customer: POST", request{Method: http.MethodPost, Path: reset, Key: h.public, Body: body(newPassword)}, 405, "method_not_allowed", ""},
			{"customer: DELETE", request{Method: http.MethodDelete, Path: reset, Key: h.public}, 405, "method_not_allowed", ""},
			{"customer: GET", request{Method: http.MethodGet, Path: reset, Key: h.secret}, 405, "method_not_allowed", ""},
		} {
			t.Run(c.name, func(t *testing.T) {
				r := h.Do(t, c.req)
				e := mustError(t, r, c.status, c.code)
				if c.field != "" && (len(e.Fields) == 0 || e.Fields[0].Field != c.field || e.Fields[0].Code == "" || e.Fields[0].Message == "") {
					t.Errorf("%s: fields %+v, want %s first", r, e.Fields, c.field)
				}
				if c.status == http.StatusMethodNotAllowed && r.Header.Get("Allow") == "" {
					t.Errorf("%s: no Allow header", r)
				}
			})
		}
		// None of them used the token up.
		h.mustReset(t, http.MethodPut, h.public, id, tok, newPassword)
		h.MustPassword(t, h.public, email, newPassword, oldPassword)
		h.mustNotLeak(t, tok)
	})
}
