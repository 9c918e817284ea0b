package hgsp

import (
	"encoding/xml"
	"errors"
	"net/http"
	"strings"

	"pforte/internal/account"
	"pforte/internal/api/wire"
)

// ---- wire types: requests ----

// Request elements are strings (an absent element and an empty one are the
// same) or structs; `hgsp:"required"` marks the elements HGSP requires.

type naturalName struct {
	Salutation string `xml:"Salutation" hgsp:"required"`
	FirstName  string `xml:"FirstName" hgsp:"required"`
	LastName   string `xml:"LastName" hgsp:"required"`
}

type registerUserRequest struct {
	HMGUserID      string      `xml:"HMGUserID"`
	NaturalName    naturalName `xml:"NaturalName" hgsp:"required"`
	Email          string      `xml:"Email" hgsp:"required"`
	Password       string      `xml:"Password"`
	TemplateUserID string      `xml:"TemplateUserID"`
	RefID          string      `xml:"RefID"`
	State          string      `xml:"State"`
}

type activationRequest struct {
	Email          string `xml:"Email" hgsp:"required"`
	ActivationCode string `xml:"ActivationCode" hgsp:"required"`
	Password       string `xml:"Password"`
}

type passwordChangeRequest struct {
	HMGUserID   string `xml:"HMGUserID"`
	OldPassword string `xml:"OldPassword"`
	NewPassword string `xml:"NewPassword" hgsp:"required"`
}

type passwordResetRequest struct {
	Email       string `xml:"Email" hgsp:"required"`
	ResetCode   string `xml:"ResetCode" hgsp:"required"`
	NewPassword string `xml:"NewPassword" hgsp:"required"`
}

// ---- wire types: answers ----

type registerUserResponse struct {
	XMLName   xml.Name `xml:"RegisterUserResponse"`
	HMGUserID string   `xml:"HMGUserID,omitempty"`
	State     string   `xml:"State"`
}

type naturalNameXML struct {
	Salutation string `xml:"Salutation,omitempty"`
	FirstName  string `xml:"FirstName"`
	LastName   string `xml:"LastName"`
}

type userXML struct {
	XMLName        xml.Name       `xml:"User"`
	HMGUserID      string         `xml:"HMGUserID"`
	Email          string         `xml:"Email"`
	State          string         `xml:"State"`
	NaturalName    naturalNameXML `xml:"NaturalName"`
	RefID          string         `xml:"RefID,omitempty"`
	ActivationURL  string         `xml:"ActivationURL,omitempty"`
	ActivationCode string         `xml:"ActivationCode,omitempty"`
}

type passwordResetCode struct {
	XMLName   xml.Name `xml:"PasswordResetCode"`
	Email     string   `xml:"Email"`
	ResetCode string   `xml:"ResetCode"`
}

func toUser(c account.Customer) userXML {
	return userXML{HMGUserID: c.UUID, Email: c.Email, State: stateXML(c.State), RefID: c.PartnerRef,
		NaturalName: naturalNameXML{Salutation: salutationXML[c.Salutation], FirstName: c.FirstName, LastName: c.LastName}}
}

// ---- translations ----

// stateOf maps the states a user can be registered in; DISABLED is only
// ever an answer.
var stateOf = map[string]account.State{
	"OFFLINE":        account.StateOffline,
	"PENDING":        account.StatePending,
	"PENDING_ACTIVE": account.StatePendingActive,
	"ACTIVE":         account.StateActive,
}

// stateXML is a state on the wire: OFFLINE, PENDING, PENDING_ACTIVE,
// ACTIVE or DISABLED.
func stateXML(s account.State) string { return strings.ToUpper(string(s)) }

// salutationOf maps HGSP's salutations, German and English, in any case,
// onto pforte's.
var salutationOf = map[string]string{
	"frau": "ms", "mrs": "ms", "ms": "ms",
	"herr": "mr", "mr": "mr",
	"divers": "mx", "mx": "mx",
}

// salutationXML is the salutation answered: the German form, as in HGSP's documentation.
var salutationXML = map[string]string{"ms": "Frau", "mr": "Herr", "mx": "Divers"}

// codeError names the element of a code the service refused.
func codeError(err error, element string) error {
	var e *account.Error
	if errors.As(err, &e) && e.Code == account.CodeTokenInvalid {
		c := *e
		c.Message = element + ": is wrong, expired or used up"
		return &c
	}
	return err
}

// queryEmail is how errors name the email query parameter.
const queryEmail = "email (query parameter)"

// ---- handlers ----

// RegisterUser serves POST /registeruserrequest. A service user creates the
// user (or adopts an existing OFFLINE or PENDING one) in the state asked
// for; a public key registers a PENDING user and learns nothing about
// whether the address had an account.
func (a *API) RegisterUser() http.Handler {
	return a.keyed(anyKey, func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		req, err := decode[registerUserRequest](r, "RegisterUserRequest")
		if err != nil {
			return err
		}
		var fields []account.FieldError
		state := account.StatePending
		if req.State != "" {
			var ok bool
			if state, ok = stateOf[req.State]; !ok {
				fields = append(fields, account.FieldError{Field: "State", Code: account.FieldInvalid, Message: "must be OFFLINE, PENDING, PENDING_ACTIVE or ACTIVE"})
			}
		}
		salutation, ok := salutationOf[strings.ToLower(req.NaturalName.Salutation)]
		if !ok {
			fields = append(fields, account.FieldError{Field: "Salutation", Code: account.FieldInvalid, Message: "must be Frau, Herr or Divers (or Mrs, Ms, Mr, Mx)"})
		}
		if len(fields) > 0 {
			return account.Invalid(fields...)
		}
		profile := account.Profile{Salutation: salutation, FirstName: req.NaturalName.FirstName,
			LastName: req.NaturalName.LastName, PartnerRef: req.RefID}
		res, err := a.svc.Registrations.Enrol(r.Context(), c, account.NewCustomer{Email: req.Email, UUID: req.HMGUserID,
			Password: req.Password, State: state, Profile: profile, TemplateRef: req.TemplateUserID,
			Adopt: true, Activation: true}, r.Header.Get("Accept-Language"))
		if err != nil {
			if errors.Is(err, account.ErrTemplateNotFound) {
				named := *account.ErrTemplateNotFound
				named.Message = "TemplateUserID: " + named.Message
				return &named
			}
			return err
		}
		if !c.IsSecret() {
			// The same answer whether or not the address had an account, in
			// whatever state: no HMGUserID, which would tell.
			return writeXML(w, http.StatusAccepted, registerUserResponse{State: stateXML(account.StatePending)})
		}
		return writeXML(w, http.StatusCreated, registerUserResponse{HMGUserID: res.Customer.UUID, State: stateXML(res.Customer.State)})
	})
}

// User serves GET /users?email= (service user). A PENDING or
// PENDING_ACTIVE user comes with a fresh activation URL and code: only
// their hashes are stored, so the old ones cannot be shown again, and
// issuing new ones revokes them.
func (a *API) User() http.Handler {
	return a.getOnly(a.keyed(secretKey, func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		email, err := wire.Query(r, "email")
		if err != nil {
			return err
		}
		cust, err := a.svc.Customers.ByEmail(r.Context(), c, email)
		if err != nil {
			return renamed(err, "email", queryEmail)
		}
		act, err := a.svc.Invitations.Issue(r.Context(), c, cust)
		if err != nil {
			return err
		}
		u := toUser(cust)
		u.ActivationURL, u.ActivationCode = act.Link, act.Code
		return writeXML(w, http.StatusOK, u)
	}))
}

// Activate serves POST /activationrequest: the email address, the 8-digit
// activation code and, if the user has none yet, a password make the user
// ACTIVE. Wrong codes count towards the code's 5 attempts.
func (a *API) Activate() http.Handler {
	return a.keyed(anyKey, func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		req, err := decode[activationRequest](r, "ActivationRequest")
		if err != nil {
			return err
		}
		cust, _, err := a.svc.Invitations.AcceptCode(r.Context(), c, req.Email, req.ActivationCode, req.Password, nil)
		if err != nil {
			return codeError(err, "ActivationCode")
		}
		return writeXML(w, http.StatusOK, toUser(cust))
	})
}

// ChangePassword serves POST /passwordchangerequest: the user, with an SSO
// token (Authorization: Bearer) and the old and new passwords; or a
// service user, with a secret key, the HMGUserID and the new password.
func (a *API) ChangePassword() http.Handler {
	return a.serve(func(w http.ResponseWriter, r *http.Request) error {
		token := wire.BearerToken(r)
		var c account.Caller
		if token == "" || wire.APIKey(r) != "" {
			// With a token, a key is optional; if sent, the session must
			// belong to its tenant.
			var err error
			if c, err = a.caller(r); err != nil {
				return err
			}
		}
		if token == "" && !c.IsSecret() {
			return account.ErrSecretKeyRequired
		}
		req, err := decode[passwordChangeRequest](r, "PasswordChangeRequest")
		if err != nil {
			return err
		}
		if token != "" {
			err = a.changeOwnPassword(r, c.Tenant.ID, token, req)
		} else {
			err = a.setPassword(r, c, req)
		}
		if err != nil {
			return renamed(renamed(err, "password", "NewPassword"), "current_password", "OldPassword")
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// changeOwnPassword is the user changing their own password.
func (a *API) changeOwnPassword(r *http.Request, tenantID int64, token string, req passwordChangeRequest) error {
	if req.OldPassword == "" {
		return account.Invalid(account.FieldError{Field: "OldPassword", Code: account.FieldRequired, Message: "is required with an SSO token"})
	}
	// The user may change only their own password: an HMGUserID must be
	// the SSO token's user.
	err := a.svc.Sessions.ChangePassword(r.Context(), tenantID, token,
		account.PasswordChange{Current: req.OldPassword, New: req.NewPassword, Customer: req.HMGUserID})
	if errors.Is(err, account.ErrWrongUser) {
		named := *account.ErrWrongUser
		named.Message = "HMGUserID: is not the user of the SSO token"
		return &named
	}
	return err
}

// setPassword is a service user setting a user's password.
func (a *API) setPassword(r *http.Request, c account.Caller, req passwordChangeRequest) error {
	switch {
	case req.HMGUserID == "":
		return account.Invalid(account.FieldError{Field: "HMGUserID", Code: account.FieldRequired, Message: "is required for a service user"})
	case req.OldPassword != "":
		// Refused rather than ignored: a site must not believe it was checked.
		return account.Invalid(account.FieldError{Field: "OldPassword", Code: account.FieldInvalid, Message: "is not checked for a service user; send NewPassword only"})
	}
	_, err := a.svc.Customers.SetPassword(r.Context(), c, req.HMGUserID, req.NewPassword)
	return err
}

// ResetCode serves GET /passwordresetrequest?email= (service user): a
// fresh 8-digit reset code, which replaces older reset codes and links.
func (a *API) ResetCode() http.Handler {
	return a.getOnly(a.keyed(secretKey, func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		email, err := wire.Query(r, "email")
		if err != nil {
			return err
		}
		cust, code, err := a.svc.Recovery.IssueCode(r.Context(), c, email)
		if err != nil {
			return renamed(err, "email", queryEmail)
		}
		return writeXML(w, http.StatusOK, passwordResetCode{Email: cust.Email, ResetCode: code})
	}))
}

// ResetPassword serves POST /passwordresetrequest: the email address, the
// reset code and the new password.
func (a *API) ResetPassword() http.Handler {
	return a.keyed(anyKey, func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		req, err := decode[passwordResetRequest](r, "PasswordResetRequest")
		if err != nil {
			return err
		}
		if _, _, err := a.svc.Recovery.CompleteWithCode(r.Context(), c, req.Email, req.ResetCode, req.NewPassword); err != nil {
			return codeError(renamed(err, "password", "NewPassword"), "ResetCode")
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}
