package wire

import (
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"

	"pforte/internal/account"
)

// statuses is the one table from error kinds to HTTP statuses that every
// API shares. A dialect whose vendor answers some errors differently
// passes its own function to Failure, which falls back on Status.
var statuses = map[account.Kind]int{
	account.KindInvalid:      http.StatusBadRequest,
	account.KindConflict:     http.StatusConflict,
	account.KindNotFound:     http.StatusNotFound,
	account.KindUnauthorized: http.StatusUnauthorized,
	account.KindForbidden:    http.StatusForbidden,
	account.KindRateLimited:  http.StatusTooManyRequests,
	account.KindUnavailable:  http.StatusServiceUnavailable,
	account.KindTooLarge:     http.StatusRequestEntityTooLarge,
	account.KindUnsupported:  http.StatusUnsupportedMediaType,
	account.KindMethod:       http.StatusMethodNotAllowed,
	account.KindInternal:     http.StatusInternalServerError,
}

// Status is the HTTP status of an error's kind; unknown kinds are 500.
func Status(e *account.Error) int {
	if s, ok := statuses[e.Kind]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Failure prepares an error for an API's error writer, which then writes
// it in its own format. It returns the error that is safe to show and its
// status: a 5xx other than "busy" is logged with its cause under the
// request id, and the caller sees only a generic internal error. It sets
// Retry-After when the error asks for one.
func Failure(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error, status func(*account.Error) int) (*account.Error, int) {
	e := account.AsError(err)
	code := status(e)
	if code >= 500 && e.Kind != account.KindUnavailable {
		log.ErrorContext(r.Context(), "request failed", "route", r.Pattern, "err", err)
		e, code = account.Internal(nil), http.StatusInternalServerError
	}
	if code == http.StatusUnauthorized {
		if c := challenge(r, e); c != "" {
			w.Header().Set("WWW-Authenticate", c)
		}
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds()))))
	}
	return e, code
}

// challenge is the WWW-Authenticate header of a 401 (RFC 9110 wants one
// on every 401): Bearer (RFC 6750) when the session token failed, with
// error="invalid_token" when one was sent, and for a wrong password sent
// with a session token; else one for the X-API-KEY header. A token that is
// no HTTP credential (api2auth's JWT in the body) fits no scheme: none.
func challenge(r *http.Request, e *account.Error) string {
	const bearer, apiKey = `Bearer realm="pforte"`, `ApiKey realm="pforte", header="X-API-KEY"`
	switch e.Code {
	case account.CodeSessionInvalid, account.CodeGrantInvalid:
		if BearerToken(r) == "" {
			return bearer
		}
		return bearer + `, error="invalid_token"`
	case account.CodeInvalidCredentials:
		if BearerToken(r) != "" {
			return bearer
		}
		return apiKey
	case account.CodeTokenInvalid:
		return ""
	}
	return apiKey
}

// Handle adapts a handler that may fail to http.Handler. Every answer may
// carry a token or personal data, so none may be cached; an error goes to
// the API's own writer.
func Handle(fn func(http.ResponseWriter, *http.Request) error, writeErr func(http.ResponseWriter, *http.Request, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if err := fn(w, r); err != nil {
			writeErr(w, r, err)
		}
	})
}

// MethodNotAllowed sets Allow to the methods a path takes and returns the
// error an API's writer then writes as its 405.
func MethodNotAllowed(w http.ResponseWriter, r *http.Request, allow ...string) error {
	w.Header().Set("Allow", strings.Join(allow, ", "))
	return account.Errorf(account.KindMethod, account.CodeMethodNotAllowed, "method %s is not allowed here", r.Method)
}
