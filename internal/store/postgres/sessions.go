package postgres

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"pforte/internal/account"
)

const sessionColumns = `id, tenant_id, customer_id, hash, created_at, last_seen_at, expires_at, idle_seconds,
	remembered, client_address, device`

func scanSession(row scanner) (account.Session, error) {
	dest, finish := sessionTargets()
	if err := row.Scan(dest...); err != nil {
		return account.Session{}, err
	}
	return finish(), nil
}

// sessionTargets are the scan destinations of sessionColumns, and what
// makes a Session of them once scanned.
func sessionTargets() ([]any, func() account.Session) {
	var s account.Session
	var idleSeconds int64
	return []any{&s.ID, &s.TenantID, &s.CustomerID, &s.Hash, &s.CreatedAt, &s.LastSeenAt, &s.ExpiresAt, &idleSeconds,
			&s.Remembered, &s.ClientAddress, &s.Device}, func() account.Session {
			s.CreatedAt = s.CreatedAt.UTC()
			s.LastSeenAt = s.LastSeenAt.UTC()
			s.ExpiresAt = s.ExpiresAt.UTC()
			s.IdleExpiry = time.Duration(idleSeconds) * time.Second
			return s
		}
}

// sessionJoinColumns are a session's columns and its customer's, for
// one query that reads both.
var sessionJoinColumns = prefixed("s.", sessionColumns) + ", " + prefixed("c.", customerColumns)

// prefixed qualifies each column of a list with a table alias.
func prefixed(alias, columns string) string {
	parts := strings.Split(columns, ",")
	for i, p := range parts {
		parts[i] = alias + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}

// SessionWithCustomer returns the session with this hash, expired or
// not, and its customer, in one round trip.
func (q *queries) SessionWithCustomer(ctx context.Context, hash []byte) (account.Session, account.Customer, error) {
	sd, session := sessionTargets()
	cd, customer := customerTargets()
	err := q.db.QueryRow(ctx, `SELECT `+sessionJoinColumns+` FROM sessions s
		JOIN customers c ON c.tenant_id = s.tenant_id AND c.id = s.customer_id WHERE s.hash = $1`, hash).Scan(append(sd, cd...)...)
	if err != nil {
		return account.Session{}, account.Customer{}, storeError("session with customer", err)
	}
	return session(), customer(), nil
}

// CreateSession inserts s and sets s.ID. The idle expiry is stored in whole
// seconds.
func (q *queries) CreateSession(ctx context.Context, s *account.Session) error {
	s.CreatedAt = dbTime(s.CreatedAt)
	s.LastSeenAt = dbTime(s.LastSeenAt)
	s.ExpiresAt = dbTime(s.ExpiresAt)
	s.IdleExpiry = s.IdleExpiry.Truncate(time.Second)
	err := insertID(ctx, q.db, &s.ID, `INSERT INTO sessions (tenant_id, customer_id, hash, created_at, last_seen_at, expires_at,
			idle_seconds, remembered, client_address, device)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
			ON CONFLICT DO NOTHING RETURNING id`,
		s.TenantID, s.CustomerID, s.Hash, s.CreatedAt, s.LastSeenAt, s.ExpiresAt, int64(s.IdleExpiry/time.Second),
		s.Remembered, s.ClientAddress, s.Device)
	return storeError("create session", err)
}

// SessionByHash returns the session with this hash, expired or not: the
// caller decides what expiry means.
func (q *queries) SessionByHash(ctx context.Context, hash []byte) (account.Session, error) {
	s, err := scanSession(q.db.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE hash = $1`, hash))
	return s, storeError("session by hash", err)
}

// ListSessions returns the customer's sessions, ended or not, the most
// recently used first.
func (q *queries) ListSessions(ctx context.Context, tenantID, customerID int64) ([]account.Session, error) {
	rows, err := q.db.Query(ctx, `SELECT `+sessionColumns+` FROM sessions
		WHERE tenant_id = $1 AND customer_id = $2 ORDER BY last_seen_at DESC, id DESC`, tenantID, customerID)
	if err != nil {
		return nil, storeError("list sessions", err)
	}
	sessions, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (account.Session, error) { return scanSession(row) })
	return sessions, storeError("list sessions", err)
}

// TouchSession records that the session was used at at.
func (q *queries) TouchSession(ctx context.Context, id int64, at time.Time) error {
	tag, err := q.db.Exec(ctx, `UPDATE sessions SET last_seen_at = $2 WHERE id = $1`, id, at)
	return exactlyOne("touch session", tag, err)
}

// DeleteSession deletes one session of the tenant; ErrNotFound if there is
// no such session.
func (q *queries) DeleteSession(ctx context.Context, tenantID, id int64) error {
	tag, err := q.db.Exec(ctx, `DELETE FROM sessions WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	return exactlyOne("delete session", tag, err)
}

// DeleteSessions deletes every session of the customer but exceptID (0
// keeps none: identity columns start at 1).
func (q *queries) DeleteSessions(ctx context.Context, tenantID, customerID, exceptID int64) error {
	_, err := q.db.Exec(ctx, `DELETE FROM sessions WHERE tenant_id = $1 AND customer_id = $2 AND id <> $3`,
		tenantID, customerID, exceptID)
	return storeError("delete sessions", err)
}

// SeeSignInPlace records a login's place and says whether it was known.
func (q *queries) SeeSignInPlace(ctx context.Context, tenantID, customerID int64, place []byte, at time.Time) (bool, int, error) {
	var all, same int
	err := q.db.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE place = $3) FROM sign_in_places
		WHERE tenant_id = $1 AND customer_id = $2`, tenantID, customerID, place).Scan(&all, &same)
	if err != nil {
		return false, 0, storeError("sign-in places", err)
	}
	_, err = q.db.Exec(ctx, `INSERT INTO sign_in_places (tenant_id, customer_id, place, first_seen_at, last_seen_at)
		VALUES ($1, $2, $3, $4, $4)
		ON CONFLICT (tenant_id, customer_id, place) DO UPDATE SET last_seen_at = excluded.last_seen_at`,
		tenantID, customerID, place, dbTime(at))
	if err != nil {
		return false, 0, storeError("see sign-in place", err)
	}
	return same > 0, all - same, nil
}

// LoginFailures returns the failed logins recorded for the email key, or
// the zero value: unknown and known addresses look the same.
func (q *queries) LoginFailures(ctx context.Context, tenantID int64, emailKey string) (account.LoginFailures, error) {
	var f account.LoginFailures
	err := q.db.QueryRow(ctx, `SELECT count, last_at, pending FROM login_failures WHERE tenant_id = $1 AND email_key = $2`,
		tenantID, emailKey).Scan(&f.Count, &f.Last, &f.Pending)
	if errors.Is(err, pgx.ErrNoRows) {
		return account.LoginFailures{}, nil
	}
	if err != nil {
		return account.LoginFailures{}, storeError("login failures", err)
	}
	f.Last = f.Last.UTC()
	return f, nil
}

// ReserveLoginAttempt counts an attempt about to be checked in one
// upsert, so concurrent attempts are all counted; stale reservations are
// dropped first.
func (q *queries) ReserveLoginAttempt(ctx context.Context, tenantID int64, emailKey string, at, staleBefore time.Time) (account.LoginFailures, error) {
	var f account.LoginFailures
	err := q.db.QueryRow(ctx, `INSERT INTO login_failures (tenant_id, email_key, count, last_at, pending, pending_at)
		VALUES ($1, $2, 0, $3, 1, $3)
		ON CONFLICT (tenant_id, email_key) DO UPDATE SET
			pending = CASE WHEN login_failures.pending_at < $4 THEN 1 ELSE login_failures.pending + 1 END,
			pending_at = excluded.pending_at
		RETURNING count, last_at, pending`,
		tenantID, emailKey, at, staleBefore).Scan(&f.Count, &f.Last, &f.Pending)
	if err != nil {
		return account.LoginFailures{}, storeError("reserve login attempt", err)
	}
	f.Last = f.Last.UTC()
	return f, nil
}

// EndLoginAttempt takes back a reservation and, with failedAt, counts a
// failure; a record cleared meanwhile starts again from that failure.
func (q *queries) EndLoginAttempt(ctx context.Context, tenantID int64, emailKey string, failedAt *time.Time) error {
	var err error
	if failedAt == nil {
		_, err = q.db.Exec(ctx, `UPDATE login_failures SET pending = pending - 1
			WHERE tenant_id = $1 AND email_key = $2 AND pending > 0`, tenantID, emailKey)
	} else {
		_, err = q.db.Exec(ctx, `INSERT INTO login_failures (tenant_id, email_key, count, last_at, pending, pending_at)
			VALUES ($1, $2, 1, $3, 0, '-infinity')
			ON CONFLICT (tenant_id, email_key) DO UPDATE SET count = login_failures.count + 1,
				last_at = excluded.last_at, pending = greatest(login_failures.pending - 1, 0)`, tenantID, emailKey, *failedAt)
	}
	return storeError("end login attempt", err)
}

// ClearLoginFailures forgets the failed logins of the email key.
func (q *queries) ClearLoginFailures(ctx context.Context, tenantID int64, emailKey string) error {
	_, err := q.db.Exec(ctx, `DELETE FROM login_failures WHERE tenant_id = $1 AND email_key = $2`, tenantID, emailKey)
	return storeError("clear login failures", err)
}
