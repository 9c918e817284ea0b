package account

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"
)

const maxEmailLength = 254 // RFC 5321 path limit

var domainProfile = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.StrictDomainName(true), idna.Transitional(false))

// NormalizeEmail checks an address and returns the key that makes it unique
// within a tenant: Unicode NFC, lower case, and the domain in its ASCII
// (punycode) form, so that "Foo@Bücher.de" and "foo@xn--bcher-kva.de" are
// one customer. The address itself is kept as given.
func NormalizeEmail(email string) (string, *FieldError) {
	bad := func(msg string) (string, *FieldError) {
		return "", &FieldError{Field: "email", Code: FieldInvalid, Message: msg}
	}
	if email == "" {
		return "", &FieldError{Field: "email", Code: FieldRequired, Message: "is required"}
	}
	if !utf8.ValidString(email) || utf8.RuneCountInString(email) > maxEmailLength {
		return bad("is not a valid email address")
	}
	for _, r := range email {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return bad("is not a valid email address")
		}
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Name != "" || addr.Address != email {
		return bad("is not a valid email address")
	}
	at := strings.LastIndexByte(email, '@')
	local, domain := email[:at], email[at+1:]
	if local == "" || len(local) > 64 || !strings.Contains(domain, ".") {
		return bad("is not a valid email address")
	}
	asciiDomain, err := domainProfile.ToASCII(domain)
	if err != nil {
		return bad("has an invalid domain")
	}
	return strings.ToLower(norm.NFC.String(local)) + "@" + strings.ToLower(asciiDomain), nil
}
