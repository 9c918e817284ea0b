package pages

import (
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"pforte/internal/account"
)

// A tenant may replace any page template, and the layout, with files of
// the same name in a directory (setting pages.templates): layout.html,
// register.html, ... Files it lacks come from the defaults. The directory
// is parsed and every page rendered with sample data when the setting is
// set, so that a broken template is refused then; a server rereads it at
// most every overrideTTL.

const settingTemplates = "pages.templates"

// overrideTTL bounds how long a changed template file takes to show.
const overrideTTL = 10 * time.Second

// parsePages parses every page from dir's files where it has them, else
// from the embedded ones. dir "" gives the defaults.
func parsePages(dir string) (map[string]*template.Template, error) {
	source := func(name string) (string, error) {
		if dir != "" {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err == nil {
				return string(b), nil
			} else if !errors.Is(err, os.ErrNotExist) {
				return "", err
			}
		}
		b, err := assets.ReadFile("templates/" + name)
		return string(b), err
	}
	layout, err := source("layout.html")
	if err != nil {
		return nil, err
	}
	views := map[string]*template.Template{}
	for _, name := range pageNames {
		page, err := source(name + ".html")
		if err != nil {
			return nil, err
		}
		t, err := template.New(name).Parse(layout)
		if err == nil {
			t, err = t.Parse(page)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		views[name] = t
	}
	return views, nil
}

// checkTemplateDir validates a pages.templates value: an absolute path to
// a directory whose templates parse and render every page with sample
// data in both languages.
func checkTemplateDir(dir string) error {
	if dir == "" {
		return nil
	}
	if !filepath.IsAbs(dir) {
		return errors.New("must be an absolute path")
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return errors.New("must be a directory this server can read")
	}
	views, err := parsePages(dir)
	if err != nil {
		return err
	}
	for _, lang := range languages {
		msgs, err := catalogue(lang)
		if err != nil {
			return err
		}
		for name, t := range views {
			if err := t.ExecuteTemplate(io.Discard, "layout", sampleView(lang, msgs)); err != nil {
				return fmt.Errorf("%s (%s): %w", name, lang, err)
			}
		}
	}
	return nil
}

// catalogue reads one language's messages.
func catalogue(lang string) (map[string]string, error) {
	b, err := assets.ReadFile("messages/" + lang + ".json")
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("messages/%s.json: %w", lang, err)
	}
	return m, nil
}

// sampleView is a view with every field a page may show filled in.
func sampleView(lang string, msgs map[string]string) *view {
	l := &locale{Lang: lang, msgs: msgs}
	v := &view{L: l, Brand: brand{Name: "Beispiel"}, Title: "Titel", Static: Prefix + "/static", Base: Prefix + "/beispiel",
		Action: Prefix + "/beispiel/register", CSRF: "x", LangURL: map[string]string{"de": "?lang=de", "en": "?lang=en"},
		Errors: []errorItem{{Field: "email", Message: "m"}}, FieldErr: map[string]string{"email": "m"}, Form: map[string]string{},
		Notice: "n", Message: "m", Token: "t", Consent: "c", AskPassword: true,
		Customer: account.Customer{Email: "kunde@example.org", CreatedAt: time.Unix(0, 0)}, PasswordHint: "h", minLength: 8,
		Sessions: []sessionRow{{ID: 1, Current: true, Device: "Firefox on Windows", Address: "192.0.2.0/24", LastSeenAt: time.Unix(0, 0)},
			{ID: 2, Device: "Safari on iPhone", Remembered: true, LastSeenAt: time.Unix(0, 0)}},
		CanRemember: true, NewEmail: "neu@example.org", Submit: "s"}
	v.salutations("ms")
	return v
}

// overrides caches the parsed template directories of tenants.
type overrides struct {
	mu   sync.Mutex
	sets map[string]overrideSet
}

type overrideSet struct {
	views map[string]*template.Template
	at    time.Time
}

// views is dir's parsed pages, reread after overrideTTL; nil when dir
// can no longer be parsed (it was checked when set): the defaults serve.
func (o *overrides) views(dir string) map[string]*template.Template {
	o.mu.Lock()
	defer o.mu.Unlock()
	if s, ok := o.sets[dir]; ok && time.Since(s.at) < overrideTTL {
		return s.views
	}
	views, err := parsePages(dir)
	if err != nil {
		views = nil
	}
	if o.sets == nil {
		o.sets = map[string]overrideSet{}
	}
	o.sets[dir] = overrideSet{views: views, at: time.Now()}
	return views
}
