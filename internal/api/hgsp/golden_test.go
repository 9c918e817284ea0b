package hgsp_test

import (
	"context"
	"html"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"pforte/internal/account"
	"pforte/internal/api/apitest"
	"pforte/internal/store/teststore"
)

// HGSP's identifiers: the user of the request sample and its template.
const (
	seedUser     = "11efbcf6-1628-4719-a18b-b3e6f12b1130"
	seedEmail    = "test_11efbcf6-1628-4719-a18b-b3e6f12b1130@trash-mail.com"
	seedTemplate = "6e55e861-6d9f-4177-90b8-a0019c58f47e"
)

// step is one request of a golden replay. Its request file may use
// {{Name}} for a value an earlier answer generated; in its response file,
// {{Name}} stands for the generated values of the elements named in vars,
// which the test captures for later steps.
type step struct {
	name     string
	method   string
	path     string
	public   bool   // the public key; else the secret key
	bearer   string // a variable holding an SSO token, sent as Bearer instead of a key
	request  string // testdata file, or ""
	status   int
	response string   // testdata file, or "" for an empty body
	vars     []string // elements whose values the answer generates
}

// TestGolden replays HGSP's request sample, a variant with a strong
// password, and the RefID sample against the real server, followed by the
// documents of the flows that come after a registration: GET /users,
// activation, reset and password change.
func TestGolden(t *testing.T) {
	t.Parallel()
	steps := []step{
		// HGSP's sample verbatim: its password 123456 is refused.
		{name: "seed sample, service user", method: "POST", path: "/registeruserrequest", request: "register_seed.request.xml",
			status: http.StatusBadRequest, response: "register_seed.response.xml"},
		// A public key may not choose the identifier or a template user.
		{name: "seed sample, ZRP", method: "POST", path: "/registeruserrequest", public: true, request: "register_seed.request.xml",
			status: http.StatusForbidden, response: "register_seed_public.response.xml"},
		{name: "strong password", method: "POST", path: "/registeruserrequest", request: "register_strong.request.xml",
			status: http.StatusCreated, response: "register_strong.response.xml"},
		{name: "user with activation", method: "GET", path: "/users?email=" + seedEmail,
			status: http.StatusOK, response: "users_strong.response.xml", vars: []string{"ActivationURL", "ActivationCode"}},
		{name: "activation", method: "POST", path: "/activationrequest", public: true, request: "activation_strong.request.xml",
			status: http.StatusOK, response: "activation_strong.response.xml"},
		{name: "active user", method: "GET", path: "/users?email=" + seedEmail,
			status: http.StatusOK, response: "users_active.response.xml"},
		{name: "reset code", method: "GET", path: "/passwordresetrequest?email=" + seedEmail,
			status: http.StatusOK, response: "resetcode_strong.response.xml", vars: []string{"ResetCode"}},
		{name: "reset", method: "POST", path: "/passwordresetrequest", public: true, request: "passwordreset_strong.request.xml",
			status: http.StatusNoContent},
		{name: "service user password change", method: "POST", path: "/passwordchangerequest", request: "passwordchange_service.request.xml",
			status: http.StatusNoContent},
		{name: "SSO password change", method: "POST", path: "/passwordchangerequest", bearer: "SSOToken", request: "passwordchange_sso.request.xml",
			status: http.StatusNoContent},
		{name: "RefID sample", method: "POST", path: "/registeruserrequest", request: "register_refid.request.xml",
			status: http.StatusCreated, response: "register_refid.response.xml", vars: []string{"HMGUserID"}},
		{name: "RefID user", method: "GET", path: "/users?email=partner-6@example.com",
			status: http.StatusOK, response: "users_refid.response.xml", vars: []string{"HMGUserID", "ActivationURL", "ActivationCode"}},
	}
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		t.Parallel()
		h := newHarness(t, open)
		vars := map[string]string{}
		for _, s := range steps {
			if s.name == "strong password" {
				// The sample names a template user; it exists from here on.
				h.mustTemplate(t, seedTemplate, "en", "partner-6e55")
			}
			if s.name == "SSO password change" {
				h.mustNoLogin(t, seedEmail, "Zurueckgesetzt-im-Jahr-2030")
				vars["SSOToken"] = h.mustLogin(t, seedEmail, "Vom-Dienstnutzer-gesetzt-2030")
			}
			r := request{Method: s.method, Path: s.path, Key: h.secret}
			if s.public {
				r.Key = h.public
			}
			if s.bearer != "" {
				r.Key, r.Bearer = "", vars[s.bearer]
			}
			if s.request != "" {
				r.Body = substitute(t, readFile(t, s.request), vars)
			}
			res := h.do(t, r)
			if res.Status != s.status {
				t.Fatalf("%s: %s, want %d", s.name, res, s.status)
			}
			got := string(res.Body)
			for _, name := range s.vars {
				got = capture(t, got, name, vars)
			}
			if s.response == "" {
				if got != "" {
					t.Errorf("%s: body %q, want none", s.name, got)
				}
				continue
			}
			path := filepath.Join("testdata", s.response)
			if *apitest.Update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if want := readFile(t, s.response); got != want {
				t.Errorf("%s: got\n%s\nwant\n%s", s.name, got, want)
			}
		}
		// What the goldens imply, checked in the store: the template's
		// locale and partner went over, and the passwords changed.
		c := h.mustStored(t, seedEmail)
		if c.UUID != seedUser || c.Locale != "en" || c.PartnerRef != "partner-6e55" || c.Salutation != "ms" || c.State != account.StateActive {
			t.Errorf("seed user: %+v", c)
		}
		h.mustNoLogin(t, seedEmail, "Vom-Dienstnutzer-gesetzt-2030")
		h.mustLogin(t, seedEmail, "Selbst-geaendert-im-Jahr-2030")
		if p := h.mustStored(t, "partner-6@example.com"); p.PartnerRef != "6" || p.Salutation != "mr" || p.State != account.StatePending {
			t.Errorf("RefID user: %+v", p)
		}
	})
}

// mustTemplate creates a template user with a locale and a partner.
func (h *harness) mustTemplate(t *testing.T, id, locale, partner string) {
	t.Helper()
	_, err := h.svc.Customers.Create(context.Background(), h.caller, account.NewCustomer{Email: "template-" + id[:8] + "@example.com",
		UUID: id, Password: "Template-Passwort-2030", Profile: account.Profile{Locale: locale, PartnerRef: partner}})
	if err != nil {
		t.Fatalf("create template user: %v", err)
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// shapes are what generated values must look like.
var shapes = map[string]*regexp.Regexp{
	"HMGUserID":      regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`),
	"ActivationCode": regexp.MustCompile(`^[0-9]{8}$`),
	"ResetCode":      regexp.MustCompile(`^[0-9]{8}$`),
	"ActivationURL":  regexp.MustCompile(`^` + regexp.QuoteMeta(endpoint) + `\?accountId=default&customerId=[0-9]+&token=[A-Za-z0-9_-]{22,}&action=activate$`),
}

var placeholder = regexp.MustCompile(`\{\{(\w+)\}\}`)

// substitute fills {{Name}} from vars.
func substitute(t *testing.T, s string, vars map[string]string) string {
	t.Helper()
	return placeholder.ReplaceAllStringFunc(s, func(m string) string {
		v, ok := vars[m[2:len(m)-2]]
		if !ok {
			t.Fatalf("no value for %s", m)
		}
		return html.EscapeString(v)
	})
}

// capture stores the value of element name in vars and replaces it in
// body with {{name}}.
func capture(t *testing.T, body, name string, vars map[string]string) string {
	t.Helper()
	re := regexp.MustCompile(`<` + name + `>([^<]+)</` + name + `>`)
	m := re.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %s in\n%s", name, body)
	}
	v := html.UnescapeString(m[1])
	if shape, ok := shapes[name]; ok && !shape.MatchString(v) {
		t.Fatalf("%s %q does not match %s", name, v, shape)
	}
	vars[name] = v
	return strings.Replace(body, m[0], "<"+name+">{{"+name+"}}</"+name+">", 1)
}
