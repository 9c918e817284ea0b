package native_test

import (
	"encoding/json"
	"net/http"
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
