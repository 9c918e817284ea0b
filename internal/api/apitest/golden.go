package apitest

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Update makes golden replays rewrite their files from the server's answers.
var Update = flag.Bool("update", false, "rewrite the golden files in testdata/ from the server's answers")

// A golden exchange, testdata/NAME.http, is a request and the response it
// must get, separated by a line "=== response":
//
//	PUT /accounts/customers/{{customerId}}
//	X-API-KEY: {{publicKey}}
//	Content-Type: application/json
//
//	{"token": "{{token}}", "password": "Neues-Passwort-2030"}
//	=== response
//	HTTP 200
//	Cache-Control: no-store
//	Content-Type: application/json
//
//	{ ...the JSON body, indented, keys sorted... }
//
// {{name}} in a request is replaced with a value of the run; in the answer,
// every JSON string that equals such a value (ids, tokens, times, request
// ids) is replaced with "{{name}}", and with Numbers every number that
// does with {{name}} unquoted, before the comparison. Values the answer
// itself generates are captured from it first (see Capture). Requests are
// sent exactly as written. A golden link, testdata/NAME.link, is a mail's
// link with {{name}} for such values.
const separator = "=== response"

// goldenHeaders are the response headers an exchange shows and compares.
var goldenHeaders = []string{"Allow", "Cache-Control", "Content-Type", "Retry-After"}

// Golden replays the golden files of testdata.
type Golden struct {
	do      func(*testing.T, Request) *Response
	Numbers bool     // replace numbers that equal a value, too
	names   []string // in order of priority, for values that coincide
	vars    map[string]string
	used    map[string]bool
}

// NewGolden replays through do, which sends a request as the package's
// harness does.
func NewGolden(do func(*testing.T, Request) *Response) *Golden {
	return &Golden{do: do, vars: map[string]string{}, used: map[string]bool{}}
}

// Set names a value of the run.
func (g *Golden) Set(name, value string) {
	if _, ok := g.vars[name]; !ok {
		g.names = append(g.names, name)
	}
	g.vars[name] = value
}

// Var returns the value of a name.
func (g *Golden) Var(name string) string { return g.vars[name] }

func (g *Golden) expand(s string) string {
	for _, n := range g.names {
		s = strings.ReplaceAll(s, "{{"+n+"}}", g.vars[n])
	}
	return s
}

func (g *Golden) read(t *testing.T, name string) string {
	t.Helper()
	g.used[name] = true
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("golden file: %v", err)
	}
	return string(b)
}

// Capture names a value the answer generates, at a path of its JSON body.
type Capture struct {
	Name string
	Path []string
}

// Exchange sends the request of testdata/name and compares the answer,
// after taking the captured values from it.
func (g *Golden) Exchange(t *testing.T, name string, captures ...Capture) *Response {
	t.Helper()
	text := g.read(t, name)
	reqText, want, found := strings.Cut(text, "\n"+separator+"\n")
	if !found {
		t.Fatalf("%s: no %q line", name, separator)
	}
	res := g.do(t, parseRequest(t, name, g.expand(reqText)))
	g.Set("requestId", res.Header.Get("X-Request-Id"))
	for _, c := range captures {
		g.Set(c.Name, lookup(t, res, c.Path))
	}
	got := g.render(t, res)
	if *Update {
		if err := os.WriteFile(filepath.Join("testdata", name), []byte(reqText+"\n"+separator+"\n"+got), 0o644); err != nil {
			t.Fatal(err)
		}
		return res
	}
	if got != want {
		t.Errorf("%s: the answer differs from the golden file\n--- got\n%s--- want\n%s", name, got, want)
	}
	return res
}

// Exchanges replays the exchanges named, in order, capturing nothing.
func (g *Golden) Exchanges(t *testing.T, names ...string) {
	t.Helper()
	for _, name := range names {
		g.Exchange(t, name)
	}
}

// Link compares a mail's link with testdata/name.
func (g *Golden) Link(t *testing.T, name, got string) {
	t.Helper()
	if want := strings.TrimSpace(g.expand(g.read(t, name))); got != want {
		t.Errorf("%s: link\n%s, want\n%s", name, got, want)
	}
}

// lookup returns the string or number at path in res's JSON body.
func lookup(t *testing.T, res *Response, path []string) string {
	t.Helper()
	var v any
	dec := json.NewDecoder(bytes.NewReader(res.Body))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s: %v", res, err)
	}
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s: no %s", res, strings.Join(path, "."))
		}
		v = m[p]
	}
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	}
	t.Fatalf("%s: %s is %v, not a string or number", res, strings.Join(path, "."), v)
	return ""
}

// MustAllUsed checks that the test replayed every golden file.
func (g *Golden) MustAllUsed(t *testing.T) {
	t.Helper()
	files, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !g.used[f.Name()] {
			t.Errorf("testdata/%s was not replayed", f.Name())
		}
	}
}

// parseRequest reads "METHOD PATH", header lines, a blank line and the
// body, sent as it is written (less the final line break).
func parseRequest(t *testing.T, name, text string) Request {
	t.Helper()
	head, body, _ := strings.Cut(text, "\n\n")
	lines := strings.Split(head, "\n")
	method, path, ok := strings.Cut(lines[0], " ")
	if !ok {
		t.Fatalf("%s: request line %q", name, lines[0])
	}
	r := Request{Method: method, Path: path, ContentType: "-"}
	for _, l := range lines[1:] {
		k, v, ok := strings.Cut(l, ": ")
		if !ok {
			t.Fatalf("%s: header line %q", name, l)
		}
		switch http.CanonicalHeaderKey(k) {
		case "X-Api-Key":
			r.Key = v
		case "Content-Type":
			r.ContentType = v
		default:
			t.Fatalf("%s: header %s is not supported by the replay", name, k)
		}
	}
	if body = strings.TrimSuffix(body, "\n"); body != "" {
		r.Body = body
	}
	return r
}

// numberMark marks a number replaced by a name until it is unquoted.
const numberMark = "\x00#"

var markedNumber = regexp.MustCompile(`"\\u0000#(\w+)"`)

// render writes an answer as a golden file shows it, with the run's
// values replaced by their names.
func (g *Golden) render(t *testing.T, res *Response) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP %d\n", res.Status)
	for _, k := range goldenHeaders {
		if v := res.Header.Get(k); v != "" {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	b.WriteString("\n")
	var v any
	dec := json.NewDecoder(bytes.NewReader(res.Body))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s: body is not JSON: %v", res, err)
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(g.names2vars(v)); err != nil {
		t.Fatal(err)
	}
	if g.Numbers {
		b.WriteString(markedNumber.ReplaceAllString(out.String(), "{{$1}}"))
	} else {
		b.Write(out.Bytes())
	}
	return b.String()
}

// names2vars replaces every string (and with Numbers every number) of v
// that equals a value of the run with its name.
func (g *Golden) names2vars(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = g.names2vars(e)
		}
	case []any:
		for i, e := range x {
			x[i] = g.names2vars(e)
		}
	case string:
		for _, n := range g.names {
			if g.vars[n] != "" && x == g.vars[n] {
				return "{{" + n + "}}"
			}
		}
	case json.Number:
		if !g.Numbers {
			break
		}
		for _, n := range g.names {
			if g.vars[n] != "" && x.String() == g.vars[n] {
				return numberMark + n
			}
		}
	}
	return v
}
