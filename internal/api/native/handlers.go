package native

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"pforte/internal/account"
	"pforte/internal/api/wire"
)

type profileJSON struct {
	Salutation string `json:"salutation"`
	FirstName  string `json:"first_name"`
	LastName   string `json:"last_name"`
	Username   string `json:"username"`
	Locale     string `json:"locale"`
	PartnerRef string `json:"partner_ref"`
}

func (p profileJSON) profile() account.Profile {
	return account.Profile{Salutation: p.Salutation, FirstName: p.FirstName, LastName: p.LastName,
		Username: p.Username, Locale: p.Locale, PartnerRef: p.PartnerRef}
}

var accepted = map[string]string{"status": "accepted"}

// Register serves POST /api/v1/registrations.
func (a *API) Register() http.Handler {
	type request struct {
		Email                string  `json:"email"`
		Password             string  `json:"password"`
		PasswordConfirmation *string `json:"password_confirmation"`
		App                  string  `json:"app"`
		ConsentVersion       string  `json:"consent_version"`
		ConsentLang          string  `json:"consent_lang"`
		ConsentText          string  `json:"consent_text"`
		profileJSON
	}
	type response struct {
		Customer          customerJSON `json:"customer"`
		ConfirmationToken string       `json:"confirmation_token,omitempty"`
	}
	return a.hashing(anyKey, func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		req, err := wire.DecodeJSON[request](r)
		if err != nil {
			return err
		}
		if c, err = a.withApp(r, c, req.App); err != nil {
			return err
		}
		var consent *account.Consent
		if req.ConsentVersion != "" || req.ConsentText != "" {
			if len(req.ConsentVersion) > 100 || len(req.ConsentLang) > 10 || len(req.ConsentText) > 10000 {
				return account.Invalid(account.FieldError{Field: "consent_version", Code: account.FieldTooLong,
					Message: "consent_version, consent_lang or consent_text is too long"})
			}
			consent = &account.Consent{Version: req.ConsentVersion, Lang: req.ConsentLang, Text: req.ConsentText}
		}
		res, err := a.svc.Registrations.Register(r.Context(), c, account.Registration{Email: req.Email, Password: req.Password,
			PasswordConfirmation: req.PasswordConfirmation, AcceptLanguage: r.Header.Get("Accept-Language"), Profile: req.profile(),
			Consent: consent})
		if err != nil {
			return err
		}
		if res.Accepted {
			// Public callers get this whether or not the email had an account.
			return wire.WriteJSON(w, http.StatusAccepted, accepted)
		}
		return wire.WriteJSON(w, http.StatusCreated, response{toCustomer(res.Customer), res.ConfirmToken})
	})
}

// Confirm serves POST /api/v1/confirmations.
func (a *API) Confirm() http.Handler {
	type request struct {
		Token    string `json:"token"`
		Password string `json:"password"` // for a resent link, when the customer has none yet
	}
	return a.keyed(anyKey, func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		req, err := wire.DecodeJSON[request](r)
		if err != nil {
			return err
		}
		cust, sess, err := a.svc.Registrations.Confirm(r.Context(), c, req.Token, req.Password)
		if err != nil {
			return err
		}
		return wire.WriteJSON(w, http.StatusOK, withSession(cust, sess))
	})
}

// Login serves POST /api/v1/sessions.
func (a *API) Login() http.Handler {
	type request struct {
		Email    string `json:"email"`
		Password string `json:"password"`
		Remember bool   `json:"remember"`
	}
	return a.hashing(anyKey, func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		req, err := wire.DecodeJSON[request](r)
		if err != nil {
			return err
		}
		cust, sess, err := a.svc.Sessions.LoginWith(r.Context(), c, req.Email, req.Password,
			account.LoginOptions{Remember: req.Remember})
		if err != nil {
			return err
		}
		return wire.WriteJSON(w, http.StatusCreated, withSession(cust, sess))
	})
}

// CurrentSession serves GET /api/v1/session.
func (a *API) CurrentSession() http.Handler {
	type response struct {
		Customer customerJSON `json:"customer"`
		Session  sessionJSON  `json:"session"`
	}
	return a.keyed(optionalKey, func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		cust, sess, err := a.svc.Sessions.Lookup(r.Context(), c.Tenant.ID, wire.BearerToken(r))
		if err != nil {
			return err
		}
		return wire.WriteJSON(w, http.StatusOK, response{toCustomer(cust), toSession(sess, "")})
	})
}

// Logout serves DELETE /api/v1/session.
func (a *API) Logout() http.Handler {
	return a.keyed(optionalKey, func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		if err := a.svc.Sessions.Logout(r.Context(), c.Tenant.ID, wire.BearerToken(r)); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// RequestPasswordReset serves POST /api/v1/password-resets.
func (a *API) RequestPasswordReset() http.Handler {
	return a.keyed(anyKey, func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		req, err := wire.DecodeJSON[emailRequest](r)
		if err != nil {
			return err
		}
		if c, err = a.withApp(r, c, req.App); err != nil {
			return err
		}
		res, err := a.svc.Recovery.Request(r.Context(), c, req.Email)
		if err != nil {
			return err
		}
		if res.Token != "" {
			// The site mails the token itself: tell it the stored address,
			// which may be spelt differently from the one typed.
			return wire.WriteJSON(w, http.StatusAccepted, resetResponse{"accepted", res.Token, res.Customer.ID, res.Customer.Email})
		}
		return wire.WriteJSON(w, http.StatusAccepted, accepted)
	})
}

// emailRequest is a body that names an address and, optionally, the
// application whose links the mail should carry.
type emailRequest struct {
	Email string `json:"email"`
	App   string `json:"app"`
}

// withApp applies the application a request names, in its body or in an
// appName query parameter (Betterez's spelling).
func (a *API) withApp(r *http.Request, c account.Caller, name string) (account.Caller, error) {
	if name == "" {
		var err error
		if name, err = wire.Query(r, "appName"); err != nil {
			return c, err
		}
	}
	return a.svc.Apps.With(r.Context(), c, name)
}

// ResendConfirmation serves POST /api/v1/confirmations/resend.
func (a *API) ResendConfirmation() http.Handler {
	return a.keyed(anyKey, func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		req, err := wire.DecodeJSON[emailRequest](r)
		if err != nil {
			return err
		}
		if c, err = a.withApp(r, c, req.App); err != nil {
			return err
		}
		if err := a.svc.Registrations.ResendConfirmation(r.Context(), c, req.Email); err != nil {
			return err
		}
		return wire.WriteJSON(w, http.StatusAccepted, accepted)
	})
}

type resetResponse struct {
	Status     string `json:"status"`
	Token      string `json:"token"`
	CustomerID int64  `json:"customer_id"`
	Email      string `json:"email"`
}

type newPasswordRequest struct {
	Token                string  `json:"token"`
	Password             string  `json:"password"`
	PasswordConfirmation *string `json:"password_confirmation"`
	App                  string  `json:"app"` // whose delivery the password-changed notice follows
}

// CompletePasswordReset serves POST /api/v1/password-resets/complete.
func (a *API) CompletePasswordReset() http.Handler {
	return a.hashing(anyKey, func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		req, err := wire.DecodeJSON[newPasswordRequest](r)
		if err != nil {
			return err
		}
		if c, err = a.withApp(r, c, req.App); err != nil {
			return err
		}
		cust, sess, err := a.svc.Recovery.Complete(r.Context(), c, req.Token, req.Password, req.PasswordConfirmation)
		if err != nil {
			return err
		}
		return wire.WriteJSON(w, http.StatusOK, withSession(cust, sess))
	})
}

// AcceptInvite serves POST /api/v1/invitations/accept: the link's token, or
// the email address with the mail's 8-digit code.
func (a *API) AcceptInvite() http.Handler {
	type request struct {
		newPasswordRequest
		Email string `json:"email"`
		Code  string `json:"code"`
	}
	return a.hashing(anyKey, func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		req, err := wire.DecodeJSON[request](r)
		if err != nil {
			return err
		}
		if c, err = a.withApp(r, c, req.App); err != nil {
			return err
		}
		var cust account.Customer
		var sess account.NewSession
		if req.Code != "" || req.Email != "" {
			if req.Token != "" {
				return account.Invalid(account.FieldError{Field: "token", Code: account.FieldInvalid, Message: "give either token, or email and code"})
			}
			cust, sess, err = a.svc.Invitations.AcceptCode(r.Context(), c, req.Email, req.Code, req.Password, req.PasswordConfirmation)
		} else {
			cust, sess, err = a.svc.Invitations.Accept(r.Context(), c, req.Token, req.Password, req.PasswordConfirmation)
		}
		if err != nil {
			return err
		}
		return wire.WriteJSON(w, http.StatusOK, withSession(cust, sess))
	})
}

// ChangePassword serves PUT /api/v1/password.
func (a *API) ChangePassword() http.Handler {
	type request struct {
		CurrentPassword      string  `json:"current_password"`
		Password             string  `json:"password"`
		PasswordConfirmation *string `json:"password_confirmation"`
	}
	return a.hashing(optionalKey, func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		req, err := wire.DecodeJSON[request](r)
		if err != nil {
			return err
		}
		err = a.svc.Sessions.ChangePassword(r.Context(), c.Tenant.ID, wire.BearerToken(r),
			account.PasswordChange{Current: req.CurrentPassword, New: req.Password, Confirmation: req.PasswordConfirmation})
		if err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// CreateCustomer serves POST /api/v1/customers.
func (a *API) CreateCustomer() http.Handler {
	type request struct {
		Email        string `json:"email"`
		UUID         string `json:"uuid"`
		Password     string `json:"password"`
		PasswordHash string `json:"password_hash"`
		State        string `json:"state"`
		App          string `json:"app"`
		profileJSON
	}
	type response struct {
		Customer          customerJSON `json:"customer"`
		ConfirmationToken string       `json:"confirmation_token,omitempty"`
		InviteToken       string       `json:"invite_token,omitempty"`
		ActivationCode    string       `json:"activation_code,omitempty"`
	}
	return a.keyed(secretKey, func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		req, err := wire.DecodeJSON[request](r)
		if err != nil {
			return err
		}
		if c, err = a.withApp(r, c, req.App); err != nil {
			return err
		}
		res, err := a.svc.Customers.Create(r.Context(), c, account.NewCustomer{Email: req.Email, UUID: req.UUID,
			Password: req.Password, PasswordHash: req.PasswordHash, State: account.State(req.State), Profile: req.profile()})
		if err != nil {
			return err
		}
		w.Header().Set("Location", "/api/v1/customers/"+strconv.FormatInt(res.Customer.ID, 10))
		return wire.WriteJSON(w, http.StatusCreated, response{toCustomer(res.Customer), res.ConfirmToken, res.InviteToken, res.ActivationCode})
	})
}

// ListCustomers serves GET /api/v1/customers: ?email= finds one customer,
// otherwise ?after=ID&limit=N pages through all of them, or those that
// ?state=, ?partner_ref= and ?created_since= select.
func (a *API) ListCustomers() http.Handler {
	type response struct {
		Customers []customerJSON `json:"customers"`
		Next      *int64         `json:"next_after,omitempty"`
	}
	return a.keyed(secretKey, func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		q := r.URL.Query()
		if q.Has("email") {
			cust, err := a.svc.Customers.ByEmail(r.Context(), c, q.Get("email"))
			if account.IsKind(err, account.KindNotFound) {
				return wire.WriteJSON(w, http.StatusOK, response{Customers: []customerJSON{}})
			} else if err != nil {
				return err
			}
			return wire.WriteJSON(w, http.StatusOK, response{Customers: []customerJSON{toCustomer(cust)}})
		}
		after, err1 := parseInt(q.Get("after"), "after")
		limit, err2 := parseInt(q.Get("limit"), "limit")
		f, err3 := customerFilter(q)
		if err1 != nil || err2 != nil || err3 != nil {
			return account.Invalid(append(append(err1, err2...), err3...)...)
		}
		cs, err := a.svc.Customers.List(r.Context(), c, f, after, int(limit))
		if err != nil {
			return err
		}
		res := response{Customers: make([]customerJSON, 0, len(cs))}
		for _, cust := range cs {
			res.Customers = append(res.Customers, toCustomer(cust))
		}
		if page := int(limit); len(cs) > 0 && (len(cs) == page || len(cs) == account.MaxPageSize) {
			res.Next = &cs[len(cs)-1].ID // there may be more
		}
		return wire.WriteJSON(w, http.StatusOK, res)
	})
}

// customerFilter reads ?state=, ?partner_ref= and ?created_since=
// (RFC 3339).
func customerFilter(q url.Values) (account.CustomerFilter, []account.FieldError) {
	f := account.CustomerFilter{State: account.State(q.Get("state")), PartnerRef: q.Get("partner_ref")}
	if v := q.Get("created_since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return f, []account.FieldError{{Field: "created_since", Code: account.FieldInvalid, Message: "must be an RFC 3339 time such as 2026-12-01T00:00:00Z"}}
		}
		f.CreatedSince = t
	}
	return f, nil
}

func parseInt(s, field string) (int64, []account.FieldError) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, []account.FieldError{{Field: field, Code: account.FieldInvalid, Message: "must be a non-negative integer"}}
	}
	return n, nil
}

// GetCustomer serves GET /api/v1/customers/{ref}, ref an id or uuid.
func (a *API) GetCustomer() http.Handler {
	return a.keyed(secretKey, func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		cust, err := a.svc.Customers.Get(r.Context(), c, r.PathValue("ref"))
		if err != nil {
			return err
		}
		return wire.WriteJSON(w, http.StatusOK, map[string]customerJSON{"customer": toCustomer(cust)})
	})
}

// UpdateCustomer serves PATCH /api/v1/customers/{ref}.
func (a *API) UpdateCustomer() http.Handler {
	type request struct {
		Email      *string `json:"email"`
		Salutation *string `json:"salutation"`
		FirstName  *string `json:"first_name"`
		LastName   *string `json:"last_name"`
		Username   *string `json:"username"`
		Locale     *string `json:"locale"`
		PartnerRef *string `json:"partner_ref"`
		State      *string `json:"state"`
	}
	return a.keyed(secretKey, func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		req, err := wire.DecodeJSON[request](r)
		if err != nil {
			return err
		}
		p := account.CustomerPatch{Email: req.Email, Salutation: req.Salutation, FirstName: req.FirstName,
			LastName: req.LastName, Username: req.Username, Locale: req.Locale, PartnerRef: req.PartnerRef}
		if req.State != nil {
			st := account.State(*req.State)
			p.State = &st
		}
		cust, err := a.svc.Customers.Update(r.Context(), c, r.PathValue("ref"), p)
		if err != nil {
			return err
		}
		return wire.WriteJSON(w, http.StatusOK, map[string]customerJSON{"customer": toCustomer(cust)})
	})
}

// DeleteCustomer serves DELETE /api/v1/customers/{ref}.
func (a *API) DeleteCustomer() http.Handler {
	return a.keyed(secretKey, func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		if err := a.svc.Customers.Delete(r.Context(), c, r.PathValue("ref")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// SetCustomerPassword serves PUT /api/v1/customers/{ref}/password.
func (a *API) SetCustomerPassword() http.Handler {
	type request struct {
		Password string `json:"password"`
	}
	return a.keyed(secretKey, func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		req, err := wire.DecodeJSON[request](r)
		if err != nil {
			return err
		}
		if _, err := a.svc.Customers.SetPassword(r.Context(), c, r.PathValue("ref"), req.Password); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// NotAllowed answers a request to a native path with a method it does not
// take.
func (a *API) NotAllowed(allow ...string) http.Handler {
	return a.serve(func(w http.ResponseWriter, r *http.Request) error {
		return wire.MethodNotAllowed(w, r, allow...)
	})
}

// NotFound answers a path under /api/v1/ that is no endpoint.
func (a *API) NotFound() http.Handler {
	return a.serve(func(w http.ResponseWriter, r *http.Request) error {
		return account.Errorf(account.KindNotFound, account.CodeNoSuchEndpoint, "no endpoint %s", r.URL.Path)
	})
}
