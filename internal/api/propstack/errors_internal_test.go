package propstack

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"pforte/internal/account"
	"pforte/internal/api/wire"
)

// TestWriteError: every kind has a status in the one table; a 5xx never
// carries its cause, only a generic message and the request id; a busy
// answer says when to retry; fields are named without their wrapper, and
// errors without a field go to base.
func TestWriteError(t *testing.T) {
	var logged strings.Builder
	a := New(nil, slog.New(slog.NewTextHandler(&logged, nil)), wire.Clients{})
	cause := errors.New("pq: connection to 10.0.0.7 refused for user pforte")
	for _, c := range []struct {
		name   string
		err    error
		status int
		code   string
		errors map[string][]string
	}{
		{"internal with cause", account.Internal(cause), 500, "internal", map[string][]string{"base": {"internal error"}}},
		{"not an account error", cause, 500, "internal", map[string][]string{"base": {"internal error"}}},
		{"unknown kind", &account.Error{Kind: "strange", Code: "strange", Message: "detail " + cause.Error(), Cause: cause,
			Fields: []account.FieldError{{Field: "email", Code: "x", Message: cause.Error()}}}, 500, "internal", map[string][]string{"base": {"internal error"}}},
		{"busy", &account.Error{Kind: account.KindUnavailable, Code: "busy", Message: "the service is busy", RetryAfter: 1500 * time.Millisecond, Cause: cause},
			503, "busy", map[string][]string{"base": {"the service is busy"}}},
		{"rate limited", &account.Error{Kind: account.KindRateLimited, Code: "too_many_attempts", Message: "too many attempts", RetryAfter: time.Minute},
			429, "too_many_attempts", map[string][]string{"base": {"too many attempts"}}},
		{"fields", account.Invalid(
			account.FieldError{Field: "password", Code: "too_short", Message: "is too short"},
			account.FieldError{Field: "password", Code: "too_common", Message: "is too common"},
			account.FieldError{Field: "client.phone", Code: "unknown_field", Message: "is not a known field"},
			account.FieldError{Field: "credentials.email", Code: "duplicate_field", Message: "appears more than once"},
			account.FieldError{Field: "client", Code: "required", Message: "is required"}),
			422, "validation_failed", map[string][]string{"password": {"is too short", "is too common"}, "phone": {"is not a known field"},
				"email": {"appears more than once"}, "client": {"is required"}}},
		{"malformed", account.Errorf(account.KindInvalid, "malformed_json", "the body is not valid JSON"), 400, "malformed_json",
			map[string][]string{"base": {"the body is not valid JSON"}}},
		{"taken", onField(account.Errorf(account.KindConflict, "email_taken", "an account with this email address already exists"), "email_taken", "email", "has already been taken"),
			422, "email_taken", map[string][]string{"email": {"has already been taken"}}},
		{"other conflict", account.Errorf(account.KindConflict, "invalid_transition", "no"), 409, "invalid_transition", map[string][]string{"base": {"no"}}},
		{"forbidden", account.Errorf(account.KindForbidden, "account_disabled", "the account is disabled"), 403, "account_disabled",
			map[string][]string{"base": {"the account is disabled"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			logged.Reset()
			rec := httptest.NewRecorder()
			h := wire.WithRequestID(a.serve(func(http.ResponseWriter, *http.Request) error { return c.err }))
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/contacts/login", nil))
			if rec.Code != c.status {
				t.Fatalf("status %d, want %d", rec.Code, c.status)
			}
			body := rec.Body.String()
			if strings.Contains(body, "10.0.0.7") {
				t.Errorf("the answer carries the cause: %s", body)
			}
			var e errorJSON
			dec := json.NewDecoder(strings.NewReader(body))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&e); err != nil {
				t.Fatalf("%s: %v", body, err)
			}
			if e.Code != c.code || !reflect.DeepEqual(e.Errors, c.errors) || e.RequestID == "" || e.RequestID != rec.Header().Get("X-Request-Id") {
				t.Errorf("answer %s, want code %q errors %v", body, c.code, c.errors)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q", cc)
			}
			if c.status == 500 && !strings.Contains(logged.String(), "10.0.0.7") {
				t.Errorf("the cause was not logged: %s", logged.String())
			}
			if ra := rec.Header().Get("Retry-After"); (c.code == "busy" && ra != "2") || (c.code == "too_many_attempts" && ra != "60") {
				t.Errorf("Retry-After %q", ra)
			}
		})
	}
}

// TestStatusTable: every kind of the service has a status below 600 in
// the one table.
func TestStatusTable(t *testing.T) {
	for _, k := range []account.Kind{account.KindInvalid, account.KindConflict, account.KindNotFound, account.KindUnauthorized,
		account.KindForbidden, account.KindRateLimited, account.KindUnavailable, account.KindTooLarge, account.KindUnsupported,
		account.KindMethod, account.KindInternal} {
		if s := statusFor(&account.Error{Kind: k}); s < 400 || s > 599 {
			t.Errorf("kind %s: status %d", k, s)
		}
	}
}
