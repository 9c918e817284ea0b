package account

import "time"

// MailKind names a mail and its template.
type MailKind string

const (
	MailConfirm         MailKind = "confirm"          // confirm your registration
	MailConfirmResend   MailKind = "confirm_resend"   // the confirmation again, on request
	MailRegisterAttempt MailKind = "register_attempt" // someone registered with your address; here is a reset link
	MailPasswordReset   MailKind = "password_reset"   // reset your password
	MailPasswordChanged MailKind = "password_changed" // your password was changed
	MailInvite          MailKind = "invite"           // you have been invited; activate with the link or the code
	MailEmailChange     MailKind = "email_change"     // to a new address: confirm it is yours
	MailEmailInUse      MailKind = "email_in_use"     // someone tried to move an account to your address
	MailEmailChanged    MailKind = "email_changed"    // to the old address: changed; undo with the link
	MailEmailChangedBy  MailKind = "email_changed_by" // to the old address: a back office changed it
	MailNewSignIn       MailKind = "new_sign_in"      // a login from a device and network not seen before
)

// MailKinds lists every kind; each has a template in German and English.
var MailKinds = []MailKind{MailConfirm, MailConfirmResend, MailRegisterAttempt, MailPasswordReset, MailPasswordChanged, MailInvite,
	MailEmailChange, MailEmailInUse, MailEmailChanged, MailEmailChangedBy, MailNewSignIn}

// MailStatus is where an outbox row stands.
type MailStatus string

const (
	MailUnsent MailStatus = "unsent" // waiting for the relay, or for SMTP to be configured
	MailSent   MailStatus = "sent"   // accepted by the SMTP server
	MailFailed MailStatus = "failed" // refused for good (5xx) or given up after 48 h
)

// Mail is a row of the transactional outbox. It is written in the same
// transaction as the change that causes it, so a mail exists exactly when
// its cause committed. Its content (recipient, subject, bodies with
// tokens) is sealed with a key derived from the server secret, and erased
// once the mail is sent or has failed.
type Mail struct {
	ID            int64
	TenantID      int64
	CustomerID    int64
	Kind          MailKind
	Locale        string
	MessageID     string // stays the same across retries
	Status        MailStatus
	Attempts      int
	NextAttemptAt time.Time
	LeaseOwner    string
	LeaseUntil    *time.Time
	LastError     string
	Sealed        []byte // the encrypted Envelope; nil once sent or failed
	CreatedAt     time.Time
	FinishedAt    *time.Time // when it was sent or failed
}

// Envelope is a mail as it goes over SMTP, and what the outbox keeps
// sealed until then.
type Envelope struct {
	To       string   `json:"to"`
	ToName   string   `json:"to_name,omitempty"`
	From     string   `json:"from"`
	FromName string   `json:"from_name,omitempty"`
	Subject  string   `json:"subject"`
	Text     string   `json:"text"`
	HTML     string   `json:"html"`
	Links    []string `json:"links,omitempty"` // shown by pforte mail list
}

// MailData is what a template sees.
type MailData struct {
	Kind     MailKind
	Locale   string // de or en
	Tenant   string // the tenant's slug
	Name     string // the customer's display name; may be empty
	Email    string
	Link     string // the action link; empty when no URL is configured
	Token    string // set only when Link is empty, for the customer to enter
	Code     string // the 8-digit code of an invitation
	ValidFor time.Duration
	NewEmail string // the address an account moved to, in mail to the old one
	Device   string // the device of a new sign-in, such as "Firefox on Windows"
}

// Rendered is a rendered mail.
type Rendered struct {
	Subject string
	Text    string
	HTML    string
}

// Renderer turns MailData into a mail. internal/mail implements it with
// embedded German and English templates that a tenant may override from a
// directory.
type Renderer interface {
	// Render renders d with the templates of dir (empty: the defaults),
	// falling back to the defaults for kinds dir does not override.
	Render(dir string, d MailData) (Rendered, error)
	// Check parses the templates in dir and renders each one with sample
	// data, so that a broken template is refused when it is set rather
	// than when a mail is sent.
	Check(dir string) error
}

// OutgoingMail is a claimed outbox row, opened for sending.
type OutgoingMail struct {
	Mail
	Envelope
}
