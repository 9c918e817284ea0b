package wire

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"pforte/internal/account"
)

type inner struct {
	Email string `json:"email"`
}

type embedded struct {
	Name string `json:"name"`
}

type outer struct {
	Client inner             `json:"client"`
	List   []inner           `json:"list"`
	Tags   map[string]string `json:"tags"`
	Ptr    *inner            `json:"ptr"`
	Hidden string            `json:"-"`
	embedded
}

func decode(body string) (outer, error) {
	r := httptest.NewRequest("POST", "/", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return DecodeJSON[outer](r)
}

func TestDecodeJSONStrictKeys(t *testing.T) {
	if v, err := decode(`{"client":{"email":"a@b.de"},"list":[{"email":"x"}],"tags":{"Any":"Case"},"ptr":{"email":"p"},"name":"n"}`); err != nil || v.Client.Email != "a@b.de" || v.Name != "n" || v.Ptr.Email != "p" {
		t.Fatalf("valid body: %+v, %v", v, err)
	}
	tests := []struct {
		name, body, field, code string
	}{
		{"unknown top-level", `{"nope":1}`, "nope", "unknown_field"},
		{"case differs", `{"Client":{"email":"a"}}`, "Client", "unknown_field"},
		{"nested case differs", `{"client":{"EMAIL":"a"}}`, "client.EMAIL", "unknown_field"},
		{"nested unknown", `{"client":{"email":"a","pw":"x"}}`, "client.pw", "unknown_field"},
		{"in a list", `{"list":[{"email":"a"},{"mail":"b"}]}`, "list.mail", "unknown_field"},
		{"through a pointer", `{"ptr":{"x":1}}`, "ptr.x", "unknown_field"},
		{"dash field", `{"Hidden":"x"}`, "Hidden", "unknown_field"},
		{"duplicate", `{"name":"a","name":"b"}`, "name", "duplicate_field"},
		{"nested duplicate", `{"client":{"email":"a","email":"b"}}`, "client.email", "duplicate_field"},
		{"embedded wrong type", `{"name":5}`, "name", "wrong_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decode(tt.body)
			e := account.AsError(err)
			if e.Kind != account.KindInvalid || len(e.Fields) != 1 || e.Fields[0].Field != tt.field || e.Fields[0].Code != tt.code {
				t.Fatalf("err = %+v, want field %q code %q", e, tt.field, tt.code)
			}
		})
	}
}

func TestStatusCoversEveryKind(t *testing.T) {
	for _, k := range []account.Kind{account.KindInvalid, account.KindConflict, account.KindNotFound, account.KindUnauthorized,
		account.KindForbidden, account.KindRateLimited, account.KindUnavailable, account.KindTooLarge, account.KindUnsupported,
		account.KindMethod, account.KindInternal} {
		if _, ok := statuses[k]; !ok {
			t.Errorf("kind %s has no status", k)
		}
	}
	if Status(&account.Error{Kind: "no such kind"}) != 500 {
		t.Error("an unknown kind must be 500")
	}
}

func TestQueryRefusesRepeats(t *testing.T) {
	for url, want := range map[string]string{"/?a=1": "1", "/": "", "/?b=2": ""} {
		if got, err := Query(httptest.NewRequest("GET", url, nil), "a"); err != nil || got != want {
			t.Errorf("Query(%s) = %q, %v", url, got, err)
		}
	}
	if _, err := Query(httptest.NewRequest("GET", "/?a=1&a=2", nil), "a"); !account.IsKind(err, account.KindInvalid) {
		t.Errorf("a repeated parameter: %v", err)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodDelete, "/x", nil)
	err := MethodNotAllowed(w, r, http.MethodGet, http.MethodPost)
	e := account.AsError(err)
	if e.Kind != account.KindMethod || e.Code != account.CodeMethodNotAllowed || Status(e) != http.StatusMethodNotAllowed {
		t.Fatalf("MethodNotAllowed = %+v", e)
	}
	if got := w.Header().Get("Allow"); got != "GET, POST" {
		t.Fatalf("Allow %q", got)
	}
}
