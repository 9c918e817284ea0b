package server

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"pforte/internal/api/api2auth"
	"pforte/internal/api/betterez"
	"pforte/internal/api/gradido"
	"pforte/internal/api/hgsp"
	"pforte/internal/api/native"
	"pforte/internal/api/propstack"
	"pforte/internal/api/wire"
	"pforte/internal/oidc"
	"pforte/internal/pages"
)

// addRoutes lists every route pforte serves. Each path answers the methods
// it does not take with its API's 405; the catch-alls answer unknown paths
// with their API's 404.
func addRoutes(mux *http.ServeMux, d Deps) *router {
	rt := newRouter(mux)
	rt.handleAny("GET /healthz", handleHealth())
	rt.handleAny("GET /readyz", handleReady(d))
	clients := wire.Clients{Proxies: d.TrustedProxies, Limiter: d.ClientLimiter}
	addNativeRoutes(rt, d, clients)
	addDialectRoutes(rt, d, clients)
	pg := pages.New(d.Service, d.Logger, clients, d.PublicURL)
	addPageRoutes(rt, pg)
	addOIDCRoutes(rt, d, pg, clients)
	rt.refuseOtherMethods()
	return rt
}

// addNativeRoutes lists the routes of the native API.
func addNativeRoutes(rt *router, d Deps, clients wire.Clients) {
	// Self-service (public or secret key).
	nat := native.New(d.Service, d.Logger, clients)
	rt.handle(nat, "POST /api/v1/registrations", nat.Register())
	rt.handle(nat, "POST /api/v1/confirmations", nat.Confirm())
	rt.handle(nat, "POST /api/v1/confirmations/resend", nat.ResendConfirmation())
	rt.handle(nat, "POST /api/v1/sessions", nat.Login())
	rt.handle(nat, "GET /api/v1/session", nat.CurrentSession())
	rt.handle(nat, "DELETE /api/v1/session", nat.Logout())
	rt.handle(nat, "DELETE /api/v1/session/others", nat.EndMyOtherSessions())
	rt.handle(nat, "GET /api/v1/sessions", nat.MySessions())
	rt.handle(nat, "DELETE /api/v1/sessions/{id}", nat.EndMySession())
	rt.handle(nat, "POST /api/v1/password-resets", nat.RequestPasswordReset())
	rt.handle(nat, "POST /api/v1/password-resets/complete", nat.CompletePasswordReset())
	rt.handle(nat, "POST /api/v1/invitations/accept", nat.AcceptInvite())
	rt.handle(nat, "PUT /api/v1/password", nat.ChangePassword())
	rt.handle(nat, "POST /api/v1/email-change", nat.RequestEmailChange())
	rt.handle(nat, "POST /api/v1/email-change/confirm", nat.ConfirmEmailChange())
	rt.handle(nat, "POST /api/v1/email-change/undo", nat.UndoEmailChange())
	rt.handle(nat, "POST /api/v1/account/deletion", nat.DeleteAccount())
	rt.handle(nat, "POST /api/v1/sign-in-alert", nat.EndReportedSignIn())

	// Administration (secret key).
	rt.handle(nat, "POST /api/v1/customers", nat.CreateCustomer())
	rt.handle(nat, "GET /api/v1/customers", nat.ListCustomers())
	rt.handle(nat, "POST /api/v1/customers/import", nat.ImportCustomers())
	rt.handle(nat, "GET /api/v1/customers/{ref}", nat.GetCustomer())
	rt.handle(nat, "PATCH /api/v1/customers/{ref}", nat.UpdateCustomer())
	rt.handle(nat, "DELETE /api/v1/customers/{ref}", nat.DeleteCustomer())
	rt.handle(nat, "PUT /api/v1/customers/{ref}/password", nat.SetCustomerPassword())
	rt.handle(nat, "GET /api/v1/customers/{ref}/export", nat.ExportCustomer())
	rt.handle(nat, "GET /api/v1/customers/{ref}/consents", nat.CustomerProofs())
	rt.handle(nat, "GET /api/v1/customers/{ref}/sessions", nat.CustomerSessions())
	rt.handle(nat, "DELETE /api/v1/customers/{ref}/sessions", nat.EndCustomerSessions())
	rt.handle(nat, "DELETE /api/v1/customers/{ref}/sessions/{id}", nat.EndCustomerSession())
	rt.handle(nat, "GET /api/v1/audit", nat.ListAudit())
	rt.handle(nat, "GET /api/v1/erasures", nat.Erasures())
	rt.handle(nat, "GET /api/v1/consents", nat.ListConsents())
	rt.handle(nat, "POST /api/v1/consents", nat.AddConsent())
	rt.handle(nat, "POST /api/v1/webhooks", nat.CreateWebhook())
	rt.handle(nat, "GET /api/v1/webhooks", nat.ListWebhooks())
	rt.handle(nat, "GET /api/v1/webhooks/{id}", nat.GetWebhook())
	rt.handle(nat, "PATCH /api/v1/webhooks/{id}", nat.UpdateWebhook())
	rt.handle(nat, "DELETE /api/v1/webhooks/{id}", nat.DeleteWebhook())
	rt.handle(nat, "POST /api/v1/webhooks/{id}/test", nat.TestWebhook())
	rt.handle(nat, "POST /api/v1/apps", nat.CreateApp())
	rt.handle(nat, "GET /api/v1/apps", nat.ListApps())
	rt.handle(nat, "GET /api/v1/apps/{name}", nat.GetApp())
	rt.handle(nat, "PATCH /api/v1/apps/{name}", nat.UpdateApp())
	rt.handle(nat, "DELETE /api/v1/apps/{name}", nat.DeleteApp())

	// This API's OpenAPI document (no key).
	rt.handle(nat, "GET /api/v1/openapi.json", nat.OpenAPI())
	rt.handleAny("/api/v1/", nat.NotFound())
}

// addDialectRoutes lists the routes of the vendors' APIs.
// Calls without a secret key count towards their client address's limit.
func addDialectRoutes(rt *router, d Deps, clients wire.Clients) {
	// Betterez's application-based password reset: internal/api/betterez.
	bz := betterez.New(d.Service, d.Logger, clients)
	rt.handle(bz, "POST /notifications/customers/reset", bz.RequestReset())
	rt.handle(bz, "PUT /accounts/customers/{customerId}", bz.ResetPassword())
	rt.handle(bz, "PATCH /accounts/customers/{customerId}", bz.ResetPassword())

	// HGSP user management: internal/api/hgsp.
	hg := hgsp.New(d.Service, d.Logger, clients)
	rt.handle(hg, "POST /registeruserrequest", hg.RegisterUser())
	rt.handle(hg, "GET /users", hg.User())
	rt.handle(hg, "POST /activationrequest", hg.Activate())
	rt.handle(hg, "POST /passwordchangerequest", hg.ChangePassword())
	rt.handle(hg, "GET /passwordresetrequest", hg.ResetCode())
	rt.handle(hg, "POST /passwordresetrequest", hg.ResetPassword())

	// Propstack contacts: internal/api/propstack.
	ps := propstack.New(d.Service, d.Logger, clients)
	rt.handle(ps, "POST /v1/contacts/register", ps.Register())
	rt.handle(ps, "POST /v1/contacts/confirm", ps.Confirm())
	rt.handle(ps, "POST /v1/contacts/login", ps.Login())
	rt.handle(ps, "POST /v1/contacts/send_password_reset", ps.SendReset())
	rt.handle(ps, "POST /v1/contats/{token}/reset_password", ps.ResetPassword()) // sic: Propstack's spelling
	rt.handle(ps, "POST /v1/contacts/{token}/reset_password", ps.ResetPassword())

	// Gradido login server: internal/api/gradido. No key: the tenant
	// comes from the Host header. Which calls exist, and so its 404s and
	// 405s, and its CORS depend on the tenant's settings: it answers them
	// itself.
	gr := gradido.New(d.Service, d.Logger, clients)
	rt.answersCORS("/login_api/")
	rt.handleAny("POST /login_api/unsecureLogin", gr.Login())
	rt.handleAny("POST /login_api/createUser", gr.CreateUser())
	rt.handleAny("POST /login_api/logout", gr.Logout())
	rt.handleAny("OPTIONS /login_api/{call}", gr.Preflight())
	rt.handleAny("/login_api/{call}", gr.NotFound())
	rt.handleAny("/login_api/", gr.NotFound())

	// /api/2/auth: internal/api/api2auth. No key: the tenant comes from
	// the Host header; links lead to PublicURL.
	a2 := api2auth.New(d.Service, d.Logger, d.PublicURL, clients)
	rt.handle(a2, "POST /api/2/auth/register.json", a2.Register())
	rt.handle(a2, "GET /api/2/auth/{username}/verify.json", a2.Verify())
	rt.handle(a2, "POST /api/2/auth/{email}/forgot.json", a2.Forgot())
	rt.handle(a2, "PUT /api/2/auth/{username}/resetpassword.json", a2.ResetPassword())
	rt.handleAny("/api/2/auth/", a2.NotFound())
}

// addPageRoutes lists the hosted pages: under /p/{tenant}/ on any host,
// and under /p/ on a host name a tenant claims.
func addPageRoutes(rt *router, pg *pages.Pages) {
	rt.handle(pg, "GET "+pages.Prefix+"/static/pforte.css", pg.Stylesheet())
	for _, base := range []string{pages.Prefix + "/{tenant}", pages.Prefix} {
		rt.handle(pg, "GET "+base+"/brand.css", pg.BrandStylesheet())
		rt.handle(pg, "GET "+base+"/register", pg.Register())
		rt.handle(pg, "POST "+base+"/register", pg.Register())
		rt.handle(pg, "GET "+base+"/confirm", pg.Confirm())
		rt.handle(pg, "POST "+base+"/confirm", pg.Confirm())
		rt.handle(pg, "GET "+base+"/activate", pg.Activate())
		rt.handle(pg, "POST "+base+"/activate", pg.Activate())
		rt.handle(pg, "GET "+base+"/activate/code", pg.ActivateByCode())
		rt.handle(pg, "POST "+base+"/activate/code", pg.ActivateByCode())
		rt.handle(pg, "GET "+base+"/login", pg.Login())
		rt.handle(pg, "POST "+base+"/login", pg.Login())
		rt.handle(pg, "POST "+base+"/logout", pg.Logout())
		rt.handle(pg, "GET "+base+"/forgot", pg.Forgot())
		rt.handle(pg, "POST "+base+"/forgot", pg.Forgot())
		rt.handle(pg, "GET "+base+"/reset", pg.Reset())
		rt.handle(pg, "POST "+base+"/reset", pg.Reset())
		rt.handle(pg, "GET "+base+"/account", pg.Account())
		rt.handle(pg, "POST "+base+"/account/profile", pg.UpdateProfile())
		rt.handle(pg, "POST "+base+"/account/password", pg.ChangePassword())
		rt.handle(pg, "POST "+base+"/account/sessions/end", pg.EndSession())
		rt.handle(pg, "POST "+base+"/account/sessions/others", pg.EndOtherSessions())
		rt.handle(pg, "POST "+base+"/account/email", pg.ChangeEmail())
		rt.handle(pg, "GET "+base+"/account/export", pg.ExportAccount())
		rt.handle(pg, "GET "+base+"/account/delete", pg.DeleteAccount())
		rt.handle(pg, "POST "+base+"/account/delete", pg.DeleteAccount())
		rt.handle(pg, "GET "+base+"/email-confirm", pg.EmailConfirm())
		rt.handle(pg, "POST "+base+"/email-confirm", pg.EmailConfirm())
		rt.handle(pg, "GET "+base+"/email-undo", pg.EmailUndo())
		rt.handle(pg, "POST "+base+"/email-undo", pg.EmailUndo())
		rt.handle(pg, "GET "+base+"/sign-in-alert", pg.SignInAlert())
		rt.handle(pg, "POST "+base+"/sign-in-alert", pg.SignInAlert())
	}
	rt.handleAny(pages.Prefix+"/", pg.NotFound())
}

// addOIDCRoutes mounts every tenant's OpenID Connect provider: under
// /oidc/{tenant}/ on the public URL's host, and under /oidc/ on a host
// name a tenant claims. The provider routes its own endpoints (see
// docs/oidc.md) and answers CORS itself.
func addOIDCRoutes(rt *router, d Deps, pg *pages.Pages, clients wire.Clients) {
	provider, err := oidc.New(d.Service, d.Logger, pg, d.PublicURL, clients)
	if err != nil {
		panic(err) // only a bad option fails, which the tests catch
	}
	rt.handleAny(oidc.Prefix+"/", provider)
	rt.answersCORS(oidc.Prefix + "/")
}

func handleHealth() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
}

// readiness is /readyz's answer.
type readiness struct {
	Status string `json:"status"`
	// ClientLimits is "shared" or "per_replica" when the limits are meant
	// to be shared between replicas, and empty when each replica keeps
	// its own anyway.
	ClientLimits string `json:"client_limits,omitempty"`
	Detail       string `json:"detail,omitempty"`
}

// handleReady answers 200 while the database does. Shared client limits
// that cannot be reached make no replica unready: each limits for itself
// meanwhile, which the answer says.
func handleReady(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "application/json")
		if err := d.Service.Ready(ctx); err != nil {
			d.Logger.Warn("readiness check failed", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			json.NewEncoder(w).Encode(readiness{Status: "unavailable"})
			return
		}
		ready := readiness{Status: "ok"}
		if shared, ok := d.ClientLimiter.(wire.SharedLimiter); ok {
			ready.ClientLimits = "shared"
			if ok, why := shared.Shared(ctx); !ok {
				ready.ClientLimits, ready.Detail = "per_replica", "client limits are kept per replica: "+why
			}
		}
		json.NewEncoder(w).Encode(ready)
	})
}
