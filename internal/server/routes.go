package server

import (
	"context"
	"net/http"
	"time"

	"pforte/internal/api/api2auth"
	"pforte/internal/api/betterez"
	"pforte/internal/api/gradido"
	"pforte/internal/api/hgsp"
	"pforte/internal/api/native"
	"pforte/internal/api/propstack"
	"pforte/internal/api/wire"
)

// addRoutes lists every route pforte serves.
func addRoutes(mux *http.ServeMux, d Deps, nat *native.API) {
	mux.Handle("GET /healthz", handleHealth())
	mux.Handle("GET /readyz", handleReady(d))

	// Native API: self-service (public or secret key).
	mux.Handle("POST /api/v1/registrations", nat.Register())
	mux.Handle("POST /api/v1/confirmations", nat.Confirm())
	mux.Handle("POST /api/v1/confirmations/resend", nat.ResendConfirmation())
	mux.Handle("POST /api/v1/sessions", nat.Login())
	mux.Handle("GET /api/v1/session", nat.CurrentSession())
	mux.Handle("DELETE /api/v1/session", nat.Logout())
	mux.Handle("POST /api/v1/password-resets", nat.RequestPasswordReset())
	mux.Handle("POST /api/v1/password-resets/complete", nat.CompletePasswordReset())
	mux.Handle("POST /api/v1/invitations/accept", nat.AcceptInvite())
	mux.Handle("PUT /api/v1/password", nat.ChangePassword())

	// Native API: administration (secret key).
	mux.Handle("POST /api/v1/customers", nat.CreateCustomer())
	mux.Handle("GET /api/v1/customers", nat.ListCustomers())
	mux.Handle("GET /api/v1/customers/{ref}", nat.GetCustomer())
	mux.Handle("PATCH /api/v1/customers/{ref}", nat.UpdateCustomer())
	mux.Handle("DELETE /api/v1/customers/{ref}", nat.DeleteCustomer())
	mux.Handle("PUT /api/v1/customers/{ref}/password", nat.SetCustomerPassword())
	mux.Handle("POST /api/v1/apps", nat.CreateApp())
	mux.Handle("GET /api/v1/apps", nat.ListApps())
	mux.Handle("GET /api/v1/apps/{name}", nat.GetApp())
	mux.Handle("PATCH /api/v1/apps/{name}", nat.UpdateApp())
	mux.Handle("DELETE /api/v1/apps/{name}", nat.DeleteApp())

	// Application-based password reset (seed 004): internal/api/betterez.
	bz := betterez.New(d.Service, d.Logger)
	mux.Handle("POST /notifications/customers/reset", bz.RequestReset())
	mux.Handle("/notifications/customers/reset", bz.NotAllowed(http.MethodPost))
	mux.Handle("PUT /accounts/customers/{customerId}", bz.ResetPassword())
	mux.Handle("PATCH /accounts/customers/{customerId}", bz.ResetPassword())
	mux.Handle("/accounts/customers/{customerId}", bz.NotAllowed(http.MethodPut, http.MethodPatch))

	// HGSP user management (seed 001): internal/api/hgsp.
	hg := hgsp.New(d.Service, d.Logger)
	mux.Handle("POST /registeruserrequest", hg.RegisterUser())
	mux.Handle("/registeruserrequest", hg.MethodNotAllowed(http.MethodPost))
	mux.Handle("GET /users", hg.User())
	mux.Handle("/users", hg.MethodNotAllowed(http.MethodGet))
	mux.Handle("POST /activationrequest", hg.Activate())
	mux.Handle("/activationrequest", hg.MethodNotAllowed(http.MethodPost))
	mux.Handle("POST /passwordchangerequest", hg.ChangePassword())
	mux.Handle("/passwordchangerequest", hg.MethodNotAllowed(http.MethodPost))
	mux.Handle("GET /passwordresetrequest", hg.ResetCode())
	mux.Handle("POST /passwordresetrequest", hg.ResetPassword())
	mux.Handle("/passwordresetrequest", hg.MethodNotAllowed(http.MethodGet, http.MethodPost))

	// Propstack contacts (seed 000): internal/api/propstack.
	ps := propstack.New(d.Service, d.Logger)
	mux.Handle("POST /v1/contacts/register", ps.Register())
	mux.Handle("/v1/contacts/register", ps.NotAllowed(http.MethodPost))
	mux.Handle("POST /v1/contacts/confirm", ps.Confirm())
	mux.Handle("/v1/contacts/confirm", ps.NotAllowed(http.MethodPost))
	mux.Handle("POST /v1/contacts/login", ps.Login())
	mux.Handle("/v1/contacts/login", ps.NotAllowed(http.MethodPost))
	mux.Handle("POST /v1/contacts/send_password_reset", ps.SendReset())
	mux.Handle("/v1/contacts/send_password_reset", ps.NotAllowed(http.MethodPost))
	mux.Handle("POST /v1/contats/{token}/reset_password", ps.ResetPassword()) // sic: the seed's spelling
	mux.Handle("/v1/contats/{token}/reset_password", ps.NotAllowed(http.MethodPost))
	mux.Handle("POST /v1/contacts/{token}/reset_password", ps.ResetPassword())
	mux.Handle("/v1/contacts/{token}/reset_password", ps.NotAllowed(http.MethodPost))

	// Gradido login server (seed 002): internal/api/gradido. No key: the
	// tenant comes from the Host header; it answers CORS itself.
	clients := wire.Clients{Proxies: d.TrustedProxies, Limiter: d.ClientLimiter}
	gr := gradido.New(d.Service, d.Logger, clients)
	mux.Handle("POST /login_api/unsecureLogin", gr.Login())
	mux.Handle("POST /login_api/createUser", gr.CreateUser())
	mux.Handle("POST /login_api/logout", gr.Logout())
	mux.Handle("OPTIONS /login_api/{call}", gr.Preflight())
	mux.Handle("/login_api/{call}", gr.NotFound())
	mux.Handle("/login_api/", gr.NotFound())

	// /api/2/auth (seed 003): internal/api/api2auth. No key: the tenant
	// comes from the Host header; links lead to PublicURL.
	a2 := api2auth.New(d.Service, d.Logger, d.PublicURL, clients)
	mux.Handle("POST /api/2/auth/register.json", a2.Register())
	mux.Handle("/api/2/auth/register.json", a2.NotAllowed(http.MethodPost))
	mux.Handle("GET /api/2/auth/{username}/verify.json", a2.Verify())
	mux.Handle("/api/2/auth/{username}/verify.json", a2.NotAllowed(http.MethodGet))
	mux.Handle("POST /api/2/auth/{email}/forgot.json", a2.Forgot())
	mux.Handle("/api/2/auth/{email}/forgot.json", a2.NotAllowed(http.MethodPost))
	mux.Handle("PUT /api/2/auth/{username}/resetpassword.json", a2.ResetPassword())
	mux.Handle("/api/2/auth/{username}/resetpassword.json", a2.NotAllowed(http.MethodPut))
	mux.Handle("/api/2/auth/", a2.NotFound())
}

func handleHealth() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
}

func handleReady(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "application/json")
		if err := d.Service.Ready(ctx); err != nil {
			d.Logger.Warn("readiness check failed", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"status":"unavailable"}` + "\n"))
			return
		}
		w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
}
