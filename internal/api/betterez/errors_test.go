package betterez

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"pforte/internal/account"
	"pforte/internal/api/wire"
)

// TestWriteError: every kind has a status in the one table; a 5xx never
// carries its cause, only a generic message and the request id; a busy
// answer says when to retry.
func TestWriteError(t *testing.T) {
	var logged strings.Builder
	a := New(nil, slog.New(slog.NewTextHandler(&logged, nil)), wire.Clients{})
	cause := errors.New("pq: connection to 10.0.0.7 refused for user pforte")
	for _, c := range []struct {
		name    string
		err     error
		status  int
		code    string
		message string
	}{
		{"internal with cause", account.Internal(cause), 500, "internal", "internal error"},
		{"not an account error", cause, 500, "internal", "internal error"},
		{"unknown kind", &account.Error{Kind: "strange", Code: "strange", Message: "detail " + cause.Error(), Cause: cause}, 500, "internal", "internal error"},
		{"busy", &account.Error{Kind: account.KindUnavailable, Code: "busy", Message: "the server is busy", RetryAfter: 1500 * time.Millisecond}, 503, "busy", "the server is busy"},
		{"rate limited", &account.Error{Kind: account.KindRateLimited, Code: "too_many_attempts", Message: "too many attempts", RetryAfter: time.Minute}, 429, "too_many_attempts", "too many attempts"},
		{"invalid", account.Invalid(account.FieldError{Field: "password", Code: "too_short", Message: "is too short"}), 400, "validation_failed", "password: is too short"},
	} {
		t.Run(c.name, func(t *testing.T) {
			logged.Reset()
			rec := httptest.NewRecorder()
			h := wire.WithRequestID(a.serve(func(http.ResponseWriter, *http.Request) error { return c.err }))
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodPut, "/accounts/customers/1", nil))
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
			if e.Code != c.code || e.Message != c.message || e.RequestID == "" || e.RequestID != rec.Header().Get("X-Request-Id") {
				t.Errorf("answer %+v, want code %q message %q", e, c.code, c.message)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
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
