package storetest

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"pforte/internal/account"
)

func testTenantCreateAndRead(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")
	b := mustTenant(t, s, "globex")
	if a.ID == b.ID {
		t.Fatalf("two tenants got one ID %d", a.ID)
	}
	for _, tn := range []account.Tenant{a, b} {
		if tn.CreatedAt.IsZero() {
			t.Errorf("CreateTenant(%q) did not set CreatedAt", tn.Slug)
		}
		tn.Settings = map[string]string{}
		got, err := s.TenantByID(ctx, tn.ID)
		if err != nil {
			t.Fatalf("TenantByID(%d): %v", tn.ID, err)
		}
		checkTenant(t, fmt.Sprintf("TenantByID(%d)", tn.ID), got, tn)
		got, err = s.TenantBySlug(ctx, tn.Slug)
		if err != nil {
			t.Fatalf("TenantBySlug(%q): %v", tn.Slug, err)
		}
		checkTenant(t, fmt.Sprintf("TenantBySlug(%q)", tn.Slug), got, tn)
	}
}

func testTenantDuplicateSlug(t *testing.T, s account.Store) {
	ctx := t.Context()
	first := mustTenant(t, s, "acme")
	dup := account.Tenant{Slug: "acme"}
	wantErr(t, "CreateTenant(duplicate slug)", s.CreateTenant(ctx, &dup), account.ErrDuplicate)
	ts, err := s.ListTenants(ctx)
	if err != nil {
		t.Fatalf("ListTenants: %v", err)
	}
	if len(ts) != 1 || ts[0].ID != first.ID {
		t.Errorf("ListTenants after a refused duplicate = %+v, want only tenant %d", ts, first.ID)
	}
}

func testTenantNotFound(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")
	_, err := s.TenantByID(ctx, a.ID+1000)
	wantErr(t, "TenantByID(unknown)", err, account.ErrNotFound)
	_, err = s.TenantBySlug(ctx, "nope")
	wantErr(t, "TenantBySlug(unknown)", err, account.ErrNotFound)
	_, err = s.TenantBySlug(ctx, "ACME")
	wantErr(t, "TenantBySlug(upper-case slug)", err, account.ErrNotFound)
}

func testTenantList(t *testing.T, s account.Store) {
	ctx := t.Context()
	ts, err := s.ListTenants(ctx)
	if err != nil {
		t.Fatalf("ListTenants on an empty store: %v", err)
	}
	if len(ts) != 0 {
		t.Fatalf("ListTenants on an empty store = %+v, want none", ts)
	}
	want := []account.Tenant{mustTenant(t, s, "zeta"), mustTenant(t, s, "alpha"), mustTenant(t, s, "mid")}
	if err := s.SetTenantSetting(ctx, want[1].ID, "default_locale", "en"); err != nil {
		t.Fatalf("SetTenantSetting: %v", err)
	}
	want[0].Settings = map[string]string{}
	want[1].Settings = map[string]string{"default_locale": "en"}
	want[2].Settings = map[string]string{}

	got, err := s.ListTenants(ctx)
	if err != nil {
		t.Fatalf("ListTenants: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("ListTenants returned %d tenants, want %d: %+v", len(got), len(want), got)
	}
	// The contract promises no order; compare by ID.
	byID := func(x, y account.Tenant) int { return cmp.Compare(x.ID, y.ID) }
	slices.SortFunc(got, byID)
	slices.SortFunc(want, byID)
	for i := range want {
		checkTenant(t, fmt.Sprintf("ListTenants[%q]", want[i].Slug), got[i], want[i])
	}
}

func testTenantSettings(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")
	b := mustTenant(t, s, "globex")
	for _, set := range []struct {
		tenant     int64
		key, value string
	}{
		{a.ID, "delivery", "return"},
		{a.ID, "default_locale", "en"},
		{b.ID, "default_locale", "en"},
		{a.ID, "default_locale", "de"}, // upsert: replaces "en" for a only
	} {
		if err := s.SetTenantSetting(ctx, set.tenant, set.key, set.value); err != nil {
			t.Fatalf("SetTenantSetting(%d, %q, %q): %v", set.tenant, set.key, set.value, err)
		}
	}
	a.Settings = map[string]string{"delivery": "return", "default_locale": "de"}
	b.Settings = map[string]string{"default_locale": "en"}
	for _, want := range []account.Tenant{a, b} {
		got, err := s.TenantByID(ctx, want.ID)
		if err != nil {
			t.Fatalf("TenantByID(%d): %v", want.ID, err)
		}
		checkTenant(t, fmt.Sprintf("TenantByID(%d)", want.ID), got, want)
		got, err = s.TenantBySlug(ctx, want.Slug)
		if err != nil {
			t.Fatalf("TenantBySlug(%q): %v", want.Slug, err)
		}
		checkTenant(t, fmt.Sprintf("TenantBySlug(%q)", want.Slug), got, want)
	}
}

// ---- server secret ----

func testServerStateFirstWins(t *testing.T, s account.Store) {
	ctx := t.Context()
	first := []byte("first candidate \x00\xff")
	got, err := s.ServerState(ctx, "secret", first)
	if err != nil {
		t.Fatalf("ServerState(first): %v", err)
	}
	checkBytes(t, "ServerState(first)", got, first)
	got, err = s.ServerState(ctx, "secret", []byte("second candidate"))
	if err != nil {
		t.Fatalf("ServerState(second): %v", err)
	}
	checkBytes(t, "ServerState(second)", got, first)
	// Keys are independent, and a nil candidate only reads.
	other, err := s.ServerState(ctx, "other", []byte("other value"))
	if err != nil {
		t.Fatalf("ServerState(other): %v", err)
	}
	checkBytes(t, "ServerState(other)", other, []byte("other value"))
	if got, err = s.ServerState(ctx, "secret", nil); err != nil {
		t.Fatalf("ServerState(secret, nil): %v", err)
	}
	checkBytes(t, "ServerState(secret, nil)", got, first)
	if _, err := s.ServerState(ctx, "missing", nil); !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("ServerState(missing, nil): %v, want ErrNotFound", err)
	}
	if err := s.DeleteServerState(ctx, "secret"); err != nil {
		t.Fatalf("DeleteServerState: %v", err)
	}
	if _, err := s.ServerState(ctx, "secret", nil); !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("ServerState after DeleteServerState: %v", err)
	}
	if got, err := s.ServerState(ctx, "other", nil); err != nil || string(got) != "other value" {
		t.Fatalf("DeleteServerState took another key along: %q, %v", got, err)
	}
	if err := s.DeleteServerState(ctx, "never-there"); err != nil {
		t.Fatalf("DeleteServerState of a missing key: %v", err)
	}
}

func testServerStateConcurrent(t *testing.T, s account.Store) {
	const n = 8
	candidates := make([][]byte, n)
	for i := range candidates {
		candidates[i] = []byte(fmt.Sprintf("candidate-%d", i))
	}
	got := make([][]byte, n)
	errs := make([]error, n)
	concurrently(n, func(i int) {
		got[i], errs[i] = s.ServerState(t.Context(), "secret", candidates[i])
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("goroutine %d: ServerState: %v", i, err)
		}
	}
	if !slices.ContainsFunc(candidates, func(c []byte) bool { return bytes.Equal(c, got[0]) }) {
		t.Fatalf("ServerState returned %q, none of the candidates", got[0])
	}
	for i := range got {
		if !bytes.Equal(got[i], got[0]) {
			t.Errorf("goroutine %d got secret %q, goroutine 0 got %q", i, got[i], got[0])
		}
	}
	later, err := s.ServerState(t.Context(), "secret", []byte("later"))
	if err != nil {
		t.Fatalf("ServerState(later): %v", err)
	}
	checkBytes(t, "ServerState after the race", later, got[0])
}

// ---- API keys ----

func newAPIKey(tenantID int64, kind account.KeyKind, name string) account.APIKey {
	return account.APIKey{
		TenantID:  tenantID,
		Kind:      kind,
		Name:      name,
		Prefix:    "pf_" + name[:min(4, len(name))],
		Hash:      hash(fmt.Sprintf("key %d %s", tenantID, name)),
		CreatedAt: t0,
	}
}

func mustAPIKey(t *testing.T, s account.Tx, k account.APIKey) account.APIKey {
	t.Helper()
	if err := s.CreateAPIKey(t.Context(), &k); err != nil {
		t.Fatalf("CreateAPIKey(%q): %v", k.Name, err)
	}
	if k.ID == 0 {
		t.Fatalf("CreateAPIKey(%q) did not set ID", k.Name)
	}
	return k
}

func checkAPIKey(t *testing.T, what string, got, want account.APIKey) {
	t.Helper()
	checkBytes(t, what+".Hash", got.Hash, want.Hash)
	checkTime(t, what+".CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTimePtr(t, what+".LastUsedAt", got.LastUsedAt, want.LastUsedAt)
	checkTimePtr(t, what+".RevokedAt", got.RevokedAt, want.RevokedAt)
	got.Hash, got.CreatedAt, got.LastUsedAt, got.RevokedAt = nil, time.Time{}, nil, nil
	want.Hash, want.CreatedAt, want.LastUsedAt, want.RevokedAt = nil, time.Time{}, nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// wantAPIKey checks the key as APIKeyByHash returns it.
func wantAPIKey(t *testing.T, s account.Tx, what string, want account.APIKey) {
	t.Helper()
	got, err := s.APIKeyByHash(t.Context(), want.Hash)
	if err != nil {
		t.Errorf("%s: APIKeyByHash(key %d): %v", what, want.ID, err)
		return
	}
	checkAPIKey(t, what, got, want)
}

func testAPIKeyCreateAndRead(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")
	b := mustTenant(t, s, "globex")
	sec := mustAPIKey(t, s, newAPIKey(a.ID, account.KeySecret, "backend"))
	pub := mustAPIKey(t, s, newAPIKey(a.ID, account.KeyPublic, "browser"))
	if sec.ID == pub.ID {
		t.Fatalf("two keys got one ID %d", sec.ID)
	}
	wantAPIKey(t, s, "secret key", sec)
	wantAPIKey(t, s, "public key", pub)

	_, err := s.APIKeyByHash(ctx, hash("no such key"))
	wantErr(t, "APIKeyByHash(unknown)", err, account.ErrNotFound)

	// Key hashes are unique across tenants.
	dup := newAPIKey(b.ID, account.KeySecret, "other")
	dup.Hash = sec.Hash
	wantErr(t, "CreateAPIKey(duplicate hash)", s.CreateAPIKey(ctx, &dup), account.ErrDuplicate)
	wantAPIKey(t, s, "secret key after a refused duplicate", sec)
}

func testAPIKeyList(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")
	b := mustTenant(t, s, "globex")
	c := mustTenant(t, s, "initech")
	a1 := mustAPIKey(t, s, newAPIKey(a.ID, account.KeySecret, "backend"))
	b1 := mustAPIKey(t, s, newAPIKey(b.ID, account.KeySecret, "backend"))
	a2 := mustAPIKey(t, s, newAPIKey(a.ID, account.KeyPublic, "browser"))

	for _, tc := range []struct {
		tenant account.Tenant
		want   []account.APIKey
	}{
		{a, []account.APIKey{a1, a2}},
		{b, []account.APIKey{b1}},
		{c, nil},
	} {
		got, err := s.ListAPIKeys(ctx, tc.tenant.ID)
		if err != nil {
			t.Fatalf("ListAPIKeys(%q): %v", tc.tenant.Slug, err)
		}
		if len(got) != len(tc.want) {
			t.Errorf("ListAPIKeys(%q) returned %d keys, want %d: %+v", tc.tenant.Slug, len(got), len(tc.want), got)
			continue
		}
		slices.SortFunc(got, func(x, y account.APIKey) int { return cmp.Compare(x.ID, y.ID) })
		for i := range got {
			checkAPIKey(t, fmt.Sprintf("ListAPIKeys(%q)[%d]", tc.tenant.Slug, i), got[i], tc.want[i])
		}
	}
}

func testAPIKeyRevoke(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")
	b := mustTenant(t, s, "globex")
	k := mustAPIKey(t, s, newAPIKey(a.ID, account.KeySecret, "backend"))
	other := mustAPIKey(t, s, newAPIKey(a.ID, account.KeySecret, "other"))

	wantErr(t, "RevokeAPIKey(wrong tenant)", s.RevokeAPIKey(ctx, b.ID, k.ID, at(time.Minute)), account.ErrNotFound)
	wantAPIKey(t, s, "key after a wrong-tenant revoke", k)
	wantErr(t, "RevokeAPIKey(unknown id)", s.RevokeAPIKey(ctx, a.ID, other.ID+1000, at(time.Minute)), account.ErrNotFound)

	if err := s.RevokeAPIKey(ctx, a.ID, k.ID, at(time.Hour)); err != nil {
		t.Fatalf("RevokeAPIKey: %v", err)
	}
	k.RevokedAt = ptr(at(time.Hour))
	wantAPIKey(t, s, "revoked key", k) // still found, with RevokedAt
	wantAPIKey(t, s, "the tenant's other key", other)

	wantErr(t, "RevokeAPIKey(already revoked)", s.RevokeAPIKey(ctx, a.ID, k.ID, at(2*time.Hour)), account.ErrNotFound)
	wantAPIKey(t, s, "key after a second revoke", k) // keeps the first RevokedAt

	keys, err := s.ListAPIKeys(ctx, a.ID)
	if err != nil {
		t.Fatalf("ListAPIKeys: %v", err)
	}
	for _, got := range keys {
		if got.ID == k.ID {
			checkAPIKey(t, "listed revoked key", got, k)
		}
	}
}

func testAPIKeyTouch(t *testing.T, s account.Store) {
	a := mustTenant(t, s, "acme")
	k := mustAPIKey(t, s, newAPIKey(a.ID, account.KeySecret, "backend"))
	other := mustAPIKey(t, s, newAPIKey(a.ID, account.KeySecret, "other"))
	for _, when := range []time.Time{at(time.Minute), at(time.Hour)} {
		if err := s.TouchAPIKey(t.Context(), k.ID, when); err != nil {
			t.Fatalf("TouchAPIKey: %v", err)
		}
		k.LastUsedAt = &when
		wantAPIKey(t, s, "touched key", k)
	}
	wantAPIKey(t, s, "untouched key", other)
}
