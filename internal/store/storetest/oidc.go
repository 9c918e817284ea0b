package storetest

import (
	"errors"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"pforte/internal/account"
)

// clientApp saves an application that is a confidential client.
func clientApp(t *testing.T, s account.Tx, tenantID int64, name string) account.Application {
	t.Helper()
	a := newApp(tenantID, name)
	a.Client = account.Client{Type: account.ClientConfidential, ID: "pfc_" + name, SecretHash: hash("secret " + name),
		RedirectURIs: []string{"https://" + name + ".example/cb", "http://localhost:8080/cb"},
		LogoutURIs:   []string{"https://" + name + ".example/"}}
	return mustApp(t, s, a)
}

func newAuthorization(app account.Application, id string) account.Authorization {
	maxAge := int64(300)
	return account.Authorization{ID: id, TenantID: app.TenantID, AppID: app.ID,
		Request: account.AuthorizationRequest{ClientID: app.Client.ID, RedirectURI: app.Client.RedirectURIs[0], ResponseType: "code",
			Scopes: []string{"openid", "email"}, State: "st", Nonce: "n", CodeChallenge: "cc", CodeChallengeMethod: "S256",
			Prompt: []string{"login"}, MaxAge: &maxAge, UILocales: []string{"de"}, LoginHint: "a@example.de"},
		Issuer: "https://id.example/oidc/acme", CallbackURL: "https://id.example/oidc/acme/authorize/callback?id=" + id,
		CreatedAt: t0, ExpiresAt: at(time.Hour)}
}

func mustAuthorization(t *testing.T, s account.Tx, a account.Authorization) account.Authorization {
	t.Helper()
	if err := s.CreateAuthorization(t.Context(), &a); err != nil {
		t.Fatalf("CreateAuthorization: %v", err)
	}
	return a
}

func wantAuthorization(t *testing.T, s account.Tx, what string, want account.Authorization) {
	t.Helper()
	got, err := s.AuthorizationByID(t.Context(), want.ID)
	if err != nil {
		t.Fatalf("%s: AuthorizationByID: %v", what, err)
	}
	for _, tt := range []struct {
		name      string
		got, want time.Time
	}{{"AuthTime", got.AuthTime, want.AuthTime}, {"CodeExpiresAt", got.CodeExpiresAt, want.CodeExpiresAt},
		{"CreatedAt", got.CreatedAt, want.CreatedAt}, {"ExpiresAt", got.ExpiresAt, want.ExpiresAt}} {
		checkTime(t, what+"."+tt.name, tt.got, tt.want)
	}
	checkTimePtr(t, what+".RedeemedAt", got.RedeemedAt, want.RedeemedAt)
	got.AuthTime, got.CodeExpiresAt, got.CreatedAt, got.ExpiresAt, got.RedeemedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}, nil
	want.AuthTime, want.CodeExpiresAt, want.CreatedAt, want.ExpiresAt, want.RedeemedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func testClientRoundTrip(t *testing.T, s account.Store) {
	a := mustTenant(t, s, "acme")
	b := mustTenant(t, s, "bolt")
	app := clientApp(t, s, a.ID, "shop")
	wantApp(t, s, "client app", app)
	got, err := s.AppByClientID(t.Context(), "pfc_shop")
	if err != nil {
		t.Fatalf("AppByClientID: %v", err)
	}
	checkApp(t, "by client id", got, app)
	_, err = s.AppByClientID(t.Context(), "pfc_nope")
	wantErr(t, "unknown client id", err, account.ErrNotFound)

	// Client IDs are unique across tenants; applications without one are many.
	dup := newApp(b.ID, "other")
	dup.Client = app.Client
	wantErr(t, "second app with the client id", s.CreateApp(t.Context(), &dup), account.ErrDuplicate)
	mustApp(t, s, newApp(b.ID, "plain1"))
	mustApp(t, s, newApp(b.ID, "plain2"))

	// An update can end the client registration.
	app.Client = account.Client{}
	if err := s.UpdateApp(t.Context(), &app); err != nil {
		t.Fatalf("UpdateApp: %v", err)
	}
	wantApp(t, s, "no longer a client", app)
	_, err = s.AppByClientID(t.Context(), "pfc_shop")
	wantErr(t, "client id after it ended", err, account.ErrNotFound)
}

func testAuthorizationLifecycle(t *testing.T, s account.Store) {
	ctx := t.Context()
	tn := mustTenant(t, s, "acme")
	app := clientApp(t, s, tn.ID, "shop")
	cust := mustCustomer(t, s, newCustomer(tn.ID, "alice"))
	sess := mustSession(t, s, newSession(cust, "s"))
	a := mustAuthorization(t, s, newAuthorization(app, "authz-1"))
	wantAuthorization(t, s, "new", a)
	_, err := s.AuthorizationByID(ctx, "nope")
	wantErr(t, "unknown id", err, account.ErrNotFound)

	wantErr(t, "code before approval", s.SetAuthorizationCode(ctx, a.ID, hash("code"), at(time.Minute)), account.ErrNotFound)
	wantErr(t, "approve after expiry", s.ApproveAuthorization(ctx, a.ID, cust.ID, sess.ID, t0, hash("k"), at(time.Hour)), account.ErrNotFound)
	if err := s.ApproveAuthorization(ctx, a.ID, cust.ID, sess.ID, at(-time.Minute), hash("k"), at(time.Second)); err != nil {
		t.Fatalf("ApproveAuthorization: %v", err)
	}
	wantErr(t, "second approval", s.ApproveAuthorization(ctx, a.ID, cust.ID, sess.ID, t0, hash("k2"), at(time.Second)), account.ErrNotFound)
	a.CustomerID, a.SessionID, a.AuthTime, a.CallbackHash = cust.ID, sess.ID, at(-time.Minute), hash("k")
	wantAuthorization(t, s, "approved", a)

	if err := s.SetAuthorizationCode(ctx, a.ID, hash("code"), at(time.Minute)); err != nil {
		t.Fatalf("SetAuthorizationCode: %v", err)
	}
	wantErr(t, "second code", s.SetAuthorizationCode(ctx, a.ID, hash("code2"), at(time.Minute)), account.ErrNotFound)
	a.CodeHash, a.CodeExpiresAt = hash("code"), at(time.Minute)
	wantAuthorization(t, s, "with code", a)

	_, err = s.RedeemAuthorizationCode(ctx, hash("code"), at(time.Minute))
	wantErr(t, "redeem at expiry", err, account.ErrNotFound)
	_, err = s.RedeemAuthorizationCode(ctx, hash("other"), at(time.Second))
	wantErr(t, "redeem unknown code", err, account.ErrNotFound)
	got, err := s.RedeemAuthorizationCode(ctx, hash("code"), at(2*time.Second))
	if err != nil {
		t.Fatalf("RedeemAuthorizationCode: %v", err)
	}
	a.RedeemedAt = ptr(at(2 * time.Second))
	if got.ID != a.ID || got.RedeemedAt == nil || !got.RedeemedAt.Equal(*a.RedeemedAt) {
		t.Errorf("redeemed = %+v, want %+v", got, a)
	}
	_, err = s.RedeemAuthorizationCode(ctx, hash("code"), at(3*time.Second))
	wantErr(t, "second redemption", err, account.ErrNotFound)
	byCode, err := s.AuthorizationByCode(ctx, hash("code"))
	if err != nil || byCode.ID != a.ID || byCode.RedeemedAt == nil {
		t.Errorf("AuthorizationByCode after redemption = %+v, %v", byCode, err)
	}
	wantAuthorization(t, s, "redeemed", a)
}

func testRedeemConcurrently(t *testing.T, s account.Store) {
	ctx := t.Context()
	tn := mustTenant(t, s, "acme")
	app := clientApp(t, s, tn.ID, "shop")
	cust := mustCustomer(t, s, newCustomer(tn.ID, "alice"))
	sess := mustSession(t, s, newSession(cust, "s"))
	a := mustAuthorization(t, s, newAuthorization(app, "authz-race"))
	if err := s.ApproveAuthorization(ctx, a.ID, cust.ID, sess.ID, t0, hash("k"), t0); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAuthorizationCode(ctx, a.ID, hash("code"), at(time.Minute)); err != nil {
		t.Fatal(err)
	}
	var won atomic.Int32
	concurrently(16, func(int) {
		err := s.InTx(ctx, func(tx account.Tx) error {
			_, err := tx.RedeemAuthorizationCode(ctx, hash("code"), at(time.Second))
			return err
		})
		switch {
		case err == nil:
			won.Add(1)
		case !errors.Is(err, account.ErrNotFound):
			t.Errorf("redeem: %v", err)
		}
	})
	if won.Load() != 1 {
		t.Errorf("%d of 16 concurrent redemptions succeeded, want 1", won.Load())
	}
}

func mustGrant(t *testing.T, s account.Tx, sess account.Session, app account.Application, id string) account.Grant {
	t.Helper()
	g := account.Grant{ID: id, TenantID: sess.TenantID, AppID: app.ID, ClientID: app.Client.ID, CustomerID: sess.CustomerID, SessionID: sess.ID,
		Scopes: []string{"openid", "profile"}, AuthTime: t0, CreatedAt: at(time.Second)}
	if err := s.CreateGrant(t.Context(), &g); err != nil {
		t.Fatalf("CreateGrant: %v", err)
	}
	return g
}

func testGrantsAndRefreshTokens(t *testing.T, s account.Store) {
	ctx := t.Context()
	tn := mustTenant(t, s, "acme")
	other := mustTenant(t, s, "bolt")
	app := clientApp(t, s, tn.ID, "shop")
	cust := mustCustomer(t, s, newCustomer(tn.ID, "alice"))
	sess := mustSession(t, s, newSession(cust, "s"))
	g := mustGrant(t, s, sess, app, "grant-1")
	got, err := s.GrantByID(ctx, tn.ID, g.ID)
	if err != nil {
		t.Fatalf("GrantByID: %v", err)
	}
	checkTime(t, "AuthTime", got.AuthTime, g.AuthTime)
	checkTime(t, "CreatedAt", got.CreatedAt, g.CreatedAt)
	got.AuthTime, got.CreatedAt, g.AuthTime, g.CreatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, g) {
		t.Errorf("grant:\n got %+v\nwant %+v", got, g)
	}
	_, err = s.GrantByID(ctx, other.ID, g.ID)
	wantErr(t, "grant of another tenant", err, account.ErrNotFound)

	rt := account.RefreshToken{Hash: hash("r1"), GrantID: g.ID, TenantID: tn.ID, CreatedAt: t0, ExpiresAt: at(time.Hour)}
	if err := s.CreateRefreshToken(ctx, &rt); err != nil {
		t.Fatalf("CreateRefreshToken: %v", err)
	}
	wantErr(t, "use at expiry", s.UseRefreshToken(ctx, hash("r1"), at(time.Hour)), account.ErrNotFound)
	var won atomic.Int32
	concurrently(16, func(int) {
		switch err := s.UseRefreshToken(ctx, hash("r1"), at(time.Minute)); {
		case err == nil:
			won.Add(1)
		case !errors.Is(err, account.ErrNotFound):
			t.Errorf("UseRefreshToken: %v", err)
		}
	})
	if won.Load() != 1 {
		t.Errorf("%d of 16 concurrent uses succeeded, want 1", won.Load())
	}
	used, err := s.RefreshTokenByHash(ctx, hash("r1"))
	if err != nil || used.GrantID != g.ID || used.UsedAt == nil || !used.UsedAt.Equal(at(time.Minute)) {
		t.Errorf("used refresh token = %+v, %v", used, err)
	}

	// Ending the session ends its grants, and their refresh tokens.
	if err := s.DeleteSession(ctx, tn.ID, sess.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.GrantByID(ctx, tn.ID, g.ID)
	wantErr(t, "grant after its session ended", err, account.ErrNotFound)
	_, err = s.RefreshTokenByHash(ctx, hash("r1"))
	wantErr(t, "refresh token after its session ended", err, account.ErrNotFound)

	// Deleting a grant deletes its refresh tokens.
	sess2 := mustSession(t, s, newSession(cust, "s2"))
	g2 := mustGrant(t, s, sess2, app, "grant-2")
	rt2 := account.RefreshToken{Hash: hash("r2"), GrantID: g2.ID, TenantID: tn.ID, CreatedAt: t0, ExpiresAt: at(time.Hour)}
	if err := s.CreateRefreshToken(ctx, &rt2); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "delete another tenant's grant", s.DeleteGrant(ctx, other.ID, g2.ID), account.ErrNotFound)
	if err := s.DeleteGrant(ctx, tn.ID, g2.ID); err != nil {
		t.Fatalf("DeleteGrant: %v", err)
	}
	_, err = s.RefreshTokenByHash(ctx, hash("r2"))
	wantErr(t, "refresh token of a deleted grant", err, account.ErrNotFound)
	if _, err := s.SessionByID(ctx, tn.ID, sess2.ID); err != nil {
		t.Errorf("the session outlives its grant: %v", err)
	}
	_, err = s.SessionByID(ctx, other.ID, sess2.ID)
	wantErr(t, "session of another tenant", err, account.ErrNotFound)
}

func testSigningKeys(t *testing.T, s account.Store) {
	ctx := t.Context()
	tn := mustTenant(t, s, "acme")
	other := mustTenant(t, s, "bolt")
	keys, err := s.ListSigningKeys(ctx, tn.ID)
	if err != nil || len(keys) != 0 {
		t.Fatalf("no keys yet: %v, %v", keys, err)
	}
	k1 := account.StoredSigningKey{ID: "k1", TenantID: tn.ID, Algorithm: "RS256", Sealed: []byte("sealed 1"), CreatedAt: t0}
	k2 := account.StoredSigningKey{ID: "k2", TenantID: tn.ID, Algorithm: "ES256", Sealed: []byte("sealed 2"), CreatedAt: at(time.Hour)}
	kx := account.StoredSigningKey{ID: "kx", TenantID: other.ID, Algorithm: "EdDSA", Sealed: []byte("sealed x"), CreatedAt: t0}
	for _, k := range []*account.StoredSigningKey{&k1, &k2, &kx} {
		if err := s.CreateSigningKey(ctx, k); err != nil {
			t.Fatalf("CreateSigningKey: %v", err)
		}
	}
	if err := s.RetireSigningKeys(ctx, tn.ID, "k2", at(time.Hour)); err != nil {
		t.Fatalf("RetireSigningKeys: %v", err)
	}
	k1.RetiredAt = ptr(at(time.Hour))
	keys, err = s.ListSigningKeys(ctx, tn.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].ID != "k2" || keys[1].ID != "k1" {
		t.Fatalf("keys = %+v, want k2 then k1", keys)
	}
	for i, want := range []account.StoredSigningKey{k2, k1} {
		got := keys[i]
		checkTime(t, want.ID+".CreatedAt", got.CreatedAt, want.CreatedAt)
		checkTimePtr(t, want.ID+".RetiredAt", got.RetiredAt, want.RetiredAt)
		if got.Algorithm != want.Algorithm || string(got.Sealed) != string(want.Sealed) || got.TenantID != want.TenantID {
			t.Errorf("key %s = %+v, want %+v", want.ID, got, want)
		}
	}
	otherKeys, _ := s.ListSigningKeys(ctx, other.ID)
	if len(otherKeys) != 1 || otherKeys[0].RetiredAt != nil {
		t.Errorf("the other tenant's keys = %+v, want kx unretired", otherKeys)
	}
}

func testPurgeOIDC(t *testing.T, s account.Store) {
	ctx := t.Context()
	tn := mustTenant(t, s, "acme")
	app := clientApp(t, s, tn.ID, "shop")
	old := newAuthorization(app, "old")
	old.ExpiresAt = at(-25 * time.Hour)
	mustAuthorization(t, s, old)
	mustAuthorization(t, s, newAuthorization(app, "fresh"))
	retired := account.StoredSigningKey{ID: "old", TenantID: tn.ID, Algorithm: "RS256", Sealed: []byte("x"), CreatedAt: at(-48 * time.Hour), RetiredAt: ptr(at(-25 * time.Hour))}
	current := account.StoredSigningKey{ID: "new", TenantID: tn.ID, Algorithm: "RS256", Sealed: []byte("y"), CreatedAt: at(-25 * time.Hour)}
	for _, k := range []*account.StoredSigningKey{&retired, &current} {
		if err := s.CreateSigningKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Purge(ctx, at(-24*time.Hour+time.Minute), t0); err != nil {
		t.Fatalf("Purge: %v", err)
	}
	if keys, _ := s.ListSigningKeys(ctx, tn.ID); len(keys) != 2 {
		t.Errorf("Purge deleted signing keys: %+v", keys)
	}
	if err := s.PurgeSigningKeys(ctx, at(-24*time.Hour)); err != nil {
		t.Fatalf("PurgeSigningKeys: %v", err)
	}
	if _, err := s.AuthorizationByID(ctx, "old"); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("an expired authorization survived the purge: %v", err)
	}
	if _, err := s.AuthorizationByID(ctx, "fresh"); err != nil {
		t.Errorf("a live authorization was purged: %v", err)
	}
	keys, _ := s.ListSigningKeys(ctx, tn.ID)
	if len(keys) != 1 || keys[0].ID != "new" {
		t.Errorf("keys after purge = %+v, want only the unretired one", keys)
	}
}
