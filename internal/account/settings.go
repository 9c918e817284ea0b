package account

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// SettingSpec documents one tenant setting and validates its values. The
// service's own settings are in settingSpecs; an API package registers its
// own with RegisterSettings.
type SettingSpec struct {
	Key     string
	Type    SettingType
	Default string
	Doc     string
	// Values lists the allowed values of an enum.
	Values []string
	// Validate checks a value beyond its type; nil: the type's check only.
	Validate func(string) error
	// PerApp lets an application override the tenant's value (see
	// Application.Settings and Caller.Setting).
	PerApp bool
}

// SettingType is the kind of value a setting holds.
type SettingType string

const (
	SettingBool   SettingType = "bool"   // true or false
	SettingEnum   SettingType = "enum"   // one of Values
	SettingURL    SettingType = "url"    // an absolute https URL (http only for localhost), or empty
	SettingString SettingType = "string" // checked by Validate alone
)

// check validates v against the setting's type and its own rule.
func (s SettingSpec) check(v string) error {
	switch s.Type {
	case SettingBool:
		if err := oneOf("true", "false")(v); err != nil {
			return err
		}
	case SettingEnum:
		if err := oneOf(s.Values...)(v); err != nil {
			return err
		}
	case SettingURL:
		if err := checkLinkURL(v, false); err != nil {
			return err
		}
	}
	if s.Validate != nil {
		return s.Validate(v)
	}
	return nil
}

var (
	registryMu sync.RWMutex
	registered = map[string]SettingSpec{} // the API packages' settings
)

// RegisterSettings adds an API package's tenant settings, from its init
// function. A key must be the package's name, a dot and the setting's
// name (gradido.allow_cors_all), so that no package's setting can shadow
// the service's or another package's; a clash panics at start-up.
func RegisterSettings(specs ...SettingSpec) {
	registryMu.Lock()
	defer registryMu.Unlock()
	for _, spec := range specs {
		prefix, name, ok := strings.Cut(spec.Key, ".")
		if !ok || prefix == "" || name == "" {
			panic("account: setting " + spec.Key + " must be named package.setting")
		}
		if _, taken := registered[spec.Key]; taken {
			panic("account: setting " + spec.Key + " registered twice")
		}
		if err := spec.check(spec.Default); err != nil {
			panic("account: the default of setting " + spec.Key + " is invalid: " + err.Error())
		}
		registered[spec.Key] = spec
	}
}

// settingSpec finds a setting, the service's or a registered one.
func settingSpec(key string) (SettingSpec, bool) {
	if spec, ok := settingSpecs[key]; ok {
		return spec, true
	}
	registryMu.RLock()
	defer registryMu.RUnlock()
	spec, ok := registered[key]
	return spec, ok
}

func oneOf(values ...string) func(string) error {
	return func(v string) error {
		for _, ok := range values {
			if v == ok {
				return nil
			}
		}
		return fmt.Errorf("must be one of %s", strings.Join(values, ", "))
	}
}

var settingSpecs = map[string]SettingSpec{
	"delivery": {
		Key: "delivery", Default: string(DeliveryBoth),
		Doc:  "how tokens reach customers: mail (pforte mails them), return (secret-key callers get them and the site mails them), or both",
		Type: SettingEnum, Values: []string{string(DeliveryMail), string(DeliveryReturn), string(DeliveryBoth)},
	},
	"default_locale": {
		Key: "default_locale", Default: "de",
		Doc:  "locale for customers that give none and whose request names no language: de or en",
		Type: SettingEnum, Values: []string{"de", "en"},
	},
	"mail_from": {
		Key: "mail_from", Default: "",
		Doc:  "sender of this tenant's mail, e.g. Example Shop <noreply@example.org>; empty: --mail-from",
		Type: SettingString, Validate: validateMailFrom,
	},
	"endpoint": {
		Key: "endpoint", Default: "",
		Doc:  "request endpoint for links without an application: {endpoint}?accountId=..&customerId=..&token=..&action=..",
		Type: SettingURL,
	},
	"confirm_url": {
		Key: "confirm_url", Default: "",
		Doc:  "link template for confirmations, with {token} (and optionally {customerId}, {accountId})",
		Type: SettingString, Validate: func(v string) error { return checkLinkURL(v, true) },
	},
	"reset_url": {
		Key: "reset_url", Default: "",
		Doc:  "link template for password resets, with {token}",
		Type: SettingString, Validate: func(v string) error { return checkLinkURL(v, true) },
	},
	"invite_url": {
		Key: "invite_url", Default: "",
		Doc:  "link template for invitations, with {token}",
		Type: SettingString, Validate: func(v string) error { return checkLinkURL(v, true) },
	},
	"hosts": {
		Key: "hosts", Default: "",
		Doc: "comma-separated host names whose requests to the keyless APIs and the hosted pages belong to this tenant; * claims every host no other tenant names. While no tenant claims a host, requests from any host go to default; once one does, a host nobody claims is refused (404)",
		// Uniqueness across tenants is checked by Tenants.Set.
		Type: SettingString, Validate: validateHosts,
	},
	"cors_origins": {
		Key: "cors_origins", Default: "",
		Doc:  "comma-separated origins (https://www.example.org; http only for localhost) whose browsers may read the answers to requests with this tenant's API keys, or to the keyless APIs on its hosts, besides --cors-origins",
		Type: SettingString, Validate: validateOrigins,
	},
	"email_storage": {
		Key: "email_storage", Default: "plain",
		Doc:  "plain, or hmac: addresses are kept only as an HMAC-SHA256 under the server secret, and mail goes out only when a request carries the address; settable only while the tenant has no customers",
		Type: SettingEnum, Values: []string{"plain", "hmac"},
	},
	"session.remember_max_age": {
		Key: "session.remember_max_age", Default: "720h",
		Doc:  "how long a login that asks to be remembered (remember: true, the login page's checkbox) lasts, as a Go duration such as 720h, with no idle limit; at most 8760h, 0 refuses: such logins get an ordinary session. Longer than 12 hours is an OWASP ASVS level-1 choice",
		Type: SettingString, Validate: validateRememberMaxAge,
	},
	"session.new_sign_in_mail": {
		Key: "session.new_sign_in_mail", Default: "false",
		Doc:  "mail the customer when a login comes from a device and network (/24 or /48) not seen for them before, with a link that ends that login and starts a password reset",
		Type: SettingBool,
	},
	"pending_retention": {
		Key: "pending_retention", Default: "720h",
		Doc:  "how long a registration that was never confirmed (a pending customer) is kept, as a Go duration (default 30 days); 0 keeps them. The hourly clean-up erases older ones",
		Type: SettingString, Validate: validateRetention,
	},
	"proof_retention": {
		Key: "proof_retention", Default: "0",
		Doc:  "how long an erased customer's opt-in proofs and audit events are kept, pseudonymised (the row that named the customer is gone; the address is kept only as an HMAC under the server secret, to find them by), as a Go duration such as 26280h (three years); 0 erases them with the customer. The hourly clean-up removes them when it has passed",
		Type: SettingString, Validate: validateRetention,
	},
	"audit_retention": {
		Key: "audit_retention", Default: "8760h",
		Doc:  "how long audit events are kept, as a Go duration (default a year); 0 keeps them for good. The hourly clean-up prunes older ones and records where it cut the chain",
		Type: SettingString, Validate: validateRetention,
	},
	"session.client_address": {
		Key: "session.client_address", Default: AddressTruncated,
		Doc:  "what a session keeps of its client's address, shown in the customer's list of sessions: full, truncated (IPv4 to its /24, IPv6 to its /48) or none",
		Type: SettingEnum, Values: []string{AddressFull, AddressTruncated, AddressNone},
	},
	"templates": {
		Key: "templates", Default: "",
		Doc: "absolute path of a directory of mail templates overriding the defaults (de/confirm.txt, en/invite.html, ...); checked when set",
		// Parsed and rendered by the Renderer when set: see Tenants.Set.
		// Absolute, because the command that sets it and the server that
		// reads it may not share a working directory.
		Type: SettingString, Validate: func(v string) error {
			if v != "" && !filepath.IsAbs(v) {
				return errors.New("must be an absolute path")
			}
			return nil
		},
	},
}

// maxRemember bounds session.remember_max_age: a year.
const maxRemember = 365 * 24 * time.Hour

func validateRememberMaxAge(v string) error {
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 || d > maxRemember {
		return errors.New("must be a duration from 0 to 8760h, such as 720h")
	}
	return nil
}

func validateRetention(v string) error {
	if d, err := time.ParseDuration(v); err != nil || d < 0 {
		return errors.New("must be a duration such as 8760h, or 0")
	}
	return nil
}

// validateOrigins accepts origins as browsers send them: a scheme, a host
// in lower case and a port other than the scheme's, nothing after.
func validateOrigins(v string) error {
	for _, o := range SplitHosts(v) {
		u, err := url.Parse(o)
		if err != nil || u.Host == "" || u.Scheme+"://"+u.Host != o || strings.ToLower(o) != o ||
			u.Port() == "443" && u.Scheme == "https" || u.Port() == "80" && u.Scheme == "http" {
			return fmt.Errorf("%q is not an origin such as https://www.example.org", o)
		}
		if err := checkLinkURL(o, false); err != nil {
			return fmt.Errorf("%q %v", o, err)
		}
	}
	return nil
}

// validateMailFrom accepts an empty value or one mailbox, with no CR or LF.
func validateMailFrom(v string) error {
	if v == "" {
		return nil
	}
	if _, err := ParseMailFrom(v); err != nil {
		return err
	}
	return nil
}

// ParseMailFrom parses a sender such as "Shop <noreply@example.org>". An
// internationalised domain comes back in its ASCII (punycode) form, which
// every SMTP server and Message-ID accept; the local part must be ASCII.
func ParseMailFrom(v string) (*mail.Address, error) {
	if strings.ContainsAny(v, "\r\n") {
		return nil, errors.New("must be one line")
	}
	a, err := mail.ParseAddress(v)
	if err != nil {
		return nil, errors.New("must be an address such as Shop <noreply@example.org>")
	}
	at := strings.LastIndexByte(a.Address, '@')
	domain, err := domainProfile.ToASCII(a.Address[at+1:])
	if err != nil || !strings.Contains(domain, ".") && domain != "localhost" {
		return nil, errors.New("has an invalid domain")
	}
	for _, r := range a.Address[:at] {
		if r > 127 {
			return nil, errors.New("must have an ASCII local part")
		}
	}
	a.Address = a.Address[:at+1] + strings.ToLower(domain)
	return a, nil
}

// checkLinkURL accepts an empty value or an absolute https URL (http only
// for localhost), which a template must give a {token} place in. Links are
// built only from such configured URLs, never from a request's Host.
func checkLinkURL(v string, template bool) error {
	if v == "" {
		return nil
	}
	u, err := url.Parse(strings.NewReplacer("{token}", "t", "{customerId}", "1", "{accountId}", "a").Replace(v))
	if err != nil || u.Host == "" || u.User != nil {
		return errors.New("must be an absolute URL such as https://www.example.org/actions/")
	}
	local := u.Hostname() == "localhost" || u.Hostname() == "127.0.0.1" || u.Hostname() == "::1"
	if u.Scheme != "https" && !(u.Scheme == "http" && local) {
		return errors.New("must use https (http only for localhost)")
	}
	if template && !strings.Contains(v, "{token}") {
		return errors.New("must contain {token}")
	}
	return nil
}

// CheckPublicURL checks the URL pforte is reached at from outside: an
// absolute https URL (http only for localhost), without query or fragment.
func CheckPublicURL(v string) error {
	if err := checkLinkURL(v, false); err != nil {
		return err
	}
	if u, _ := url.Parse(v); u.RawQuery != "" || u.Fragment != "" || strings.Contains(v, "{") {
		return errors.New("must have no query, fragment or placeholder")
	}
	return nil
}

// SettingSpecs lists every tenant setting, the service's and the
// registered ones, sorted by key.
func SettingSpecs() []SettingSpec {
	registryMu.RLock()
	specs := make([]SettingSpec, 0, len(settingSpecs)+len(registered))
	for _, s := range registered {
		specs = append(specs, s)
	}
	registryMu.RUnlock()
	for _, s := range settingSpecs {
		specs = append(specs, s)
	}
	sort.Slice(specs, func(i, j int) bool { return specs[i].Key < specs[j].Key })
	return specs
}

// ValidateSetting checks a key and value before they are stored.
func ValidateSetting(key, value string) error {
	spec, ok := settingSpec(key)
	if !ok {
		return Errorf(KindInvalid, CodeUnknownSetting, "unknown setting %q", key)
	}
	if err := spec.check(value); err != nil {
		return Errorf(KindInvalid, CodeInvalidSetting, "%s: %v", key, err)
	}
	return nil
}
