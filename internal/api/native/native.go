// Package native is pforte's own JSON API under /api/v1/. Errors are RFC
// 9457 problem documents with a stable code. Handlers only translate: JSON
// in, one account.Service call, JSON out.
package native

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"pforte/internal/account"
	"pforte/internal/api/wire"
)

// API serves the native endpoints. server/routes.go mounts its handlers.
type API struct {
	svc     *account.Service
	log     *slog.Logger
	clients wire.Clients
}

// New returns the native API over svc. clients limits the calls of each
// client address that come without a secret key.
func New(svc *account.Service, log *slog.Logger, clients wire.Clients) *API {
	return &API{svc: svc, log: log, clients: clients}
}

// handler adapts a function that may fail to http.Handler, writing any
// error as a problem document.
type handler func(w http.ResponseWriter, r *http.Request) error

// access says which API keys an endpoint takes.
type access int

const (
	anyKey      access = iota // public or secret
	secretKey                 // secret only: admin endpoints
	optionalKey               // session endpoints: the bearer token names the tenant; a key, if sent, must match it
)

// keyedFunc is a handler that runs once the caller's key is known.
type keyedFunc func(w http.ResponseWriter, r *http.Request, c account.Caller) error

// keyed resolves the caller's API key before fn runs.
func (a *API) keyed(need access, fn keyedFunc) http.Handler {
	return a.serve(func(w http.ResponseWriter, r *http.Request) error {
		c, err := a.caller(r, need)
		if err != nil {
			return err
		}
		if r, err = wire.OnBehalf(r, c); err != nil {
			return err
		}
		return fn(w, r, c)
	})
}

// hashing is keyed for endpoints that hash a password: the request takes
// its place in the hashing pool before its key is looked up, so that under
// overload a refusal (503) reads nothing. With its key and its client's
// limit checked, it waits for its turn before doing its work.
func (a *API) hashing(need access, fn keyedFunc) http.Handler {
	return a.serve(func(w http.ResponseWriter, r *http.Request) error {
		ctx, release, err := a.svc.HoldHashing(r.Context())
		if err != nil {
			return err
		}
		defer release()
		r = r.WithContext(ctx)
		c, err := a.caller(r, need)
		if err != nil {
			return err
		}
		if r, err = wire.OnBehalf(r, c); err != nil {
			return err
		}
		if err := a.svc.AwaitHashingTurn(ctx); err != nil {
			return err
		}
		return fn(w, r, c)
	})
}

// caller is who the request's API key belongs to. A request without a
// valid secret key (a public key, which any browser may hold, a session
// alone, a bad key) takes one request from its client address's bucket
// first.
func (a *API) caller(r *http.Request, need access) (account.Caller, error) {
	var c account.Caller
	var err error
	if need != optionalKey || wire.APIKey(r) != "" {
		c, err = a.svc.APIKeys.Authenticate(r.Context(), wire.APIKey(r))
	}
	if lerr := a.clients.LimitUnlessSecret(r, c); lerr != nil {
		return account.Caller{}, lerr
	}
	if err != nil {
		return account.Caller{}, err
	}
	if need == secretKey && !c.IsSecret() {
		return account.Caller{}, account.ErrSecretKeyRequired
	}
	return c, nil
}

func (a *API) serve(fn handler) http.Handler { return wire.Handle(fn, a.writeProblem) }

// problem is an RFC 9457 problem document with pforte's extensions.
type problem struct {
	Type      string               `json:"type"`
	Title     string               `json:"title"`
	Status    int                  `json:"status"`
	Detail    string               `json:"detail"`
	Code      string               `json:"code"`
	RequestID string               `json:"request_id,omitempty"`
	Errors    []account.FieldError `json:"errors,omitempty"`
}

// writeProblem is the one place the native API writes errors. Internal
// errors are logged with their cause; the client sees only a generic
// message and the request id.
func (a *API) writeProblem(w http.ResponseWriter, r *http.Request, err error) {
	e, status := wire.Failure(w, r, a.log, err, wire.Status)
	reqID := wire.RequestID(r.Context())
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(problem{
		Type: "urn:pforte:problem:" + e.Code, Title: http.StatusText(status), Status: status,
		Detail: e.Message, Code: e.Code, RequestID: reqID, Errors: e.Fields,
	})
}

// customerJSON is a customer on the wire.
type customerJSON struct {
	ID               int64      `json:"id"`
	UUID             string     `json:"uuid"`
	Email            string     `json:"email"`
	Username         string     `json:"username"`
	Salutation       string     `json:"salutation"`
	FirstName        string     `json:"first_name"`
	LastName         string     `json:"last_name"`
	Name             string     `json:"name"`
	Locale           string     `json:"locale"`
	PartnerRef       string     `json:"partner_ref"`
	State            string     `json:"state"`
	EmailConfirmedAt *time.Time `json:"email_confirmed_at"`
	CreatedAt        time.Time  `json:"created_at"`
	UpdatedAt        time.Time  `json:"updated_at"`
}

func toCustomer(c account.Customer) customerJSON {
	return customerJSON{ID: c.ID, UUID: c.UUID, Email: c.Email, Username: c.Username, Salutation: c.Salutation,
		FirstName: c.FirstName, LastName: c.LastName, Name: c.Name(), Locale: c.Locale, PartnerRef: c.PartnerRef,
		State: string(c.State), EmailConfirmedAt: c.EmailConfirmedAt, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

// sessionJSON is a session on the wire; Token is set only when it is new.
type sessionJSON struct {
	ID            int64     `json:"id"`
	Token         string    `json:"token,omitempty"`
	Remembered    bool      `json:"remembered"`
	CreatedAt     time.Time `json:"created_at"`
	ExpiresAt     time.Time `json:"expires_at"`
	IdleExpiresAt time.Time `json:"idle_expires_at"`
}

func toSession(s account.Session, token string) sessionJSON {
	return sessionJSON{ID: s.ID, Token: token, Remembered: s.Remembered, CreatedAt: s.CreatedAt, ExpiresAt: s.EndsAt(),
		IdleExpiresAt: s.IdleExpiresAt()}
}

type customerSession struct {
	Customer customerJSON `json:"customer"`
	Session  sessionJSON  `json:"session"`
}

func withSession(c account.Customer, s account.NewSession) customerSession {
	return customerSession{Customer: toCustomer(c), Session: toSession(s.Session, s.Token)}
}
