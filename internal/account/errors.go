package account

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies an error. wire.Status maps kinds to HTTP statuses in one
// table; an API whose vendor answers some errors otherwise maps those in
// its one error writer.
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
	return &Error{Kind: KindInternal, Code: CodeInternal, Message: "internal error", Cause: cause}
}

// Invalid builds a validation error from field errors.
func Invalid(fields ...FieldError) *Error {
	msg := "the request is invalid"
	if len(fields) == 1 {
		msg = fields[0].Field + ": " + fields[0].Message
	}
	return &Error{Kind: KindInvalid, Code: CodeValidationFailed, Message: msg, Fields: fields}
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

// Codes of the errors pforte answers with, each defined once. API
// packages match errors by these names and map them to their own formats.
const (
	// Requests.
	CodeValidationFailed     = "validation_failed"
	CodeMalformedJSON        = "malformed_json"
	CodeInvalidUTF8          = "invalid_utf8"
	CodeUnreadableBody       = "unreadable_body"
	CodeBodyTooLarge         = "body_too_large"
	CodeUnsupportedMediaType = "unsupported_media_type"
	CodeUnsupportedCharset   = "unsupported_charset"
	CodeMethodNotAllowed     = "method_not_allowed"
	CodeNoSuchEndpoint       = "no_such_endpoint"
	CodeTooManyRequests      = "too_many_requests"
	CodeBusy                 = "busy"
	CodeInternal             = "internal"

	// Stores.
	CodeNotFound  = "not_found"
	CodeDuplicate = "duplicate"

	// Credentials and keys.
	CodeAPIKeyInvalid      = "api_key_invalid"
	CodeAPIKeyNotFound     = "api_key_not_found"
	CodeSecretKeyRequired  = "secret_key_required"
	CodeInvalidCredentials = "invalid_credentials"
	CodeTooManyAttempts    = "too_many_attempts"
	CodeSessionInvalid     = "session_invalid"
	CodeSessionNotFound    = "session_not_found"
	CodeTokenInvalid       = "token_invalid"
	CodeTokensNotReturned  = "tokens_not_returned"
	CodeWrongUser          = "wrong_user"

	// Customers and their states.
	CodeEmailTaken           = "email_taken"
	CodeEmailUnknown         = "email_unknown"
	CodeUUIDTaken            = "uuid_taken"
	CodeUsernameTaken        = "username_taken"
	CodeCustomerNotFound     = "customer_not_found"
	CodeTemplateUserNotFound = "template_user_not_found"
	CodeEmailNotConfirmed    = "email_not_confirmed"
	CodeAlreadyConfirmed     = "already_confirmed"
	CodeAccountDisabled      = "account_disabled"
	CodeAccountOffline       = "account_offline"
	CodePasswordRequired     = "password_required"
	CodeNotResettable        = "not_resettable"
	CodeInvalidTransition    = "invalid_transition"
	CodeTooManyRegistrations = "too_many_registrations"

	// Tenants and applications.
	CodeTenantNotFound     = "tenant_not_found"
	CodeTenantExists       = "tenant_exists"
	CodeTenantHasCustomers = "tenant_has_customers"
	CodeHostTaken          = "host_taken"
	CodeUnknownHost        = "unknown_host"
	CodeUnknownSetting     = "unknown_setting"
	CodeInvalidSetting     = "invalid_setting"
	CodeNoRenderer         = "no_renderer"
	CodeAppNotFound        = "app_not_found"
	CodeAppExists          = "app_exists"
	CodeClientNotFound     = "client_not_found"
	CodeNoSecretYet        = "no_secret_yet"
	CodeAuthorizationGone  = "authorization_gone"
	CodeGrantInvalid       = "grant_invalid"
	CodeConsentShown       = "consent_shown"
	CodeWebhookNotFound    = "webhook_not_found"
)

// Codes of FieldError: what is wrong with one field.
const (
	FieldRequired    = "required"
	FieldInvalid     = "invalid"
	FieldTooLong     = "too_long"
	FieldMismatch    = "mismatch"
	FieldNotAllowed  = "not_allowed"
	FieldEqualsEmail = "equals_email"
	FieldUnknown     = "unknown_field"
	FieldDuplicate   = "duplicate_field"
	FieldWrongType   = "wrong_type"
)

// Sentinel errors that stores return. The service turns them into
// caller-facing errors with a precise code.
var (
	// ErrNotFound: no row matched.
	ErrNotFound = &Error{Kind: KindNotFound, Code: CodeNotFound, Message: "not found"}
	// ErrDuplicate: a unique constraint refused the write.
	ErrDuplicate = &Error{Kind: KindConflict, Code: CodeDuplicate, Message: "already exists"}
)

// Caller-facing errors that API packages recognise.
var (
	ErrTokenInvalid       = &Error{Kind: KindInvalid, Code: CodeTokenInvalid, Message: "the token is invalid, expired or already used"}
	ErrCustomerNotFound   = &Error{Kind: KindNotFound, Code: CodeCustomerNotFound, Message: "no such customer"}
	ErrAlreadyConfirmed   = &Error{Kind: KindConflict, Code: CodeAlreadyConfirmed, Message: "the email address is already confirmed"}
	ErrSecretKeyRequired  = &Error{Kind: KindForbidden, Code: CodeSecretKeyRequired, Message: "this call needs a secret API key"}
	ErrTemplateNotFound   = &Error{Kind: KindInvalid, Code: CodeTemplateUserNotFound, Message: "the template user does not exist"}
	ErrEmailTaken         = &Error{Kind: KindConflict, Code: CodeEmailTaken, Message: "an account with this email address already exists"}
	ErrWrongUser          = &Error{Kind: KindForbidden, Code: CodeWrongUser, Message: "the session belongs to another customer"}
	ErrInvalidCredentials = &Error{Kind: KindUnauthorized, Code: CodeInvalidCredentials, Message: "email or password is wrong"}
	ErrSessionNotFound    = &Error{Kind: KindNotFound, Code: CodeSessionNotFound, Message: "the customer has no such session"}
)

// Caller-facing errors used by more than one flow.
var (
	errSessionInvalid    = &Error{Kind: KindUnauthorized, Code: CodeSessionInvalid, Message: "the session is invalid or has expired"}
	errEmailNotConfirmed = &Error{Kind: KindForbidden, Code: CodeEmailNotConfirmed, Message: "the email address is not confirmed yet"}
	errAccountDisabled   = &Error{Kind: KindForbidden, Code: CodeAccountDisabled, Message: "the account is disabled"}
	errAccountOffline    = &Error{Kind: KindForbidden, Code: CodeAccountOffline, Message: "the account has no online access"}
	errTenantNotFound    = &Error{Kind: KindNotFound, Code: CodeTenantNotFound, Message: "no such tenant"}
)
