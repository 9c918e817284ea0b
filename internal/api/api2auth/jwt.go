package api2auth

import (
	"errors"
	"regexp"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The original API's links carry a JSON Web Token. pforte's own one-time tokens
// stay what they are everywhere else (256 random bits, stored only as a
// hash, bound to one tenant, customer and purpose, used once); the JWT
// only wraps one of them, as its jti, and names what the link is for.
// Its signature lets the dialect refuse a forged or altered link before
// the store is asked, and its username lets the paths name a user as the
// original's do. The jti makes each JWT good for one use: the service spends
// the token it wraps.

// jwtKeyLabel names the key Keyring.DialectKey derives from the server secret for
// the dialect's JWTs; no other use shares it.
const jwtKeyLabel = "api2auth jwt"

// maxJWT bounds the length of a JWT before it is parsed. The dialect's
// own are about 400 bytes.
const maxJWT = 2048

// purpose is what a JWT may be used for.
type purpose string

const (
	purposeConfirm purpose = "confirm" // GET {username}/verify.json
	purposeReset   purpose = "reset"   // PUT {username}/resetpassword.json
)

// claims are the dialect's JWT claims: sub is the customer's uuid, jti the
// raw one-time token the service issued, iss the server's public URL.
type claims struct {
	Tenant   string  `json:"tenant"`   // the tenant's slug
	Purpose  purpose `json:"purpose"`  // confirm or reset
	Username string  `json:"username"` // the {username} of the paths
	jwt.RegisteredClaims
}

// errJWT is every reason a JWT is refused; the caller learns none of them.
var errJWT = errors.New("invalid JWT")

// jwtCodec signs and checks the dialect's JWTs: HS256 only, under a key
// derived from the server secret, on the service's clock.
type jwtCodec struct {
	key    []byte
	issuer string
	now    func() time.Time
}

// method is the only signing method: HS256. Pinning it refuses alg none
// and every other algorithm, so a token signed with another one (or with
// the HMAC key used as a public key) never verifies.
var method = jwt.SigningMethodHS256

// uuidShape is the customer uuid a sub must be.
var uuidShape = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// issue wraps the one-time token jti for the customer sub of tenant,
// valid for ttl from now.
func (j jwtCodec) issue(tenant string, p purpose, sub, username, jti string, ttl time.Duration) (string, error) {
	now := j.now()
	c := claims{Tenant: tenant, Purpose: p, Username: username, RegisteredClaims: jwt.RegisteredClaims{
		Issuer:    j.issuer,
		Subject:   sub,
		ID:        jti,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}}
	return jwt.NewWithClaims(method, c).SignedString(j.key)
}

// parse checks a JWT's signature (HS256 under the key, nothing else), its
// expiry on the service's clock, its issuer and purpose, and the shape of
// its claims, and returns them; the caller checks the tenant (see
// API.jwtCaller). Any failure is errJWT.
func (j jwtCodec) parse(raw string, p purpose) (claims, error) {
	var c claims
	if raw == "" || len(raw) > maxJWT {
		return claims{}, errJWT
	}
	_, err := jwt.ParseWithClaims(raw, &c, func(*jwt.Token) (any, error) { return j.key, nil },
		jwt.WithValidMethods([]string{method.Alg()}),
		jwt.WithTimeFunc(j.now),
		jwt.WithExpirationRequired(),
		jwt.WithIssuer(j.issuer),
		jwt.WithStrictDecoding())
	if err != nil {
		return claims{}, errJWT
	}
	if c.Purpose != p || c.Tenant == "" || !uuidShape.MatchString(c.Subject) || c.ID == "" ||
		strings.TrimSpace(c.Username) == "" {
		return claims{}, errJWT
	}
	return c, nil
}
