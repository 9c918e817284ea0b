// Package hgsp speaks HGSP's user-registration API (HGSP): users are
// registered, activated with an 8-digit code, and change or reset their
// passwords, all in XML. A service user is a secret API key; an SSO token
// is a pforte session token sent as "Authorization: Bearer". Errors are
// <Error><Code/><Message/></Error> documents. Handlers only translate: XML
// in, account.Service calls, XML out. See README.md.
package hgsp

import (
	"encoding/xml"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"pforte/internal/account"
	"pforte/internal/api/wire"
)

// API serves the HGSP endpoints. server/routes.go mounts its handlers.
type API struct {
	svc     *account.Service
	log     *slog.Logger
	clients wire.Clients
}

// New returns the HGSP API over svc.
// clients limits the calls of each client address that come without a
// secret key.
func New(svc *account.Service, log *slog.Logger, clients wire.Clients) *API {
	return &API{svc: svc, log: log, clients: clients}
}

// handler is a function that may fail; serve writes its error.
type handler func(w http.ResponseWriter, r *http.Request) error

// access says which API keys an endpoint takes.
type access int

const (
	anyKey    access = iota // public (the ZRP pages) or secret (a service user)
	secretKey               // service users only
)

// keyed resolves the caller's API key, and the application an appName
// query parameter names (a pforte extension: its URLs go into links),
// before fn runs.
func (a *API) keyed(need access, fn func(w http.ResponseWriter, r *http.Request, c account.Caller) error) http.Handler {
	return a.serve(func(w http.ResponseWriter, r *http.Request) error {
		c, err := a.caller(r)
		if err != nil {
			return err
		}
		if need == secretKey && !c.IsSecret() {
			return account.ErrSecretKeyRequired
		}
		c.Policy = policy
		if r, err = wire.OnBehalf(r, c); err != nil {
			return err
		}
		return fn(w, r, c)
	})
}

// policy: HGSP's activation and resets answer no SSO token, so they open
// no session.
var policy = account.Policy{Sessions: account.SessionsNone, Channel: "hgsp"}

// caller is the request's key and application. A call without a valid
// secret key (the ZRP pages call with a public one) counts towards its
// client address's limit.
func (a *API) caller(r *http.Request) (account.Caller, error) {
	c, err := a.svc.APIKeys.Authenticate(r.Context(), wire.APIKey(r))
	if lerr := a.clients.LimitUnlessSecret(r, c); lerr != nil {
		return account.Caller{}, lerr
	}
	if err != nil {
		return c, err
	}
	app, err := wire.Query(r, "appName")
	if err != nil {
		return c, err
	}
	return a.svc.Apps.With(r.Context(), c, app)
}

// serve never lets an answer be cached: answers carry personal data,
// activation and reset codes.
func (a *API) serve(fn handler) http.Handler { return wire.Handle(fn, a.writeError) }

// elementOf names the XML element behind each field the service reports.
// A route whose element for "password" is not Password renames it first
// (see renamed).
var elementOf = map[string]string{
	"email":         "Email",
	"uuid":          "HMGUserID",
	"template_user": "TemplateUserID",
	"state":         "State",
	"salutation":    "Salutation",
	"first_name":    "FirstName",
	"last_name":     "LastName",
	"partner_ref":   "RefID",
	"password":      "Password",
}

// errorXML is the error document.
type errorXML struct {
	XMLName xml.Name `xml:"Error"`
	Code    string   `xml:"Code"`
	Message string   `xml:"Message"`
}

// writeError is the one place this API writes errors. Internal errors are
// logged with their cause; the client sees only a generic message with the
// request id.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e, status := wire.Failure(w, r, a.log, err, wire.Status)
	msg := e.Message
	if status >= 500 && e.Kind != account.KindUnavailable {
		msg = "internal error; request id " + wire.RequestID(r.Context())
	}
	if len(e.Fields) > 0 {
		// Name the XML elements, not the service's field names.
		parts := make([]string, len(e.Fields))
		for i, f := range e.Fields {
			name := f.Field
			if el, ok := elementOf[name]; ok {
				name = el
			}
			parts[i] = name + ": " + f.Message
		}
		msg = strings.Join(parts, "; ")
	}
	writeXML(w, status, errorXML{Code: e.Code, Message: msg})
}

// renamed returns err with its field from renamed to to, for routes whose
// XML element has another name than the service's field.
func renamed(err error, from, to string) error {
	var e *account.Error
	if !errors.As(err, &e) || len(e.Fields) == 0 {
		return err
	}
	c := *e
	c.Fields = append([]account.FieldError(nil), e.Fields...)
	for i := range c.Fields {
		if c.Fields[i].Field == from {
			c.Fields[i].Field = to
		}
	}
	return &c
}

// writeXML writes v as an indented UTF-8 XML document.
func writeXML(w http.ResponseWriter, status int, v any) error {
	b, err := xml.MarshalIndent(v, "", "   ")
	if err != nil {
		return account.Internal(err)
	}
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.WriteHeader(status)
	w.Write([]byte(xml.Header))
	w.Write(b)
	w.Write([]byte("\n"))
	return nil
}

// NotAllowed answers a request to an HGSP path with a method it does not
// take, in HGSP's error format.
func (a *API) NotAllowed(allow ...string) http.Handler {
	return a.serve(func(w http.ResponseWriter, r *http.Request) error {
		return wire.MethodNotAllowed(w, r, allow...)
	})
}

// getOnly refuses HEAD, which the mux hands to GET handlers: the GETs of
// this API issue codes, and a HEAD would revoke the old ones without
// showing the new.
func (a *API) getOnly(next http.Handler) http.Handler {
	refuse := a.NotAllowed(http.MethodGet)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			refuse.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}
