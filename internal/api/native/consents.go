package native

import (
	"encoding/hex"
	"net/http"
	"time"

	"pforte/internal/account"
	"pforte/internal/api/wire"
)

// consentJSON is a consent text on the wire.
type consentJSON struct {
	Version   string     `json:"version"`
	Lang      string     `json:"lang"`
	App       int64      `json:"app_id,omitempty"`
	Text      string     `json:"text"`
	SHA256    string     `json:"sha256"`
	CreatedAt time.Time  `json:"created_at"`
	ShownAt   *time.Time `json:"shown_at"`
}

func toConsent(ct account.ConsentText) consentJSON {
	return consentJSON{Version: ct.Version, Lang: ct.Lang, App: ct.AppID, Text: ct.Text, SHA256: hex.EncodeToString(ct.Hash),
		CreatedAt: ct.CreatedAt, ShownAt: ct.ShownAt}
}

// ListConsents serves GET /api/v1/consents: the tenant's consent texts,
// newest first.
func (a *API) ListConsents() http.Handler {
	return a.keyed(secretKey, func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		list, err := a.svc.Consents.List(r.Context(), c.Tenant.Slug)
		if err != nil {
			return err
		}
		out := make([]consentJSON, 0, len(list))
		for _, ct := range list {
			out = append(out, toConsent(ct))
		}
		return wire.WriteJSON(w, http.StatusOK, map[string][]consentJSON{"consents": out})
	})
}

// AddConsent serves POST /api/v1/consents: a new version of a consent
// text, or a new text for a version nobody was shown yet.
func (a *API) AddConsent() http.Handler {
	type request struct {
		Version string `json:"version"`
		Lang    string `json:"lang"`
		Text    string `json:"text"`
		App     string `json:"app"`
	}
	return a.keyed(secretKey, func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		req, err := wire.DecodeJSON[request](r)
		if err != nil {
			return err
		}
		ct, err := a.svc.Consents.Add(r.Context(), c.Tenant.Slug, req.App, req.Version, req.Lang, req.Text)
		if err != nil {
			return err
		}
		return wire.WriteJSON(w, http.StatusCreated, map[string]consentJSON{"consent": toConsent(ct)})
	})
}
