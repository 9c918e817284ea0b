// Package propstack mimics Propstack's contacts API for customer areas
// (Propstack): a site's server registers contacts, confirms them with the
// token it mailed itself, checks logins, and resets passwords, all in JSON
// with a secret key in X-API-KEY. Every token comes back to the site, which
// sends its own mail. Errors are Rails-like {"errors": {"field":
// ["message"]}} documents. Handlers only translate: JSON in, one
// account.Service call, JSON out. See README.md.
package propstack

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"pforte/internal/account"
	"pforte/internal/api/wire"
)

// API serves Propstack endpoints. server/routes.go mounts its handlers.
type API struct {
	svc     *account.Service
	log     *slog.Logger
	clients wire.Clients
}

// New returns Propstack API over svc.
// clients limits the calls of each client address that come without a
// secret key.
func New(svc *account.Service, log *slog.Logger, clients wire.Clients) *API {
	return &API{svc: svc, log: log, clients: clients}
}

// handler is a function that may fail; serve writes its error.
type handler func(w http.ResponseWriter, r *http.Request) error

// keyed resolves the caller's X-API-KEY, which must be a secret key, before
// fn runs. The caller always receives tokens, whatever the tenant's
// delivery mode: the vendor hands every token to the site.
func (a *API) keyed(fn func(w http.ResponseWriter, r *http.Request, c account.Caller) error) http.Handler {
	return a.serve(func(w http.ResponseWriter, r *http.Request) error {
		c, err := a.svc.APIKeys.Authenticate(r.Context(), wire.APIKey(r))
		// A public or bad key is refused below; it counts towards its
		// client address's limit first, as on every keyed API.
		if lerr := a.clients.LimitUnlessSecret(r, c); lerr != nil {
			return lerr
		}
		if err != nil {
			return err
		}
		// Propstack's API is for a site's server: it hands out
		// confirmation and reset tokens, which a browser (where public
		// keys live) must never see.
		if !c.IsSecret() {
			return account.ErrSecretKeyRequired
		}
		c.Policy = policy
		if r, err = wire.OnBehalf(r, c); err != nil {
			return err
		}
		return fn(w, r, c)
	})
}

// policy: Propstack hands every token to the site, which sends its own
// mail, and logs nobody in: the site keeps its own sessions.
var policy = account.Policy{Tokens: account.TokensAlways, Sessions: account.SessionsNone, Channel: "propstack"}

func (a *API) serve(fn handler) http.Handler { return wire.Handle(fn, a.writeError) }

// statusOfCode holds this dialect's exceptions to wire.Status: as in
// Rails, a body that is not JSON at all is a 400, and a JSON request that
// does not fit (validation, a taken address, a bad token) a 422.
var statusOfCode = map[string]int{
	account.CodeMalformedJSON:  http.StatusBadRequest,
	account.CodeInvalidUTF8:    http.StatusBadRequest,
	account.CodeUnreadableBody: http.StatusBadRequest,
	account.CodeEmailTaken:     http.StatusUnprocessableEntity,
	// A public key is no credential for this API at all.
	account.CodeSecretKeyRequired: http.StatusUnauthorized,
}

func statusFor(e *account.Error) int {
	if s, ok := statusOfCode[e.Code]; ok {
		return s
	}
	if e.Kind == account.KindInvalid {
		return http.StatusUnprocessableEntity
	}
	return wire.Status(e)
}

// base is the key of messages about the request as a whole, as in Rails'
// errors[:base].
const base = "base"

// errorJSON is this dialect's one error document: Rails' errors hash (each
// field, by its JSON name, with its messages), plus a stable code for
// programs and the request id of the X-Request-Id header.
type errorJSON struct {
	Errors    map[string][]string `json:"errors"`
	Code      string              `json:"code"`
	RequestID string              `json:"request_id"`
}

// writeError is the one place this dialect writes errors. A 5xx other
// than "busy" is logged with its cause; the client sees only a generic
// message and the request id.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	// wire.Failure logs the route pattern, never the path: paths of this
	// API carry tokens.
	e, status := wire.Failure(w, r, a.log, err, statusFor)
	reqID := wire.RequestID(r.Context())
	body := errorJSON{Errors: map[string][]string{}, Code: e.Code, RequestID: reqID}
	for _, f := range e.Fields {
		name := attribute(f.Field)
		body.Errors[name] = append(body.Errors[name], f.Message)
	}
	if len(body.Errors) == 0 {
		body.Errors[base] = []string{e.Message}
	}
	wire.WriteJSON(w, status, body)
}

// wrappers are the objects the vendor's requests wrap their fields in.
var wrappers = []string{"client.", "credentials."}

// attribute names a field as Rails' errors do, without the object that
// wraps it: client.salutation is salutation, the same name the service
// gives the fields it checks.
func attribute(field string) string {
	for _, w := range wrappers {
		if name, ok := strings.CutPrefix(field, w); ok {
			return name
		}
	}
	return field
}

// onField puts an error of the service that names no field on the
// request's field it concerns (a taken address on email, a bad token on
// the token's field), with a message in Rails' style, so that a site shows
// it next to that field. Other errors pass unchanged.
func onField(err error, code, field, message string) error {
	var e *account.Error
	if !errors.As(err, &e) || e.Code != code || len(e.Fields) > 0 {
		return err
	}
	c := *e
	c.Fields = []account.FieldError{{Field: field, Code: code, Message: message}}
	c.Message = field + ": " + message
	return &c
}

// NotAllowed answers a request to one of this dialect's paths with a
// method it does not take, in this dialect's error format.
func (a *API) NotAllowed(allow ...string) http.Handler {
	return a.serve(func(w http.ResponseWriter, r *http.Request) error {
		return wire.MethodNotAllowed(w, r, allow...)
	})
}
