package api2auth

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"pforte/internal/account"
	"pforte/internal/api/wire"
)

// ---- wire types ----

type registerRequest struct {
	Username string `json:"username"`
	Email    string `json:"email"`
	Password string `json:"password"`
}

type resetRequest struct {
	Password string `json:"password"`
}

func required(field string) account.FieldError {
	return account.FieldError{Field: field, Code: account.FieldRequired, Message: "is required"}
}

// The dialect's own errors. A JWT refused for any reason, and a one-time
// token the service refuses, are one error: the caller learns no reason.
var (
	errTokenInvalid    = &account.Error{Kind: account.KindUnauthorized, Code: account.CodeTokenInvalid, Message: "the token is invalid, expired or already used"}
	errUserNotFound    = &account.Error{Kind: account.KindNotFound, Code: "user_not_found", Message: "no user has this name"}
	errAlreadyVerified = &account.Error{Kind: account.KindInvalid, Code: "already_verified", Message: "the user is already verified"}
)

// Messages of the successful answers. Register's is the same whatever
// became of the registration.
const (
	msgRegistered = "registration received; a mail is on its way to the address"
	msgVerified   = "the email address is verified; the user can log in now"
	msgForgot     = "if the address belongs to an account, a mail with a link to reset the password is on its way"
	msgReset      = "the password has been changed"
)

// ---- handlers ----

// Register serves POST /api/2/auth/register.json: {username, email,
// password}, all required. It answers 200 whatever became of it: a new
// address gets a verification mail whose link leads to verify.json, an
// address with an account gets a mail saying so (with a reset link), and
// nothing tells the caller which, or whether the username is taken (the
// username waits with the registration and applies at verification if it
// is still free). Only a malformed or invalid request is a 400.
func (a *API) Register() http.Handler {
	return a.serve(func(w http.ResponseWriter, r *http.Request) error {
		// The tenant first: one that does not serve this API answers 404
		// whatever the body.
		c, err := a.caller(r)
		if err != nil {
			return err
		}
		req, err := wire.DecodeJSON[registerRequest](r)
		if err != nil {
			return err
		}
		// The original API requires all three; the service checks what they hold.
		var missing []account.FieldError
		for _, f := range []struct{ name, value string }{{"username", req.Username}, {"email", req.Email}, {"password", req.Password}} {
			if f.value == "" {
				missing = append(missing, required(f.name))
			}
		}
		if len(missing) > 0 {
			return account.Invalid(missing...)
		}
		if _, err := a.svc.Registrations.Register(r.Context(), c, account.Registration{Email: req.Email, Password: req.Password,
			AcceptLanguage: r.Header.Get("Accept-Language"), Profile: account.Profile{Username: req.Username}}); err != nil {
			return err
		}
		return wire.WriteJSON(w, http.StatusOK, okJSON{Status: http.StatusOK, Message: msgRegistered})
	})
}

// Verify serves GET /api/2/auth/{username}/verify.json?token=JWT, the link
// of the verification mail: 200 verified; 400 already verified; 401 the
// JWT is invalid (signature, expiry, tenant, purpose, or its token was
// used); 404 the JWT names another user. The JWT is checked first, so the
// other answers tell only about the user the JWT names. As the original API
// defines it, the GET itself verifies: a link scanner that fetches the
// link verifies the address too. HEAD is refused, so that scanners that
// only probe do not.
//
// With the tenant setting api2.frontend_url the answer is a 303 to that
// URL with ?verified=true|false&status=N, as the original API's "automatically
// forwarded to the web frontend"; the body is the same JSON. The tenant is
// the JWT's, or, when the JWT is refused, the Host's.
func (a *API) Verify() http.Handler {
	return a.serve(func(w http.ResponseWriter, r *http.Request) error {
		if r.Method == http.MethodHead {
			return wire.MethodNotAllowed(w, r, http.MethodGet)
		}
		c, cust, err := a.verify(r)
		if c.Tenant.ID == 0 {
			// No tenant the JWT may act for: the Host's decides where the
			// browser goes.
			var herr error
			if c, herr = a.caller(r); herr != nil {
				return herr
			}
		}
		status, body := http.StatusOK, any(nil)
		if err != nil {
			var e *account.Error
			e, status = wire.Failure(w, r, a.log, err, statusFor)
			body = errorDoc(r, e, status)
		} else {
			body = okJSON{Status: status, Message: msgVerified, Username: cust.Username}
		}
		if front := c.Tenant.Setting(settingFrontendURL); front != "" {
			w.Header().Set("Location", withOutcome(front, status))
			return wire.WriteJSON(w, http.StatusSeeOther, body)
		}
		return wire.WriteJSON(w, status, body)
	})
}

// verify checks the link's JWT and spends the token it wraps. It returns
// the caller the JWT acts for, or none (Tenant.ID 0) when the JWT is
// refused.
func (a *API) verify(r *http.Request) (account.Caller, account.Customer, error) {
	c, cl, err := a.jwtCaller(r, purposeConfirm)
	if err != nil {
		return account.Caller{}, account.Customer{}, err
	}
	if !strings.EqualFold(r.PathValue("username"), cl.Username) {
		return c, account.Customer{}, errUserNotFound
	}
	// The caller keeps no session: the original API's verification logs nobody in.
	cust, _, err := a.svc.Registrations.ConfirmCustomer(r.Context(), c, cl.Subject, cl.ID)
	switch {
	case errors.Is(err, account.ErrAlreadyConfirmed):
		return c, account.Customer{}, errAlreadyVerified
	case errors.Is(err, account.ErrCustomerNotFound):
		return c, account.Customer{}, errUserNotFound
	}
	return c, cust, err
}

// withOutcome appends verified and status to the frontend URL, keeping its
// own query and fragment.
func withOutcome(front string, status int) string {
	u, err := url.Parse(front)
	if err != nil {
		return front // checked when it was set; cannot happen
	}
	outcome := "verified=" + strconv.FormatBool(status == http.StatusOK) + "&status=" + strconv.Itoa(status)
	if u.RawQuery != "" {
		u.RawQuery += "&" + outcome
	} else {
		u.RawQuery = outcome
	}
	return u.String()
}

// Forgot serves POST /api/2/auth/{email}/forgot.json: it mails a reset link
// to the address, if it belongs to an account that may reset (at most 5 an
// hour), and answers 200 either way, so that nobody can learn which
// addresses have accounts. A tenant that wants the original API's 404 for an
// unknown address sets api2.reveal_unknown_email=true.
func (a *API) Forgot() http.Handler {
	return a.serve(func(w http.ResponseWriter, r *http.Request) error {
		c, err := a.caller(r)
		if err != nil {
			return err
		}
		if _, err := a.svc.Recovery.Request(r.Context(), c, r.PathValue("email")); err != nil {
			return err
		}
		return wire.WriteJSON(w, http.StatusOK, okJSON{Status: http.StatusOK, Message: msgForgot})
	})
}

// ResetPassword serves PUT /api/2/auth/{username}/resetpassword.json?token=JWT
// with {password}: 200 changed; 400 the body is malformed or the password
// is refused by the policy (the token stays usable); 401 the JWT is
// invalid, names another user, or its token was used, replaced or expired.
// The JWT is checked before the body is read.
func (a *API) ResetPassword() http.Handler {
	return a.serve(func(w http.ResponseWriter, r *http.Request) error {
		c, cl, err := a.jwtCaller(r, purposeReset)
		if err != nil {
			return err
		}
		if !strings.EqualFold(r.PathValue("username"), cl.Username) {
			return errTokenInvalid
		}
		req, err := wire.DecodeJSON[resetRequest](r)
		if err != nil {
			return err
		}
		// The token must be the one issued for the customer the JWT names.
		if _, _, err := a.svc.Recovery.CompleteFor(r.Context(), c, cl.Subject, cl.ID, req.Password); err != nil {
			return err
		}
		return wire.WriteJSON(w, http.StatusOK, okJSON{Status: http.StatusOK, Message: msgReset})
	})
}
