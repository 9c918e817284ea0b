package cli

import (
	"encoding/xml"
	"io"
	"net/http"
	"strings"
	"testing"

	"pforte/internal/store/teststore"
)

// TestDefaultLinksLeadToPages: with nothing configured beyond the public
// URL (here the loopback listen address), Gradido's verification mail
// links to the confirm page and HGSP's GET /users answers an
// ActivationURL of the activate page.
func TestDefaultLinksLeadToPages(t *testing.T) {
	db := "sqlite:" + teststore.SQLitePath(t)
	mustRun(t, "tenant", "set", "default", "gradido.allow_password_via_json=true", "--db", db)
	key := strings.TrimSpace(mustRun(t, "apikey", "create", "--kind", "secret", "--db", db))
	base := startServe(t, noEnv, "--db", db)

	post := func(path, contentType, body string, header ...string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", contentType)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	if res := post("/login_api/createUser", "application/json",
		`{"email":"gradido@example.com","first_name":"Max","last_name":"Muster","emailType":2,"password":"Lange-Gradido-Phrase-2030"}`); res.StatusCode != http.StatusOK {
		t.Fatalf("createUser: %s", res.Status)
	}
	if list := mustRun(t, "mail", "list", "--db", db); !strings.Contains(list, base+"/p/default/confirm?token=") {
		t.Fatalf("the verification mail has no link to the confirm page:\n%s", list)
	}

	if res := post("/registeruserrequest", "application/xml",
		`<RegisterUserRequest><NaturalName><Salutation>Frau</Salutation><FirstName>Erika</FirstName><LastName>Muster</LastName></NaturalName>`+
			`<Email>hgsp@example.com</Email></RegisterUserRequest>`, "X-API-KEY", key); res.StatusCode != http.StatusCreated {
		t.Fatalf("registeruserrequest: %s", res.Status)
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/users?email=hgsp@example.com", nil)
	req.Header.Set("X-API-KEY", key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var user struct {
		ActivationURL string `xml:"ActivationURL"`
	}
	if err := xml.Unmarshal(body, &user); err != nil || !strings.HasPrefix(user.ActivationURL, base+"/p/default/activate?token=") {
		t.Fatalf("GET /users: %s %s (%v), want an ActivationURL of the activate page", res.Status, body, err)
	}
}
