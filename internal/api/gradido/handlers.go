package gradido

import (
	"encoding/hex"
	"math/bits"
	"net/http"

	"pforte/internal/account"
	"pforte/internal/api/wire"
)

// ---- wire types ----

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// createUserRequest is Gradido's createUser. emailType is a pointer: when
// it is missing (or null) it is 2, the documented default.
// login_after_register is what Gradido's own frontend sends; it is accepted
// and has no effect (see README.md: logging in right after registering
// would tell whether the address was new).
type createUserRequest struct {
	Email              string `json:"email"`
	FirstName          string `json:"first_name"`
	LastName           string `json:"last_name"`
	EmailType          *int   `json:"emailType"`
	Password           string `json:"password"`
	LoginAfterRegister bool   `json:"login_after_register"`
}

// The emailTypes of Gradido's documentation: the text of the verification mail.
const (
	emailTypeDirect = 2 // the user registered directly (the default)
	emailTypeAdmin  = 5 // an admin registered the user
)

type logoutRequest struct {
	SessionID int64 `json:"session_id"`
}

// userJSON is the user as Gradido's unsecureLogin answers it, every field
// in Gradido's order. pforte keeps no ledger and no roles: balance is 0
// and role "none"; username is "for later use" in Gradido's documentation and stays "".
type userJSON struct {
	Created      int64  `json:"created"`
	Disabled     bool   `json:"disabled"`
	Email        string `json:"email"`
	EmailChecked bool   `json:"email_checked"`
	FirstName    string `json:"first_name"`
	GroupAlias   string `json:"group_alias"`
	IdentHash    uint32 `json:"ident_hash"`
	PublicHex    string `json:"public_hex"`
	LastName     string `json:"last_name"`
	Role         string `json:"role"`
	Username     string `json:"username"`
	Balance      int64  `json:"balance"`
	ID           int64  `json:"id"`
	ErrorCount   int    `json:"errorCount"`
}

type loginAnswer struct {
	State     string   `json:"state"`
	SessionID int64    `json:"session_id"`
	ClientIP  string   `json:"clientIP"`
	User      userJSON `json:"user"`
}

type stateAnswer struct {
	State string `json:"state"`
}

var success = stateAnswer{State: "success"}

// decode reads a strict JSON body (size limit, application/json, no
// unknown or repeated fields); its errors are about the request's form.
func decode[T any](r *http.Request) (T, error) {
	v, err := wire.DecodeJSON[T](r)
	if err != nil {
		return v, badInput(err)
	}
	return v, nil
}

// identHash is the login server's ident_hash: DRMakeStringHash, a 32-bit
// rotate-and-add hash (rotate left by 7, add the byte; bytes are signed
// chars, as on the x86 servers it ran on), over the normalised address
// (account.NormalizeEmail: NFC, lower case, ASCII domain), so that
// addresses that are one customer have one hash. It is no secret and
// identifies nothing by itself: Gradido's documentation uses it only to speed up
// lookups, and it collides easily.
func identHash(normalised string) uint32 {
	var h uint32
	for i := 0; i < len(normalised); i++ {
		h = bits.RotateLeft32(h, 7) + uint32(int32(int8(normalised[i])))
	}
	return h
}

// user is cust as Gradido's documentation shows a user. requested is the address the
// request gave: under email_storage=hmac the customer row keeps none, and
// the answer shows the one the client sent.
func (a *API) user(c account.Caller, cust account.Customer, requested string) userJSON {
	email := cust.Email
	if email == "" {
		email = requested
	}
	normalised, _ := account.NormalizeEmail(email)
	return userJSON{
		Created:      cust.CreatedAt.Unix(),
		Disabled:     cust.State == account.StateDisabled,
		Email:        email,
		EmailChecked: cust.EmailConfirmedAt != nil,
		FirstName:    cust.FirstName,
		GroupAlias:   c.Tenant.Slug,
		IdentHash:    identHash(normalised),
		PublicHex:    hex.EncodeToString(a.svc.Keyring.CustomerKey(cust)),
		LastName:     cust.LastName,
		Role:         "none",
		Username:     "",
		Balance:      0,
		ID:           cust.ID,
		ErrorCount:   0,
	}
}

// ---- handlers ----

// Login serves POST /login_api/unsecureLogin: it checks email and password
// and opens a session whose id is a JSON number (see account.LoginNumeric).
// An unknown email and a wrong password answer the same, byte for byte.
// Without gradido.allow_password_via_json the call does not exist.
func (a *API) Login() http.Handler {
	return a.serve(func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		if !known(callLogin, c.Tenant) {
			return errUnknownCall
		}
		req, err := decode[loginRequest](r)
		if err != nil {
			return err
		}
		cust, sessionID, err := a.svc.Sessions.LoginNumeric(r.Context(), c, req.Email, req.Password)
		if err != nil {
			return err
		}
		return wire.WriteJSON(w, http.StatusOK, loginAnswer{State: "success", SessionID: sessionID,
			ClientIP: a.clients.IP(r).String(), User: a.user(c, cust, req.Email)})
	})
}

var errEmailType = badInput(account.Invalid(account.FieldError{Field: "emailType", Code: account.FieldInvalid,
	Message: "must be 2 (registered directly) or 5 (registered by an admin)"}))

// CreateUser serves POST /login_api/createUser. emailType 2 (the default)
// is a registration: a new address becomes pending_active and may log in
// at once, as in Gradido; an address that already exists is the service's
// business and answers the same success. It needs
// gradido.allow_password_via_json ("Login und Registrieren via
// ajax-Request"). emailType 5 is an admin's: it needs a secret key, mails
// the invitation with link and code, and needs the setting only when it
// carries a password (without one the customer chooses it on activation).
func (a *API) CreateUser() http.Handler {
	return a.serve(func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		req, err := decode[createUserRequest](r)
		if err != nil {
			return err
		}
		emailType := emailTypeDirect
		if req.EmailType != nil {
			emailType = *req.EmailType
		}
		if emailType != emailTypeDirect && emailType != emailTypeAdmin {
			return errEmailType
		}
		if (emailType == emailTypeDirect || req.Password != "") && !enabled(c.Tenant, settingPasswordViaJSON) {
			return errPasswordViaJSON
		}
		profile := account.Profile{FirstName: req.FirstName, LastName: req.LastName}
		if emailType == emailTypeAdmin {
			_, err = a.svc.Customers.Create(r.Context(), c, account.NewCustomer{Email: req.Email, Password: req.Password,
				State: account.StatePendingActive, Activation: true, Profile: profile})
		} else {
			// Registering oneself: a key only names the tenant (see policy).
			_, err = a.svc.Registrations.Register(r.Context(), c, account.Registration{Email: req.Email,
				Password: req.Password, AcceptLanguage: r.Header.Get("Accept-Language"), LoginBeforeConfirm: true, Profile: profile})
		}
		if err != nil {
			return err
		}
		return wire.WriteJSON(w, http.StatusOK, success)
	})
}

// Logout serves POST /login_api/logout: it ends the session with this id,
// of this tenant only. An unknown, ended, expired or other tenant's id is
// "session not found". The id is never logged.
func (a *API) Logout() http.Handler {
	return a.serve(func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		req, err := decode[logoutRequest](r)
		if err != nil {
			return err
		}
		if err := a.svc.Sessions.LogoutNumeric(r.Context(), c.Tenant.ID, req.SessionID); err != nil {
			return err
		}
		return wire.WriteJSON(w, http.StatusOK, success)
	})
}
