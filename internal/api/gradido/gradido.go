// Package gradido mimics the JSON API of Gradido's login server (Gradido)
// for a JavaScript frontend: POST /login_api/unsecureLogin answers a
// numeric session id and the user, /login_api/createUser registers (and
// mails the verification link), /login_api/logout ends the session. There
// is no key: the tenant comes from the Host header (or from an X-API-KEY
// when one is sent). Answers are {"state": "success", ...} or {"state":
// "error", "msg": ...}; failures of a well-formed call answer HTTP 200, as
// the original does, so that clients reading state keep working. Handlers
// only translate: JSON in, one account.Service call, JSON out. See
// README.md.
package gradido

import (
	"errors"
	"log/slog"
	"net/http"

	"pforte/internal/account"
	"pforte/internal/api/wire"
)

// API serves Gradido endpoints. server/routes.go mounts its handlers.
type API struct {
	svc     *account.Service
	log     *slog.Logger
	clients wire.Clients
}

// New returns Gradido API over svc. clients says which proxies may
// name the client (for clientIP) and how many requests a client may make.
func New(svc *account.Service, log *slog.Logger, clients wire.Clients) *API {
	return &API{svc: svc, log: log, clients: clients}
}

// The tenant settings of this dialect, named after the login server's
// unsecure.allow_passwort_via_json_request and unsecure.allow_cors_all.
const (
	settingPasswordViaJSON = "gradido.allow_password_via_json"
	settingCORSAll         = "gradido.allow_cors_all"
)

func init() {
	account.RegisterSettings(
		account.SettingSpec{Key: settingPasswordViaJSON, Type: account.SettingBool, Default: "false",
			Doc: "accept passwords sent as JSON (Gradido's unsecure.allow_passwort_via_json_request): POST /login_api/unsecureLogin, and createUser calls that carry a password"},
		account.SettingSpec{Key: settingCORSAll, Type: account.SettingBool, Default: "false",
			Doc: "add Access-Control-Allow-Origin: * to /login_api answers and answer their preflight requests (Gradido's unsecure.allow_cors_all)"},
	)
}

func enabled(t account.Tenant, setting string) bool { return t.Setting(setting) == "true" }

// The calls this dialect knows, under /login_api/.
const (
	callLogin      = "unsecureLogin"
	callCreateUser = "createUser"
	callLogout     = "logout"
)

// known reports whether call is one of this dialect's calls for the
// tenant. Without gradido.allow_password_via_json there is no
// unsecureLogin at all: the login server's router does not route it then,
// and answers it as any unknown call.
func known(call string, t account.Tenant) bool {
	switch call {
	case callCreateUser, callLogout:
		return true
	case callLogin:
		return enabled(t, settingPasswordViaJSON)
	}
	return false
}

// allowed is the methods of every call (the Allow header of a 405).
const allowed = "POST, OPTIONS"

// handler is a call's function once the tenant is known; serve writes its
// error.
type handler func(w http.ResponseWriter, r *http.Request, c account.Caller) error

// serve resolves the caller's tenant, applies the tenant's CORS setting to
// the answer (to errors too, so that a browser can read them), and runs fn.
func (a *API) serve(fn handler) http.Handler {
	return a.serveLimited(fn, true)
}

// serveLimited is serve; limit says whether the call counts towards the
// client's rate limit. Calls made with a secret key (a site's server)
// never do; a public key, which any browser may hold, or a bad one counts
// like a call without a key.
func (a *API) serveLimited(fn handler, limit bool) http.Handler {
	return wire.Handle(func(w http.ResponseWriter, r *http.Request) error {
		c, err := a.caller(w, r)
		// After the caller, so that a browser may read the 429 (CORS).
		if limit {
			if lerr := a.clients.LimitUnlessSecret(r, c); lerr != nil {
				return lerr
			}
		}
		if err != nil {
			return err
		}
		return fn(w, r, c)
	}, a.writeError)
}

// caller is the tenant of the request: an X-API-KEY's, when one is sent
// (a site's server may name its tenant so), else the one whose hosts
// setting names the Host header, else default. The Host header only picks
// a tenant: no link is ever built from it.
func (a *API) caller(w http.ResponseWriter, r *http.Request) (account.Caller, error) {
	c, err := a.tenantOf(w, r)
	c.Policy = policy
	return c, err
}

// policy: registering through createUser (emailType 2) is always the
// customer's own, so even a secret key learns nothing of whether the
// address had an account; a key only names the tenant.
var policy = account.Policy{SelfRegistration: true, Channel: "gradido"}

func (a *API) tenantOf(w http.ResponseWriter, r *http.Request) (account.Caller, error) {
	ctx := r.Context()
	if key := wire.APIKey(r); key != "" {
		c, err := a.svc.APIKeys.Authenticate(ctx, key)
		if err == nil {
			a.cors(w, c.Tenant)
			return c, nil
		}
		// A bad key names no tenant; the host's decides whether a browser
		// may read the error.
		if hc, herr := a.svc.Tenants.ForHost(ctx, wire.Host(r)); herr == nil {
			a.cors(w, hc.Tenant)
		}
		return account.Caller{}, err
	}
	c, err := a.svc.Tenants.ForHost(ctx, wire.Host(r))
	if err != nil {
		return account.Caller{}, err
	}
	a.cors(w, c.Tenant)
	return c, nil
}

// cors lets any origin read this dialect's answers when the tenant asks for
// it (gradido.allow_cors_all), as the login server's unsecure.allow_cors_all
// does. No cookie is involved (the session id travels in the body), so
// credentials are never allowed. The server's own CORS middleware leaves
// /login_api/ to this package.
func (a *API) cors(w http.ResponseWriter, t account.Tenant) {
	if !enabled(t, settingCORSAll) {
		return
	}
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Access-Control-Expose-Headers", "Retry-After, X-Request-Id")
}

// ---- errors ----

// errUnknownCall is the login server's answer to a call it does not know:
// other names under /login_api/, and unsecureLogin while the tenant does
// not allow passwords via JSON.
var errUnknownCall = &account.Error{Kind: account.KindNotFound, Code: "unknown_call", Message: "unknown call"}

// errPasswordViaJSON refuses a registration, or an admin's createUser with
// a password, while the tenant does not allow passwords via JSON.
var errPasswordViaJSON = &account.Error{Kind: account.KindForbidden, Code: "password_via_json_disabled",
	Message: "registration and passwords via JSON are not enabled (gradido.allow_password_via_json)"}

// inputError marks an error about the request's form (its body, content
// type, types, fields or emailType), as opposed to an outcome of the
// service: it gets its 4xx status, never 200.
type inputError struct{ error }

func (e inputError) Unwrap() error { return e.error }

func badInput(err error) error { return inputError{err} }

// outcome is how a failure of a well-formed call answers: state and msg of
// the login server's own answer where it has one (JsonUnsecureLogin.cpp,
// JsonCreateUser.cpp, JsonLogout.cpp), else the service's message.
type outcome struct{ state, msg string }

// outcomes are the failures a client of the login server handles by
// reading state and msg from a 200 answer, as the original answers every
// failure. Unknown email and wrong password are one outcome, with the
// original's text for a wrong password: no answer tells which addresses
// have accounts (the original said "user with email not found").
var outcomes = map[string]outcome{
	"invalid_credentials": {"error", "password incorrect"},
	"email_not_confirmed": {"error", "email not activated"},
	"account_disabled":    {"disabled", "user is disabled"},
	"account_offline":     {"error", "user has no login"},
	"session_invalid":     {"error", "session not found"},
	"email_taken":         {"exist", "user already exist"}, // only ever to a secret key (emailType 5)
	"validation_failed":   {"error", ""},                   // the service's message: email, password policy, names
}

// statusFor is the HTTP status of an error: 200 for the outcomes above
// (unless the request itself was malformed), else the one table of
// wire.Status (400, 401, 403, 404, 405, 413, 415, 429, 503, 500).
func statusFor(err error) func(*account.Error) int {
	var in inputError
	input := errors.As(err, &in)
	return func(e *account.Error) int {
		if _, ok := outcomes[e.Code]; ok && !input {
			return http.StatusOK
		}
		return wire.Status(e)
	}
}

// errorJSON is this dialect's one error document: the login server's state
// and msg, its details (here the offending fields), and a stable code for
// programs. The request id is in the X-Request-Id header, not in the body,
// so that the answers that must be identical (an unknown email and a wrong
// password) are identical byte for byte.
type errorJSON struct {
	State   string   `json:"state"`
	Msg     string   `json:"msg"`
	Details []string `json:"details,omitempty"`
	Code    string   `json:"code"`
}

// writeError is the one place this dialect writes errors. A 5xx other than
// "busy" is logged with its cause; the client sees only "internal error".
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e, status := wire.Failure(w, r, a.log, err, statusFor(err))
	body := errorJSON{State: "error", Msg: e.Message, Code: e.Code}
	if o, ok := outcomes[e.Code]; ok && status == http.StatusOK {
		body.State = o.state
		if o.msg != "" {
			body.Msg = o.msg
		}
	}
	for _, f := range e.Fields {
		body.Details = append(body.Details, f.Field+": "+f.Message)
	}
	wire.WriteJSON(w, status, body)
}

// ---- unknown calls, other methods, preflights ----

// NotFound answers what no call took under /login_api/{call}: an unknown
// call is a 404, a known one with another method a 405 with Allow, both in
// this dialect's error format.
func (a *API) NotFound() http.Handler {
	return a.serve(func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		if !known(r.PathValue("call"), c.Tenant) {
			return errUnknownCall
		}
		return wire.MethodNotAllowed(w, r, http.MethodPost, http.MethodOptions)
	})
}

// Preflight serves OPTIONS /login_api/{call}. With gradido.allow_cors_all
// it answers a browser's preflight for the POST to come; without, the
// answer carries no Access-Control-Allow-* header, and the browser does not
// send it.
// Preflights do not count towards the rate limit: a browser sends one
// before a call, and a 429 to it would reach the page as an unreadable
// CORS failure; the call itself counts.
func (a *API) Preflight() http.Handler {
	return a.serveLimited(func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		if !known(r.PathValue("call"), c.Tenant) {
			return errUnknownCall
		}
		w.Header().Set("Allow", allowed)
		if enabled(c.Tenant, settingCORSAll) {
			w.Header().Set("Access-Control-Allow-Methods", allowed)
			w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
			w.Header().Set("Access-Control-Max-Age", "600")
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}, false)
}
