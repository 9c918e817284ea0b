package account

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math/big"
	"time"
)

// Purpose binds a one-time token to one use.
type Purpose string

const (
	PurposeConfirm       Purpose = "confirm"
	PurposePasswordReset Purpose = "password_reset"
	PurposeInvite        Purpose = "invite"
	// PurposeClaim marks a registration claim against an address that
	// already has an account. It is never sent and cannot be confirmed; it
	// only makes logins with its password answer like a new registration.
	PurposeClaim Purpose = "claim"
)

// Token is a one-time secret bound to one tenant, customer and purpose.
// Only its hash is stored. A Token with Code set is a short numeric code:
// its Hash is an HMAC under the server secret, because 10^8 codes are too
// few to resist an offline search of a plain hash.
type Token struct {
	ID         int64
	TenantID   int64
	CustomerID int64
	Purpose    Purpose
	Hash       []byte
	Code       bool
	Attempts   int    // guesses of a code, counted before each is checked
	Payload    []byte // a registration claim (JSON) on a confirm token; else empty
	CreatedAt  time.Time
	ExpiresAt  time.Time
	UsedAt     *time.Time
}

// maxCodeAttempts is how many wrong guesses kill a numeric code.
const maxCodeAttempts = 5

// Session is a logged-in customer. Only the hash of its token is stored.
type Session struct {
	ID         int64
	TenantID   int64
	CustomerID int64
	Hash       []byte
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time // absolute end
	IdleExpiry time.Duration
}

// IdleExpiresAt is when the session ends if it is not used again.
func (s Session) IdleExpiresAt() time.Time { return s.LastSeenAt.Add(s.IdleExpiry) }

// EndsAt is the earlier of the idle and the absolute expiry.
func (s Session) EndsAt() time.Time {
	if idle := s.IdleExpiresAt(); idle.Before(s.ExpiresAt) {
		return idle
	}
	return s.ExpiresAt
}

// newSecret returns 256 random bits, URL-safe, and its SHA-256.
func newSecret() (string, []byte) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err)) // cannot happen on supported platforms
	}
	s := base64.RawURLEncoding.EncodeToString(b)
	return s, HashSecret(s)
}

// HashSecret is how tokens, session tokens and API keys are stored. They
// carry 256 random bits, so a fast unsalted hash is enough, and a lookup by
// hash reveals nothing useful through its timing.
func HashSecret(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// newCode returns an 8-digit numeric code.
func newCode() string {
	n, err := rand.Int(rand.Reader, big.NewInt(100_000_000))
	if err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return fmt.Sprintf("%08d", n.Int64())
}

// hashCode keys a code's hash with the server secret and binds it to its
// customer and purpose.
func hashCode(secret []byte, customerID int64, purpose Purpose, code string) []byte {
	m := hmac.New(sha256.New, secret)
	fmt.Fprintf(m, "%d\x00%s\x00%s", customerID, purpose, code)
	return m.Sum(nil)
}
