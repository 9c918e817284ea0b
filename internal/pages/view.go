package pages

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"golang.org/x/text/language"

	"pforte/internal/account"
)

// languages are the languages of the pages, the first the fallback.
var languages = []string{"de", "en"}

var languageMatcher = language.NewMatcher([]language.Tag{language.German, language.English})

// locale is the language of one page: its messages, dates and
// salutations.
type locale struct {
	Lang string
	msgs map[string]string
}

// T is the message under key; a missing key shows as itself, which the
// catalogue tests catch.
func (l *locale) T(key string) string {
	if m, ok := l.msgs[key]; ok {
		return m
	}
	return key
}

// Tf is T with fmt arguments.
func (l *locale) Tf(key string, args ...any) string { return fmt.Sprintf(l.T(key), args...) }

var monthsDE = [...]string{"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"}

// Date is a day in the language's long form: 2. Dezember 2026, 2 December 2026.
func (l *locale) Date(t time.Time) string {
	if l.Lang == "de" {
		return fmt.Sprintf("%d. %s %d", t.Day(), monthsDE[t.Month()-1], t.Year())
	}
	return t.Format("2 January 2006")
}

// DateTime is a moment in the language's long form, in UTC: 2. Dezember
// 2026, 14:05 UTC.
func (l *locale) DateTime(t time.Time) string {
	return l.Date(t.UTC()) + ", " + t.UTC().Format("15:04") + " UTC"
}

// locale picks the page's language: a lang parameter (remembered in a
// cookie), else the remembered one, else the browser's Accept-Language,
// else the tenant's default. w is nil where nothing may be remembered.
func (p *Pages) locale(w http.ResponseWriter, q *request) *locale {
	pick := func(lang string) *locale { return &locale{Lang: lang, msgs: p.msgs[lang]} }
	if lang := q.URL.Query().Get("lang"); lang == "de" || lang == "en" {
		if w != nil {
			http.SetCookie(w, &http.Cookie{Name: langCookie, Value: lang, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		}
		return pick(lang)
	}
	if ck, err := q.Cookie(langCookie); err == nil && (ck.Value == "de" || ck.Value == "en") {
		return pick(ck.Value)
	}
	if tags, _, err := language.ParseAcceptLanguage(q.Header.Get("Accept-Language")); err == nil && len(tags) > 0 {
		if _, i, conf := languageMatcher.Match(tags...); conf != language.No {
			return pick(languages[i])
		}
	}
	if d := q.c.Tenant.Setting("default_locale"); d == "en" {
		return pick("en")
	}
	return pick("de")
}

// brand is how a tenant's pages look and whom they name.
type brand struct {
	Name       string
	LogoURL    string
	Colour     string
	SupportURL string
	ImprintURL string
	PrivacyURL string
}

// brandOf is the caller's brand: its application's settings where it
// has them, else its tenant's.
func brandOf(c account.Caller) brand {
	b := brand{Name: c.Setting(settingName), LogoURL: c.Setting(settingLogo), Colour: c.Setting(settingColour),
		SupportURL: c.Setting(settingSupport), ImprintURL: c.Setting(settingImprint), PrivacyURL: c.Setting(settingPrivacy)}
	if b.Name == "" {
		b.Name = c.Tenant.Slug
	}
	return b
}

// view is what a page template sees.
type view struct {
	L        *locale
	Brand    brand
	Title    string
	Static   string // the path of the stylesheet's folder
	Base     string // the path of the tenant's pages
	Action   string // where the page's form posts to
	CSRF     string
	LangURL  map[string]string
	Errors   []errorItem
	FieldErr map[string]string
	Form     map[string]string
	Notice   string
	Message  string

	Token, ReturnTo, PartnerID, App, Consent string
	// Authorization is the OpenID Connect login the page carries, for
	// the client Client; create says the client asked for registration.
	Authorization, Client              string
	create                             bool
	AskPassword, ByCode                bool
	Customer                           account.Customer
	Sessions                           []sessionRow
	CanRemember                        bool
	NewEmail, Submit                   string // an address change's link page: its address and button
	Salutations                        []option
	PasswordHint, OptionalPasswordHint string

	minLength int
	templates string          // the tenant's template directory, if any
	ctx       context.Context // the request's, for the lines render logs
}

// errorItem is one line of a page's error summary, linked to its field.
type errorItem struct {
	Field   string
	Message string
}

// option is one choice of a select.
type option struct {
	Value, Label string
	Selected     bool
}

func (p *Pages) view(q *request, titleKey string) *view {
	v := &view{L: q.loc, Brand: brandOf(q.c), Title: q.loc.T(titleKey), Static: Prefix + "/static", Base: q.base,
		Action: q.URL.RequestURI(), FieldErr: map[string]string{}, Form: map[string]string{}, LangURL: map[string]string{},
		ctx: q.Context()}
	if q.c.App != nil {
		v.App = q.c.App.Name
	}
	if q.authz != nil {
		v.Authorization, v.Client, v.create = q.authz.ID, q.client, q.authz.Asks(account.PromptCreate)
	}
	if q.c.Tenant.ID != 0 {
		v.CSRF = p.csrf(q)
		v.templates = q.c.Setting(settingTemplates)
	}
	for _, lang := range languages {
		query := q.URL.Query()
		query.Set("lang", lang)
		v.LangURL[lang] = q.URL.Path + "?" + query.Encode()
	}
	v.minLength = p.svc.PasswordMinLength()
	v.PasswordHint = q.loc.Tf("password.hint", v.minLength)
	v.OptionalPasswordHint = q.loc.T("password.optional")
	return v
}

// Link is the path of another of the tenant's pages, for the same
// application.
func (v *view) Link(page string) string {
	query := url.Values{}
	if v.App != "" {
		query.Set("app", v.App)
	}
	if v.Authorization != "" && (page == "login" || page == "register" || page == "forgot") {
		query.Set("authorization", v.Authorization)
		if page == "login" && v.create {
			query.Set("login", "form") // registration was asked for; this is the way out
		}
	}
	if len(query) == 0 {
		return v.Base + "/" + page
	}
	return v.Base + "/" + page + "?" + query.Encode()
}

// salutations lists the choices, selected the one in the form.
func (v *view) salutations(selected string) {
	for _, s := range account.Salutations {
		v.Salutations = append(v.Salutations, option{Value: s, Label: v.L.T("salutation." + s), Selected: s == selected})
	}
}

// field is one input of a form, with its label, value, hint and error.
type field struct {
	Name, Type, Label, Value, Error, Autocomplete, Hint, RequiredText, Inputmode string
	Required                                                                     bool
}

// F is the field name of the page's form; passwords are never filled in
// again.
func (v *view) F(name, labelKey, typ, autocomplete string, required bool) field {
	f := field{Name: name, Type: typ, Label: v.L.T(labelKey), Error: v.FieldErr[name], Autocomplete: autocomplete,
		Required: required, RequiredText: v.L.T("required")}
	if typ != "password" {
		f.Value = v.Form[name]
	}
	return f
}

// WithHint is the field with a hint below its label.
func (f field) WithHint(hint string) field { f.Hint = hint; return f }

// Numeric is the field with a numeric keyboard on phones.
func (f field) Numeric() field { f.Inputmode = "numeric"; return f }

// showError puts an error of the service onto the page: each field's next
// to its input and all of them in the summary. It reports whether the
// error was one the page can show so.
func (v *view) showError(err error, rename map[string]string) bool {
	e := account.AsError(err)
	switch {
	case e.Kind == account.KindInvalid && len(e.Fields) > 0:
		for _, f := range e.Fields {
			name := f.Field
			if to, ok := rename[name]; ok {
				name = to
			}
			v.addFieldError(name, f.Code)
		}
		return true
	case e.Kind == account.KindInvalid, e.Kind == account.KindUnauthorized, e.Kind == account.KindForbidden:
		key := "error." + e.Code
		if _, ok := v.L.msgs[key]; !ok {
			key = "error.generic"
		}
		v.Errors = append(v.Errors, errorItem{Message: v.L.T(key)})
		return true
	}
	return false
}

// addFieldError shows a field's error by its code.
func (v *view) addFieldError(name, code string) {
	key := "field." + code
	if _, ok := v.L.msgs[key]; !ok {
		key = "field.invalid"
	}
	msg := v.L.T(key)
	if code == "too_short" {
		msg = v.L.Tf(key, v.minLength)
	}
	if _, seen := v.FieldErr[name]; !seen {
		v.FieldErr[name] = msg
		v.Errors = append(v.Errors, errorItem{Field: name, Message: msg})
	}
}

// Tenant settings of the pages.
const (
	settingName       = "pages.display_name"
	settingLogo       = "pages.logo_url"
	settingColour     = "pages.primary_colour"
	settingSupport    = "pages.support_url"
	settingImprint    = "pages.imprint_url"
	settingPrivacy    = "pages.privacy_url"
	settingConsentDE  = "pages.consent_de"
	settingConsentEN  = "pages.consent_en"
	settingPartnerIDs = "pages.partner_ids"
	settingReturnURLs = "pages.return_urls"
)

var colourPattern = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

func init() {
	text := func(max int) func(string) error {
		return func(v string) error {
			if len([]rune(v)) > max || strings.ContainsAny(v, "\x00\r") {
				return fmt.Errorf("must be at most %d characters of text", max)
			}
			return nil
		}
	}
	account.RegisterSettings(
		account.SettingSpec{Key: settingName, PerApp: true, Type: account.SettingString, Validate: text(80),
			Doc: "the name the hosted pages show; empty: the tenant's slug"},
		account.SettingSpec{Key: settingLogo, PerApp: true, Type: account.SettingURL, Doc: "the logo the hosted pages show (https)"},
		account.SettingSpec{Key: settingColour, PerApp: true, Type: account.SettingString,
			Validate: func(v string) error {
				if v != "" && !colourPattern.MatchString(v) {
					return fmt.Errorf("must be a colour such as #0b57d0")
				}
				return nil
			}, Doc: "the pages' primary colour, #rrggbb; empty: pforte's blue"},
		account.SettingSpec{Key: settingSupport, PerApp: true, Type: account.SettingURL, Doc: "a help or contact page every page links to"},
		account.SettingSpec{Key: settingImprint, PerApp: true, Type: account.SettingURL, Doc: "the imprint (Impressum) every page links to"},
		account.SettingSpec{Key: settingPrivacy, PerApp: true, Type: account.SettingURL, Doc: "the privacy policy (Datenschutzerklärung) every page links to"},
		account.SettingSpec{Key: settingConsentDE, PerApp: true, Type: account.SettingString, Validate: text(2000),
			Doc: "the consent text the German register page shows with a checkbox that must be ticked; empty: the English one, else none"},
		account.SettingSpec{Key: settingConsentEN, PerApp: true, Type: account.SettingString, Validate: text(2000),
			Doc: "the consent text of the English register page; empty: the German one, else none"},
		account.SettingSpec{Key: settingPartnerIDs, Type: account.SettingString, Validate: validatePartnerIDs,
			Doc: "comma-separated partner ids that the register page's ?partnerId= may name; empty: any short token of letters, digits, . _ -"},
		account.SettingSpec{Key: settingTemplates, PerApp: true, Type: account.SettingString, Validate: checkTemplateDir,
			Doc: "absolute path of a directory of page templates (layout.html, register.html, ...) replacing the defaults it has files for; parsed and rendered when set"},
		account.SettingSpec{Key: settingReturnURLs, PerApp: true, Type: account.SettingString, Validate: validateReturnURLs,
			Doc: "comma-separated URLs the pages may send the browser to after a flow (?return_to=, exact match); the first is where they go when none is asked for; empty: the account page"},
	)
}

var partnerPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

func validatePartnerIDs(v string) error {
	for _, id := range splitList(v) {
		if !partnerPattern.MatchString(id) {
			return fmt.Errorf("%q is not 1 to 64 letters, digits, dots, dashes or underscores", id)
		}
	}
	return nil
}

func validateReturnURLs(v string) error {
	for _, u := range splitList(v) {
		parsed, err := url.Parse(u)
		if err != nil || parsed.Host == "" || parsed.User != nil || parsed.Fragment != "" {
			return fmt.Errorf("%q must be an absolute URL without credentials or fragment", u)
		}
		local := parsed.Hostname() == "localhost" || parsed.Hostname() == "127.0.0.1" || parsed.Hostname() == "::1"
		if parsed.Scheme != "https" && !(parsed.Scheme == "http" && local) {
			return fmt.Errorf("%q must use https (http only for localhost)", u)
		}
	}
	return nil
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// allowedReturn reports whether the tenant configures u as a return URL.
func allowedReturn(c account.Caller, u string) bool {
	for _, ok := range splitList(c.Setting(settingReturnURLs)) {
		if u != "" && u == ok {
			return true
		}
	}
	return false
}

// defaultReturn is where a flow ends when no return URL was asked for.
func defaultReturn(c account.Caller) string {
	if urls := splitList(c.Setting(settingReturnURLs)); len(urls) > 0 {
		return urls[0]
	}
	return ""
}

// returnOrigins are the origins of the tenant's return URLs, to which a
// form post may redirect.
func returnOrigins(c account.Caller) []string {
	var out []string
	for _, u := range splitList(c.Setting(settingReturnURLs)) {
		if parsed, err := url.Parse(u); err == nil {
			out = append(out, parsed.Scheme+"://"+parsed.Host)
		}
	}
	return out
}

// registerConsent is the consent text the register page shows: the
// newest version pforte keeps for the page's application or tenant in
// its language, else the pages.consent_* setting, else none.
func (p *Pages) registerConsent(q *request) (account.Consent, error) {
	ct, ok, err := p.svc.Consents.Current(q.Context(), q.c, q.loc.Lang)
	if err != nil {
		return account.Consent{}, err
	}
	if ok {
		return account.Consent{Version: ct.Version, Lang: ct.Lang, Text: ct.Text}, nil
	}
	return shownConsent(q.c, q.loc.Lang), nil
}

// shownConsent is the consent text the register page shows, for the
// opt-in proof: its version is the setting it comes from.
func shownConsent(c account.Caller, lang string) account.Consent {
	de, en := c.Setting(settingConsentDE), c.Setting(settingConsentEN)
	if lang == "en" && en != "" || de == "" {
		return account.Consent{Version: settingConsentEN, Lang: "en", Text: en}
	}
	return account.Consent{Version: settingConsentDE, Lang: "de", Text: de}
}

// partnerAllowed reports whether a ?partnerId= may be kept.
func partnerAllowed(c account.Caller, id string) bool {
	if !partnerPattern.MatchString(id) {
		return false
	}
	allowed := splitList(c.Tenant.Setting(settingPartnerIDs))
	if len(allowed) == 0 {
		return true
	}
	for _, a := range allowed {
		if a == id {
			return true
		}
	}
	return false
}
