package native_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"pforte/internal/api/apitest"
	"pforte/internal/store/teststore"
)

// TestAppSettings: an application's settings are set, merged and removed
// through /api/v1/apps, and only settings an application may override are
// taken, checked as the tenant's are.
func TestAppSettings(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		apitest.MustStatus(t, h.Post(t, h.secret, "/api/v1/apps", map[string]any{"name": "kiosk",
			"settings": map[string]string{"pages.display_name": "Kiosk", "pages.primary_colour": "#112233"}}), http.StatusCreated)
		patch := func(body any) *apitest.Response {
			return h.Do(t, apitest.Request{Method: http.MethodPatch, Path: "/api/v1/apps/kiosk", Key: h.secret, Body: body})
		}
		res := patch(map[string]any{"settings": map[string]string{"pages.primary_colour": "", "pages.return_urls": "https://kiosk.example/fertig"}})
		apitest.MustStatus(t, res, http.StatusOK)
		var got struct {
			App struct {
				Settings map[string]string `json:"settings"`
			} `json:"app"`
		}
		if err := json.Unmarshal(res.Body, &got); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"pages.display_name": "Kiosk", "pages.return_urls": "https://kiosk.example/fertig"}
		if len(got.App.Settings) != len(want) || got.App.Settings["pages.display_name"] != "Kiosk" || got.App.Settings["pages.return_urls"] != want["pages.return_urls"] {
			t.Fatalf("settings after the patch: %v, want %v", got.App.Settings, want)
		}
		for _, bad := range []map[string]string{{"hosts": "kiosk.example"}, {"pages.primary_colour": "red"}, {"nothing": "x"}} {
			if res := patch(map[string]any{"settings": bad}); res.Status != http.StatusBadRequest {
				t.Errorf("settings %v: %s, want 400", bad, res)
			}
		}
	})
}

// TestAppClients: an application becomes an OpenID Connect client
// through /api/v1/apps; its secret is in the one answer that made it and
// is stored as a hash only; bad registrations are 400 naming the field.
func TestAppClients(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		type client struct {
			Type         string   `json:"type"`
			ClientID     string   `json:"client_id"`
			ClientSecret string   `json:"client_secret"`
			RedirectURIs []string `json:"redirect_uris"`
			LogoutURIs   []string `json:"post_logout_redirect_uris"`
		}
		type answer struct {
			App struct {
				OIDC *client `json:"oidc"`
			} `json:"app"`
		}
		decode := func(r *apitest.Response, status int) answer {
			t.Helper()
			apitest.MustStatus(t, r, status)
			var a answer
			if err := json.Unmarshal(r.Body, &a); err != nil {
				t.Fatal(err)
			}
			return a
		}
		created := decode(h.Post(t, h.secret, "/api/v1/apps", map[string]any{"name": "shop",
			"oidc": map[string]any{"type": "confidential", "redirect_uris": []string{"https://shop.example/cb"}}}), http.StatusCreated)
		c := created.App.OIDC
		if c == nil || c.Type != "confidential" || !strings.HasPrefix(c.ClientID, "pfc_") || len(c.ClientSecret) < 40 ||
			len(c.RedirectURIs) != 1 || c.LogoutURIs == nil {
			t.Fatalf("created client: %+v", c)
		}
		got := decode(h.Get(t, h.secret, "/api/v1/apps/shop"), http.StatusOK)
		if got.App.OIDC == nil || got.App.OIDC.ClientSecret != "" || got.App.OIDC.ClientID != c.ClientID {
			t.Errorf("a read shows %+v: want the client without its secret", got.App.OIDC)
		}
		h.CheckNotCarried(t, c.ClientSecret, 1)
		patch := func(body any) *apitest.Response {
			return h.Do(t, apitest.Request{Method: http.MethodPatch, Path: "/api/v1/apps/shop", Key: h.secret, Body: body})
		}
		rotated := decode(patch(map[string]any{"oidc": map[string]any{"rotate_secret": true}}), http.StatusOK)
		if s := rotated.App.OIDC.ClientSecret; s == "" || s == c.ClientSecret || rotated.App.OIDC.ClientID != c.ClientID {
			t.Errorf("rotated: %+v", rotated.App.OIDC)
		}
		for field, bad := range map[string]map[string]any{
			"oidc.redirect_uris":             {"redirect_uris": []string{"http://shop.example/cb"}},
			"oidc.post_logout_redirect_uris": {"post_logout_redirect_uris": []string{"https://shop.example/#top"}},
			"oidc.type":                      {"type": "secretive"},
		} {
			apitest.MustFieldError(t, patch(map[string]any{"oidc": bad}), field, "invalid")
		}
		apitest.MustFieldError(t, h.Post(t, h.secret, "/api/v1/apps", map[string]any{"name": "bare",
			"oidc": map[string]any{"redirect_uris": []string{"https://shop.example/cb"}}}), "oidc.type", "required")
		apitest.MustFieldError(t, h.Post(t, h.secret, "/api/v1/apps", map[string]any{"name": "nouri",
			"oidc": map[string]any{"type": "public"}}), "oidc.redirect_uris", "required")
		ended := decode(patch(map[string]any{"oidc": map[string]any{"type": ""}}), http.StatusOK)
		if ended.App.OIDC != nil {
			t.Errorf("after type \"\": %+v, want no client", ended.App.OIDC)
		}
	})
}

// TestAppLifecycle: an application is created, listed, read, renamed and
// deleted through /api/v1/apps, with a secret key only.
func TestAppLifecycle(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		do := func(method, path, key string, body any) *apitest.Response {
			return h.Do(t, apitest.Request{Method: method, Path: path, Key: key, Body: body})
		}
		type app struct {
			Name     string `json:"name"`
			Delivery string `json:"delivery"`
		}
		// The OpenAPI document checks the whole shape; these fields are
		// what the test is about.
		decode := func(res *apitest.Response, status int) (one struct{ App app }, list struct{ Apps []app }) {
			t.Helper()
			apitest.MustStatus(t, res, status)
			if err := json.Unmarshal(res.Body, &one); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(res.Body, &list); err != nil {
				t.Fatal(err)
			}
			return one, list
		}
		res := do(http.MethodPost, "/api/v1/apps", h.secret, map[string]any{"name": "shop", "delivery": "mail",
			"confirm_url": "https://shop.example/confirm/{token}"})
		if one, _ := decode(res, http.StatusCreated); one.App.Name != "shop" || one.App.Delivery != "mail" {
			t.Errorf("created %+v", one.App)
		}
		if loc := res.Header.Get("Location"); loc != "/api/v1/apps/shop" {
			t.Errorf("Location %q", loc)
		}
		apitest.MustProblem(t, do(http.MethodPost, "/api/v1/apps", h.secret, map[string]any{"name": "shop"}), http.StatusConflict, "app_exists")
		apitest.MustStatus(t, do(http.MethodPost, "/api/v1/apps", h.secret, map[string]any{"name": "blog"}), http.StatusCreated)
		apitest.MustProblem(t, do(http.MethodGet, "/api/v1/apps", h.public, nil), http.StatusForbidden, "secret_key_required")

		if _, list := decode(do(http.MethodGet, "/api/v1/apps", h.secret, nil), http.StatusOK); len(list.Apps) != 2 {
			t.Errorf("apps %+v, want shop and blog", list.Apps)
		}
		res = do(http.MethodPatch, "/api/v1/apps/blog", h.secret, map[string]any{"name": "journal"})
		if one, _ := decode(res, http.StatusOK); one.App.Name != "journal" {
			t.Errorf("renamed %+v", one.App)
		}
		apitest.MustProblem(t, do(http.MethodPatch, "/api/v1/apps/journal", h.secret, map[string]any{"name": "shop"}), http.StatusConflict, "app_exists")
		apitest.MustProblem(t, do(http.MethodGet, "/api/v1/apps/blog", h.secret, nil), http.StatusNotFound, "app_not_found")
		apitest.MustProblem(t, do(http.MethodPatch, "/api/v1/apps/blog", h.secret, map[string]any{"delivery": "both"}), http.StatusNotFound, "app_not_found")

		apitest.MustStatus(t, do(http.MethodDelete, "/api/v1/apps/journal", h.secret, nil), http.StatusNoContent)
		apitest.MustProblem(t, do(http.MethodDelete, "/api/v1/apps/journal", h.secret, nil), http.StatusNotFound, "app_not_found")
		if _, list := decode(do(http.MethodGet, "/api/v1/apps", h.secret, nil), http.StatusOK); len(list.Apps) != 1 || list.Apps[0].Name != "shop" {
			t.Errorf("apps after the delete %+v, want shop", list.Apps)
		}
	})
}
