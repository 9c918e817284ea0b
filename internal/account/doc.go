// Package account is pforte's domain: customers, tenants and their
// applications and keys, and every flow a customer or a back office goes
// through (registration with double opt-in, login and sessions, password
// recovery, invitations, administration), with the mail those flows send.
// It knows nothing of HTTP or SQL.
//
// Service holds one component per concern, each a small type in a file
// of its own:
//
//	Registrations  register.go     sign-up, confirmation, resends
//	Invitations    invitations.go  activation of customers a back office created
//	Sessions       sessions.go     login, session tokens, logout, password change
//	Recovery       recovery.go     forgotten passwords, by link or code
//	Customers      customers.go    back-office administration of customers
//	Tenants        tenants.go      tenants, their settings and host names
//	APIKeys        apikeys.go      the keys sites and back offices call with
//	Apps           apps.go         a tenant's websites and their link URLs
//	Outbox         outbox.go       what the mail relay needs of the outbox
//	Keyring        keyring.go      every key derived from the server secret
//
// The flows share helpers that are types of their own: tokens (one-time
// tokens and codes), credentials (setting a password and proving a
// mailbox), loginGuard (the per-address login throttle) and mailer
// (rendering mail into the outbox inside a flow's transaction).
//
// API packages resolve a Caller (tenant, key kind, application) and set
// the Policy they declare once; stores implement Store and pass the
// conformance suite in internal/store/storetest. Errors are *Error values
// with a Kind and a Code from errors.go.
package account
