package apitest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestOpenAPIValidate: the validation of exchanges with the native API
// passes what its document describes and fails what it does not.
func TestOpenAPIValidate(t *testing.T) {
	oa, err := LoadOpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	const (
		customer = `{"id":1,"uuid":"b32a49ac-b420-4530-8c5d-5bcd09c9a7e4","email":"a@example.com","username":"","salutation":"",` +
			`"first_name":"","last_name":"","name":"","locale":"de","partner_ref":"","state":"active","email_confirmed_at":null,` +
			`"created_at":"2030-03-04T05:06:07Z","updated_at":"2030-03-04T05:06:07Z"}`
		badCredentials = `{"type":"urn:pforte:problem:invalid_credentials","title":"Unauthorized","status":401,"detail":"x","code":"invalid_credentials"}`
	)
	problem := http.Header{"Content-Type": {"application/problem+json"}, "X-Request-Id": {"5f0c2e9a1b7d4c3e"}}
	json := http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {"5f0c2e9a1b7d4c3e"}}
	for _, tt := range []struct {
		name         string
		method, path string
		header       http.Header
		reqBody      string
		status       int
		resHeader    http.Header
		resBody      string
		wantErr      string // empty: valid
	}{
		{name: "a customer", method: "GET", path: "/api/v1/customers/1", header: http.Header{"X-Api-Key": {"sk_x"}},
			status: 200, resHeader: json, resBody: `{"customer":` + customer + `}`},
		{name: "a field the document lacks", method: "GET", path: "/api/v1/customers/1", header: http.Header{"X-Api-Key": {"sk_x"}},
			status: 200, resHeader: json, resBody: `{"customer":` + strings.Replace(customer, `"id":1,`, `"id":1,"extra":2,`, 1) + `}`,
			wantErr: "extra"},
		{name: "a public key where only a secret key does", method: "GET", path: "/api/v1/customers/1",
			header: http.Header{"X-Api-Key": {"pk_x"}}, status: 200, resHeader: json, resBody: `{"customer":` + customer + `}`,
			wantErr: "security"},
		{name: "a status the operation lacks", method: "GET", path: "/api/v1/customers/1", header: http.Header{"X-Api-Key": {"sk_x"}},
			status: 409, resHeader: problem, resBody: strings.ReplaceAll(badCredentials, "401", "409"), wantErr: "status"},
		{name: "no request id", method: "GET", path: "/api/v1/customers/1", header: http.Header{"X-Api-Key": {"sk_x"}},
			status: 200, resHeader: http.Header{"Content-Type": {"application/json"}}, resBody: `{"customer":` + customer + `}`,
			wantErr: "X-Request-Id"},
		{name: "a problem", method: "POST", path: "/api/v1/sessions", header: http.Header{"Content-Type": {"application/json"}},
			reqBody: `{"email":"a@example.com","password":"wrong"}`, status: 401, resHeader: problem, resBody: badCredentials},
		{name: "a problem's code of another status", method: "POST", path: "/api/v1/sessions",
			header: http.Header{"Content-Type": {"application/json"}}, reqBody: `{}`,
			status: 401, resHeader: problem, resBody: strings.ReplaceAll(badCredentials, "invalid_credentials", "email_taken"), wantErr: "code"},
		{name: "a refused malformed request", method: "POST", path: "/api/v1/sessions", header: http.Header{"Content-Type": {"text/plain"}},
			reqBody: `{`, status: 415, resHeader: problem,
			resBody: `{"type":"urn:pforte:problem:unsupported_media_type","title":"Unsupported Media Type","status":415,"detail":"x","code":"unsupported_media_type"}`},
		{name: "an accepted request the document refuses", method: "POST", path: "/api/v1/password-resets",
			header: http.Header{"Content-Type": {"application/json"}, "X-Api-Key": {"pk_x"}}, reqBody: `{"email":"a@example.com","extra":1}`,
			status: 202, resHeader: json, resBody: `{"status":"accepted"}`, wantErr: "extra"},
		{name: "no endpoint", method: "GET", path: "/api/v1/nope", status: 404, resHeader: problem,
			resBody: `{"type":"urn:pforte:problem:no_such_endpoint","title":"Not Found","status":404,"detail":"x","code":"no_such_endpoint"}`},
		{name: "no endpoint, answered 200", method: "GET", path: "/api/v1/nope", status: 200, resHeader: json, resBody: `{}`,
			wantErr: "status"},
		{name: "another method", method: "PUT", path: "/api/v1/sessions", status: 405,
			resHeader: http.Header{"Content-Type": {"application/problem+json"}, "Allow": {"GET, POST"}, "X-Request-Id": {"5f0c2e9a1b7d4c3e"}},
			resBody:   `{"type":"urn:pforte:problem:method_not_allowed","title":"Method Not Allowed","status":405,"detail":"x","code":"method_not_allowed"}`},
		{name: "another API", method: "GET", path: "/users", status: 200, resHeader: json, resBody: `[]`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.reqBody))
			for k, v := range tt.header {
				req.Header[k] = v
			}
			err := oa.Validate(req, []byte(tt.reqBody), tt.status, tt.resHeader, []byte(tt.resBody))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("valid exchange refused: %v", err)
			case tt.wantErr != "" && err == nil:
				t.Errorf("invalid exchange passed")
			default:
				if msg, _, _ := strings.Cut(fmt.Sprint(err), "\nbody:"); tt.wantErr != "" && !strings.Contains(msg, tt.wantErr) {
					t.Errorf("error %q does not mention %q", msg, tt.wantErr)
				}
			}
		})
	}
}
