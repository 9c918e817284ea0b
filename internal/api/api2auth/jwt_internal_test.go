package api2auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	testIssuer = "https://accounts.example"
	testSub    = "0f8fad5b-d9cb-469f-a165-70867728950e"
	testJTI    = "kq3Yt9Yk8n1mVv8b3cQe0x5m3h6fJm0pQnq4v5hB0aM"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

// testClock is a clock the test moves.
type testClock struct{ t time.Time }

func (c *testClock) now() time.Time { return c.t }

func newTestCodec() (jwtCodec, *testClock) {
	clk := &testClock{t: time.Date(2030, 3, 4, 5, 6, 7, 0, time.UTC)}
	return jwtCodec{key: testKey, issuer: testIssuer, now: clk.now}, clk
}

func mustIssue(t *testing.T, j jwtCodec, tenant string, p purpose) string {
	t.Helper()
	raw, err := j.issue(tenant, p, testSub, "jeff", testJTI, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// b64 is a JWT segment.
func b64(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// validClaims are claims the codec issues, for tokens the test signs
// itself.
func validClaims(now time.Time) claims {
	return claims{Tenant: "default", Purpose: purposeConfirm, Username: "jeff", RegisteredClaims: jwt.RegisteredClaims{
		Issuer: testIssuer, Subject: testSub, ID: testJTI,
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))}}
}

func sign(t *testing.T, m jwt.SigningMethod, c jwt.Claims, key any) string {
	t.Helper()
	raw, err := jwt.NewWithClaims(m, c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestJWTRoundTrip: an issued JWT parses back to its claims, with an
// HS256 header and an expiry of exactly its lifetime after iat.
func TestJWTRoundTrip(t *testing.T) {
	j, clk := newTestCodec()
	raw := mustIssue(t, j, "default", purposeConfirm)
	header, _, _ := strings.Cut(raw, ".")
	var h map[string]any
	b, _ := base64.RawURLEncoding.DecodeString(header)
	if err := json.Unmarshal(b, &h); err != nil || h["alg"] != "HS256" || h["typ"] != "JWT" || len(h) != 2 {
		t.Fatalf("header %s: %v", b, err)
	}
	c, err := j.parseFor(raw, "default", purposeConfirm)
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject != testSub || c.ID != testJTI || c.Username != "jeff" || c.Tenant != "default" || c.Purpose != purposeConfirm ||
		c.Issuer != testIssuer || !c.IssuedAt.Equal(clk.t) || !c.ExpiresAt.Equal(clk.t.Add(24*time.Hour)) {
		t.Fatalf("claims %+v", c)
	}
}

// TestJWTRefused: every way a JWT can be wrong is refused, each alone, the
// rest of the token being right (the control case shows it is).
func TestJWTRefused(t *testing.T) {
	j, clk := newTestCodec()
	now := clk.t
	good := mustIssue(t, j, "default", purposeConfirm)
	head, payload, _ := strings.Cut(good, ".")
	payload, sig, _ := strings.Cut(payload, ".")

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tampered := validClaims(now)
	tampered.Username = "admin"
	noExp := validClaims(now)
	noExp.ExpiresAt = nil
	otherIssuer := validClaims(now)
	otherIssuer.Issuer = "https://evil.example"
	noJTI := validClaims(now)
	noJTI.ID = ""
	badSub := validClaims(now)
	badSub.Subject = "1"
	noUser := validClaims(now)
	noUser.Username = ""

	for _, tc := range []struct {
		name string
		raw  func() string
		ok   bool
	}{
		{"control: signed right", func() string { return good }, true},
		{"control: signed by the test", func() string { return sign(t, jwt.SigningMethodHS256, validClaims(now), testKey) }, true},
		{"alg none", func() string {
			return b64(map[string]string{"alg": "none", "typ": "JWT"}) + "." + payload + "."
		}, false},
		{"alg none, signature kept", func() string {
			return b64(map[string]string{"alg": "none", "typ": "JWT"}) + "." + payload + "." + sig
		}, false},
		{"alg none via the library", func() string {
			return sign(t, jwt.SigningMethodNone, validClaims(now), jwt.UnsafeAllowNoneSignatureType)
		}, false},
		{"HS384 with the right key", func() string { return sign(t, jwt.SigningMethodHS384, validClaims(now), testKey) }, false},
		{"HS512 with the right key", func() string { return sign(t, jwt.SigningMethodHS512, validClaims(now), testKey) }, false},
		{"RS256", func() string { return sign(t, jwt.SigningMethodRS256, validClaims(now), rsaKey) }, false},
		{"ES256", func() string { return sign(t, jwt.SigningMethodES256, validClaims(now), ecKey) }, false},
		{"header says RS256, HS256 signature", func() string {
			return b64(map[string]string{"alg": "RS256", "typ": "JWT"}) + "." + payload + "." + sig
		}, false},
		{"tampered payload", func() string { return head + "." + b64(tampered) + "." + sig }, false},
		{"signature dropped", func() string { return head + "." + payload + "." }, false},
		{"signature of another token", func() string {
			other := sign(t, jwt.SigningMethodHS256, tampered, []byte("another key, 32 bytes long......"))
			return head + "." + payload + "." + other[strings.LastIndexByte(other, '.')+1:]
		}, false},
		{"wrong key", func() string {
			return sign(t, jwt.SigningMethodHS256, validClaims(now), []byte("another key, 32 bytes long......"))
		}, false},
		{"no expiry", func() string { return sign(t, jwt.SigningMethodHS256, noExp, testKey) }, false},
		{"other issuer", func() string { return sign(t, jwt.SigningMethodHS256, otherIssuer, testKey) }, false},
		{"no jti", func() string { return sign(t, jwt.SigningMethodHS256, noJTI, testKey) }, false},
		{"sub not a uuid", func() string { return sign(t, jwt.SigningMethodHS256, badSub, testKey) }, false},
		{"no username", func() string { return sign(t, jwt.SigningMethodHS256, noUser, testKey) }, false},
		{"other tenant", func() string { return mustIssue(t, j, "andere", purposeConfirm) }, false},
		{"no tenant", func() string { return mustIssue(t, j, "", purposeConfirm) }, false},
		{"wrong purpose", func() string { return mustIssue(t, j, "default", purposeReset) }, false},
		{"empty", func() string { return "" }, false},
		{"garbage", func() string { return "not.a.jwt" }, false},
		{"too long", func() string { return good + strings.Repeat("A", maxJWT) }, false},
		{"padded base64", func() string { return head + "." + payload + "==." + sig }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := j.parseFor(tc.raw(), "default", purposeConfirm)
			if tc.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.ok && err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// TestJWTExpiry: a JWT is good until its expiry on the codec's clock, and
// refused from then on.
func TestJWTExpiry(t *testing.T) {
	j, clk := newTestCodec()
	raw := mustIssue(t, j, "default", purposeReset)
	clk.t = clk.t.Add(24*time.Hour - time.Second)
	if _, err := j.parseFor(raw, "default", purposeReset); err != nil {
		t.Fatalf("a second before its expiry: %v", err)
	}
	clk.t = clk.t.Add(time.Second)
	if _, err := j.parseFor(raw, "default", purposeReset); err == nil {
		t.Fatal("accepted at its expiry")
	}
}

// TestJWTAnyTenant: parse leaves the tenant to its caller and returns it;
// parseFor holds a JWT to one tenant.
func TestJWTAnyTenant(t *testing.T) {
	j, _ := newTestCodec()
	raw := mustIssue(t, j, "andere", purposeReset)
	c, err := j.parse(raw, purposeReset)
	if err != nil || c.Tenant != "andere" {
		t.Fatalf("parse: %+v, %v", c, err)
	}
	if _, err := j.parse(raw, purposeConfirm); err == nil {
		t.Fatal("parse accepted a reset JWT for a confirmation")
	}
	if _, err := j.parseFor(raw, "default", purposeReset); err == nil {
		t.Fatal("parseFor accepted another tenant's JWT")
	}
}

// BenchmarkJWT is what a verification link costs beyond the service's
// token: signing it when the mail is queued, checking it when it is used.
//
//	go test -run '^$' -bench JWT -benchmem ./internal/api/api2auth/
func BenchmarkJWT(b *testing.B) {
	j, _ := newTestCodec()
	b.Run("issue", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := j.issue("default", purposeConfirm, testSub, "jeff", testJTI, 24*time.Hour); err != nil {
				b.Fatal(err)
			}
		}
	})
	raw, err := j.issue("default", purposeConfirm, testSub, "jeff", testJTI, 24*time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("parse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := j.parse(raw, purposeConfirm); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// parseFor is parse for a JWT that must have been issued for tenant, as
// API.jwtCaller checks it.
func (j jwtCodec) parseFor(raw, tenant string, p purpose) (claims, error) {
	c, err := j.parse(raw, p)
	if err != nil || c.Tenant != tenant {
		return claims{}, errJWT
	}
	return c, nil
}
