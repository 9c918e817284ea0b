// Package betterez mimics the application-based password reset of Betterez
// (Betterez): a site asks for a reset mail naming one of its applications,
// the customer follows the link to the application's request endpoint, and
// the site sends the link's token and a new password to
// /accounts/customers/{customerId}. JSON in camelCase, errors as
// {"code", "message"} documents. Handlers only translate: JSON in, one
// account.Service call, JSON out. See README.md.
package betterez

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"pforte/internal/account"
	"pforte/internal/api/wire"
)

// API serves Betterez endpoints. server/routes.go mounts its handlers.
type API struct {
	svc     *account.Service
	log     *slog.Logger
	clients wire.Clients
}

// New returns Betterez API over svc.
// clients limits the calls of each client address that come without a
// secret key.
func New(svc *account.Service, log *slog.Logger, clients wire.Clients) *API {
	return &API{svc: svc, log: log, clients: clients}
}

// handler is a function that may fail; serve writes its error.
type handler func(w http.ResponseWriter, r *http.Request) error

// keyed resolves the caller's X-API-KEY, public or secret, before fn runs.
// A call without a valid secret key counts towards its client address's
// limit: the reset page calls with a public key from the browser.
func (a *API) keyed(fn func(w http.ResponseWriter, r *http.Request, c account.Caller) error) http.Handler {
	return a.serve(func(w http.ResponseWriter, r *http.Request) error {
		c, err := a.svc.APIKeys.Authenticate(r.Context(), wire.APIKey(r))
		if lerr := a.clients.LimitUnlessSecret(r, c); lerr != nil {
			return lerr
		}
		if err != nil {
			return err
		}
		c.Policy = policy
		if r, err = wire.OnBehalf(r, c); err != nil {
			return err
		}
		return fn(w, r, c)
	})
}

// policy: Betterez never answers with a token (pforte mails every link),
// and a reset through it logs nobody in.
var policy = account.Policy{Tokens: account.TokensNever, Sessions: account.SessionsNone, Channel: "betterez"}

func (a *API) serve(fn handler) http.Handler { return wire.Handle(fn, a.writeError) }

// errorJSON is this dialect's one error document.
type errorJSON struct {
	Code      string      `json:"code"`
	Message   string      `json:"message"`
	Fields    []fieldJSON `json:"fields,omitempty"`
	RequestID string      `json:"requestId,omitempty"`
}

// fieldJSON names one invalid field of a request.
type fieldJSON struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// writeError is the one place this dialect writes errors. A 5xx other
// than "busy" is logged with its cause; the client sees only a generic
// message and the request id.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e, status := wire.Failure(w, r, a.log, err, wire.Status)
	reqID := wire.RequestID(r.Context())
	body := errorJSON{Code: e.Code, Message: e.Message, RequestID: reqID}
	for _, f := range e.Fields {
		body.Fields = append(body.Fields, fieldJSON(f))
	}
	wire.WriteJSON(w, status, body)
}

// customerJSON is a customer shaped like the vendor's: camelCase, the id
// as the string _id, and the tenant as accountId, as in the mail's link.
type customerJSON struct {
	ID        string    `json:"_id"`
	AccountID string    `json:"accountId"`
	Email     string    `json:"email"`
	FirstName string    `json:"firstName"`
	LastName  string    `json:"lastName"`
	Username  string    `json:"username"`
	State     string    `json:"state"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

func toCustomer(c account.Customer, t account.Tenant) customerJSON {
	return customerJSON{ID: strconv.FormatInt(c.ID, 10), AccountID: t.Slug, Email: c.Email,
		FirstName: c.FirstName, LastName: c.LastName, Username: c.Username, State: string(c.State),
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}
