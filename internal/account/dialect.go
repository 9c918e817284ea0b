package account

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"strings"
	"time"
)

// This file holds what the dialects of other vendors' APIs need beyond the
// native flows: resolving a tenant without a key, links of their own,
// keys derived from the server secret, and the per-customer key pair of
// seed 002.

// Link actions, as seed 004's request endpoints receive them; a Caller's
// Links function gets one of these.
const (
	ActionConfirm  = "confirm"
	ActionReset    = "resetPwd"
	ActionActivate = "activate"
)

// Now is the service's clock, for dialects that put times into tokens.
func (s *Service) Now() time.Time { return s.now() }

// TokenTTL is the lifetime of one-time tokens of purpose p.
func (s *Service) TokenTTL(p Purpose) time.Duration { return s.ttl(p) }

// DeriveKey returns a 256-bit key for one use, derived from the server
// secret, so that every replica derives the same key and none is stored.
// Distinct labels give independent keys.
func (s *Service) DeriveKey(label string) []byte { return deriveKey(s.secret, label) }

func deriveKey(secret []byte, label string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("pforte derived key\x00" + label))
	return m.Sum(nil)
}

// tenantHMAC is an HMAC-SHA256, under the key derived for label, of data
// salted with the tenant: the same data in two tenants gives unrelated
// values.
func (s *Service) tenantHMAC(label string, tenantID int64, data []byte) []byte {
	m := hmac.New(sha256.New, s.DeriveKey(label))
	var id [8]byte
	binary.BigEndian.PutUint64(id[:], uint64(tenantID))
	m.Write(id[:])
	m.Write(data)
	return m.Sum(nil)
}

// PublicKey is the customer's Ed25519 public key (seed 002's public_hex).
// The key pair is derived from the server secret and the customer's uuid,
// which never changes: the customer has it from creation on, and pforte
// stores no private key. It changes only if the server secret does.
func (s *Service) PublicKey(cust Customer) ed25519.PublicKey {
	seed := s.DeriveKey("customer ed25519 seed\x00" + cust.UUID)
	return ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
}

// DefaultLink is the link the tenant's URLs give for an action: the
// caller's application, else the tenant's settings; empty without either.
// A dialect's Links function may fall back to it.
func (c Caller) DefaultLink(action, token string, customerID int64) string {
	return c.link(action, token, customerID)
}

// mailLink is the link of a mail: the dialect's, else the default one;
// without a link, shown is the token the mail shows instead.
func (c Caller) mailLink(action, token string, cust Customer) (link, shown string) {
	if c.Links != nil {
		return c.Links(action, token, cust)
	}
	return c.link(action, token, cust.ID), token
}

// hostsTTL bounds how long a changed hosts setting takes to reach a running
// server (the CLI and other replicas change it behind its back).
const hostsTTL = 5 * time.Second

// TenantForHost resolves a request that carries no API key to a tenant, by
// its host name (the Host header without a port), matched against the
// tenants' hosts settings. An unknown host belongs to the default tenant.
// This is the only use pforte makes of a Host header: links are never built
// from it.
func (s *Service) TenantForHost(ctx context.Context, host string) (Caller, error) {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	s.mu.Lock()
	fresh := s.hosts != nil && s.cfg.Now().Sub(s.hostsAt) < hostsTTL
	id, known := s.hosts[host]
	s.mu.Unlock()
	if !fresh {
		tenants, err := s.store.ListTenants(ctx)
		if err != nil {
			return Caller{}, Internal(err)
		}
		hosts := map[string]int64{}
		for _, t := range tenants {
			for _, h := range SplitHosts(t.Setting("hosts")) {
				hosts[h] = t.ID
			}
		}
		s.mu.Lock()
		s.hosts, s.hostsAt = hosts, s.cfg.Now()
		s.mu.Unlock()
		id, known = hosts[host]
	}
	if !known {
		return s.TenantCaller(ctx, DefaultTenant)
	}
	t, err := s.tenant(ctx, id)
	return Caller{Tenant: t}, err
}

// hostsFree refuses host names that another tenant already claims: a host
// must lead to one tenant.
func (s *Service) hostsFree(ctx context.Context, t Tenant, value string) error {
	tenants, err := s.store.ListTenants(ctx)
	if err != nil {
		return Internal(err)
	}
	for _, other := range tenants {
		if other.ID == t.ID {
			continue
		}
		for _, h := range SplitHosts(other.Setting("hosts")) {
			for _, want := range SplitHosts(value) {
				if h == want {
					return Errorf(KindConflict, "host_taken", "host %s already belongs to tenant %s", h, other.Slug)
				}
			}
		}
	}
	return nil
}

// CustomerBySubject finds a customer by the uuid that a token signed by
// this server names (seed 003's JWTs). Nothing unsigned may reach it.
func (s *Service) CustomerBySubject(ctx context.Context, tenantID int64, uuid string) (Customer, error) {
	cust, err := s.store.CustomerByUUID(ctx, tenantID, uuid)
	if errors.Is(err, ErrNotFound) {
		return Customer{}, ErrNotFound
	} else if err != nil {
		return Customer{}, Internal(err)
	}
	return cust, nil
}
