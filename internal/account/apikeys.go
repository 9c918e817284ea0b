package account

import (
	"context"
	"errors"
	"strconv"
	"time"
)

var errAPIKeyInvalid = &Error{Kind: KindUnauthorized, Code: CodeAPIKeyInvalid, Message: "the API key is missing, unknown or revoked"}

// Authenticate resolves an API key to its caller. A revoked key fails at
// once: keys are never cached.
func (s *APIKeys) Authenticate(ctx context.Context, raw string) (Caller, error) {
	if raw == "" || len(raw) > 200 {
		return Caller{}, errAPIKeyInvalid
	}
	k, err := s.store.APIKeyByHash(ctx, HashSecret(raw))
	if errors.Is(err, ErrNotFound) || (err == nil && k.RevokedAt != nil) {
		return Caller{}, errAPIKeyInvalid
	}
	if err != nil {
		return Caller{}, Internal(err)
	}
	t, err := s.tenants.byID(ctx, k.TenantID)
	if err != nil {
		return Caller{}, err
	}
	// Record use at most once a minute, not on every request.
	now := s.now()
	if k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) > time.Minute {
		if err := s.store.TouchAPIKey(ctx, k.ID, now); err != nil {
			s.log.WarnContext(ctx, "recording API key use failed", "key_id", k.ID, "err", err)
		}
	}
	tenantSeen(ctx, t)
	return Caller{Tenant: t, Key: k.Kind, KeyID: k.ID}, nil
}

// Create makes a key for a tenant. The raw key is returned once and
// never stored.
func (s *APIKeys) Create(ctx context.Context, slug string, kind KeyKind, name string) (string, APIKey, error) {
	if kind != KeyPublic && kind != KeySecret {
		return "", APIKey{}, Invalid(FieldError{Field: "kind", Code: FieldInvalid, Message: "must be public or secret"})
	}
	if err := checkText("name", name, 100); err != nil {
		return "", APIKey{}, Invalid(*err)
	}
	t, err := s.tenants.BySlug(ctx, slug)
	if err != nil {
		return "", APIKey{}, err
	}
	secret, _ := newSecret()
	raw := map[KeyKind]string{KeyPublic: "pk_", KeySecret: "sk_"}[kind] + secret
	k := APIKey{TenantID: t.ID, Kind: kind, Name: name, Prefix: raw[:11], Hash: HashSecret(raw), CreatedAt: s.now()}
	if err := s.store.CreateAPIKey(ctx, &k); err != nil {
		return "", APIKey{}, Internal(err)
	}
	s.audit.recordAlone(ctx, t.ID, AuditEvent{Type: AuditAPIKeyCreated, Actor: ActorCLI,
		Detail: map[string]string{"key_id": strconv.FormatInt(k.ID, 10), "kind": string(kind), "prefix": k.Prefix}})
	return raw, k, nil
}

// List lists a tenant's keys, revoked ones included.
func (s *APIKeys) List(ctx context.Context, slug string) ([]APIKey, error) {
	t, err := s.tenants.BySlug(ctx, slug)
	if err != nil {
		return nil, err
	}
	ks, err := s.store.ListAPIKeys(ctx, t.ID)
	if err != nil {
		return nil, Internal(err)
	}
	return ks, nil
}

// Revoke ends a key at once.
func (s *APIKeys) Revoke(ctx context.Context, slug string, id int64) error {
	t, err := s.tenants.BySlug(ctx, slug)
	if err != nil {
		return err
	}
	if err := s.store.RevokeAPIKey(ctx, t.ID, id, s.now()); errors.Is(err, ErrNotFound) {
		return Errorf(KindNotFound, CodeAPIKeyNotFound, "no live API key %d in tenant %q", id, slug)
	} else if err != nil {
		return Internal(err)
	}
	s.audit.recordAlone(ctx, t.ID, AuditEvent{Type: AuditAPIKeyRevoked, Actor: ActorCLI,
		Detail: map[string]string{"key_id": strconv.FormatInt(id, 10)}})
	return nil
}

// KeyKind says what an API key may do.
type KeyKind string

const (
	// KeyPublic may be used from a browser, for self-service calls only.
	KeyPublic KeyKind = "public"
	// KeySecret is for servers and may do everything within its tenant.
	KeySecret KeyKind = "secret"
)

// APIKey authenticates a site or back office to one tenant. Only the
// SHA-256 of the key is stored; Prefix identifies it in listings.
type APIKey struct {
	ID         int64
	TenantID   int64
	Kind       KeyKind
	Name       string
	Prefix     string
	Hash       []byte
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}
