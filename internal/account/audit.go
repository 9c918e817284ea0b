package account

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// The audit log keeps security events per tenant in a chain: each
// event's hash is a SHA-256 over the previous event's hash, its header
// and the hash of its body. Changing, removing or inserting an event
// breaks the chain at that point. Someone who can write the database
// could compute a whole new chain, so an operator keeps the head hash
// that `pforte audit verify` prints somewhere else, and later checks it
// with --anchor. The hash is not keyed with the server secret: commands
// run before the first server start know no lasting secret. An event's
// body (customer, client address, detail) is hashed apart, so that
// erasing a customer clears it and the chain still verifies. Events
// never hold a password, token, code, key or email address.

// AuditType names an event.
type AuditType string

const (
	AuditConfirmed       AuditType = "registration_confirmed" // a registration's link used: the account is active
	AuditLogin           AuditType = "login"                  // a login, and its outcome
	AuditLoginLocked     AuditType = "login_locked"           // a failure that locked the address
	AuditLogout          AuditType = "logout"                 // a session ended by its own token
	AuditSessionsEnded   AuditType = "sessions_ended"         // sessions ended by the customer or a back office
	AuditPasswordChanged AuditType = "password_changed"       // by the customer, a reset, an invitation or a back office
	AuditEmailChanged    AuditType = "email_changed"          // confirmed, undone, or set by a back office
	AuditCustomerUpdated AuditType = "customer_updated"       // a back office's change of profile or state
	AuditCustomerDeleted AuditType = "customer_deleted"       // by a back office or the customer
	AuditAPIKeyCreated   AuditType = "api_key_created"
	AuditAPIKeyRevoked   AuditType = "api_key_revoked"
	AuditSettingChanged  AuditType = "setting_changed"
)

// Outcomes of events.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
)

// Actors of events besides customers ("customer") and API keys
// ("api_key:ID").
const (
	ActorCLI    = "cli"
	ActorSystem = "system"
)

// AuditEvent is one entry of a tenant's audit log.
type AuditEvent struct {
	TenantID      int64
	Seq           int64 // its place in the tenant's chain, from 1
	At            time.Time
	Type          AuditType
	Actor         string
	Outcome       string
	CustomerID    int64             // 0: none
	ClientAddress string            // as the tenant's session.client_address keeps addresses
	Detail        map[string]string // never a secret
	Erased        bool              // the body was cleared with its customer
	BodyHash      []byte
	PrevHash      []byte
	Hash          []byte
}

// AuditQuery selects a tenant's events, by seq.
type AuditQuery struct {
	TenantID   int64
	CustomerID int64     // 0: any
	Type       AuditType // "": any
	Since      time.Time // zero: from the first
	AfterSeq   int64     // the page after this seq
	Limit      int
}

// Audit records and reads the audit log.
type Audit struct{ *core }

// auditBody is the part of an event that goes with its customer.
type auditBody struct {
	CustomerID    int64             `json:"customer_id"`
	ClientAddress string            `json:"client_address"`
	Detail        map[string]string `json:"detail"`
}

func (e AuditEvent) bodyHash() []byte {
	b, _ := json.Marshal(auditBody{e.CustomerID, e.ClientAddress, e.Detail}) // maps marshal sorted: canonical
	h := sha256.Sum256(b)
	return h[:]
}

// chainHash is the event's link: a SHA-256 over the previous hash, its
// header and its body's hash.
func chainHash(e AuditEvent) []byte {
	m := sha256.New()
	m.Write(e.PrevHash)
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(e.Seq))
	m.Write(n[:])
	binary.BigEndian.PutUint64(n[:], uint64(e.At.UnixMicro()))
	m.Write(n[:])
	for _, s := range []string{string(e.Type), e.Actor, e.Outcome} {
		m.Write([]byte(s))
		m.Write([]byte{0})
	}
	m.Write(e.BodyHash)
	return m.Sum(nil)
}

// actorOf names who acts for a caller: the command line, its API key,
// else the customer.
func actorOf(c Caller) string {
	if c.CommandLine {
		return ActorCLI
	}
	if c.KeyID != 0 {
		return "api_key:" + strconv.FormatInt(c.KeyID, 10)
	}
	return "customer"
}

// record appends e to its tenant's chain in tx, at the service's time,
// with the request's client address as the tenant keeps addresses, and
// emits the webhook events it stands for.
func (s *Audit) record(ctx context.Context, tx Tx, t Tenant, e AuditEvent) error {
	e.TenantID, e.At = t.ID, s.now()
	if e.Outcome == "" {
		e.Outcome = OutcomeSuccess
	}
	if e.ClientAddress == "" {
		e.ClientAddress = clientAddress(ctx, t)
	}
	// The webhooks first: from NextAuditSeq to the commit the tenant's
	// chain head is locked, and every audited write of the tenant waits.
	if err := s.webhooks.fromAudit(ctx, tx, t, e); err != nil {
		return err
	}
	seq, prev, err := tx.NextAuditSeq(ctx, t.ID)
	if err != nil {
		return err
	}
	e.Seq, e.PrevHash, e.BodyHash = seq, prev, e.bodyHash()
	e.Hash = chainHash(e)
	return tx.AppendAudit(ctx, &e)
}

// recordAlone records e in a transaction of its own, for a step that
// writes nothing else; a failure is logged, not returned: the step
// happened.
func (s *Audit) recordAlone(ctx context.Context, tenantID int64, e AuditEvent) {
	if err := s.inTx(ctx, func(tx Tx) error { return s.recordFor(ctx, tx, tenantID, e) }); err != nil {
		s.log.ErrorContext(ctx, "writing an audit event failed", "tenant_id", tenantID, "type", e.Type, "err", err)
	}
}

// recordFor is record for a tenant known by id.
func (s *Audit) recordFor(ctx context.Context, tx Tx, tenantID int64, e AuditEvent) error {
	t, err := s.tenants.byID(ctx, tenantID)
	if err != nil {
		return err
	}
	return s.record(ctx, tx, t, e)
}

// List returns a page of the tenant's events (secret key only).
func (s *Audit) List(ctx context.Context, c Caller, q AuditQuery) ([]AuditEvent, error) {
	if err := c.requireSecret(); err != nil {
		return nil, err
	}
	return s.list(ctx, c.Tenant.ID, q)
}

// ListBySlug is List for the command line.
func (s *Audit) ListBySlug(ctx context.Context, slug string, q AuditQuery) ([]AuditEvent, error) {
	t, err := s.tenants.BySlug(ctx, slug)
	if err != nil {
		return nil, err
	}
	return s.list(ctx, t.ID, q)
}

func (s *Audit) list(ctx context.Context, tenantID int64, q AuditQuery) ([]AuditEvent, error) {
	q.TenantID = tenantID
	if q.Limit <= 0 || q.Limit > 1000 {
		q.Limit = 100
	}
	events, err := s.store.ListAudit(ctx, q)
	if err != nil {
		return nil, Internal(err)
	}
	return events, nil
}

// AuditReport is what Verify found: how many events it checked, and the
// first broken link, if any.
type AuditReport struct {
	Checked  int
	CutSeq   int64 // events up to here were pruned by retention
	HeadSeq  int64
	HeadHash []byte
	BrokenAt int64 // 0: the chain holds
	Reason   string
}

// Verify checks a tenant's chain from where pruning cut it to its head.
func (s *Audit) Verify(ctx context.Context, slug string) (AuditReport, error) {
	t, err := s.tenants.BySlug(ctx, slug)
	if err != nil {
		return AuditReport{}, err
	}
	cutSeq, prev, err := s.store.AuditCut(ctx, t.ID)
	if err != nil {
		return AuditReport{}, Internal(err)
	}
	r := AuditReport{CutSeq: cutSeq, HeadSeq: cutSeq}
	want := cutSeq + 1
	for {
		page, err := s.store.ListAudit(ctx, AuditQuery{TenantID: t.ID, AfterSeq: want - 1, Limit: 1000})
		if err != nil {
			return AuditReport{}, Internal(err)
		}
		for _, e := range page {
			if reason := s.checkLink(e, want, prev); reason != "" {
				r.BrokenAt, r.Reason = want, reason
				return r, nil
			}
			r.Checked++
			r.HeadSeq, r.HeadHash, prev, want = e.Seq, e.Hash, e.Hash, e.Seq+1
		}
		if len(page) < 1000 {
			return r, nil
		}
	}
}

// HashAt is the hash of the tenant's event seq, for checking a head hash
// kept elsewhere; the cut's, if pruning cut the chain there.
// ErrNotFound if the event is gone or never was.
func (s *Audit) HashAt(ctx context.Context, slug string, seq int64) ([]byte, error) {
	t, err := s.tenants.BySlug(ctx, slug)
	if err != nil {
		return nil, err
	}
	cutSeq, cutHash, err := s.store.AuditCut(ctx, t.ID)
	if err != nil {
		return nil, Internal(err)
	}
	if seq == cutSeq && seq > 0 {
		return cutHash, nil
	}
	page, err := s.store.ListAudit(ctx, AuditQuery{TenantID: t.ID, AfterSeq: seq - 1, Limit: 1})
	if err != nil {
		return nil, Internal(err)
	}
	if len(page) == 0 || page[0].Seq != seq {
		return nil, ErrNotFound
	}
	return page[0].Hash, nil
}

// checkLink says what is wrong with e as the link seq after prev, or "".
func (s *Audit) checkLink(e AuditEvent, seq int64, prev []byte) string {
	switch {
	case e.Seq != seq:
		return fmt.Sprintf("event %d is missing", seq)
	case !hmac.Equal(e.PrevHash, prev):
		return "it does not follow the event before it"
	case !e.Erased && !hmac.Equal(e.BodyHash, e.bodyHash()):
		return "its customer, address or detail was changed"
	case !hmac.Equal(e.Hash, chainHash(e)):
		return "its time, type, actor or outcome was changed"
	}
	return ""
}

// ErrAuditBroken is what a command reports for a broken chain.
var ErrAuditBroken = errors.New("the audit chain is broken")

// prune deletes each tenant's events older than its audit_retention,
// keeping the chain verifiable from the cut.
func (s *Audit) prune(ctx context.Context) error {
	tenants, err := s.store.ListTenants(ctx)
	if err != nil {
		return err
	}
	now := s.now()
	for _, t := range tenants {
		keep := t.duration("audit_retention")
		if keep <= 0 {
			continue
		}
		err := s.store.InTx(ctx, func(tx Tx) error { return tx.PruneAudit(ctx, t.ID, now.Add(-keep)) })
		if err != nil {
			return err
		}
	}
	return nil
}
