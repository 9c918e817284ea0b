package native

import (
	"context"
	"net/http"

	"pforte/internal/account"
	"pforte/internal/api/wire"
)

// RequestEmailChange serves POST /api/v1/email-change: the bearer's
// customer asks, with the current password, for a new address, which
// gets a confirmation link. The answer does not say whether the address
// belongs to another customer, except to a secret key (409 email_taken).
func (a *API) RequestEmailChange() http.Handler {
	type request struct {
		NewEmail     string `json:"new_email"`
		Password     string `json:"password"`
		App          string `json:"app"`
		CurrentEmail string `json:"current_email"`
	}
	type response struct {
		Status string `json:"status"`
		Token  string `json:"token,omitempty"`
	}
	return a.hashing(optionalKey, func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		req, err := wire.DecodeJSON[request](r)
		if err != nil {
			return err
		}
		if req.App == "" {
			if req.App, err = wire.Query(r, "appName"); err != nil {
				return err
			}
		}
		res, err := a.svc.EmailChanges.Request(r.Context(), c, wire.BearerToken(r),
			account.EmailChangeRequest{NewEmail: req.NewEmail, Password: req.Password, App: req.App,
				CurrentEmail: req.CurrentEmail})
		if err != nil {
			return err
		}
		return wire.WriteJSON(w, http.StatusAccepted, response{Status: "accepted", Token: res.Token})
	})
}

// tokenRequest is a body that carries one token, and the application
// whose links the mail it causes carries.
type tokenRequest struct {
	Token string `json:"token"`
	App   string `json:"app"`
}

// tokenHandler serves a POST whose body carries a token: use spends it
// as the caller, with the body's application, and answers.
func (a *API) tokenHandler(use func(w http.ResponseWriter, r *http.Request, c account.Caller, token string) error) http.Handler {
	return a.keyed(anyKey, func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		req, err := wire.DecodeJSON[tokenRequest](r)
		if err != nil {
			return err
		}
		if c, err = a.withApp(r, c, req.App); err != nil {
			return err
		}
		return use(w, r, c, req.Token)
	})
}

// customerTokenHandler is a tokenHandler that answers with the customer
// spend returns.
func (a *API) customerTokenHandler(spend func(ctx context.Context, c account.Caller, token string) (account.Customer, error)) http.Handler {
	return a.tokenHandler(func(w http.ResponseWriter, r *http.Request, c account.Caller, token string) error {
		cust, err := spend(r.Context(), c, token)
		if err != nil {
			return err
		}
		return wire.WriteJSON(w, http.StatusOK, map[string]customerJSON{"customer": toCustomer(cust)})
	})
}

// ConfirmEmailChange serves POST /api/v1/email-change/confirm.
func (a *API) ConfirmEmailChange() http.Handler {
	return a.customerTokenHandler(a.svc.EmailChanges.Confirm)
}

// UndoEmailChange serves POST /api/v1/email-change/undo.
func (a *API) UndoEmailChange() http.Handler {
	return a.customerTokenHandler(a.svc.EmailChanges.Undo)
}

// DeleteAccount serves POST /api/v1/account/deletion: the bearer's
// customer, with the current password, erases the account.
func (a *API) DeleteAccount() http.Handler {
	type request struct {
		Password string `json:"password"`
	}
	return a.hashing(optionalKey, func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		req, err := wire.DecodeJSON[request](r)
		if err != nil {
			return err
		}
		if err := a.svc.Customers.DeleteSelf(r.Context(), c.Tenant.ID, wire.BearerToken(r), req.Password); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// EndReportedSignIn serves POST /api/v1/sign-in-alert: the token of a new
// sign-in mail ends the login it reports and starts a password reset.
func (a *API) EndReportedSignIn() http.Handler {
	return a.tokenHandler(func(w http.ResponseWriter, r *http.Request, c account.Caller, token string) error {
		if err := a.svc.SignInAlerts.Act(r.Context(), c, token); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}
