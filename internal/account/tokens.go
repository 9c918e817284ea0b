package account

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"regexp"
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

// spend uses up a token or a code inside tx and returns its customer; a
// refusal rolls everything back, the token included.
type spend func(tx Tx) (Customer, error)

// spendToken spends a link token of purpose p, whose customer, when match
// is given, must match.
func (s *tokens) spendToken(ctx context.Context, c Caller, token string, p Purpose, match func(Customer) bool) spend {
	return func(tx Tx) (Customer, error) {
		_, cust, err := s.consumeToken(ctx, tx, c.Tenant.ID, token, p)
		if err != nil {
			return Customer{}, err
		}
		if match != nil && !match(cust) {
			return Customer{}, ErrTokenInvalid
		}
		return cust, nil
	}
}

// issueClaim adds a registration claim token, leaving earlier claims
// alive, and returns its secret and the stored token.
func (s *tokens) issueClaim(ctx context.Context, tx Tx, cust Customer, p Purpose, payload []byte) (string, Token, error) {
	now := s.now()
	live, err := tx.LiveTokens(ctx, cust.TenantID, cust.ID, p, now)
	if err != nil {
		return "", Token{}, err
	}
	if len(live) >= maxClaims {
		return "", Token{}, errTooManyClaims
	}
	raw, hash := newSecret()
	t := Token{TenantID: cust.TenantID, CustomerID: cust.ID, Purpose: p, Hash: hash, Payload: payload,
		CreatedAt: now, ExpiresAt: now.Add(s.cfg.ConfirmTTL)}
	return createToken(ctx, tx, raw, t)
}

// createToken stores t, which CreateToken gives its ID, and returns it
// with its secret raw.
func createToken(ctx context.Context, tx Tx, raw string, t Token) (string, Token, error) {
	if err := tx.CreateToken(ctx, &t); err != nil {
		return "", Token{}, err
	}
	return raw, t, nil
}

func (s *tokens) ttl(p Purpose) time.Duration {
	switch p {
	case PurposeConfirm:
		return s.cfg.ConfirmTTL
	case PurposePasswordReset:
		return s.cfg.ResetTTL
	default:
		return s.cfg.InviteTTL
	}
}

// issueToken replaces the customer's live tokens of this purpose with a
// new one, and returns its secret and the stored token.
func (s *tokens) issueToken(ctx context.Context, tx Tx, c Customer, p Purpose) (string, Token, error) {
	if err := tx.DeleteTokens(ctx, c.TenantID, c.ID, p); err != nil {
		return "", Token{}, err
	}
	raw, hash := newSecret()
	now := s.now()
	t := Token{TenantID: c.TenantID, CustomerID: c.ID, Purpose: p, Hash: hash, CreatedAt: now, ExpiresAt: now.Add(s.ttl(p))}
	return createToken(ctx, tx, raw, t)
}

// consumeToken uses a token up, or fails with token_invalid whatever the
// reason (unknown, used, expired, other purpose or tenant).
func (s *tokens) consumeToken(ctx context.Context, tx Tx, tenantID int64, raw string, p Purpose) (Token, Customer, error) {
	if raw == "" || len(raw) > 256 {
		return Token{}, Customer{}, ErrTokenInvalid
	}
	t, err := tx.ConsumeToken(ctx, tenantID, HashSecret(raw), p, s.now(), maxCodeAttempts)
	if errors.Is(err, ErrNotFound) {
		return Token{}, Customer{}, ErrTokenInvalid
	} else if err != nil {
		return Token{}, Customer{}, err
	}
	c, err := tx.CustomerByID(ctx, tenantID, t.CustomerID)
	if errors.Is(err, ErrNotFound) {
		return Token{}, Customer{}, ErrTokenInvalid
	}
	return t, c, err
}

// liveToken is the live token of purpose p with secret raw, for a page
// that shows whose a link is before it is used: it spends nothing. A token
// that is not live is ErrTokenInvalid.
func (s *tokens) liveToken(ctx context.Context, tenantID int64, raw string, p Purpose) (Token, error) {
	if raw == "" || len(raw) > 256 {
		return Token{}, ErrTokenInvalid
	}
	t, err := s.store.LiveToken(ctx, tenantID, HashSecret(raw), p, s.now())
	if errors.Is(err, ErrNotFound) {
		return Token{}, ErrTokenInvalid
	} else if err != nil {
		return Token{}, Internal(err)
	}
	return t, nil
}

var codePattern = regexp.MustCompile(`^[0-9]{8}$`)

// maxCodeTTL bounds the lifetime of 8-digit codes.
const maxCodeTTL = 24 * time.Hour

// issueCode replaces the customer's live tokens of this purpose with an
// 8-digit code, for dialects whose users type a code from a mail.
func (s *tokens) issueCode(ctx context.Context, tenantID, customerID int64, p Purpose) (string, error) {
	var code string
	err := s.inTx(ctx, func(tx Tx) error {
		if err := tx.DeleteTokens(ctx, tenantID, customerID, p); err != nil {
			return err
		}
		var err error
		code, err = s.newCode(ctx, tx, Customer{ID: customerID, TenantID: tenantID}, p)
		return err
	})
	return code, err
}

// newCode adds an 8-digit code beside the customer's other tokens of this
// purpose (an invitation mail carries a link and a code).
func (s *tokens) newCode(ctx context.Context, tx Tx, cust Customer, p Purpose) (string, error) {
	code := newCode()
	now := s.now()
	// A code sent by mail is valid for 24 hours at most (NIST SP 800-63B),
	// even beside a longer-lived invitation link.
	t := Token{TenantID: cust.TenantID, CustomerID: cust.ID, Purpose: p, Code: true,
		Hash: s.keys.codeHash(cust.ID, p, code), CreatedAt: now, ExpiresAt: now.Add(min(s.ttl(p), maxCodeTTL))}
	return code, tx.CreateToken(ctx, &t)
}
