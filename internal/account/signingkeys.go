package account

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// Signing algorithms a tenant's OpenID Connect keys may use. RS256 is the
// one every client must support.
const (
	AlgRS256 = "RS256"
	AlgES256 = "ES256"
	AlgEdDSA = "EdDSA"
)

// SigningAlgorithms lists the algorithms SigningKeys can make.
var SigningAlgorithms = []string{AlgRS256, AlgES256, AlgEdDSA}

// KeyOverlap is how long a retired signing key stays published: longer
// than any token signed with it lives (ID tokens an hour, access tokens
// at most an hour), with room for clock skew.
const KeyOverlap = 2 * time.Hour

// StoredSigningKey is a signing key as the store keeps it: the private
// key sealed under the server secret.
type StoredSigningKey struct {
	ID        string // the kid
	TenantID  int64
	Algorithm string
	Sealed    []byte
	CreatedAt time.Time
	RetiredAt *time.Time
}

// SigningKey is a tenant's key for signing ID and access tokens.
type SigningKey struct {
	ID        string
	Algorithm string
	Private   crypto.Signer
	CreatedAt time.Time
	RetiredAt *time.Time
}

// SigningKeys makes, rotates and opens tenants' token signing keys. The
// newest unretired key signs; retired keys stay published for
// KeyOverlap so that tokens they signed still verify, and verify ID token
// hints for as long as a session lives.
type SigningKeys struct {
	*core
	opened sync.Map   // kid -> crypto.Signer; keys never change
	first  sync.Mutex // one first key per process, however many ask at once

	// lists caches each tenant's stored keys for TenantCacheTTL: every
	// token signed or verified needs them. A rotation here clears it; one
	// on another replica arrives within the TTL, while the old key still
	// signs validly, since it stays published.
	mu    sync.Mutex
	lists map[int64]cachedKeys
}

type cachedKeys struct {
	keys []StoredSigningKey
	at   time.Time
}

// list returns the tenant's stored keys, newest first, from the cache
// while it is fresh.
func (s *SigningKeys) list(ctx context.Context, tenantID int64) ([]StoredSigningKey, error) {
	now := s.cfg.Now()
	s.mu.Lock()
	c, ok := s.lists[tenantID]
	s.mu.Unlock()
	if ok && now.Sub(c.at) < s.cfg.TenantCacheTTL && !now.Before(c.at) {
		return c.keys, nil
	}
	keys, err := s.store.ListSigningKeys(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.lists == nil {
		s.lists = map[int64]cachedKeys{}
	}
	s.lists[tenantID] = cachedKeys{keys: keys, at: now}
	s.mu.Unlock()
	return keys, nil
}

func (s *SigningKeys) forget(tenantID int64) {
	s.mu.Lock()
	delete(s.lists, tenantID)
	s.mu.Unlock()
}

// Current returns the key that signs the tenant's tokens now, making the
// first one, with alg, if there is none.
// Replicas racing to make the first key each make one; the newest signs,
// and every one is published.
func (s *SigningKeys) Current(ctx context.Context, t Tenant, alg string) (SigningKey, error) {
	keys, err := s.Published(ctx, t.ID)
	if err != nil {
		return SigningKey{}, err
	}
	for _, k := range keys {
		if k.RetiredAt == nil {
			return k, nil
		}
	}
	s.first.Lock()
	defer s.first.Unlock()
	s.forget(t.ID)
	if keys, err = s.Published(ctx, t.ID); err != nil {
		return SigningKey{}, err
	}
	for _, k := range keys {
		if k.RetiredAt == nil {
			return k, nil
		}
	}
	return s.Rotate(ctx, t, alg)
}

// Published returns the tenant's keys that verify tokens: the unretired
// ones and those retired within KeyOverlap, newest first.
func (s *SigningKeys) Published(ctx context.Context, tenantID int64) ([]SigningKey, error) {
	return s.retiredWithin(ctx, tenantID, KeyOverlap)
}

// ForHints returns the keys that verify an ID token a client sends back
// as a hint (a logout): those of Published, and those retired as long ago
// as a session may live, since a site may keep a login that long.
func (s *SigningKeys) ForHints(ctx context.Context, tenantID int64) ([]SigningKey, error) {
	return s.retiredWithin(ctx, tenantID, s.retention())
}

// retention is how long a retired key is kept for hints: as long as the
// longest session any tenant may allow, a remembered one included.
func (s *SigningKeys) retention() time.Duration {
	return max(s.cfg.SessionMaxAge, maxRemember, KeyOverlap)
}

func (s *SigningKeys) retiredWithin(ctx context.Context, tenantID int64, d time.Duration) ([]SigningKey, error) {
	stored, err := s.list(ctx, tenantID)
	if err != nil {
		return nil, Internal(err)
	}
	now := s.now()
	keys := make([]SigningKey, 0, len(stored))
	for _, sk := range stored {
		if sk.RetiredAt != nil && now.Sub(*sk.RetiredAt) > d {
			continue
		}
		k, err := s.open(sk)
		if err != nil {
			return nil, Internal(err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// Rotate makes a new signing key with alg (empty: RS256) and retires the
// others; they stay published for KeyOverlap.
func (s *SigningKeys) Rotate(ctx context.Context, t Tenant, alg string) (SigningKey, error) {
	if alg == "" {
		alg = AlgRS256
	}
	if s.keys.ephemeral {
		return SigningKey{}, ErrNoSecretYet
	}
	priv, err := generateSigningKey(alg)
	if err != nil {
		return SigningKey{}, Invalid(FieldError{Field: "algorithm", Code: FieldInvalid, Message: err.Error()})
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return SigningKey{}, Internal(err)
	}
	now := s.now()
	id := make([]byte, 12)
	rand.Read(id)
	sk := StoredSigningKey{ID: base64.RawURLEncoding.EncodeToString(id), TenantID: t.ID, Algorithm: alg, CreatedAt: now}
	if sk.Sealed, err = s.keys.sealSigningKey(sk, der); err != nil {
		return SigningKey{}, Internal(err)
	}
	err = s.inTx(ctx, func(tx Tx) error {
		if err := tx.CreateSigningKey(ctx, &sk); err != nil {
			return err
		}
		return tx.RetireSigningKeys(ctx, t.ID, sk.ID, now)
	})
	s.forget(t.ID)
	if err != nil {
		return SigningKey{}, err
	}
	s.log.InfoContext(ctx, "oidc signing key made", "tenant", t.Slug, "kid", sk.ID, "alg", alg)
	return SigningKey{ID: sk.ID, Algorithm: alg, Private: priv, CreatedAt: now}, nil
}

func generateSigningKey(alg string) (crypto.Signer, error) {
	switch alg {
	case AlgRS256:
		return rsa.GenerateKey(rand.Reader, 2048)
	case AlgES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case AlgEdDSA:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	}
	return nil, fmt.Errorf("unknown signing algorithm %q; use RS256, ES256 or EdDSA", alg)
}

func (s *SigningKeys) open(sk StoredSigningKey) (SigningKey, error) {
	k := SigningKey{ID: sk.ID, Algorithm: sk.Algorithm, CreatedAt: sk.CreatedAt, RetiredAt: sk.RetiredAt}
	if priv, ok := s.opened.Load(sk.ID); ok {
		k.Private = priv.(crypto.Signer)
		return k, nil
	}
	der, err := s.keys.openSigningKey(sk)
	if err != nil {
		return SigningKey{}, err
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return SigningKey{}, err
	}
	signer, ok := parsed.(crypto.Signer)
	if !ok {
		return SigningKey{}, errors.New("signing key is no signer")
	}
	s.opened.Store(sk.ID, signer)
	k.Private = signer
	return k, nil
}

// signingKeyCipher seals signing keys, so that a copy of the database
// alone cannot sign tokens.
// signingKeyAAD binds a sealed key to its tenant, kid and algorithm.
func signingKeyAAD(sk StoredSigningKey) []byte {
	return []byte(strconv.FormatInt(sk.TenantID, 10) + "\x00" + sk.ID + "\x00" + sk.Algorithm)
}

func (k *Keyring) sealSigningKey(sk StoredSigningKey, der []byte) ([]byte, error) {
	return k.sealUnder(labelSigningKey, der, signingKeyAAD(sk))
}

func (k *Keyring) openSigningKey(sk StoredSigningKey) ([]byte, error) {
	der, err := k.openUnder(labelSigningKey, sk.Sealed, signingKeyAAD(sk))
	if errors.Is(err, errSealChanged) {
		return nil, errors.New("cannot open a signing key: the server secret has changed since it was made")
	}
	return der, err
}
