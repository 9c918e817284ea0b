package gradido

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

// TestWriteError: the outcomes a client handles by reading state are a 200
// with the login server's state and msg (unless the request itself was
// malformed); everything else has its status from the one table; a 5xx
// never carries its cause, only "internal error"; busy and throttled
// answers say when to retry.
func TestWriteError(t *testing.T) {
	var logged strings.Builder
	a := New(nil, slog.New(slog.NewTextHandler(&logged, nil)), wire.Clients{})
	cause := errors.New("pq: connection to 10.0.0.7 refused for user pforte")
	invalid := account.Invalid(account.FieldError{Field: "password", Code: "too_common", Message: "is too common"})
	for _, c := range []struct {
		name   string
		err    error
		status int
		want   errorJSON
		retry  string
	}{
		{"internal with cause", account.Internal(cause), 500, errorJSON{State: "error", Msg: "internal error", Code: "internal"}, ""},
		{"not an account error", cause, 500, errorJSON{State: "error", Msg: "internal error", Code: "internal"}, ""},
		{"unknown kind", &account.Error{Kind: "strange", Code: "strange", Message: cause.Error(), Cause: cause,
			Fields: []account.FieldError{{Field: "email", Message: cause.Error()}}}, 500, errorJSON{State: "error", Msg: "internal error", Code: "internal"}, ""},
		{"busy", &account.Error{Kind: account.KindUnavailable, Code: "busy", Message: "the service is busy", RetryAfter: 1500 * time.Millisecond, Cause: cause},
			503, errorJSON{State: "error", Msg: "the service is busy", Code: "busy"}, "2"},
		{"throttled", &account.Error{Kind: account.KindRateLimited, Code: "too_many_attempts", Message: "too many attempts", RetryAfter: time.Minute},
			429, errorJSON{State: "error", Msg: "too many attempts", Code: "too_many_attempts"}, "60"},
		{"wrong credentials", account.Errorf(account.KindUnauthorized, "invalid_credentials", "email or password is wrong"),
			200, errorJSON{State: "error", Msg: "password incorrect", Code: "invalid_credentials"}, ""},
		{"disabled", account.Errorf(account.KindForbidden, "account_disabled", "the account is disabled"),
			200, errorJSON{State: "disabled", Msg: "user is disabled", Code: "account_disabled"}, ""},
		{"exists", account.Errorf(account.KindConflict, "email_taken", "taken"),
			200, errorJSON{State: "exist", Msg: "user already exist", Code: "email_taken"}, ""},
		{"session", account.Errorf(account.KindUnauthorized, "session_invalid", "gone"),
			200, errorJSON{State: "error", Msg: "session not found", Code: "session_invalid"}, ""},
		{"policy", invalid, 200, errorJSON{State: "error", Msg: "password: is too common", Details: []string{"password: is too common"}, Code: "validation_failed"}, ""},
		{"malformed request", badInput(invalid), 400, errorJSON{State: "error", Msg: "password: is too common", Details: []string{"password: is too common"}, Code: "validation_failed"}, ""},
		{"bad key", account.Errorf(account.KindUnauthorized, "api_key_invalid", "bad key"), 401, errorJSON{State: "error", Msg: "bad key", Code: "api_key_invalid"}, ""},
		{"unknown call", errUnknownCall, 404, errorJSON{State: "error", Msg: "unknown call", Code: "unknown_call"}, ""},
		{"other conflict", account.Errorf(account.KindConflict, "invalid_transition", "no"), 409, errorJSON{State: "error", Msg: "no", Code: "invalid_transition"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			logged.Reset()
			rec := httptest.NewRecorder()
			h := wire.WithRequestID(wire.Handle(func(http.ResponseWriter, *http.Request) error { return c.err }, a.writeError))
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/login_api/unsecureLogin", nil))
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
			if !reflect.DeepEqual(e, c.want) {
				t.Errorf("answer %+v, want %+v", e, c.want)
			}
			if ct, cc := rec.Header().Get("Content-Type"), rec.Header().Get("Cache-Control"); ct != "application/json" || cc != "no-store" {
				t.Errorf("Content-Type %q, Cache-Control %q", ct, cc)
			}
			if c.status == 500 && !strings.Contains(logged.String(), "10.0.0.7") {
				t.Errorf("the cause was not logged: %s", logged.String())
			}
			if ra := rec.Header().Get("Retry-After"); ra != c.retry {
				t.Errorf("Retry-After %q, want %q", ra, c.retry)
			}
		})
	}
}

// TestOutcomesHaveMessages: every outcome answers a state, and a msg of
// its own or the service's.
func TestOutcomesHaveMessages(t *testing.T) {
	for code, o := range outcomes {
		if o.state == "" || o.state == "success" || (o.msg == "" && code != "validation_failed") {
			t.Errorf("%s: %+v", code, o)
		}
	}
}

// TestIdentHash: the login server's DRMakeStringHash, with signed bytes.
func TestIdentHash(t *testing.T) {
	for _, c := range []struct {
		in   string
		want uint32
	}{
		{"", 0},
		{"a", 97},
		{"ab", 97<<7 + 98},
		{"\xc3", 0xffffffc3},                   // a signed char: -61
		{"max.musterman@gmail.de", 3354208457}, // Gradido's address
	} {
		if got := identHash(c.in); got != c.want {
			t.Errorf("identHash(%q) = %d, want %d", c.in, got, c.want)
		}
	}
}
