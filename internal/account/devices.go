package account

import (
	"context"
	"errors"
	"strconv"
)

// Devices lists where a customer is logged in and ends sessions: the
// customer's own (by session token) and, for the back office (secret
// key), any customer's.
type Devices struct{ *core }

// Mine returns the live sessions of the token's customer, the most
// recently used first, and the token's own session among them.
func (s *Devices) Mine(ctx context.Context, tenantID int64, token string) (current Session, all []Session, err error) {
	cust, current, err := s.sessions.Lookup(ctx, tenantID, token)
	if err != nil {
		return Session{}, nil, err
	}
	all, err = s.live(ctx, cust)
	return current, all, err
}

// EndMine ends one session of the token's customer, the token's own
// included; another customer's or an ended one is ErrSessionNotFound.
func (s *Devices) EndMine(ctx context.Context, tenantID int64, token string, id int64) error {
	cust, _, err := s.sessions.Lookup(ctx, tenantID, token)
	if err != nil {
		return err
	}
	return s.end(ctx, cust, id, "customer")
}

// EndOthers ends every session of the token's customer but the token's.
func (s *Devices) EndOthers(ctx context.Context, tenantID int64, token string) error {
	cust, current, err := s.sessions.Lookup(ctx, tenantID, token)
	if err != nil {
		return err
	}
	if err := s.store.DeleteSessions(ctx, cust.TenantID, cust.ID, current.ID); err != nil {
		return Internal(err)
	}
	s.audit.recordAlone(ctx, cust.TenantID, AuditEvent{Type: AuditSessionsEnded, Actor: "customer", CustomerID: cust.ID,
		Detail: map[string]string{"which": "all others"}})
	s.log.InfoContext(ctx, "other sessions ended", "tenant_id", cust.TenantID, "customer_id", cust.ID)
	return nil
}

// Of returns a customer's live sessions (secret key only).
func (s *Devices) Of(ctx context.Context, c Caller, ref string) ([]Session, error) {
	cust, err := s.customers.Get(ctx, c, ref)
	if err != nil {
		return nil, err
	}
	return s.live(ctx, cust)
}

// End ends one session of a customer (secret key only).
func (s *Devices) End(ctx context.Context, c Caller, ref string, id int64) error {
	cust, err := s.customers.Get(ctx, c, ref)
	if err != nil {
		return err
	}
	return s.end(ctx, cust, id, actorOf(c))
}

// EndAll ends every session of a customer (secret key only).
func (s *Devices) EndAll(ctx context.Context, c Caller, ref string) error {
	cust, err := s.customers.Get(ctx, c, ref)
	if err != nil {
		return err
	}
	if err := s.store.DeleteSessions(ctx, cust.TenantID, cust.ID, 0); err != nil {
		return Internal(err)
	}
	s.audit.recordAlone(ctx, cust.TenantID, AuditEvent{Type: AuditSessionsEnded, Actor: actorOf(c), CustomerID: cust.ID,
		Detail: map[string]string{"which": "all"}})
	s.log.InfoContext(ctx, "sessions ended", "tenant", c.Tenant.Slug, "customer_id", cust.ID)
	return nil
}

// live is the customer's sessions that have not ended.
func (s *Devices) live(ctx context.Context, cust Customer) ([]Session, error) {
	all, err := s.store.ListSessions(ctx, cust.TenantID, cust.ID)
	if err != nil {
		return nil, Internal(err)
	}
	now := s.now()
	live := all[:0]
	for _, sess := range all {
		if now.Before(sess.EndsAt()) {
			live = append(live, sess)
		}
	}
	return live, nil
}

// end deletes the customer's session id if it is live.
func (s *Devices) end(ctx context.Context, cust Customer, id int64, actor string) error {
	sess, err := s.store.SessionByID(ctx, cust.TenantID, id)
	switch {
	case errors.Is(err, ErrNotFound):
		return ErrSessionNotFound
	case err != nil:
		return Internal(err)
	case sess.CustomerID != cust.ID || !s.now().Before(sess.EndsAt()):
		return ErrSessionNotFound
	}
	if err := s.store.DeleteSession(ctx, cust.TenantID, id); errors.Is(err, ErrNotFound) {
		return ErrSessionNotFound // ended meanwhile
	} else if err != nil {
		return Internal(err)
	}
	s.audit.recordAlone(ctx, cust.TenantID, AuditEvent{Type: AuditSessionsEnded, Actor: actor, CustomerID: cust.ID,
		Detail: map[string]string{"which": "one", "session_id": strconv.FormatInt(id, 10)}})
	s.log.InfoContext(ctx, "session ended", "tenant_id", cust.TenantID, "customer_id", cust.ID, "session_id", id)
	return nil
}
