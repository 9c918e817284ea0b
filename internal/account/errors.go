package account

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies an error. Each API dialect maps kinds to its own status
// codes in one place; the native API uses HTTPStatus.
type Kind string

const (
	KindInvalid      Kind = "invalid"      // the request is malformed or fails validation
	KindConflict     Kind = "conflict"     // the request clashes with existing data
	KindNotFound     Kind = "not_found"    // the named resource does not exist (for this tenant)
	KindUnauthorized Kind = "unauthorized" // missing or wrong credentials
	KindForbidden    Kind = "forbidden"    // credentials are right but the action is not allowed
	KindRateLimited  Kind = "rate_limited" // too many attempts; see Error.RetryAfter
	KindUnavailable  Kind = "unavailable"  // temporarily overloaded; see Error.RetryAfter
	KindTooLarge     Kind = "too_large"    // the request body exceeds its limit
	KindUnsupported  Kind = "unsupported"  // wrong content type
	KindMethod       Kind = "method"       // the resource exists but not with this method
	KindInternal     Kind = "internal"     // a bug or an infrastructure failure
)

// Error is the one error type of pforte. Message is safe to show to the
// caller; Cause is for the log only and never leaves the process.
type Error struct {
	Kind       Kind
	Code       string // stable, machine-readable, e.g. "email_taken"
	Message    string
	Fields     []FieldError
	RetryAfter time.Duration
	Cause      error
}

// FieldError describes one invalid field of a request.
type FieldError struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Cause)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Cause }

// Errorf builds an Error of the given kind and code.
func Errorf(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Internal wraps an unexpected failure. The caller sees a generic message.
func Internal(cause error) *Error {
	return &Error{Kind: KindInternal, Code: "internal", Message: "internal error", Cause: cause}
}

// Invalid builds a validation error from field errors.
func Invalid(fields ...FieldError) *Error {
	msg := "the request is invalid"
	if len(fields) == 1 {
		msg = fields[0].Field + ": " + fields[0].Message
	}
	return &Error{Kind: KindInvalid, Code: "validation_failed", Message: msg, Fields: fields}
}

// AsError returns err as an *Error. Errors of other types become internal.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Internal(err)
}

// IsKind reports whether err is an *Error of kind k.
func IsKind(err error, k Kind) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == k
}

// Sentinel errors that stores return. The service turns them into
// caller-facing errors with a precise code.
var (
	// ErrNotFound: no row matched.
	ErrNotFound = &Error{Kind: KindNotFound, Code: "not_found", Message: "not found"}
	// ErrDuplicate: a unique constraint refused the write.
	ErrDuplicate = &Error{Kind: KindConflict, Code: "duplicate", Message: "already exists"}
)

// Caller-facing errors used by more than one flow.
var (
	errInvalidCredentials = &Error{Kind: KindUnauthorized, Code: "invalid_credentials", Message: "email or password is wrong"}
	errTokenInvalid       = &Error{Kind: KindInvalid, Code: "token_invalid", Message: "the token is invalid, expired or already used"}
	errSessionInvalid     = &Error{Kind: KindUnauthorized, Code: "session_invalid", Message: "the session is invalid or has expired"}
	errEmailNotConfirmed  = &Error{Kind: KindForbidden, Code: "email_not_confirmed", Message: "the email address is not confirmed yet"}
	errAccountDisabled    = &Error{Kind: KindForbidden, Code: "account_disabled", Message: "the account is disabled"}
	errAccountOffline     = &Error{Kind: KindForbidden, Code: "account_offline", Message: "the account has no online access"}
	errEmailTaken         = &Error{Kind: KindConflict, Code: "email_taken", Message: "an account with this email address already exists"}
	errCustomerNotFound   = &Error{Kind: KindNotFound, Code: "customer_not_found", Message: "no such customer"}
	errTenantNotFound     = &Error{Kind: KindNotFound, Code: "tenant_not_found", Message: "no such tenant"}
)
