// Package password hashes and verifies passwords (argon2id, and for
// imported customers argon2i, bcrypt and Django's PBKDF2-SHA256), enforces the password policy, and bounds how many
// hashes run at once.
package password

import (
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"pforte/internal/password/argon2"
)

// Params are the argon2id cost parameters.
type Params struct {
	Memory      uint32 // KiB
	Iterations  uint32
	Parallelism uint8
	SaltLength  uint32
	KeyLength   uint32
}

// DefaultParams is the OWASP Password Storage minimum for argon2id:
// 19 MiB, two passes, one lane.
func DefaultParams() Params {
	return Params{Memory: 19456, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}
}

// Validate refuses parameters argon2 cannot run with.
func (p Params) Validate() error {
	switch {
	case p.Parallelism < 1:
		return errors.New("argon2id parallelism must be at least 1")
	case p.Iterations < 1:
		return errors.New("argon2id iterations must be at least 1")
	case p.Memory < 8*uint32(p.Parallelism):
		return errors.New("argon2id memory must be at least 8 KiB per lane")
	case p.SaltLength < 8 || p.KeyLength < 16:
		return errors.New("argon2id salt must be at least 8 bytes and key at least 16")
	}
	return nil
}

// ErrMalformedHash means a stored hash is in no format this package reads.
var ErrMalformedHash = errors.New("password: malformed hash")

// Hasher hashes and verifies passwords through a bounded Pool.
type Hasher struct {
	params Params
	pool   *Pool
	dummy  string // a hash of a random password, verified when there is no real hash
}

// NewHasher returns a Hasher with the given parameters and pool.
func NewHasher(p Params, pool *Pool) (*Hasher, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	h := &Hasher{params: p, pool: pool}
	random := make([]byte, 32)
	rand.Read(random)
	// Once, so in memory of its own rather than a slot's.
	h.dummy = h.hash(nil, base64.RawStdEncoding.EncodeToString(random))
	return h, nil
}

// Take takes a place in the hashing pool for one request's hashes; see
// Place.
func (h *Hasher) Take() (*Place, error) { return h.pool.Take() }

// Params returns the parameters new hashes use.
func (h *Hasher) Params() Params { return h.params }

// Hash returns the PHC string of password under the current parameters.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	var encoded string
	err := h.pool.run(ctx, func(s *slot) { encoded = h.hash(s.memory(h.params), password) })
	return encoded, err
}

// hash hashes in mem (nil: in memory of its own).
func (h *Hasher) hash(mem *argon2.Memory, password string) string {
	salt := make([]byte, h.params.SaltLength)
	rand.Read(salt)
	return h.hashSalted(mem, password, salt)
}

func (h *Hasher) hashSalted(mem *argon2.Memory, password string, salt []byte) string {
	key := mem.IDKey([]byte(password), salt, h.params.Iterations, h.params.Memory, h.params.Parallelism, h.params.KeyLength)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		h.params.Memory, h.params.Iterations, h.params.Parallelism, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Verify checks password against a hash in constant time: argon2id, or
// one imported from another system (argon2i, bcrypt, PBKDF2-SHA256 as
// Django writes it). rehash is true when the password matched but the hash
// should be replaced: it is not argon2id, or argon2id with other
// parameters. An empty encoded hash (a customer without a password)
// verifies against a dummy hash, so it costs as much as a real check and
// never matches.
func (h *Hasher) Verify(ctx context.Context, encoded, password string) (ok, rehash bool, err error) {
	var verr error
	if err := h.pool.run(ctx, func(s *slot) { ok, rehash, verr = h.verify(s, encoded, password) }); err != nil {
		return false, false, err
	}
	return ok, rehash, verr
}

// verify verifies in s's memory; a hash that needs more memory than the
// configured parameters gets its own.
func (h *Hasher) verify(s *slot, encoded, password string) (ok, rehash bool, err error) {
	if encoded == "" {
		h.verify(s, h.dummy, password)
		return false, false, nil
	}
	switch {
	case strings.HasPrefix(encoded, "$argon2id$"), strings.HasPrefix(encoded, "$argon2i$"):
		variant, p, salt, key, err := decodeArgon2(encoded)
		if err != nil {
			return false, false, err
		}
		derive := s.memory(h.params).IDKey
		if variant == "argon2i" {
			derive = s.memory(h.params).Key
		}
		got := derive([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, uint32(len(key)))
		if subtle.ConstantTimeCompare(got, key) != 1 {
			return false, false, nil
		}
		return true, variant != "argon2id" || p != h.params, nil
	case isBcrypt(encoded):
		// bcrypt reads at most 72 bytes, as the system that made the hash
		// did. A match rehashes the whole password with argon2id, so the
		// limit never carries over into new hashes.
		err := bcrypt.CompareHashAndPassword([]byte(encoded), []byte(password))
		switch {
		case err == nil:
			return true, true, nil
		case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
			return false, false, nil
		default:
			return false, false, fmt.Errorf("%w: %v", ErrMalformedHash, err)
		}
	case strings.HasPrefix(encoded, "pbkdf2_sha256$"):
		iter, salt, key, err := decodePBKDF2(encoded)
		if err != nil {
			return false, false, err
		}
		got, err := pbkdf2.Key(sha256.New, password, []byte(salt), iter, len(key))
		if err != nil {
			return false, false, fmt.Errorf("%w: %v", ErrMalformedHash, err)
		}
		return subtle.ConstantTimeCompare(got, key) == 1, true, nil
	}
	return false, false, ErrMalformedHash
}

func isBcrypt(encoded string) bool {
	return strings.HasPrefix(encoded, "$2a$") || strings.HasPrefix(encoded, "$2b$") || strings.HasPrefix(encoded, "$2y$")
}

// Bounds of imported hashes: a stored hash must not hold a hashing slot
// for long (bcrypt cost 31 would take days).
const (
	maxImportedBcryptCost = 14
	maxImportedPBKDF2Iter = 10_000_000
)

// CheckImported accepts a hash from another system if this package can
// verify it at a bounded cost: argon2id or argon2i within the limits
// decodeArgon2 sets, bcrypt up to cost 14, or Django's
// pbkdf2_sha256$ITER$SALT$HASH up to ten million iterations.
func CheckImported(encoded string) error {
	switch {
	case strings.HasPrefix(encoded, "$argon2id$"), strings.HasPrefix(encoded, "$argon2i$"):
		_, _, _, _, err := decodeArgon2(encoded)
		return err
	case isBcrypt(encoded):
		cost, err := bcrypt.Cost([]byte(encoded))
		if err != nil || cost > maxImportedBcryptCost || len(encoded) != 60 {
			return ErrMalformedHash
		}
		return nil
	case strings.HasPrefix(encoded, "pbkdf2_sha256$"):
		_, _, _, err := decodePBKDF2(encoded)
		return err
	}
	return ErrMalformedHash
}

// decodePBKDF2 parses Django's pbkdf2_sha256$ITER$SALT$HASH: the salt is
// used as the text it is, the hash is standard base64.
func decodePBKDF2(encoded string) (iter int, salt string, key []byte, err error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 4 || parts[2] == "" {
		return 0, "", nil, ErrMalformedHash
	}
	iter, err = strconv.Atoi(parts[1])
	if err != nil || iter < 1 || iter > maxImportedPBKDF2Iter {
		return 0, "", nil, ErrMalformedHash
	}
	key, err = base64.StdEncoding.DecodeString(parts[3])
	if err != nil || len(key) < 16 || len(key) > 64 {
		return 0, "", nil, ErrMalformedHash
	}
	return iter, parts[2], key, nil
}

// decodeArgon2id parses an argon2id PHC string.
func decodeArgon2id(encoded string) (Params, []byte, []byte, error) {
	variant, p, salt, key, err := decodeArgon2(encoded)
	if err == nil && variant != "argon2id" {
		err = ErrMalformedHash
	}
	return p, salt, key, err
}

// decodeArgon2 parses $argon2id$v=19$m=..,t=..,p=..$salt$key, or the
// same of argon2i; variant is argon2id or argon2i.
func decodeArgon2(encoded string) (variant string, p Params, salt, key []byte, err error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" && parts[1] != "argon2i" {
		return "", Params{}, nil, nil, ErrMalformedHash
	}
	variant = parts[1]
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return "", Params{}, nil, nil, ErrMalformedHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Iterations, &p.Parallelism); err != nil {
		return "", Params{}, nil, nil, ErrMalformedHash
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	key, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(key) == 0 {
		return "", Params{}, nil, nil, ErrMalformedHash
	}
	p.SaltLength, p.KeyLength = uint32(len(salt)), uint32(len(key))
	if p.Validate() != nil || p.Memory > 4<<20 || p.Iterations > 64 {
		// A stored hash must not be able to make a login allocate gigabytes.
		return "", Params{}, nil, nil, ErrMalformedHash
	}
	return variant, p, salt, key, nil
}
