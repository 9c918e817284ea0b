package propstack

import (
	"errors"
	"net/http"
	"strings"

	"pforte/internal/account"
	"pforte/internal/api/wire"
)

// ---- wire types ----

// clientJSON is the contact as every successful confirm, login and reset
// answers it: pforte's customer id and the display name.
type clientJSON struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

type clientAnswer struct {
	Client clientJSON `json:"client"`
}

func toClient(c account.Customer) clientAnswer {
	return clientAnswer{Client: clientJSON{ID: c.ID, Name: c.Name()}}
}

// Request bodies wrap their fields as the vendor's do; a missing wrapper
// (nil) is a validation error on it. password_confirmation is a pointer:
// as with Rails' has_secure_password, it is checked only when sent.

type registerClient struct {
	Email                string  `json:"email"`
	Password             string  `json:"password"`
	PasswordConfirmation *string `json:"password_confirmation"`
	FirstName            string  `json:"first_name"`
	LastName             string  `json:"last_name"`
	Salutation           string  `json:"salutation"`
}

type registerRequest struct {
	Client *registerClient `json:"client"`
}

type confirmRequest struct {
	ConfirmationToken string `json:"confirmation_token"`
}

type credentials struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

type loginRequest struct {
	Credentials *credentials `json:"credentials"`
}

type sendResetRequest struct {
	Email string `json:"email"`
}

type resetClient struct {
	Password             string  `json:"password"`
	PasswordConfirmation *string `json:"password_confirmation"`
}

type resetRequest struct {
	Client *resetClient `json:"client"`
}

func required(field string) error {
	return account.Invalid(account.FieldError{Field: field, Code: account.FieldRequired, Message: "is required"})
}

// ---- salutations ----

// salutationOf maps Propstack's salutations, in any case, onto pforte's.
// pforte has no form for a couple or a company: "family" and "company"
// are accepted and stored as no salutation (mails greet by name alone),
// rather than refused, so that a site's existing form keeps working.
var salutationOf = map[string]string{
	"":        "",
	"mr":      "mr",
	"ms":      "ms",
	"mrs":     "ms",
	"mx":      "mx", // pforte's own, accepted as an extension
	"family":  "",
	"company": "",
}

const salutations = "mr, ms, mrs, mx, family, company or empty"

// ---- handlers ----

// Register serves POST /v1/contacts/register: it registers the contact
// (or gives an existing contact without an account, an offline one, the
// account at confirmation, keeping its id) and answers the confirmation
// token for the site's double opt-in mail. An address that already has an
// account is a 422 on email.
func (a *API) Register() http.Handler {
	return a.keyed(func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		req, err := wire.DecodeJSON[registerRequest](r)
		if err != nil {
			return err
		}
		if req.Client == nil {
			return required("client")
		}
		cl := req.Client
		salutation, ok := salutationOf[strings.ToLower(cl.Salutation)]
		if !ok {
			return account.Invalid(account.FieldError{Field: "salutation", Code: account.FieldInvalid, Message: "must be " + salutations})
		}
		res, err := a.svc.Registrations.Register(r.Context(), c, account.Registration{Email: cl.Email, Password: cl.Password,
			PasswordConfirmation: cl.PasswordConfirmation, AcceptLanguage: r.Header.Get("Accept-Language"),
			Profile: account.Profile{Salutation: salutation, FirstName: cl.FirstName, LastName: cl.LastName}})
		if err != nil {
			return onField(err, account.CodeEmailTaken, "email", "has already been taken")
		}
		if res.ConfirmToken == "" {
			// A secret caller under TokensAlways always gets the token of a
			// successful registration; anything else is a bug.
			return account.Internal(errors.New("register answered no confirmation token"))
		}
		return wire.WriteJSON(w, http.StatusOK, map[string]string{"confirmation_token": res.ConfirmToken})
	})
}

// Confirm serves POST /v1/contacts/confirm: the registration's password
// and names apply, and the contact's account becomes active.
func (a *API) Confirm() http.Handler {
	return a.keyed(func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		req, err := wire.DecodeJSON[confirmRequest](r)
		if err != nil {
			return err
		}
		if req.ConfirmationToken == "" {
			return required("confirmation_token")
		}
		// The policy opens no session: the vendor's answer is the contact
		// alone, and the site keeps its own login.
		cust, _, err := a.svc.Registrations.Confirm(r.Context(), c, req.ConfirmationToken, "")
		if err != nil {
			return onField(err, account.CodeTokenInvalid, "confirmation_token", "is invalid, expired or already used")
		}
		return wire.WriteJSON(w, http.StatusOK, toClient(cust))
	})
}

// Login serves POST /v1/contacts/login: it checks email and password and
// answers the contact, opening no session (the site keeps its own). An
// unknown address and a wrong password answer the same 401.
func (a *API) Login() http.Handler {
	return a.keyed(func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		req, err := wire.DecodeJSON[loginRequest](r)
		if err != nil {
			return err
		}
		if req.Credentials == nil {
			return required("credentials")
		}
		cust, _, err := a.svc.Sessions.Login(r.Context(), c, req.Credentials.Email, req.Credentials.Password)
		if err != nil {
			return err
		}
		return wire.WriteJSON(w, http.StatusOK, toClient(cust))
	})
}

// errNoResetToken: no token was issued for the address (see SendReset).
var errNoResetToken = &account.Error{Kind: account.KindNotFound, Code: account.CodeCustomerNotFound, Message: "email: not found",
	Fields: []account.FieldError{{Field: "email", Code: account.CodeNotFound, Message: "not found"}}}

// SendReset serves POST /v1/contacts/send_password_reset: a reset token
// for the site's mail, replacing older ones. When no token is issued (no
// contact with an account that may reset: unknown, offline or disabled),
// the answer is a 404 on email. A secret key learns nothing new from it:
// registering with the address tells the same. The site must not pass the
// difference on to its visitors.
func (a *API) SendReset() http.Handler {
	return a.keyed(func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		req, err := wire.DecodeJSON[sendResetRequest](r)
		if err != nil {
			return err
		}
		res, err := a.svc.Recovery.Request(r.Context(), c, req.Email)
		if err != nil {
			return err
		}
		if res.Token == "" {
			return errNoResetToken
		}
		return wire.WriteJSON(w, http.StatusOK, map[string]string{"token": res.Token})
	})
}

// ResetPassword serves POST /v1/contats/{token}/reset_password (Propstack's
// spelling) and POST /v1/contacts/{token}/reset_password: the new
// password, with the token of send_password_reset in the path. The server
// logs route patterns only, so the token reaches no log.
func (a *API) ResetPassword() http.Handler {
	return a.keyed(func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		req, err := wire.DecodeJSON[resetRequest](r)
		if err != nil {
			return err
		}
		if req.Client == nil {
			return required("client")
		}
		// No session, as on confirm.
		cust, _, err := a.svc.Recovery.Complete(r.Context(), c, r.PathValue("token"), req.Client.Password, req.Client.PasswordConfirmation)
		if err != nil {
			return onField(err, account.CodeTokenInvalid, "token", "is invalid, expired or already used")
		}
		return wire.WriteJSON(w, http.StatusOK, toClient(cust))
	})
}
