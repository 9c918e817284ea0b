// Package api2auth mimics the /api/2/auth REST API (/api/2/auth): public,
// keyless registration with a username, verification of the address by a
// link carrying a JWT, and a forgotten password reset by a JWT mailed to
// the address given in the path. The tenant comes from the request's Host;
// links lead to the server's public URL. Errors are one JSON document,
// {"status", "error", "message", ...}. Handlers only translate: the
// request in, one account.Service call, JSON out. See README.md.
package api2auth

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"pforte/internal/account"
	"pforte/internal/api/wire"
)

// API serves /api/2/auth endpoints. server/routes.go mounts its handlers.
type API struct {
	svc        *account.Service
	log        *slog.Logger
	publicURL  string
	publicHost string // publicURL's host name, as wire.Host gives it
	clients    wire.Clients
	policy     account.Policy
}

// New returns /api/2/auth API over svc; links lead to publicURL, and
// clients bounds how many requests a client may make.
func New(svc *account.Service, log *slog.Logger, publicURL string, clients wire.Clients) *API {
	a := &API{svc: svc, log: log, publicURL: strings.TrimRight(publicURL, "/"), clients: clients}
	// Verifying and resetting log nobody in here; links lead to this API's
	// own paths; a tenant may let forgot.json reveal unknown addresses.
	a.policy = account.Policy{Sessions: account.SessionsNone, Links: a.link, RevealsUnknownEmail: revealsUnknownEmail, Channel: "api2auth"}
	if u, err := url.Parse(a.publicURL); err == nil {
		a.publicHost = wire.NormalHost(u.Hostname())
	}
	return a
}

// handler is a function that may fail; serve writes its error.
type handler func(w http.ResponseWriter, r *http.Request) error

func (a *API) serve(fn handler) http.Handler {
	return wire.Handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := a.clients.Limit(r); err != nil {
			return err
		}
		return fn(w, r)
	}, a.writeError)
}

// codec returns the JWT codec: its key is derived from the server secret
// each time (an HMAC, cheap), so that it exists only once the service has
// started, and no key is stored.
func (a *API) codec() jwtCodec {
	return jwtCodec{key: a.svc.Keyring.DialectKey(jwtKeyLabel), issuer: a.publicURL, now: a.svc.Now}
}

// caller resolves the tenant from the request's Host, without its port.
// This API has no key: every caller is public, and learns nothing that a
// visitor of the site may not. The Host picks the tenant and is used for
// nothing else; links are built from the public URL alone.
func (a *API) caller(r *http.Request) (account.Caller, error) {
	c, err := a.svc.Tenants.ForHost(r.Context(), wire.Host(r))
	if err != nil {
		return account.Caller{}, err
	}
	if !enabled(c.Tenant) {
		return account.Caller{}, errNotFound
	}
	c.Policy = a.policy
	return c, nil
}

// enabled reports whether the tenant serves this API (api2.enabled): it
// takes registrations without any key, so a tenant must ask for it.
func enabled(t account.Tenant) bool { return t.Setting(settingEnabled) == "true" }

// The tenant settings of this API.
const (
	settingEnabled            = "api2.enabled"
	settingFrontendURL        = "api2.frontend_url"
	settingRevealUnknownEmail = "api2.reveal_unknown_email"
)

func init() {
	account.RegisterSettings(
		account.SettingSpec{Key: settingEnabled, Type: account.SettingBool, Default: "false",
			Doc: "serve /api/2/auth for this tenant; it takes registrations without any key, so it is off until asked for"},
		account.SettingSpec{Key: settingFrontendURL, Type: account.SettingURL, Default: "",
			Doc: "where GET /api/2/auth/{username}/verify.json redirects after verifying, with ?verified=true|false&status=N; empty: answer JSON"},
		account.SettingSpec{Key: settingRevealUnknownEmail, Type: account.SettingBool, Default: "false",
			Doc: "let POST /api/2/auth/{email}/forgot.json answer 404 for an unknown address, as the original API does; off, it answers 200 either way"},
	)
}

// revealsUnknownEmail: forgot.json answers 404 for an unknown address only
// where the tenant asks for it (api2.reveal_unknown_email).
func revealsUnknownEmail(t account.Tenant) bool {
	return t.Setting(settingRevealUnknownEmail) == "true"
}

// errNotFound answers every path of this API for a tenant that does not
// serve it, and paths under /api/2/auth/ that are none of its own.
var errNotFound = &account.Error{Kind: account.KindNotFound, Code: account.CodeNotFound, Message: "no such resource"}

// jwtCaller checks the JWT of the token query parameter for purpose p and
// resolves the caller it may act for. At a tenant's own host (its hosts
// setting, or any other host for tenant default) the JWT must be that
// tenant's. At the public URL's host, which every tenant's verification
// links share, the tenant is the one the JWT names: the claim is signed
// with the server's key, and the service binds the token it wraps to that
// tenant as well, so it cannot reach into another tenant. Without this
// the links of every tenant but the one owning the public host would fail.
func (a *API) jwtCaller(r *http.Request, p purpose) (account.Caller, claims, error) {
	host := wire.Host(r)
	atPublicHost := a.publicHost != "" && host == a.publicHost
	var c account.Caller
	if !atPublicHost {
		var err error
		if c, err = a.svc.Tenants.ForHost(r.Context(), host); err != nil {
			return account.Caller{}, claims{}, err
		}
		if !enabled(c.Tenant) {
			return account.Caller{}, claims{}, errNotFound
		}
	}
	raw, err := wire.Query(r, "token")
	if err != nil {
		return account.Caller{}, claims{}, err
	}
	cl, err := a.codec().parse(raw, p)
	if err != nil {
		return account.Caller{}, claims{}, errTokenInvalid
	}
	if atPublicHost {
		c, err = a.svc.Tenants.Caller(r.Context(), cl.Tenant)
		if account.IsKind(err, account.KindNotFound) {
			return account.Caller{}, claims{}, errTokenInvalid // the tenant is gone
		} else if err != nil {
			return account.Caller{}, claims{}, err
		}
		if !enabled(c.Tenant) {
			return account.Caller{}, claims{}, errNotFound
		}
	}
	if c.Tenant.Slug != cl.Tenant {
		return account.Caller{}, claims{}, errTokenInvalid
	}
	c.Policy = a.policy
	return c, cl, nil
}

// links builds the links of the mails the service sends for c. A
// confirmation leads to this API's verify path under the public URL, with
// a JWT wrapping the one-time token; a reset (a forgotten password, or the
// "someone registered with your address" mail) leads to the tenant's
// configured reset URL with the JWT as its token, since the original API's reset
// is a PUT that a web frontend makes. username is the registration's
// name; every other link names the customer's.
func (a *API) link(c account.Caller, l account.Link) (string, string) {
	cust := l.Customer
	var p purpose
	switch l.Action {
	case account.ActionConfirm:
		p = purposeConfirm
	case account.ActionReset:
		p = purposeReset
	default:
		// The dialect's flows send no other links.
		return c.DefaultLink(l.Action, l.Token, cust.ID), l.Token
	}
	name := l.Username
	if p != purposeConfirm || name == "" {
		name = userName(cust)
	}
	ttl := a.svc.TokenTTL(account.PurposeConfirm)
	if p == purposeReset {
		ttl = a.svc.TokenTTL(account.PurposePasswordReset)
	}
	signed, err := a.codec().issue(c.Tenant.Slug, p, cust.UUID, name, l.Token, ttl)
	if err != nil {
		// HS256 with a byte key and string claims cannot fail; if it
		// ever did, the mail gets a link without a token rather than
		// the raw token.
		a.log.Error("signing a JWT failed", "tenant", c.Tenant.Slug, "customer_id", cust.ID, "err", err)
	}
	if p == purposeConfirm {
		return a.publicURL + "/api/2/auth/" + url.PathEscape(name) + "/verify.json?token=" + url.QueryEscape(signed), signed
	}
	// Without a reset_url the mail shows the JWT, which this API takes.
	return c.DefaultLink(l.Action, signed, cust.ID), signed
}

// userName is the {username} of a customer's links: the username, or for
// a customer without one (registered through another API, or whose
// username another customer took before the confirmation) the uuid.
func userName(cust account.Customer) string {
	if cust.Username != "" {
		return cust.Username
	}
	return cust.UUID
}

// ---- answers ----

// okJSON is every successful answer: the status, as in the error
// document, and a message for people.
type okJSON struct {
	Status   int    `json:"status"`
	Message  string `json:"message"`
	Username string `json:"username,omitempty"`
}

// errorJSON is this dialect's one error document. error is a stable code
// for programs, message is for people; fields name the offending request
// fields; request_id equals the X-Request-Id header.
type errorJSON struct {
	Status    int                  `json:"status"`
	Error     string               `json:"error"`
	Message   string               `json:"message"`
	Fields    []account.FieldError `json:"fields,omitempty"`
	RequestID string               `json:"request_id"`
}

// statusOfCode holds this dialect's exceptions to wire.Status: a token
// refused, by the JWT check or by the service (unknown, used, expired), is
// the original API's 401 "JWT ist ungültig".
var statusOfCode = map[string]int{
	account.CodeTokenInvalid: http.StatusUnauthorized,
}

func statusFor(e *account.Error) int {
	if s, ok := statusOfCode[e.Code]; ok {
		return s
	}
	return wire.Status(e)
}

// writeError is the one place this dialect writes errors. A 5xx other
// than "busy" is logged with its cause; the client sees only a generic
// message and the request id.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	// wire.Failure logs the route pattern, never the path or query: they
	// carry addresses and tokens.
	e, status := wire.Failure(w, r, a.log, err, statusFor)
	wire.WriteJSON(w, status, errorDoc(r, e, status))
}

func errorDoc(r *http.Request, e *account.Error, status int) errorJSON {
	return errorJSON{Status: status, Error: e.Code, Message: e.Message, Fields: e.Fields, RequestID: wire.RequestID(r.Context())}
}

// NotAllowed answers a request to one of this dialect's paths with a
// method it does not take, in this dialect's error format.
func (a *API) NotAllowed(allow ...string) http.Handler {
	return a.serve(func(w http.ResponseWriter, r *http.Request) error {
		return wire.MethodNotAllowed(w, r, allow...)
	})
}

// NotFound answers a path under /api/2/auth/ that is none of this
// dialect's, in its error format.
func (a *API) NotFound() http.Handler {
	return a.serve(func(w http.ResponseWriter, r *http.Request) error { return errNotFound })
}
