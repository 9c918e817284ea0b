package storetest

import (
	"errors"
	"testing"
	"time"

	"pforte/internal/account"
)

func testConsentTexts(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")
	b := mustTenant(t, s, "globex")
	put := func(tenant, app int64, version, lang, text string) (account.ConsentText, error) {
		ct := account.ConsentText{TenantID: tenant, AppID: app, Version: version, Lang: lang, Text: text, Hash: hash(text), CreatedAt: t0}
		err := s.PutConsentText(ctx, &ct)
		return ct, err
	}
	v1, err := put(a.ID, 0, "v1", "de", "Erster Text")
	if err != nil || v1.ID == 0 {
		t.Fatalf("PutConsentText: %v", err)
	}
	if again, err := put(a.ID, 0, "v1", "de", "Erster Text, berichtigt"); err != nil || again.ID != v1.ID {
		t.Fatalf("replacing an unshown text: id %d, %v; want the same row", again.ID, err)
	}
	if _, err := put(a.ID, 0, "v2", "de", "Zweiter Text"); err != nil {
		t.Fatal(err)
	}
	if _, err := put(a.ID, 7, "app-v1", "de", "Text der Anwendung"); err != nil {
		t.Fatal(err)
	}
	if _, err := put(b.ID, 0, "v9", "de", "Anderer Mandant"); err != nil {
		t.Fatal(err)
	}
	if cur, err := s.CurrentConsentText(ctx, a.ID, 0, "de"); err != nil || cur.Version != "v2" {
		t.Errorf("CurrentConsentText: %+v, %v; want v2", cur, err)
	}
	if cur, err := s.CurrentConsentText(ctx, a.ID, 7, "de"); err != nil || cur.Version != "app-v1" {
		t.Errorf("CurrentConsentText of an app: %+v, %v", cur, err)
	}
	if _, err := s.CurrentConsentText(ctx, a.ID, 0, "en"); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("CurrentConsentText in a language without text: %v, want ErrNotFound", err)
	}
	got, err := s.ConsentTextByVersion(ctx, a.ID, 0, "v1", "de")
	if err != nil || got.Text != "Erster Text, berichtigt" || got.ShownAt != nil {
		t.Fatalf("ConsentTextByVersion: %+v, %v", got, err)
	}
	if err := s.MarkConsentShown(ctx, got.ID, at(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkConsentShown(ctx, got.ID, at(time.Hour)); err != nil { // the first showing stays
		t.Fatal(err)
	}
	if got, _ := s.ConsentTextByVersion(ctx, a.ID, 0, "v1", "de"); got.ShownAt == nil || !got.ShownAt.Equal(at(time.Minute)) {
		t.Errorf("shown at %v, want the first showing", got.ShownAt)
	}
	if _, err := put(a.ID, 0, "v1", "de", "Nachträglich geändert"); !errors.Is(err, account.ErrConsentShown) {
		t.Errorf("changing a shown text: %v, want ErrConsentShown", err)
	}
	if got, _ := s.ConsentTextByVersion(ctx, a.ID, 0, "v1", "de"); got.Text != "Erster Text, berichtigt" {
		t.Errorf("a shown text changed to %q", got.Text)
	}
	if list, err := s.ListConsentTexts(ctx, a.ID); err != nil || len(list) != 3 || list[0].Version != "app-v1" {
		t.Errorf("ListConsentTexts: %+v, %v; want the tenant's three, newest first", list, err)
	}
}
