package account

import (
	"context"
	"time"
)

// Store persists pforte's data. It holds no business rules: the Service
// decides, the Store reads and writes. Implementations live in
// internal/store/sqlite and internal/store/postgres and pass the conformance
// suite in internal/store/storetest.
//
// Errors: a missing row is ErrNotFound, a unique-constraint violation is
// ErrDuplicate (both may be wrapped); anything else is a failure to log.
type Store interface {
	Tx
	// InTx runs fn in one transaction: its writes commit together or not at
	// all. Writers are serialised where the database needs it (SQLite) and
	// customer rows read inside fn are locked until commit (PostgreSQL).
	// fn may be called again if the database reports a serialisation
	// conflict, so it must not have side effects outside tx. Inside fn, use
	// only tx: on SQLite a call through the Store itself waits for the
	// write connection that tx holds. A write that fails with ErrDuplicate
	// leaves tx usable.
	InTx(ctx context.Context, fn func(tx Tx) error) error
	// InTxWithoutSync is InTx for writes that may be lost to a power cut
	// or a crash of the machine, never to a crash of pforte: it returns
	// once the commit is visible to every reader, without waiting for the
	// disk, and the database stays consistent either way. A login uses
	// it: what a power cut could take (a reservation of an attempt, a
	// session just opened) costs its customer no more than logging in
	// again.
	InTxWithoutSync(ctx context.Context, fn func(tx Tx) error) error
	// InBulkTx is InTx for one of many transactions that each write many
	// rows, such as the batches of an import, which can grow a table from
	// empty to millions of rows within minutes: a database that reuses
	// a statement's plan must plan it afresh, since a plan made for the
	// table it was may scan the table it has become for every row.
	InBulkTx(ctx context.Context, fn func(tx Tx) error) error
	// Migrate applies the embedded schema migrations that are missing.
	Migrate(ctx context.Context) error
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	Close() error
}

// CustomerFilter selects customers; a zero field selects every one.
type CustomerFilter struct {
	State        State
	PartnerRef   string
	CreatedSince time.Time // created at or after
}

// Tx is the set of reads and writes, inside a transaction or, on Store,
// each on its own.
type Tx interface {
	// ServerState returns the installation's value under key (the secret,
	// its check), storing candidate first if none exists yet; a nil
	// candidate only reads (ErrNotFound if none). Concurrent first starts
	// agree on one value.
	ServerState(ctx context.Context, key string, candidate []byte) ([]byte, error)
	// DeleteServerState removes the value under key, if any.
	DeleteServerState(ctx context.Context, key string) error

	CreateTenant(ctx context.Context, t *Tenant) error // sets ID and CreatedAt; ErrDuplicate on slug
	TenantByID(ctx context.Context, id int64) (Tenant, error)
	TenantBySlug(ctx context.Context, slug string) (Tenant, error)
	ListTenants(ctx context.Context) ([]Tenant, error)
	SetTenantSetting(ctx context.Context, tenantID int64, key, value string) error

	CreateAPIKey(ctx context.Context, k *APIKey) error // sets ID
	APIKeyByHash(ctx context.Context, hash []byte) (APIKey, error)
	ListAPIKeys(ctx context.Context, tenantID int64) ([]APIKey, error)
	RevokeAPIKey(ctx context.Context, tenantID, id int64, at time.Time) error // ErrNotFound if no live key
	TouchAPIKey(ctx context.Context, id int64, at time.Time) error

	CreateCustomer(ctx context.Context, c *Customer) error // sets ID; ErrDuplicate on email key, uuid or username
	CustomerByID(ctx context.Context, tenantID, id int64) (Customer, error)
	CustomerByUUID(ctx context.Context, tenantID int64, uuid string) (Customer, error)
	CustomerByEmailKey(ctx context.Context, tenantID int64, emailKey string) (Customer, error)
	CustomerByUsername(ctx context.Context, tenantID int64, username string) (Customer, error) // case-insensitive
	// CustomersByEmailKeys and CustomersByUUIDs return the tenant's
	// customers with these normalised emails or UUIDs, by ID; one that
	// matches nobody is left out.
	CustomersByEmailKeys(ctx context.Context, tenantID int64, emailKeys []string) ([]Customer, error)
	CustomersByUUIDs(ctx context.Context, tenantID int64, uuids []string) ([]Customer, error)
	// ListCustomers returns up to limit of the tenant's customers that f
	// selects with an ID above afterID, by ID ascending.
	ListCustomers(ctx context.Context, tenantID int64, f CustomerFilter, afterID int64, limit int) ([]Customer, error)
	UpdateCustomer(ctx context.Context, c *Customer) error // every column but ID, TenantID, CreatedAt
	// UnconfirmedBefore returns up to limit of the tenant's pending
	// customers created before before, by ID.
	UnconfirmedBefore(ctx context.Context, tenantID int64, before time.Time, limit int) ([]Customer, error)
	DeleteCustomer(ctx context.Context, tenantID, id int64) error // with its tokens and sessions

	CreateToken(ctx context.Context, t *Token) error // sets ID
	// ConsumeToken marks the token with this hash used, if it belongs to
	// tenantID, has this purpose, is unused, unexpired at now, and has had
	// fewer than maxAttempts wrong guesses. Of concurrent calls exactly one
	// gets the token; the others get ErrNotFound.
	ConsumeToken(ctx context.Context, tenantID int64, hash []byte, purpose Purpose, now time.Time, maxAttempts int) (Token, error)
	// RecordCodeFailure adds an attempt to the customer's live codes of this
	// purpose and returns the highest attempt count among them (0: no live
	// code). The service counts each guess before checking it, so that
	// concurrent guesses cannot exceed the limit.
	RecordCodeFailure(ctx context.Context, tenantID, customerID int64, purpose Purpose, now time.Time) (int, error)
	// LiveToken returns the tenant's unused token with this hash and
	// purpose that is unexpired at now, without using it; ErrNotFound if
	// there is none.
	LiveToken(ctx context.Context, tenantID int64, hash []byte, purpose Purpose, now time.Time) (Token, error)
	// LiveTokens returns the customer's unused, unexpired tokens of this
	// purpose, newest first.
	LiveTokens(ctx context.Context, tenantID, customerID int64, purpose Purpose, now time.Time) ([]Token, error)
	// DeleteTokens removes the customer's unused tokens of this purpose.
	DeleteTokens(ctx context.Context, tenantID, customerID int64, purpose Purpose) error
	// DeleteClaims removes the customer's unused tokens that carry a
	// registration claim (a payload), of any purpose.
	DeleteClaims(ctx context.Context, tenantID, customerID int64) error
	// DeleteAllTokens removes the customer's unused tokens of every purpose.
	DeleteAllTokens(ctx context.Context, tenantID, customerID int64) error

	CreateSession(ctx context.Context, s *Session) error // sets ID
	SessionByHash(ctx context.Context, hash []byte) (Session, error)
	// SessionWithCustomer returns the session with this hash and its
	// customer, in one query (one round trip): the check every
	// authenticated request makes.
	SessionWithCustomer(ctx context.Context, hash []byte) (Session, Customer, error)
	SessionByID(ctx context.Context, tenantID, id int64) (Session, error)
	// ListSessions returns the customer's sessions, ended or not, the most
	// recently used first.
	ListSessions(ctx context.Context, tenantID, customerID int64) ([]Session, error)
	TouchSession(ctx context.Context, id int64, at time.Time) error
	DeleteSession(ctx context.Context, tenantID, id int64) error
	// DeleteSessions removes every session of the customer except exceptID (0 for none).
	DeleteSessions(ctx context.Context, tenantID, customerID, exceptID int64) error

	// SeeSignInPlace records that the customer logged in from place (an
	// HMAC of device and network) at at, and reports whether the place was
	// seen before and how many other places the customer has.
	SeeSignInPlace(ctx context.Context, tenantID, customerID int64, place []byte, at time.Time) (seen bool, others int, err error)

	// PutConsentText inserts a consent text (sets ID), or replaces the
	// text of its version and language if none has been shown it yet;
	// ErrConsentShown if one has.
	PutConsentText(ctx context.Context, t *ConsentText) error
	// ListConsentTexts returns the tenant's texts, newest first.
	ListConsentTexts(ctx context.Context, tenantID int64) ([]ConsentText, error)
	// CurrentConsentText returns the newest text of the tenant's app (0:
	// the tenant's own) in lang; ErrNotFound if there is none.
	CurrentConsentText(ctx context.Context, tenantID, appID int64, lang string) (ConsentText, error)
	// ConsentTextByVersion returns one version's text; ErrNotFound.
	ConsentTextByVersion(ctx context.Context, tenantID, appID int64, version, lang string) (ConsentText, error)
	// MarkConsentShown records that a text was shown, if it was not yet.
	MarkConsentShown(ctx context.Context, id int64, at time.Time) error

	// CreateProof inserts an opt-in proof (sets ID).
	CreateProof(ctx context.Context, p *OptInProof) error
	// ConfirmProof records the confirmation of the proofs of a token.
	ConfirmProof(ctx context.Context, tenantID, tokenID int64, at time.Time, address, agent string) error
	// ConfirmProofsOfKind records the confirmation of a customer's
	// unconfirmed proofs of a kind (an invitation, taken by link or code).
	ConfirmProofsOfKind(ctx context.Context, tenantID, customerID int64, kind string, at time.Time, address, agent string) error
	// ProofMailAccepted records when the SMTP server accepted the mail
	// of an outbox row, in the proofs that name it.
	ProofMailAccepted(ctx context.Context, mailID int64, at time.Time) error
	// ProofsOf returns a customer's proofs, oldest first.
	ProofsOf(ctx context.Context, tenantID, customerID int64) ([]OptInProof, error)
	// DeleteProofs removes a customer's proofs.
	DeleteProofs(ctx context.Context, tenantID, customerID int64) error
	// DeleteUnconfirmedProofs removes the tenant's proofs requested
	// before before and never confirmed.
	DeleteUnconfirmedProofs(ctx context.Context, tenantID int64, before time.Time) error

	// CreateErasure records an erased customer whose proofs are kept;
	// proofs do not go with their customer's row.
	CreateErasure(ctx context.Context, e Erasure) error
	// ErasuresOf returns the tenant's erasures of this subject, oldest
	// first.
	ErasuresOf(ctx context.Context, tenantID int64, subject string) ([]Erasure, error)
	// ErasuresEnded returns up to limit erasures kept until now or
	// before, of any tenant.
	ErasuresEnded(ctx context.Context, now time.Time, limit int) ([]Erasure, error)
	// DeleteErasure removes an erasure record; ErrNotFound if none.
	DeleteErasure(ctx context.Context, tenantID, customerID int64) error

	CreateWebhook(ctx context.Context, e *WebhookEndpoint) error // sets ID
	WebhookByID(ctx context.Context, id int64) (WebhookEndpoint, error)
	ListWebhooks(ctx context.Context, tenantID int64) ([]WebhookEndpoint, error) // by ID
	// UpdateWebhook writes every column but ID, TenantID, Secret and
	// CreatedAt.
	UpdateWebhook(ctx context.Context, e *WebhookEndpoint) error
	DeleteWebhook(ctx context.Context, tenantID, id int64) error   // with its deliveries
	EnqueueDelivery(ctx context.Context, d *WebhookDelivery) error // sets ID
	// ClaimDeliveries leases up to limit pending deliveries that are due
	// and not leased, lowest ID first, adding an attempt: only the
	// earliest pending delivery of each endpoint and customer, so that
	// a customer's events reach an endpoint in order. Concurrent claims,
	// on any replica, never get the same delivery.
	ClaimDeliveries(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]WebhookDelivery, error)
	// FinishDelivery marks a pending delivery delivered or failed, erases
	// its payload and clears its lease; ErrNotFound if it is not pending.
	FinishDelivery(ctx context.Context, id int64, status DeliveryStatus, at time.Time, responseStatus int, lastError string) error
	// RescheduleDelivery returns a delivery owner holds to the queue, due
	// at next; ErrNotFound if it is not pending or owner holds no lease.
	RescheduleDelivery(ctx context.Context, id int64, owner string, next time.Time, responseStatus int, lastError string) error
	// FailPendingDeliveries fails every pending delivery of an endpoint.
	FailPendingDeliveries(ctx context.Context, endpointID int64, at time.Time, reason string) error
	// ListDeliveries returns an endpoint's newest deliveries first.
	ListDeliveries(ctx context.Context, endpointID int64, limit int) ([]WebhookDelivery, error)
	// PurgeDeliveries deletes deliveries finished before before.
	PurgeDeliveries(ctx context.Context, before time.Time) error

	// NextAuditSeq takes the tenant's audit chain head, locked until the
	// transaction ends, and returns the next event's seq and the hash of
	// the event before it (empty before the first). Call it in InTx.
	NextAuditSeq(ctx context.Context, tenantID int64) (seq int64, prev []byte, err error)
	// AppendAudit inserts e and makes its hash the tenant's head.
	AppendAudit(ctx context.Context, e *AuditEvent) error
	// ListAudit returns the tenant's events that q selects, by seq.
	ListAudit(ctx context.Context, q AuditQuery) ([]AuditEvent, error)
	// AuditCut returns where pruning cut the tenant's chain: the last
	// pruned event's seq and hash (0 and empty if none was).
	AuditCut(ctx context.Context, tenantID int64) (seq int64, hash []byte, err error)
	// PruneAudit deletes the tenant's events before before and records
	// the cut. Call it in InTx.
	PruneAudit(ctx context.Context, tenantID int64, before time.Time) error
	// EraseAudit clears the body (customer, address, detail) of a
	// customer's events and marks them erased.
	EraseAudit(ctx context.Context, tenantID, customerID int64) error

	// LoginFailures returns the consecutive failed logins for an email key,
	// known or not, so that throttling cannot reveal which accounts exist.
	LoginFailures(ctx context.Context, tenantID int64, emailKey string) (LoginFailures, error) // zero value if none
	// ReserveLoginAttempt counts an attempt about to be checked, in one
	// statement, and returns the record with it (Pending includes it).
	// Reservations made before staleBefore are dropped first: their
	// checker died. Of concurrent calls each sees its own increment.
	ReserveLoginAttempt(ctx context.Context, tenantID int64, emailKey string, at, staleBefore time.Time) (LoginFailures, error)
	// EndLoginAttempt takes back a reservation (never below zero) and,
	// with failedAt, counts a failure at that time.
	EndLoginAttempt(ctx context.Context, tenantID int64, emailKey string, failedAt *time.Time) error
	ClearLoginFailures(ctx context.Context, tenantID int64, emailKey string) error

	// EnqueueMail adds a row to the outbox (sets ID).
	EnqueueMail(ctx context.Context, m *Mail) error
	// ClaimMail leases up to limit unsent mails that are due (NextAttemptAt
	// <= now) and not leased by anyone (LeaseUntil null or before now),
	// oldest first: it sets LeaseOwner and LeaseUntil, adds one to
	// Attempts, and returns them. Concurrent claimers never get the same
	// mail (PostgreSQL: FOR UPDATE SKIP LOCKED).
	ClaimMail(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]Mail, error)
	// MarkMailSent records delivery of an unsent mail, erases Sealed and
	// clears the lease, whoever holds it: the first report of success wins.
	MarkMailSent(ctx context.Context, id int64, at time.Time) error
	// RescheduleMail returns a mail leased by owner to the queue, due at
	// next, with the error of the failed attempt. ErrNotFound if owner no
	// longer holds it or it is no longer unsent.
	RescheduleMail(ctx context.Context, id int64, owner string, next time.Time, lastError string) error
	// FailMail marks an unsent mail failed for good and erases Sealed.
	FailMail(ctx context.Context, id int64, at time.Time, lastError string) error
	// CancelMail fails every unsent mail of a customer, with reason, and
	// erases its sealed content, whoever holds a lease on it.
	CancelMail(ctx context.Context, tenantID, customerID int64, at time.Time, reason string) error
	// MailByID returns one outbox row; ErrNotFound if there is none.
	MailByID(ctx context.Context, id int64) (Mail, error)
	// ListMail returns the newest mails of a tenant (0: of every tenant).
	ListMail(ctx context.Context, tenantID int64, limit int) ([]Mail, error)
	// MailOf returns a customer's outbox rows, newest first.
	MailOf(ctx context.Context, tenantID, customerID int64) ([]Mail, error)
	// CountMail counts a customer's mails of these kinds created at or
	// after since, whatever their status.
	CountMail(ctx context.Context, tenantID, customerID int64, kinds []MailKind, since time.Time) (int, error)

	CreateApp(ctx context.Context, a *Application) error // sets ID; ErrDuplicate on (tenant, name)
	AppByName(ctx context.Context, tenantID int64, name string) (Application, error)
	ListApps(ctx context.Context, tenantID int64) ([]Application, error) // by name
	UpdateApp(ctx context.Context, a *Application) error                 // by tenant and ID; ErrNotFound, ErrDuplicate
	DeleteApp(ctx context.Context, tenantID, id int64) error             // ErrNotFound
	AppByClientID(ctx context.Context, clientID string) (Application, error)

	// OpenID Connect. An authorization is approved once, gets a code once,
	// and its code is redeemed once: each of these writes affects the row
	// only from the state before, and ErrNotFound says it did not.
	CreateAuthorization(ctx context.Context, a *Authorization) error
	AuthorizationByID(ctx context.Context, id string) (Authorization, error)
	// ApproveAuthorization sets who logged in, and the hash of the secret
	// the callback must bring, if the authorization is unapproved and
	// unexpired at now.
	ApproveAuthorization(ctx context.Context, id string, customerID, sessionID int64, authTime time.Time, callbackHash []byte, now time.Time) error
	// SetAuthorizationCode keeps a code's hash, if the authorization is
	// approved and has no code yet.
	SetAuthorizationCode(ctx context.Context, id string, codeHash []byte, expiresAt time.Time) error
	// RedeemAuthorizationCode marks the authorization with this code
	// redeemed, if it is not yet and the code is unexpired at now. Of
	// concurrent calls exactly one gets it.
	RedeemAuthorizationCode(ctx context.Context, codeHash []byte, now time.Time) (Authorization, error)
	// AuthorizationByCode finds an authorization by its code, in any state.
	AuthorizationByCode(ctx context.Context, codeHash []byte) (Authorization, error)
	// CreateGrant adds a grant; it ends with its session (and so with a
	// logout, a password reset or the customer's disabling).
	CreateGrant(ctx context.Context, g *Grant) error
	GrantByID(ctx context.Context, tenantID int64, id string) (Grant, error)
	DeleteGrant(ctx context.Context, tenantID int64, id string) error // with its refresh tokens; ErrNotFound
	CreateRefreshToken(ctx context.Context, t *RefreshToken) error
	RefreshTokenByHash(ctx context.Context, hash []byte) (RefreshToken, error)
	// UseRefreshToken marks a refresh token used, if it is unused and
	// unexpired at now. Of concurrent calls exactly one succeeds.
	UseRefreshToken(ctx context.Context, hash []byte, now time.Time) error
	CreateSigningKey(ctx context.Context, k *StoredSigningKey) error
	ListSigningKeys(ctx context.Context, tenantID int64) ([]StoredSigningKey, error) // newest first
	// RetireSigningKeys sets RetiredAt on the tenant's unretired keys but exceptID.
	RetireSigningKeys(ctx context.Context, tenantID int64, exceptID string, at time.Time) error
	// PurgeSigningKeys deletes the keys retired before retiredBefore.
	PurgeSigningKeys(ctx context.Context, retiredBefore time.Time) error

	// PurgeMail deletes sent and failed outbox rows that finished before
	// finishedBefore; unsent mail stays.
	PurgeMail(ctx context.Context, finishedBefore time.Time) error

	// Purge deletes tokens, sessions, OpenID Connect authorizations and
	// refresh tokens that expired before expiredBefore, and login failure
	// records last touched before failuresBefore.
	Purge(ctx context.Context, expiredBefore, failuresBefore time.Time) error
}

// LoginFailures counts consecutive failed logins for one email key, and
// the attempts being checked now.
type LoginFailures struct {
	Count   int       // failures
	Last    time.Time // of the last failure
	Pending int       // attempts reserved and not yet checked
}
