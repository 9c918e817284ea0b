package hgsp

import (
	"bytes"
	"encoding/xml"
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

// TestErrorsHideCauses: a 5xx carries neither the cause nor its message,
// only the request id, and the cause goes to the log.
func TestErrorsHideCauses(t *testing.T) {
	for _, c := range []struct {
		name       string
		err        error
		status     int
		code       string
		retryAfter string
	}{
		{"internal", account.Internal(errors.New("dial tcp: password=hunter2")), 500, "internal", ""},
		{"not an account error", errors.New("pq: relation hunter2 does not exist"), 500, "internal", ""},
		{"internal with a message", &account.Error{Kind: account.KindInternal, Code: "db_down", Message: "hunter2 is down"}, 500, "internal", ""},
		{"unknown kind", &account.Error{Kind: "odd", Code: "odd", Message: "hunter2"}, 500, "internal", ""},
		{"busy", &account.Error{Kind: account.KindUnavailable, Code: "busy", Message: "the service is busy; try again shortly",
			RetryAfter: 1500 * time.Millisecond, Cause: errors.New("hunter2")}, 503, "busy", "2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var logged bytes.Buffer
			a := New(nil, slog.New(slog.NewTextHandler(&logged, nil)), wire.Clients{})
			h := wire.WithRequestID(a.serve(func(http.ResponseWriter, *http.Request) error { return c.err }))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/registeruserrequest", nil))
			if rec.Code != c.status {
				t.Fatalf("status %d, want %d", rec.Code, c.status)
			}
			var e errorXML
			if err := xml.Unmarshal(rec.Body.Bytes(), &e); err != nil {
				t.Fatal(err)
			}
			if e.Code != c.code || strings.Contains(rec.Body.String(), "hunter2") {
				t.Errorf("body %s", rec.Body)
			}
			if id := rec.Header().Get("X-Request-Id"); c.status == 500 && e.Message != "internal error; request id "+id {
				t.Errorf("message %q, request id %q", e.Message, id)
			}
			if c.status == 500 && !strings.Contains(logged.String(), "hunter2") {
				t.Errorf("cause not logged: %s", logged.String())
			}
			if got := rec.Header().Get("Retry-After"); got != c.retryAfter {
				t.Errorf("Retry-After %q, want %q", got, c.retryAfter)
			}
			if rec.Header().Get("Cache-Control") != "no-store" || rec.Header().Get("Content-Type") != "application/xml; charset=utf-8" {
				t.Errorf("headers %v", rec.Header())
			}
		})
	}
}

// FuzzDecode: no document makes decoding panic, and whatever it accepts
// has exactly the elements of the schema.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`<RegisterUserRequest><NaturalName><Salutation>Frau</Salutation><FirstName>A</FirstName><LastName>B</LastName></NaturalName><Email>a@b.de</Email></RegisterUserRequest>`,
		`<?xml version="1.0"?><RegisterUserRequest><Email>a&amp;b</Email></RegisterUserRequest>`,
		`<!DOCTYPE x [<!ENTITY a "b">]><RegisterUserRequest/>`,
		`<RegisterUserRequest><NaturalName><a><a><a></a></a></a></NaturalName></RegisterUserRequest>`,
		`<RegisterUserRequest xmlns:x="u"><x:Email x:y="1">a</x:Email></RegisterUserRequest>`,
		`<RegisterUserRequest><![CDATA[x]]></RegisterUserRequest><!-- -->`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/xml")
		v, err := decode[registerUserRequest](r, "RegisterUserRequest")
		if err != nil {
			if e := account.AsError(err); e.Kind == account.KindInternal {
				t.Fatalf("internal error for %q: %v", body, err)
			}
			return
		}
		if v.Email == "" || v.NaturalName.FirstName == "" {
			t.Fatalf("accepted without required elements: %q: %+v", body, v)
		}
		if strings.Contains(body, "<!") && !strings.Contains(body, "<!--") && !strings.Contains(body, "<![CDATA[") {
			t.Fatalf("accepted a declaration: %q", body)
		}
	})
}
