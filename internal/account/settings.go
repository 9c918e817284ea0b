package account

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
)

// SettingSpec documents one tenant setting and validates its values.
type SettingSpec struct {
	Key      string
	Default  string
	Doc      string
	validate func(string) error
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
		Doc:      "how tokens reach customers: mail (pforte mails them), return (secret-key callers get them and the site mails them), or both",
		validate: oneOf(string(DeliveryMail), string(DeliveryReturn), string(DeliveryBoth)),
	},
	"default_locale": {
		Key: "default_locale", Default: "de",
		Doc:      "locale for customers that give none and whose request names no language: de or en",
		validate: oneOf("de", "en"),
	},
	"mail_from": {
		Key: "mail_from", Default: "",
		Doc:      "sender of this tenant's mail, e.g. Example Shop <noreply@example.org>; empty: --mail-from",
		validate: validateMailFrom,
	},
	"endpoint": {
		Key: "endpoint", Default: "",
		Doc:      "request endpoint for links without an application: {endpoint}?accountId=..&customerId=..&token=..&action=..",
		validate: func(v string) error { return checkLinkURL(v, false) },
	},
	"confirm_url": {
		Key: "confirm_url", Default: "",
		Doc:      "link template for confirmations, with {token} (and optionally {customerId}, {accountId})",
		validate: func(v string) error { return checkLinkURL(v, true) },
	},
	"reset_url": {
		Key: "reset_url", Default: "",
		Doc:      "link template for password resets, with {token}",
		validate: func(v string) error { return checkLinkURL(v, true) },
	},
	"invite_url": {
		Key: "invite_url", Default: "",
		Doc:      "link template for invitations, with {token}",
		validate: func(v string) error { return checkLinkURL(v, true) },
	},
	"hosts": {
		Key: "hosts", Default: "",
		Doc: "comma-separated host names whose requests to the keyless dialects (/login_api, /api/2/auth) belong to this tenant; requests from other hosts go to default",
		// Uniqueness across tenants is checked by Service.SetTenantSetting.
		validate: validateHosts,
	},
	"email_storage": {
		Key: "email_storage", Default: "plain",
		Doc:      "plain, or hmac: addresses are kept only as an HMAC-SHA256 under the server secret, and mail goes out only when a request carries the address; settable only while the tenant has no customers",
		validate: oneOf("plain", "hmac"),
	},
	"gradido.allow_password_via_json": {
		Key: "gradido.allow_password_via_json", Default: "false",
		Doc:      "seed 002: accept passwords sent as JSON (Gradido's unsecure.allow_passwort_via_json_request): POST /login_api/unsecureLogin, and createUser calls that carry a password",
		validate: oneOf("true", "false"),
	},
	"gradido.allow_cors_all": {
		Key: "gradido.allow_cors_all", Default: "false",
		Doc:      "seed 002: add Access-Control-Allow-Origin: * to /login_api answers and answer their preflight requests (Gradido's unsecure.allow_cors_all)",
		validate: oneOf("true", "false"),
	},
	"api2.enabled": {
		Key: "api2.enabled", Default: "false",
		Doc:      "seed 003: serve /api/2/auth for this tenant; it takes registrations without any key, so it is off until asked for",
		validate: oneOf("true", "false"),
	},
	"api2.frontend_url": {
		Key: "api2.frontend_url", Default: "",
		Doc:      "seed 003: where GET /api/2/auth/{username}/verify.json redirects after verifying, with ?verified=true|false&status=N; empty: answer JSON",
		validate: func(v string) error { return checkLinkURL(v, false) },
	},
	"api2.reveal_unknown_email": {
		Key: "api2.reveal_unknown_email", Default: "false",
		Doc:      "seed 003: let POST /api/2/auth/{email}/forgot.json answer 404 for an unknown address, as the seed does; off, it answers 200 either way",
		validate: oneOf("true", "false"),
	},
	"templates": {
		Key: "templates", Default: "",
		Doc: "absolute path of a directory of mail templates overriding the defaults (de/confirm.txt, en/invite.html, ...); checked when set",
		// Parsed and rendered by the Renderer when set: see Service.SetTenantSetting.
		// Absolute, because the command that sets it and the server that
		// reads it may not share a working directory.
		validate: func(v string) error {
			if v != "" && !filepath.IsAbs(v) {
				return errors.New("must be an absolute path")
			}
			return nil
		},
	},
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

// SettingSpecs lists every tenant setting, sorted by key.
func SettingSpecs() []SettingSpec {
	specs := make([]SettingSpec, 0, len(settingSpecs))
	for _, s := range settingSpecs {
		specs = append(specs, s)
	}
	sort.Slice(specs, func(i, j int) bool { return specs[i].Key < specs[j].Key })
	return specs
}

// ValidateSetting checks a key and value before they are stored.
func ValidateSetting(key, value string) error {
	spec, ok := settingSpecs[key]
	if !ok {
		return Errorf(KindInvalid, CodeUnknownSetting, "unknown setting %q", key)
	}
	if err := spec.validate(value); err != nil {
		return Errorf(KindInvalid, CodeInvalidSetting, "%s: %v", key, err)
	}
	return nil
}
