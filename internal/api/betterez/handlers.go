package betterez

import (
	"net/http"

	"pforte/internal/account"
	"pforte/internal/api/wire"
)

// ok is the one answer to a reset request, whether or not the address
// has an account.
var ok = map[string]string{"status": "ok"}

// RequestReset serves POST /notifications/customers/reset?appName=NAME:
// it mails a reset link built from the named application's request
// endpoint, or from the tenant's default URLs when the name is missing or
// unknown (as Betterez's documentation says of a wrong appName).
func (a *API) RequestReset() http.Handler {
	type request struct {
		Email string `json:"email"`
	}
	return a.keyed(func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		req, err := wire.DecodeJSON[request](r)
		if err != nil {
			return err
		}
		app, err := wire.Query(r, "appName")
		if err != nil {
			return err
		}
		if c, err = a.svc.Apps.With(r.Context(), c, app); err != nil {
			return err
		}
		// The policy receives no token, so with delivery "return" the
		// service issues none that nobody would get and that would void
		// the one the site mailed itself.
		if _, err := a.svc.Recovery.Request(r.Context(), c, req.Email); err != nil {
			return err
		}
		// The same answer whether or not the address has an account: no
		// account enumeration.
		return wire.WriteJSON(w, http.StatusOK, ok)
	})
}

// ResetPassword serves PUT and PATCH /accounts/customers/{customerId}: the
// link's token and a new password. The token counts only for the customer
// of the path; one issued for another customer, tenant or purpose is
// refused and stays unused.
func (a *API) ResetPassword() http.Handler {
	type request struct {
		Token    string `json:"token"`
		Password string `json:"password"`
	}
	return a.keyed(func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		req, err := wire.DecodeJSON[request](r)
		if err != nil {
			return err
		}
		// The policy opens no session: the vendor's answer is the customer
		// alone.
		cust, _, err := a.svc.Recovery.CompleteFor(r.Context(), c, r.PathValue("customerId"), req.Token, req.Password)
		if err != nil {
			return err
		}
		return wire.WriteJSON(w, http.StatusOK, toCustomer(cust, c.Tenant))
	})
}

// NotAllowed answers a request to one of this dialect's paths with a
// method it does not take, in this dialect's error format.
func (a *API) NotAllowed(allow ...string) http.Handler {
	return a.serve(func(w http.ResponseWriter, r *http.Request) error {
		return wire.MethodNotAllowed(w, r, allow...)
	})
}
