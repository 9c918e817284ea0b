package mail

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"pforte/internal/account"
)

const (
	testLink = "https://www.example.org/confirm?token=abc123&action=confirm"
	// testLinkHTML is testLink as an HTML attribute: & escaped.
	testLinkHTML = "https://www.example.org/confirm?token=abc123&amp;action=confirm"
	testToken    = "dGVzdC10b2tlbi1mb3ItdGhlLW1haWwtdGVtcGxhdGVz"
	testCode     = "48151623"
)

// kindCases says what each kind must show. deWord and enWord are words
// of its subject in that language and not in the other.
var kindCases = []struct {
	kind           account.MailKind
	deWord, enWord string
	link           bool // carries a link, or a token when there is none
	validFor       time.Duration
	deValid        string // validFor as the German text says it
	enValid        string
}{
	{account.MailConfirm, "Registrierung", "registration", true, 24 * time.Hour, "24 Stunden", "24 hours"},
	{account.MailConfirmResend, "Bestätigung", "confirmation", true, 24 * time.Hour, "24 Stunden", "24 hours"},
	{account.MailRegisterAttempt, "Registrierung", "registration", true, time.Hour, "1 Stunde", "1 hour"},
	{account.MailPasswordReset, "Passwort", "password", true, time.Hour, "1 Stunde", "1 hour"},
	{account.MailPasswordChanged, "Passwort", "password", false, 0, "", ""},
	{account.MailInvite, "Einladung", "invitation", true, 7 * 24 * time.Hour, "7 Tage", "7 days"},
}

func mustTemplates(t *testing.T) *Templates {
	t.Helper()
	tm, err := NewTemplates()
	if err != nil {
		t.Fatalf("NewTemplates: %v", err)
	}
	return tm
}

// mustWriteFiles writes files (relative path → content) under dir.
func mustWriteFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for rel, content := range files {
		name := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func mustRender(t *testing.T, tm *Templates, dir string, d account.MailData) account.Rendered {
	t.Helper()
	r, err := tm.Render(dir, d)
	if err != nil {
		t.Fatalf("Render(%q, %s/%s): %v", dir, d.Locale, d.Kind, err)
	}
	return r
}

func TestRenderEveryKindAndLocale(t *testing.T) {
	tm := mustTemplates(t)
	for _, kc := range kindCases {
		for _, loc := range []string{"de", "en"} {
			for _, withLink := range []bool{true, false} {
				name := string(kc.kind) + "/" + loc + "/link"
				if !withLink {
					name = string(kc.kind) + "/" + loc + "/token"
				}
				t.Run(name, func(t *testing.T) {
					d := account.MailData{Kind: kc.kind, Locale: loc, Tenant: "acme", Name: "Foo Bar", Email: "foo@example.org", ValidFor: kc.validFor}
					if kc.link {
						if withLink {
							d.Link = testLink
						} else {
							d.Token = testToken
						}
					}
					if kc.kind == account.MailInvite {
						d.Code = testCode
					}
					r := mustRender(t, tm, "", d)

					if r.Subject == "" || r.Subject != strings.TrimSpace(r.Subject) || strings.ContainsAny(r.Subject, "\r\n") {
						t.Errorf("subject %q: want non-empty, trimmed, one line", r.Subject)
					}
					want, other := kc.deWord, kc.enWord
					greeting := "Hallo Foo Bar,"
					valid := kc.deValid
					if loc == "en" {
						want, other = other, want
						greeting = "Hello Foo Bar,"
						valid = kc.enValid
					}
					if !strings.Contains(strings.ToLower(r.Subject), strings.ToLower(want)) || strings.Contains(strings.ToLower(r.Subject), strings.ToLower(other)) {
						t.Errorf("subject %q: want %q and not %q", r.Subject, want, other)
					}
					for part, body := range map[string]string{"text": r.Text, "html": r.HTML} {
						if strings.Contains(body, "\r") {
							t.Errorf("%s holds a CR", part)
						}
						if !strings.HasSuffix(body, "\n") {
							t.Errorf("%s does not end with a newline", part)
						}
						if !strings.Contains(body, greeting) {
							t.Errorf("%s lacks the greeting %q:\n%s", part, greeting, body)
						}
						if valid != "" && !strings.Contains(body, valid) {
							t.Errorf("%s lacks the validity %q:\n%s", part, valid, body)
						}
					}
					if !strings.HasPrefix(r.HTML, "<!DOCTYPE html>") || !strings.Contains(r.HTML, `<html lang="`+loc+`">`) {
						t.Errorf("html does not start as a %s document:\n%s", loc, r.HTML)
					}

					switch {
					case !kc.link:
						if strings.Contains(r.Text, "http") || strings.Contains(r.HTML, "href") {
							t.Errorf("%s carries a link:\n%s\n%s", kc.kind, r.Text, r.HTML)
						}
					case withLink:
						if !strings.Contains(r.Text, "\n"+testLink+"\n") {
							t.Errorf("text lacks the link on a line of its own:\n%s", r.Text)
						}
						if strings.Contains(r.Text, "&amp;") {
							t.Errorf("text escapes the link:\n%s", r.Text)
						}
						if !strings.Contains(r.HTML, `href="`+testLinkHTML+`"`) {
							t.Errorf("html lacks href=%q:\n%s", testLinkHTML, r.HTML)
						}
					default:
						if !strings.Contains(r.Text, "\n"+testToken+"\n") || !strings.Contains(r.HTML, testToken) {
							t.Errorf("the token is missing:\n%s\n%s", r.Text, r.HTML)
						}
						if strings.Contains(r.HTML, "href") || strings.Contains(r.Text, "http") {
							t.Errorf("a mail without a link carries one:\n%s\n%s", r.Text, r.HTML)
						}
					}
					if kc.kind == account.MailInvite {
						if !strings.Contains(r.Text, "\n"+testCode+"\n") || !strings.Contains(r.HTML, ">"+testCode+"<") {
							t.Errorf("the invitation lacks the code:\n%s\n%s", r.Text, r.HTML)
						}
					}
				})
			}
		}
	}
}

func TestRenderNeutralGreeting(t *testing.T) {
	tm := mustTemplates(t)
	for loc, want := range map[string]string{"de": "Guten Tag,", "en": "Hello,"} {
		r := mustRender(t, tm, "", account.MailData{Kind: account.MailConfirm, Locale: loc, Link: testLink})
		if !strings.HasPrefix(r.Text, want+"\n") || !strings.Contains(r.HTML, want) {
			t.Errorf("%s: want the greeting %q:\n%s", loc, want, r.Text)
		}
	}
}

func TestRenderLocale(t *testing.T) {
	tm := mustTemplates(t)
	de := mustRender(t, tm, "", account.MailData{Kind: account.MailPasswordReset, Locale: "de", Link: testLink}).Subject
	en := mustRender(t, tm, "", account.MailData{Kind: account.MailPasswordReset, Locale: "en", Link: testLink}).Subject
	for _, tc := range []struct{ locale, want string }{
		{"de", de}, {"en", en}, {"en-GB", en}, {"en_US", en}, {"EN", en},
		{"de-CH", de}, {"de-AT", de}, {"fr", de}, {"", de}, {"english", de},
	} {
		r := mustRender(t, tm, "", account.MailData{Kind: account.MailPasswordReset, Locale: tc.locale, Link: testLink})
		if r.Subject != tc.want {
			t.Errorf("locale %q: subject %q, want %q", tc.locale, r.Subject, tc.want)
		}
	}
}

func TestRenderLinkWinsOverToken(t *testing.T) {
	tm := mustTemplates(t)
	for _, kc := range kindCases {
		r := mustRender(t, tm, "", account.MailData{Kind: kc.kind, Locale: "en", Link: testLink, Token: testToken, Code: testCode})
		if strings.Contains(r.Text, testToken) || strings.Contains(r.HTML, testToken) {
			t.Errorf("%s shows both the link and the token", kc.kind)
		}
	}
}

func TestRenderEscapesHTML(t *testing.T) {
	tm := mustTemplates(t)
	name := `<script>alert("x")</script>`
	for _, kc := range kindCases {
		r := mustRender(t, tm, "", account.MailData{Kind: kc.kind, Locale: "de", Name: name, Email: "a<b>@example.org", Link: testLink, Code: testCode})
		if strings.Contains(r.HTML, "<script") || strings.Contains(r.HTML, "<b>") {
			t.Errorf("%s: html does not escape:\n%s", kc.kind, r.HTML)
		}
		if !strings.Contains(r.HTML, "&lt;script&gt;") {
			t.Errorf("%s: html lacks the escaped name:\n%s", kc.kind, r.HTML)
		}
		if !strings.Contains(r.Text, "Hallo "+name+",") {
			t.Errorf("%s: text changes the name:\n%s", kc.kind, r.Text)
		}
	}
}

func TestRenderRefusesUnsafeLinkScheme(t *testing.T) {
	tm := mustTemplates(t)
	r := mustRender(t, tm, "", account.MailData{Kind: account.MailConfirm, Locale: "en", Link: "javascript:alert(1)"})
	if strings.Contains(r.HTML, `href="javascript:`) {
		t.Errorf("html keeps a javascript: link:\n%s", r.HTML)
	}
}

func TestRenderUnknownKind(t *testing.T) {
	tm := mustTemplates(t)
	if _, err := tm.Render("", account.MailData{Kind: "welcome", Locale: "de"}); err == nil {
		t.Error("Render of an unknown kind succeeded")
	}
}

func TestTemplatesHumanDuration(t *testing.T) {
	for _, tc := range []struct {
		d      time.Duration
		de, en string
	}{
		{24 * time.Hour, "24 Stunden", "24 hours"},
		{time.Hour, "1 Stunde", "1 hour"},
		{7 * 24 * time.Hour, "7 Tage", "7 days"},
		{48 * time.Hour, "2 Tage", "2 days"},
		{36 * time.Hour, "36 Stunden", "36 hours"},
		{2 * time.Hour, "2 Stunden", "2 hours"},
		{150 * time.Minute, "2 Stunden", "2 hours"},
		{90 * time.Minute, "90 Minuten", "90 minutes"},
		{30 * time.Minute, "30 Minuten", "30 minutes"},
		{time.Minute, "1 Minute", "1 minute"},
		{10 * time.Second, "1 Minute", "1 minute"},
	} {
		if got := humanDuration("de", tc.d); got != tc.de {
			t.Errorf("humanDuration(de, %v) = %q, want %q", tc.d, got, tc.de)
		}
		if got := humanDuration("en", tc.d); got != tc.en {
			t.Errorf("humanDuration(en, %v) = %q, want %q", tc.d, got, tc.en)
		}
	}
}

func TestRenderNormalisesLineEndings(t *testing.T) {
	tm := mustTemplates(t)
	dir := t.TempDir()
	mustWriteFiles(t, dir, map[string]string{
		"en/confirm.txt": "{{define \"subject\"}}\r\n  Confirm  \r\n{{end}}\r\n{{define \"text\"}}Hello,\r\n\r\n\r\n\r\nline\rnext\r\n{{.Link}}\r\n{{end}}\r\n",
	})
	if err := tm.Check(dir); err != nil {
		t.Fatal(err)
	}
	r := mustRender(t, tm, dir, account.MailData{Kind: account.MailConfirm, Locale: "en", Link: testLink})
	if r.Subject != "Confirm" {
		t.Errorf("subject %q, want it trimmed", r.Subject)
	}
	if want := "Hello,\n\nline\nnext\n" + testLink + "\n"; r.Text != want {
		t.Errorf("text %q, want %q", r.Text, want)
	}
}

func TestCheckAndRenderOverride(t *testing.T) {
	tm := mustTemplates(t)
	dir := t.TempDir()
	mustWriteFiles(t, dir, map[string]string{
		"de/confirm.txt": `{{define "subject"}}Willkommen bei Acme: bitte bestätigen{{end}}
{{define "text"}}Hallo {{.Name}},

bitte bestätigen Sie hier:

{{.Link}}
{{end}}
`,
	})
	if err := tm.Check(dir); err != nil {
		t.Fatalf("Check: %v", err)
	}
	defaults := func(kind account.MailKind, loc string) account.Rendered {
		return mustRender(t, tm, "", account.MailData{Kind: kind, Locale: loc, Name: "Foo", Link: testLink, Code: testCode, ValidFor: time.Hour})
	}

	r := mustRender(t, tm, dir, account.MailData{Kind: account.MailConfirm, Locale: "de", Name: "Foo", Link: testLink, ValidFor: time.Hour})
	if r.Subject != "Willkommen bei Acme: bitte bestätigen" {
		t.Errorf("subject %q, want the override's", r.Subject)
	}
	if !strings.HasPrefix(r.Text, "Hallo Foo,\n\nbitte bestätigen Sie hier:\n\n"+testLink+"\n") {
		t.Errorf("text is not the override's:\n%s", r.Text)
	}
	untitled := func(r account.Rendered) string {
		return strings.Replace(r.HTML, "<title>"+r.Subject+"</title>", "", 1)
	}
	if def := defaults(account.MailConfirm, "de"); untitled(r) != untitled(def) {
		t.Errorf("html of de/confirm is not the default's:\n%s", r.HTML)
	}

	for _, tc := range []struct {
		kind account.MailKind
		loc  string
	}{
		{account.MailConfirm, "en"}, {account.MailInvite, "de"}, {account.MailPasswordReset, "de"},
	} {
		got := mustRender(t, tm, dir, account.MailData{Kind: tc.kind, Locale: tc.loc, Name: "Foo", Link: testLink, Code: testCode, ValidFor: time.Hour})
		if want := defaults(tc.kind, tc.loc); got != want {
			t.Errorf("%s/%s: the override dir changed a kind it does not override", tc.loc, tc.kind)
		}
	}
}

func TestCheckAndRenderOverrideLayout(t *testing.T) {
	tm := mustTemplates(t)
	dir := t.TempDir()
	mustWriteFiles(t, dir, map[string]string{
		"layout.html": `{{define "layout"}}<html><body><h1>Acme</h1>{{template "html" .}}</body></html>{{end}}
{{define "button"}}<a href="{{.Link}}">{{template "label" .}}</a>{{end}}
{{define "code"}}<b>{{.}}</b>{{end}}
{{define "token"}}<code>{{.}}</code>{{end}}`,
	})
	if err := tm.Check(dir); err != nil {
		t.Fatalf("Check: %v", err)
	}
	r := mustRender(t, tm, dir, account.MailData{Kind: account.MailInvite, Locale: "en", Link: testLink, Code: testCode})
	if !strings.HasPrefix(r.HTML, "<html><body><h1>Acme</h1>") || !strings.Contains(r.HTML, `<a href="`+testLinkHTML+`">Activate account</a>`) {
		t.Errorf("html does not use the override layout:\n%s", r.HTML)
	}
}

func TestCheckRefuses(t *testing.T) {
	tm := mustTemplates(t)
	good := `{{define "subject"}}Hi{{end}}{{define "text"}}{{.Link}}{{end}}`
	for _, tc := range []struct {
		name  string
		files map[string]string // nil: no directory at all
		want  string            // in the error
	}{
		{"missing dir", nil, "no such file"},
		{"empty dir", map[string]string{}, "no template file"},
		{"only an empty locale dir", map[string]string{"de/": ""}, "no template file"},
		{"syntax error", map[string]string{"de/confirm.txt": `{{define "subject"}}Hi {{.Name{{end}}{{define "text"}}x{{end}}`}, "de/confirm.txt"},
		{"unclosed define", map[string]string{"en/invite.html": `{{define "html"}}<p>x</p>`}, "en/invite.html"},
		{"unknown file", map[string]string{"de/confrim.txt": good}, "de/confrim.txt"},
		{"unknown locale", map[string]string{"fr/confirm.txt": good}, "fr"},
		{"unknown top-level file", map[string]string{"confirm.txt": good}, "confirm.txt"},
		{"unknown field", map[string]string{"de/password_reset.txt": `{{define "subject"}}Hi{{end}}{{define "text"}}{{.Nmae}}{{end}}`}, "de/password_reset.txt"},
		{"unknown field in the token branch", map[string]string{"en/confirm.html": `{{define "label"}}Go{{end}}{{define "html"}}{{if .Link}}{{template "button" .}}{{else}}{{.Tokn}}{{end}}{{end}}`}, "en/confirm.html"},
		{"unknown field in html", map[string]string{"en/confirm.html": `{{define "html"}}{{.Customer.Name}}{{end}}`}, "en/confirm.html"},
		{"unknown function", map[string]string{"de/confirm.txt": `{{define "subject"}}{{upper .Name}}{{end}}{{define "text"}}x{{end}}`}, "de/confirm.txt"},
		{"no subject", map[string]string{"de/confirm.txt": `{{define "text"}}x{{end}}`}, `"subject"`},
		{"no html block", map[string]string{"de/confirm.html": `<p>x</p>`}, `"html"`},
		{"empty subject", map[string]string{"de/confirm.txt": `{{define "subject"}}  {{end}}{{define "text"}}x{{end}}`}, "empty"},
		{"subject with a newline", map[string]string{"en/invite.txt": "{{define \"subject\"}}Line one\nLine two{{end}}{{define \"text\"}}x{{end}}"}, "en/invite.txt"},
		{"subject with the name", map[string]string{"en/invite.txt": `{{define "subject"}}Hi {{.Name}}{{end}}{{define "text"}}x{{end}}`}, ""},
		{"layout without button", map[string]string{"layout.html": `{{define "layout"}}{{template "html" .}}{{end}}`}, "layout.html"},
		{"layout without layout", map[string]string{"layout.html": `<html></html>`}, "layout.html"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "templates")
			if tc.files != nil {
				if err := os.Mkdir(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				for rel, content := range tc.files {
					if strings.HasSuffix(rel, "/") {
						if err := os.Mkdir(filepath.Join(dir, rel), 0o755); err != nil {
							t.Fatal(err)
						}
						continue
					}
					mustWriteFiles(t, dir, map[string]string{rel: content})
				}
			}
			err := tm.Check(dir)
			if tc.want == "" {
				// A name holds no line break in the sample data, so
				// this one passes Check; Render refuses it below.
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Check accepted the directory")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Check: %v; want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestCheckRefusesAFile(t *testing.T) {
	tm := mustTemplates(t)
	name := filepath.Join(t.TempDir(), "templates")
	if err := os.WriteFile(name, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := tm.Check(name); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("Check(file) = %v", err)
	}
}

func TestRenderRefusesSubjectLineBreak(t *testing.T) {
	tm := mustTemplates(t)
	dir := t.TempDir()
	mustWriteFiles(t, dir, map[string]string{
		"en/invite.txt":  "{{define \"subject\"}}Line one\nLine two{{end}}{{define \"text\"}}x{{end}}",
		"en/confirm.txt": `{{define "subject"}}Welcome, {{.Name}}{{end}}{{define "text"}}{{.Link}}{{end}}`,
	})
	if _, err := tm.Render(dir, account.MailData{Kind: account.MailInvite, Locale: "en", Link: testLink}); err == nil {
		t.Error("Render accepted a subject with a newline")
	}
	for _, name := range []string{"Foo\r\nBcc: victim@example.org", "Foo\nBar", "Foo\x00", "Foo\u2028Bar"} {
		if r, err := tm.Render(dir, account.MailData{Kind: account.MailConfirm, Locale: "en", Name: name, Link: testLink}); err == nil {
			t.Errorf("Render accepted the subject %q", r.Subject)
		}
	}
	r := mustRender(t, tm, dir, account.MailData{Kind: account.MailConfirm, Locale: "en", Name: "Foo Bar", Link: testLink})
	if r.Subject != "Welcome, Foo Bar" {
		t.Errorf("subject %q", r.Subject)
	}
}

func TestRenderIgnoresStrayFiles(t *testing.T) {
	tm := mustTemplates(t)
	dir := t.TempDir()
	mustWriteFiles(t, dir, map[string]string{
		"de/confirm.txt":  `{{define "subject"}}Override{{end}}{{define "text"}}{{.Link}}{{end}}`,
		"de/confirm.txt~": "editor backup",
		"README":          "notes",
	})
	if err := tm.Check(dir); err == nil {
		t.Error("Check accepted stray files")
	}
	r := mustRender(t, tm, dir, account.MailData{Kind: account.MailConfirm, Locale: "de", Link: testLink})
	if r.Subject != "Override" {
		t.Errorf("subject %q, want the override's", r.Subject)
	}
}

func TestRenderCachesOverrides(t *testing.T) {
	tm := mustTemplates(t)
	dir := t.TempDir()
	name := filepath.Join(dir, "de", "confirm.txt")
	write := func(subject string, mtime time.Time) {
		t.Helper()
		mustWriteFiles(t, dir, map[string]string{"de/confirm.txt": `{{define "subject"}}` + subject + `{{end}}{{define "text"}}{{.Link}}{{end}}`})
		if err := os.Chtimes(name, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	subject := func() string {
		t.Helper()
		return mustRender(t, tm, dir, account.MailData{Kind: account.MailConfirm, Locale: "de", Link: testLink}).Subject
	}
	then := time.Now().Add(-time.Hour).Truncate(time.Second)
	write("Version A", then)
	if got := subject(); got != "Version A" {
		t.Fatalf("subject %q", got)
	}
	// Same size and modification time: the parsed templates are reused
	// and the file is not read again.
	write("Version B", then)
	if got := subject(); got != "Version A" {
		t.Errorf("subject %q: the unchanged directory was parsed again", got)
	}
	// A new modification time: the file is read again.
	write("Version B", then.Add(time.Second))
	if got := subject(); got != "Version B" {
		t.Errorf("subject %q: the changed file was not read again", got)
	}
	// A new file for another kind is picked up too.
	mustWriteFiles(t, dir, map[string]string{"en/confirm.txt": `{{define "subject"}}English override{{end}}{{define "text"}}{{.Link}}{{end}}`})
	if r := mustRender(t, tm, dir, account.MailData{Kind: account.MailConfirm, Locale: "en", Link: testLink}); r.Subject != "English override" {
		t.Errorf("subject %q: the new file was not read", r.Subject)
	}
	// A directory that vanished is an error, not a silent fallback.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := tm.Render(dir, account.MailData{Kind: account.MailConfirm, Locale: "de", Link: testLink}); err == nil {
		t.Error("Render with a removed directory succeeded")
	}
}

func TestRenderConcurrently(t *testing.T) {
	tm := mustTemplates(t)
	dir := t.TempDir()
	mustWriteFiles(t, dir, map[string]string{"en/invite.html": `{{define "html"}}<p>{{.Code}}</p>{{end}}`})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 20 {
				d := account.MailData{Kind: account.MailKinds[(i+j)%len(account.MailKinds)], Locale: []string{"de", "en"}[j%2], Link: testLink, Code: testCode}
				for _, dir := range []string{"", dir} {
					if _, err := tm.Render(dir, d); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}
