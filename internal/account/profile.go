package account

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/language"
)

var supportedLocales = language.NewMatcher([]language.Tag{language.German, language.English})

// matchLocale picks de or en from an Accept-Language header, or fallback.
func matchLocale(acceptLanguage, fallback string) string {
	if acceptLanguage == "" {
		return fallback
	}
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(tags) == 0 {
		return fallback
	}
	_, i, conf := supportedLocales.Match(tags...)
	if conf == language.No {
		return fallback
	}
	return []string{"de", "en"}[i]
}

// setProfile copies the non-empty fields of p.
func (c *Customer) setProfile(p Profile) {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&c.Salutation, p.Salutation)
	set(&c.FirstName, p.FirstName)
	set(&c.LastName, p.LastName)
	set(&c.Username, p.Username)
	set(&c.Locale, p.Locale)
	set(&c.PartnerRef, p.PartnerRef)
}

// setDefaults fills the empty fields of p from d.
func (p *Profile) setDefaults(d Profile) {
	c := Customer{}
	c.setProfile(d)
	c.setProfile(*p)
	*p = c.profile()
}

func (c Customer) profile() Profile {
	return Profile{Salutation: c.Salutation, FirstName: c.FirstName, LastName: c.LastName,
		Username: c.Username, Locale: c.Locale, PartnerRef: c.PartnerRef}
}

// Profile is the descriptive part of a customer.
type Profile struct {
	Salutation string
	FirstName  string
	LastName   string
	Username   string
	Locale     string
	PartnerRef string
}

// Salutations are the forms of address pforte knows; dialects map theirs onto these.
var Salutations = []string{"mr", "ms", "mx"}

var (
	usernamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	localePattern   = regexp.MustCompile(`^[a-z]{2}(-[A-Z]{2})?$`)
)

// checkText refuses control characters (CR and LF above all: names reach
// mail headers) and overlong values.
func checkText(field, v string, max int) *FieldError {
	if utf8.RuneCountInString(v) > max {
		return &FieldError{Field: field, Code: FieldTooLong, Message: "must be at most " + strconv.Itoa(max) + " characters"}
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return &FieldError{Field: field, Code: FieldInvalid, Message: "must not contain control characters"}
		}
	}
	return nil
}

func (p Profile) validate() []FieldError {
	var fields []FieldError
	add := func(fe *FieldError) {
		if fe != nil {
			fields = append(fields, *fe)
		}
	}
	add(checkText("first_name", p.FirstName, 100))
	add(checkText("last_name", p.LastName, 100))
	add(checkText("partner_ref", p.PartnerRef, 64))
	if p.Salutation != "" && !contains(Salutations, p.Salutation) {
		add(&FieldError{Field: "salutation", Code: FieldInvalid, Message: "must be one of " + strings.Join(Salutations, ", ")})
	}
	if p.Username != "" && !usernamePattern.MatchString(p.Username) {
		add(&FieldError{Field: "username", Code: FieldInvalid, Message: "must be 1 to 64 letters, digits, dots, dashes or underscores, starting with a letter or digit"})
	}
	if p.Locale != "" && !localePattern.MatchString(p.Locale) {
		add(&FieldError{Field: "locale", Code: FieldInvalid, Message: "must be a language tag such as de or en-GB"})
	}
	return fields
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
