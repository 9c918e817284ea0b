package storetest

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"testing"
	"time"

	"pforte/internal/account"
)

// newApp returns an unsaved application with only its name set.
func newApp(tenantID int64, name string) account.Application {
	return account.Application{TenantID: tenantID, Name: name, CreatedAt: t0, UpdatedAt: t0}
}

// fullApp returns an unsaved application with every field set, its times
// given in a zone other than UTC.
func fullApp(tenantID int64, name string) account.Application {
	cest := time.FixedZone("CEST", 2*60*60)
	return account.Application{
		TenantID:   tenantID,
		Name:       name,
		Endpoint:   "https://www.example.de/pforte/" + name,
		ConfirmURL: "https://www.example.de/" + name + "/confirm/{token}",
		ResetURL:   "https://www.example.de/" + name + "/reset/{token}",
		InviteURL:  "https://www.example.de/" + name + "/invite/{token}?lang=de&x=ü",
		Delivery:   account.Delivery("mail"),
		Settings:   map[string]string{"pages.display_name": "Shop \"Ü\" " + name, "pages.return_urls": "https://www.example.de/konto"},
		CreatedAt:  t0.In(cest),
		UpdatedAt:  at(time.Minute + time.Microsecond).In(cest),
	}
}

func mustApp(t *testing.T, s account.Tx, a account.Application) account.Application {
	t.Helper()
	if err := s.CreateApp(t.Context(), &a); err != nil {
		t.Fatalf("CreateApp(%q): %v", a.Name, err)
	}
	if a.ID == 0 {
		t.Fatalf("CreateApp(%q) did not set ID", a.Name)
	}
	return a
}

// checkApp compares every field; times by instant and in UTC.
func checkApp(t *testing.T, what string, got, want account.Application) {
	t.Helper()
	checkTime(t, what+".CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, what+".UpdatedAt", got.UpdatedAt, want.UpdatedAt)
	got.CreatedAt, got.UpdatedAt = time.Time{}, time.Time{}
	want.CreatedAt, want.UpdatedAt = time.Time{}, time.Time{}
	if !maps.Equal(got.Settings, want.Settings) { // a nil map reads back empty
		t.Errorf("%s.Settings: got %v, want %v", what, got.Settings, want.Settings)
	}
	got.Settings, want.Settings = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// wantApp checks that AppByName finds want as it is.
func wantApp(t *testing.T, s account.Tx, what string, want account.Application) {
	t.Helper()
	got, err := s.AppByName(t.Context(), want.TenantID, want.Name)
	if err != nil {
		t.Errorf("%s: AppByName(%d, %q): %v", what, want.TenantID, want.Name, err)
		return
	}
	checkApp(t, what, got, want)
}

// wantApps checks that ListApps returns exactly want, in order.
func wantApps(t *testing.T, s account.Tx, what string, tenantID int64, want ...account.Application) {
	t.Helper()
	got, err := s.ListApps(t.Context(), tenantID)
	if err != nil {
		t.Errorf("%s: ListApps(%d): %v", what, tenantID, err)
		return
	}
	if got == nil {
		t.Errorf("%s: ListApps = nil, want an empty slice", what)
	}
	if len(got) != len(want) {
		t.Errorf("%s: ListApps returned %v, want %v", what, appNames(got), appNames(want))
		return
	}
	for i := range got {
		checkApp(t, fmt.Sprintf("%s: ListApps[%d]", what, i), got[i], want[i])
	}
}

func appNames(as []account.Application) []string {
	names := []string{}
	for _, a := range as {
		names = append(names, a.Name)
	}
	return names
}

func wantNoApp(t *testing.T, s account.Tx, what string, tenantID int64, name string) {
	t.Helper()
	got, err := s.AppByName(t.Context(), tenantID, name)
	if !errors.Is(err, account.ErrNotFound) {
		t.Errorf("%s: AppByName(%d, %q) = %+v, %v; want ErrNotFound", what, tenantID, name, got, err)
	}
}

func testAppRoundTrip(t *testing.T, s account.Store) {
	a := mustTenant(t, s, "acme")
	full := fullApp(a.ID, "shop")
	if err := s.CreateApp(t.Context(), &full); err != nil {
		t.Fatalf("CreateApp(full): %v", err)
	}
	bare := mustApp(t, s, newApp(a.ID, "bare"))
	if full.ID == 0 || full.ID == bare.ID {
		t.Fatalf("CreateApp set IDs %d and %d, want two distinct non-zero IDs", full.ID, bare.ID)
	}
	want := fullApp(a.ID, "shop")
	want.ID = full.ID
	wantApp(t, s, "full app", want)
	wantApp(t, s, "bare app", bare)
	wantApps(t, s, "both", a.ID, bare, want)
}

func testAppDuplicates(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")
	b := mustTenant(t, s, "globex")
	shop := mustApp(t, s, fullApp(a.ID, "shop"))

	dup := newApp(a.ID, "shop")
	wantErr(t, "CreateApp(same tenant and name)", s.CreateApp(ctx, &dup), account.ErrDuplicate)
	wantApp(t, s, "app after a refused duplicate", shop)
	other := mustApp(t, s, newApp(b.ID, "shop")) // another tenant may use the name
	wantApps(t, s, "tenant a", a.ID, shop)
	wantApps(t, s, "tenant b", b.ID, other)
	mustApp(t, s, newApp(a.ID, "Shop")) // names are case-sensitive

	// ErrDuplicate leaves the transaction usable.
	var blog account.Application
	err := s.InTx(ctx, func(tx account.Tx) error {
		dup := newApp(a.ID, "shop")
		if err := tx.CreateApp(ctx, &dup); !errors.Is(err, account.ErrDuplicate) {
			return fmt.Errorf("CreateApp(duplicate) = %v, want ErrDuplicate", err)
		}
		blog = newApp(a.ID, "blog")
		return tx.CreateApp(ctx, &blog)
	})
	if err != nil {
		t.Fatalf("InTx(go on after ErrDuplicate): %v", err)
	}
	wantApp(t, s, "app created after ErrDuplicate", blog)
}

func testAppIsolation(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")
	b := mustTenant(t, s, "globex")
	shop := mustApp(t, s, fullApp(a.ID, "shop"))

	wantNoApp(t, s, "other tenant", b.ID, "shop")
	wantNoApp(t, s, "unknown name", a.ID, "blog")
	wantNoApp(t, s, "name in another case", a.ID, "Shop")
	wantApps(t, s, "tenant without apps", b.ID)

	u := shop
	u.TenantID, u.Endpoint = b.ID, "https://evil.example/"
	wantErr(t, "UpdateApp(other tenant)", s.UpdateApp(ctx, &u), account.ErrNotFound)
	wantErr(t, "DeleteApp(other tenant)", s.DeleteApp(ctx, b.ID, shop.ID), account.ErrNotFound)
	wantApp(t, s, "app after another tenant's update and delete", shop)
	wantApps(t, s, "tenant b after the refused writes", b.ID)
}

func testAppList(t *testing.T, s account.Store) {
	a := mustTenant(t, s, "acme")
	b := mustTenant(t, s, "globex")
	var apps []account.Application
	for _, name := range []string{"beta", "Zeta", "_internal", "Ünïcode", "alpha"} {
		apps = append(apps, mustApp(t, s, newApp(a.ID, name)))
	}
	mustApp(t, s, newApp(b.ID, "aaa"))
	// By name in byte order, whatever the database's collation.
	beta, zeta, internal, unicode, alpha := apps[0], apps[1], apps[2], apps[3], apps[4]
	wantApps(t, s, "by name", a.ID, zeta, internal, alpha, beta, unicode)
	wantApps(t, s, "unknown tenant", b.ID+1000)
}

func testAppUpdate(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")
	app := mustApp(t, s, newApp(a.ID, "shop"))
	taken := mustApp(t, s, newApp(a.ID, "blog"))

	// Every column changes, CreatedAt excepted.
	upd := fullApp(a.ID, "store")
	upd.ID = app.ID
	upd.CreatedAt = at(-time.Hour)
	upd.UpdatedAt = at(time.Hour + time.Microsecond)
	if err := s.UpdateApp(ctx, &upd); err != nil {
		t.Fatalf("UpdateApp: %v", err)
	}
	want := upd
	want.CreatedAt = app.CreatedAt
	wantApp(t, s, "updated app", want)
	wantNoApp(t, s, "old name", a.ID, "shop")
	wantApp(t, s, "bystander", taken)

	// Back to empty URLs; an unchanged update is no clash with itself.
	upd.Endpoint, upd.ConfirmURL, upd.ResetURL, upd.InviteURL, upd.Delivery = "", "", "", "", ""
	for range 2 {
		if err := s.UpdateApp(ctx, &upd); err != nil {
			t.Fatalf("UpdateApp(clear): %v", err)
		}
	}
	want = upd
	want.CreatedAt = app.CreatedAt
	wantApp(t, s, "cleared app", want)

	for _, tc := range []struct {
		name   string
		modify func(u *account.Application)
		want   error
	}{
		{"name clash", func(u *account.Application) { u.Name = taken.Name }, account.ErrDuplicate},
		{"unknown id", func(u *account.Application) { u.ID = taken.ID + 1000 }, account.ErrNotFound},
	} {
		u := want
		u.Endpoint = "https://changed.example/"
		tc.modify(&u)
		wantErr(t, "UpdateApp("+tc.name+")", s.UpdateApp(ctx, &u), tc.want)
	}
	wantApps(t, s, "after the refused updates", a.ID, taken, want)
}

func testAppDelete(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")
	shop := mustApp(t, s, newApp(a.ID, "shop"))
	blog := mustApp(t, s, newApp(a.ID, "blog"))

	if err := s.DeleteApp(ctx, a.ID, shop.ID); err != nil {
		t.Fatalf("DeleteApp: %v", err)
	}
	wantNoApp(t, s, "deleted app", a.ID, "shop")
	wantApps(t, s, "after the delete", a.ID, blog)
	wantErr(t, "DeleteApp(deleted already)", s.DeleteApp(ctx, a.ID, shop.ID), account.ErrNotFound)
	wantErr(t, "DeleteApp(unknown)", s.DeleteApp(ctx, a.ID, blog.ID+1000), account.ErrNotFound)
	up := shop
	up.Endpoint = "https://x.example/"
	wantErr(t, "UpdateApp(deleted)", s.UpdateApp(ctx, &up), account.ErrNotFound)

	// The name is free again.
	again := mustApp(t, s, newApp(a.ID, "shop"))
	if again.ID == shop.ID {
		t.Errorf("recreated app got the deleted one's ID %d", shop.ID)
	}
	wantApps(t, s, "after recreating", a.ID, blog, again)
}
