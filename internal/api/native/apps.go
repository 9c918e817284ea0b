package native

import (
	"net/http"
	"time"

	"pforte/internal/account"
	"pforte/internal/api/wire"
)

// appJSON is an application on the wire.
type appJSON struct {
	Name       string            `json:"name"`
	Endpoint   string            `json:"endpoint"`
	ConfirmURL string            `json:"confirm_url"`
	ResetURL   string            `json:"reset_url"`
	InviteURL  string            `json:"invite_url"`
	Delivery   string            `json:"delivery"`
	Settings   map[string]string `json:"settings"`
	OIDC       *clientJSON       `json:"oidc"`
	CreatedAt  time.Time         `json:"created_at"`
	UpdatedAt  time.Time         `json:"updated_at"`
}

// clientJSON is an application's OpenID Connect client registration.
// client_secret is in the answer that made it, and in no other.
type clientJSON struct {
	Type                   string   `json:"type"`
	ClientID               string   `json:"client_id"`
	ClientSecret           string   `json:"client_secret,omitempty"`
	RedirectURIs           []string `json:"redirect_uris"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris"`
}

func toApp(a account.Application) appJSON {
	out := appJSON{Name: a.Name, Endpoint: a.Endpoint, ConfirmURL: a.ConfirmURL, ResetURL: a.ResetURL,
		InviteURL: a.InviteURL, Delivery: string(a.Delivery), Settings: a.Settings, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
	if out.Settings == nil {
		out.Settings = map[string]string{}
	}
	if c := a.Client; c.Type != account.ClientNone {
		out.OIDC = &clientJSON{Type: string(c.Type), ClientID: c.ID, ClientSecret: a.NewClientSecret,
			RedirectURIs: nonNil(c.RedirectURIs), PostLogoutRedirectURIs: nonNil(c.LogoutURIs)}
	}
	return out
}

func nonNil(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}

// appFields are the writable fields of an application; nil means unset.
type appFields struct {
	Name       *string `json:"name"`
	Endpoint   *string `json:"endpoint"`
	ConfirmURL *string `json:"confirm_url"`
	ResetURL   *string `json:"reset_url"`
	InviteURL  *string `json:"invite_url"`
	Delivery   *string `json:"delivery"`
	// Settings override the tenant's settings of the same keys for
	// requests naming the application; "" removes one.
	Settings map[string]string `json:"settings"`
	OIDC     *clientFields     `json:"oidc"`
}

// clientFields change the OpenID Connect client registration: type
// confidential or public makes the application a client, "" ends it;
// rotate_secret makes a new secret.
type clientFields struct {
	Type                   *string   `json:"type"`
	RedirectURIs           *[]string `json:"redirect_uris"`
	PostLogoutRedirectURIs *[]string `json:"post_logout_redirect_uris"`
	RotateSecret           bool      `json:"rotate_secret"`
}

func (f appFields) patch() account.AppPatch {
	p := account.AppPatch{Name: f.Name, Endpoint: f.Endpoint, ConfirmURL: f.ConfirmURL, ResetURL: f.ResetURL, InviteURL: f.InviteURL,
		Settings: f.Settings}
	if f.Delivery != nil {
		d := account.Delivery(*f.Delivery)
		p.Delivery = &d
	}
	if o := f.OIDC; o != nil {
		p.Client = &account.ClientPatch{RedirectURIs: o.RedirectURIs, LogoutURIs: o.PostLogoutRedirectURIs, NewSecret: o.RotateSecret}
		if o.Type != nil {
			t := account.ClientType(*o.Type)
			p.Client.Type = &t
		}
	}
	return p
}

// CreateApp serves POST /api/v1/apps.
func (a *API) CreateApp() http.Handler {
	return a.keyed(secretKey, func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		req, err := wire.DecodeJSON[appFields](r)
		if err != nil {
			return err
		}
		created, err := a.svc.Apps.Create(r.Context(), c, req.patch())
		if err != nil {
			return err
		}
		w.Header().Set("Location", "/api/v1/apps/"+created.Name)
		return wire.WriteJSON(w, http.StatusCreated, map[string]appJSON{"app": toApp(created)})
	})
}

// ListApps serves GET /api/v1/apps.
func (a *API) ListApps() http.Handler {
	return a.keyed(secretKey, func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		apps, err := a.svc.Apps.List(r.Context(), c)
		if err != nil {
			return err
		}
		out := make([]appJSON, 0, len(apps))
		for _, app := range apps {
			out = append(out, toApp(app))
		}
		return wire.WriteJSON(w, http.StatusOK, map[string][]appJSON{"apps": out})
	})
}

// GetApp serves GET /api/v1/apps/{name}.
func (a *API) GetApp() http.Handler {
	return a.keyed(secretKey, func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		app, err := a.svc.Apps.Get(r.Context(), c, r.PathValue("name"))
		if err != nil {
			return err
		}
		return wire.WriteJSON(w, http.StatusOK, map[string]appJSON{"app": toApp(app)})
	})
}

// UpdateApp serves PATCH /api/v1/apps/{name}.
func (a *API) UpdateApp() http.Handler {
	return a.keyed(secretKey, func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		req, err := wire.DecodeJSON[appFields](r)
		if err != nil {
			return err
		}
		app, err := a.svc.Apps.Update(r.Context(), c, r.PathValue("name"), req.patch())
		if err != nil {
			return err
		}
		return wire.WriteJSON(w, http.StatusOK, map[string]appJSON{"app": toApp(app)})
	})
}

// DeleteApp serves DELETE /api/v1/apps/{name}.
func (a *API) DeleteApp() http.Handler {
	return a.keyed(secretKey, func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		if err := a.svc.Apps.Delete(r.Context(), c, r.PathValue("name")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}
