package password

import (
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	_ "embed"
)

// Policy is the password rule set, after NIST SP 800-63B: a length range,
// no composition rules, and a blocklist of common passwords. Passwords are
// never trimmed, truncated or case-folded.
type Policy struct {
	MinLength int  // characters (runes)
	MaxLength int  // characters (runes); checked before any hashing
	Blocklist bool // refuse passwords from the common-password list
}

// DefaultPolicy: 8 to 256 characters, blocklist on.
func DefaultPolicy() Policy { return Policy{MinLength: 8, MaxLength: 256, Blocklist: true} }

// Violation names the rule a password breaks.
type Violation string

const (
	TooShort    Violation = "too_short"
	TooLong     Violation = "too_long"
	Common      Violation = "too_common"
	EqualsEmail Violation = "equals_email"
	NotUTF8     Violation = "invalid_encoding"
)

// Message explains a violation to the customer.
func (v Violation) Message(p Policy) string {
	switch v {
	case TooShort:
		return "must be at least " + strconv.Itoa(p.MinLength) + " characters long"
	case TooLong:
		return "must be at most " + strconv.Itoa(p.MaxLength) + " characters long"
	case Common:
		return "is too common; choose one that is harder to guess"
	case EqualsEmail:
		return "must not be the email address"
	case NotUTF8:
		return "must be valid UTF-8"
	}
	return "is not allowed"
}

// CheckLength checks only the length, which is safe before anything else
// is known and must come before any hashing.
func (p Policy) CheckLength(password string) Violation {
	if !utf8.ValidString(password) {
		return NotUTF8
	}
	n := utf8.RuneCountInString(password)
	switch {
	case n < p.MinLength:
		return TooShort
	case n > p.MaxLength:
		return TooLong
	}
	return ""
}

// Check applies every rule; email may be empty when it is not known.
func (p Policy) Check(password, email string) Violation {
	if v := p.CheckLength(password); v != "" {
		return v
	}
	if email != "" && strings.EqualFold(password, email) {
		return EqualsEmail
	}
	if p.Blocklist && isCommon(password) {
		return Common
	}
	return ""
}

// commonPasswords holds about 18,000 breached passwords of 8 or more
// characters, lower-cased; see common-passwords.LICENSE for their source.
//
//go:embed common-passwords.txt
var commonPasswords string

var (
	commonOnce sync.Once
	common     map[string]struct{}
)

// isCommon looks the password up, case-insensitively, in the blocklist.
func isCommon(password string) bool {
	commonOnce.Do(func() {
		words := strings.Split(strings.TrimSpace(commonPasswords), "\n")
		common = make(map[string]struct{}, len(words))
		for _, w := range words {
			common[w] = struct{}{}
		}
	})
	_, found := common[strings.ToLower(password)]
	return found
}
