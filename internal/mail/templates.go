package mail

import (
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	texttemplate "text/template"
	"time"
	"unicode"
	"unicode/utf8"

	"pforte/internal/account"
)

// templateFS holds the default templates: layout.html, and for each locale
// and kind a .txt file defining "subject" and "text" and an .html file
// defining "html" (and "label", the text of its button).
//
//go:embed templates
var templateFS embed.FS

// templateLocales are the languages of the templates; the first is the
// default.
var templateLocales = []string{"de", "en"}

const (
	layoutFile = "layout.html"
	// maxTemplateSize bounds a file read from an override directory.
	maxTemplateSize = 1 << 20
)

// Templates renders mails from the embedded German and English templates,
// or from a tenant's directory that overrides some of them. It implements
// account.Renderer and is safe for concurrent use.
//
// An override directory has the layout of the embedded one: layout.html
// and de/confirm.txt, en/invite.html and so on. Each file it holds
// replaces the default file of that name; the defaults serve the rest.
type Templates struct {
	sources  map[string]templateSource // the embedded files, by relative path
	defaults templateSet

	mu    sync.Mutex
	cache map[string]cachedDir // parsed override directories, by path
}

var _ account.Renderer = (*Templates)(nil)

// templateSource is the text of one template file.
type templateSource struct {
	name     string // shown in errors: the file's path
	text     string
	override bool // read from an override directory
}

// cachedDir is a parsed override directory, valid while its stamp holds.
type cachedDir struct {
	stamp string // the names, sizes and modification times of its files
	set   templateSet
}

// templateSet is one parsed generation of templates: an entry for every
// locale and kind.
type templateSet map[templateKey]templateEntry

type templateKey struct {
	locale string
	kind   account.MailKind
}

type templateEntry struct {
	text     *texttemplate.Template // defines "subject" and "text"
	textFile string
	html     *htmltemplate.Template // layout.html with the kind's "html"
	htmlFile string
}

// templateView is what a template sees: the mail's data with Locale
// resolved to de or en, and the rendered subject (for the HTML title).
type templateView struct {
	account.MailData
	Subject string
}

// NewTemplates parses the embedded templates and renders each with
// sample data, so a broken default fails at start rather than at the
// first mail.
func NewTemplates() (*Templates, error) {
	t := &Templates{sources: make(map[string]templateSource), cache: make(map[string]cachedDir)}
	for _, rel := range templateFiles() {
		b, err := templateFS.ReadFile("templates/" + rel)
		if err != nil {
			return nil, fmt.Errorf("mail templates: %w", err)
		}
		t.sources[rel] = templateSource{name: "embedded " + rel, text: string(b)}
	}
	s, err := parseTemplates(t.sources)
	if err != nil {
		return nil, err
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	t.defaults = s
	return t, nil
}

// Render renders d with the templates of dir, or with the embedded ones
// when dir is empty. A locale other than de or en is taken by its
// language ("en-GB" is en); an unknown one is de.
func (t *Templates) Render(dir string, d account.MailData) (account.Rendered, error) {
	s := t.defaults
	if dir != "" {
		var err error
		if s, err = t.dir(dir); err != nil {
			return account.Rendered{}, err
		}
	}
	return s.render(d)
}

// Check refuses dir unless it exists, holds at least one template file
// and nothing else, and every kind renders in every locale with sample
// data. It is strict about names so that a misspelt file, which Render
// would ignore, is caught when the directory is set.
func (t *Templates) Check(dir string) error {
	found, err := scanTemplateDir(dir, true)
	if err != nil {
		return err
	}
	if len(found) == 0 {
		return fmt.Errorf("mail templates: %s holds no template file (want layout.html or de/confirm.txt and the like)", dir)
	}
	s, err := t.load(dir, found)
	if err != nil {
		return err
	}
	return s.check()
}

// dir returns the parsed templates of an override directory. It reads
// only the directory listings and the files' metadata unless a file
// changed since it last parsed them.
func (t *Templates) dir(dir string) (templateSet, error) {
	dir = filepath.Clean(dir)
	found, err := scanTemplateDir(dir, false)
	if err != nil {
		return nil, err
	}
	st := dirStamp(found)
	t.mu.Lock()
	c, ok := t.cache[dir]
	t.mu.Unlock()
	if ok && c.stamp == st {
		return c.set, nil
	}
	s, err := t.load(dir, found)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	t.cache[dir] = cachedDir{stamp: st, set: s}
	t.mu.Unlock()
	return s, nil
}

// load parses the files found in dir over the embedded defaults.
func (t *Templates) load(dir string, found map[string]fs.FileInfo) (templateSet, error) {
	src := make(map[string]templateSource, len(t.sources))
	for rel, s := range t.sources {
		src[rel] = s
	}
	for rel := range found {
		name := filepath.Join(dir, filepath.FromSlash(rel))
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("mail templates: %w", err)
		}
		if !utf8.Valid(b) {
			return nil, fmt.Errorf("mail templates: %s: not UTF-8", name)
		}
		src[rel] = templateSource{name: name, text: string(b), override: true}
	}
	return parseTemplates(src)
}

// templateFiles lists every file a template directory may hold, by
// relative path.
func templateFiles() []string {
	files := []string{layoutFile}
	for _, loc := range templateLocales {
		for _, kind := range account.MailKinds {
			files = append(files, path.Join(loc, string(kind)+".txt"), path.Join(loc, string(kind)+".html"))
		}
	}
	return files
}

// scanTemplateDir finds the template files in dir, by relative path.
// Strict (for Check), it refuses anything else in dir; else (for Render)
// it ignores it, so that a stray file cannot stop mail.
func scanTemplateDir(dir string, strict bool) (map[string]fs.FileInfo, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("mail templates: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("mail templates: %s is not a directory", dir)
	}
	known := templateFiles()
	found := make(map[string]fs.FileInfo)
	add := func(rel string) error {
		name := filepath.Join(dir, filepath.FromSlash(rel))
		if !slices.Contains(known, rel) {
			if strict {
				return fmt.Errorf("mail templates: %s: unknown file (want layout.html or {de,en}/{kind}.{txt,html}, kind one of %s)", name, kindNames())
			}
			return nil
		}
		fi, err := os.Stat(name)
		if err != nil {
			return fmt.Errorf("mail templates: %w", err)
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("mail templates: %s is not a regular file", name)
		}
		if fi.Size() > maxTemplateSize {
			return fmt.Errorf("mail templates: %s is larger than %d bytes", name, maxTemplateSize)
		}
		found[rel] = fi
		return nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("mail templates: %w", err)
	}
	for _, e := range entries {
		if slices.Contains(templateLocales, e.Name()) {
			sub := filepath.Join(dir, e.Name())
			if fi, err := os.Stat(sub); err == nil && fi.IsDir() {
				subEntries, err := os.ReadDir(sub)
				if err != nil {
					return nil, fmt.Errorf("mail templates: %w", err)
				}
				for _, se := range subEntries {
					if err := add(e.Name() + "/" + se.Name()); err != nil {
						return nil, err
					}
				}
				continue
			}
		}
		if err := add(e.Name()); err != nil {
			return nil, err
		}
	}
	return found, nil
}

func kindNames() string {
	kinds := make([]string, len(account.MailKinds))
	for i, k := range account.MailKinds {
		kinds[i] = string(k)
	}
	return strings.Join(kinds, ", ")
}

// dirStamp identifies the state of the files found in a directory.
func dirStamp(found map[string]fs.FileInfo) string {
	rels := make([]string, 0, len(found))
	for rel := range found {
		rels = append(rels, rel)
	}
	sort.Strings(rels)
	var b strings.Builder
	for _, rel := range rels {
		fi := found[rel]
		fmt.Fprintf(&b, "%s %d %d\n", rel, fi.Size(), fi.ModTime().UnixNano())
	}
	return b.String()
}

// parseTemplates parses a full set of sources: layout.html and both
// files of every locale and kind.
func parseTemplates(src map[string]templateSource) (templateSet, error) {
	layout := src[layoutFile]
	s := make(templateSet)
	for _, loc := range templateLocales {
		funcs := map[string]any{
			"duration": func(d time.Duration) string { return humanDuration(loc, d) },
		}
		for _, kind := range account.MailKinds {
			var e templateEntry
			txt := src[path.Join(loc, string(kind)+".txt")]
			tt, err := texttemplate.New(path.Join(loc, string(kind)+".txt")).Funcs(funcs).Parse(txt.text)
			if err != nil {
				return nil, fmt.Errorf("mail templates: %s: %w", txt.name, err)
			}
			for _, block := range []string{"subject", "text"} {
				if tt.Lookup(block) == nil {
					return nil, fmt.Errorf("mail templates: %s: no {{define %q}}", txt.name, block)
				}
			}
			e.text, e.textFile = tt, txt.name

			h := src[path.Join(loc, string(kind)+".html")]
			ht, err := htmltemplate.New(layoutFile).Funcs(funcs).Parse(layout.text)
			if err != nil {
				return nil, fmt.Errorf("mail templates: %s: %w", layout.name, err)
			}
			if ht.Lookup("layout") == nil {
				return nil, fmt.Errorf("mail templates: %s: no {{define \"layout\"}}", layout.name)
			}
			if _, err := ht.New(path.Join(loc, string(kind)+".html")).Parse(h.text); err != nil {
				return nil, fmt.Errorf("mail templates: %s: %w", h.name, err)
			}
			if ht.Lookup("html") == nil {
				return nil, fmt.Errorf("mail templates: %s: no {{define \"html\"}}", h.name)
			}
			e.html, e.htmlFile = ht, h.name
			if layout.override {
				e.htmlFile += " with " + layout.name
			}
			s[templateKey{loc, kind}] = e
		}
	}
	return s, nil
}

// render renders d. Errors name the template file.
func (s templateSet) render(d account.MailData) (account.Rendered, error) {
	loc := templateLocale(d.Locale)
	e, ok := s[templateKey{loc, d.Kind}]
	if !ok {
		return account.Rendered{}, fmt.Errorf("mail templates: unknown kind %q", d.Kind)
	}
	v := templateView{MailData: d}
	v.Locale = loc
	var b strings.Builder
	if err := e.text.ExecuteTemplate(&b, "subject", v); err != nil {
		return account.Rendered{}, fmt.Errorf("mail templates: %s: %w", e.textFile, err)
	}
	subject, err := cleanSubject(b.String())
	if err != nil {
		return account.Rendered{}, fmt.Errorf("mail templates: %s: %w", e.textFile, err)
	}
	v.Subject = subject

	b.Reset()
	if err := e.text.ExecuteTemplate(&b, "text", v); err != nil {
		return account.Rendered{}, fmt.Errorf("mail templates: %s: %w", e.textFile, err)
	}
	text := tidyText(b.String())
	if text == "" {
		return account.Rendered{}, fmt.Errorf("mail templates: %s: the text is empty", e.textFile)
	}

	b.Reset()
	if err := e.html.ExecuteTemplate(&b, "layout", v); err != nil {
		return account.Rendered{}, fmt.Errorf("mail templates: %s: %w", e.htmlFile, err)
	}
	html := tidyHTML(b.String())
	if html == "" {
		return account.Rendered{}, fmt.Errorf("mail templates: %s: the HTML is empty", e.htmlFile)
	}
	return account.Rendered{Subject: subject, Text: text, HTML: html}, nil
}

// check renders every kind in every locale with sample data.
func (s templateSet) check() error {
	for _, loc := range templateLocales {
		for _, kind := range account.MailKinds {
			for _, d := range sampleData(kind, loc) {
				if _, err := s.render(d); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// sampleData are the data Check renders a kind with: one mail with a name
// and a link, and one with neither, which shows the token instead. Both
// branches of a template run, so an unknown field in either is caught.
func sampleData(kind account.MailKind, loc string) []account.MailData {
	d := account.MailData{
		Kind:     kind,
		Locale:   loc,
		Tenant:   "example",
		Name:     "Erika Mustermann",
		Email:    "erika@example.org",
		ValidFor: 24 * time.Hour,
	}
	switch kind {
	case account.MailPasswordReset, account.MailRegisterAttempt:
		d.ValidFor = time.Hour
	case account.MailInvite:
		d.ValidFor = 7 * 24 * time.Hour
		d.Code = "12345678"
	case account.MailPasswordChanged, account.MailEmailInUse, account.MailEmailChangedBy:
		d.ValidFor = 0
	case account.MailEmailChanged, account.MailNewSignIn:
		d.ValidFor = 7 * 24 * time.Hour
	}
	d.NewEmail, d.Device = "erika.neu@example.org", "Firefox on Windows"
	link := d
	link.Link = "https://www.example.org/actions/?accountId=example&customerId=1&token=sample&action=confirm"
	token := d
	token.Name = ""
	token.Token = "c2FtcGxlLXRva2VuLWZvci1jaGVja2luZy10ZW1wbGF0ZXM"
	return []account.MailData{link, token}
}

// templateLocale maps a customer's locale to one of the templates'
// languages: de and en as they are, others by their language ("en-GB"
// is en), and anything unknown to de.
func templateLocale(l string) string {
	l = strings.ToLower(strings.TrimSpace(l))
	if i := strings.IndexAny(l, "-_"); i >= 0 {
		l = l[:i]
	}
	if slices.Contains(templateLocales, l) {
		return l
	}
	return templateLocales[0]
}

// durationUnits are the words for days, hours and minutes, singular and
// plural.
var durationUnits = map[string][3][2]string{
	"de": {{"Tag", "Tage"}, {"Stunde", "Stunden"}, {"Minute", "Minuten"}},
	"en": {{"day", "days"}, {"hour", "hours"}, {"minute", "minutes"}},
}

// humanDuration says how long d is in language loc: in days when it is
// whole days of two or more, else in hours from one hour up, else in
// minutes. It rounds down, so a mail never promises more time than a
// token has.
func humanDuration(loc string, d time.Duration) string {
	const day = 24 * time.Hour
	var n int64
	var unit int
	switch {
	case d >= 2*day && d%day == 0:
		n, unit = int64(d/day), 0
	case d >= 2*time.Hour || d == time.Hour:
		n, unit = int64(d/time.Hour), 1
	default:
		n, unit = max(int64(d/time.Minute), 1), 2
	}
	words := durationUnits[loc][unit]
	if n == 1 {
		return fmt.Sprintf("%d %s", n, words[0])
	}
	return fmt.Sprintf("%d %s", n, words[1])
}

// cleanSubject trims the subject and refuses one that is empty or holds a
// control character. A CR or LF in a subject could inject mail headers,
// and it could come from a template or from the customer's name.
func cleanSubject(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("the subject is empty")
	}
	if !utf8.ValidString(s) {
		return "", errors.New("the subject is not UTF-8")
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return "", fmt.Errorf("the subject %q holds a control character or line break", s)
		}
	}
	return s, nil
}

// tidyText normalises line endings to \n, drops trailing spaces, and
// folds runs of blank lines (left by template actions) into one.
func tidyText(s string) string {
	var b strings.Builder
	blank := false
	for _, line := range strings.Split(normaliseNewlines(s), "\n") {
		line = strings.TrimRight(line, " \t")
		if line == "" {
			blank = true
			continue
		}
		if blank && b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(line)
		b.WriteByte('\n')
		blank = false
	}
	return b.String()
}

// tidyHTML normalises line endings to \n and trims the document.
func tidyHTML(s string) string {
	s = strings.TrimSpace(normaliseNewlines(s))
	if s == "" {
		return ""
	}
	return s + "\n"
}

func normaliseNewlines(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}
