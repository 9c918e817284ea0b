package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"pforte/internal/account"
)

const sessionColumns = `id, tenant_id, customer_id, hash, created_at, last_seen_at, expires_at, idle_seconds,
	remembered, client_address, device`

func scanSession(s scanner) (account.Session, error) {
	dest, finish := sessionTargets()
	if err := s.Scan(dest...); err != nil {
		return account.Session{}, err
	}
	return finish(), nil
}

// sessionTargets are the scan destinations of sessionColumns, and what
// makes a Session of them once scanned.
func sessionTargets() ([]any, func() account.Session) {
	var (
		x                            account.Session
		created, seen, expires, idle int64
	)
	return []any{&x.ID, &x.TenantID, &x.CustomerID, &x.Hash, &created, &seen, &expires, &idle,
			&x.Remembered, &x.ClientAddress, &x.Device}, func() account.Session {
			x.CreatedAt = fromMicros(created)
			x.LastSeenAt = fromMicros(seen)
			x.ExpiresAt = fromMicros(expires)
			x.IdleExpiry = time.Duration(idle) * time.Second
			return x
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
// not, and its customer, in one query.
func (q queries) SessionWithCustomer(ctx context.Context, hash []byte) (account.Session, account.Customer, error) {
	sd, session := sessionTargets()
	cd, customer := customerTargets()
	err := q.r.QueryRowContext(ctx, `SELECT `+sessionJoinColumns+` FROM sessions s
		JOIN customers c ON c.tenant_id = s.tenant_id AND c.id = s.customer_id WHERE s.hash = ?`, hash).Scan(append(sd, cd...)...)
	if err != nil {
		return account.Session{}, account.Customer{}, dbErr("session with customer", err)
	}
	return session(), customer(), nil
}

// CreateSession inserts s and sets its ID. IdleExpiry is stored in whole
// seconds.
func (q queries) CreateSession(ctx context.Context, s *account.Session) error {
	idle := s.IdleExpiry.Truncate(time.Second)
	res, err := q.w.ExecContext(ctx, `INSERT INTO sessions
		(tenant_id, customer_id, hash, created_at, last_seen_at, expires_at, idle_seconds,
		remembered, client_address, device)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.TenantID, s.CustomerID, s.Hash, micros(s.CreatedAt), micros(s.LastSeenAt), micros(s.ExpiresAt),
		int64(idle/time.Second), s.Remembered, s.ClientAddress, s.Device)
	if err != nil {
		return dbErr("create session", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return dbErr("create session", err)
	}
	s.ID = id
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt = utc(s.CreatedAt), utc(s.LastSeenAt), utc(s.ExpiresAt)
	s.IdleExpiry = idle
	return nil
}

// SessionByHash returns the session with this hash, expired or not: the
// caller checks its expiry.
func (q queries) SessionByHash(ctx context.Context, hash []byte) (account.Session, error) {
	s, err := scanSession(q.r.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE hash = ?`, hash))
	if err != nil {
		return account.Session{}, dbErr("session by hash", err)
	}
	return s, nil
}

// ListSessions returns the customer's sessions, ended or not, the most
// recently used first.
func (q queries) ListSessions(ctx context.Context, tenantID, customerID int64) ([]account.Session, error) {
	rows, err := q.r.QueryContext(ctx, `SELECT `+sessionColumns+` FROM sessions
		WHERE tenant_id = ? AND customer_id = ? ORDER BY last_seen_at DESC, id DESC`, tenantID, customerID)
	if err != nil {
		return nil, dbErr("list sessions", err)
	}
	defer rows.Close()
	var out []account.Session
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return nil, dbErr("list sessions", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr("list sessions", err)
	}
	return out, nil
}

// TouchSession records that the session was used at at.
func (q queries) TouchSession(ctx context.Context, id int64, at time.Time) error {
	res, err := q.w.ExecContext(ctx, `UPDATE sessions SET last_seen_at = ? WHERE id = ?`, micros(at), id)
	if err != nil {
		return dbErr("touch session", err)
	}
	return mustAffect("touch session", res)
}

// DeleteSession deletes the tenant's session with this ID. It returns
// account.ErrNotFound if there is none.
func (q queries) DeleteSession(ctx context.Context, tenantID, id int64) error {
	res, err := q.w.ExecContext(ctx, `DELETE FROM sessions WHERE tenant_id = ? AND id = ?`, tenantID, id)
	if err != nil {
		return dbErr("delete session", err)
	}
	return mustAffect("delete session", res)
}

// DeleteSessions deletes every session of the customer but exceptID (0 for
// none; no session has ID 0).
func (q queries) DeleteSessions(ctx context.Context, tenantID, customerID, exceptID int64) error {
	_, err := q.w.ExecContext(ctx, `DELETE FROM sessions WHERE tenant_id = ? AND customer_id = ? AND id <> ?`,
		tenantID, customerID, exceptID)
	if err != nil {
		return dbErr("delete sessions", err)
	}
	return nil
}

// SeeSignInPlace records a login's place and says whether it was known.
func (q queries) SeeSignInPlace(ctx context.Context, tenantID, customerID int64, place []byte, at time.Time) (bool, int, error) {
	var all, same int
	err := q.w.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(place = ?), 0) FROM sign_in_places
		WHERE tenant_id = ? AND customer_id = ?`, place, tenantID, customerID).Scan(&all, &same)
	if err != nil {
		return false, 0, dbErr("sign-in places", err)
	}
	_, err = q.w.ExecContext(ctx, `INSERT INTO sign_in_places (tenant_id, customer_id, place, first_seen_at, last_seen_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, customer_id, place) DO UPDATE SET last_seen_at = excluded.last_seen_at`,
		tenantID, customerID, place, micros(at), micros(at))
	if err != nil {
		return false, 0, dbErr("see sign-in place", err)
	}
	return same > 0, all - same, nil
}

// LoginFailures returns the failed logins recorded for the email key, or
// the zero value if there are none.
func (q queries) LoginFailures(ctx context.Context, tenantID int64, emailKey string) (account.LoginFailures, error) {
	f, err := scanLoginFailures(q.r.QueryRowContext(ctx,
		`SELECT count, last_at, pending FROM login_failures WHERE tenant_id = ? AND email_key = ?`, tenantID, emailKey))
	if errors.Is(err, sql.ErrNoRows) {
		return account.LoginFailures{}, nil
	}
	if err != nil {
		return account.LoginFailures{}, dbErr("login failures", err)
	}
	return f, nil
}

// ReserveLoginAttempt counts an attempt about to be checked, in one
// statement; stale reservations are dropped first.
func (q queries) ReserveLoginAttempt(ctx context.Context, tenantID int64, emailKey string, at, staleBefore time.Time) (account.LoginFailures, error) {
	f, err := scanLoginFailures(q.w.QueryRowContext(ctx, `INSERT INTO login_failures (tenant_id, email_key, count, last_at, pending, pending_at)
		VALUES (?, ?, 0, ?, 1, ?)
		ON CONFLICT (tenant_id, email_key) DO UPDATE SET
			pending = CASE WHEN pending_at < ? THEN 1 ELSE pending + 1 END, pending_at = excluded.pending_at
		RETURNING count, last_at, pending`, tenantID, emailKey, micros(at), micros(at), micros(staleBefore)))
	if err != nil {
		return account.LoginFailures{}, dbErr("reserve login attempt", err)
	}
	return f, nil
}

// EndLoginAttempt takes back a reservation and, with failedAt, counts a
// failure; a record cleared meanwhile starts again from that failure.
func (q queries) EndLoginAttempt(ctx context.Context, tenantID int64, emailKey string, failedAt *time.Time) error {
	var err error
	if failedAt == nil {
		_, err = q.w.ExecContext(ctx, `UPDATE login_failures SET pending = pending - 1
			WHERE tenant_id = ? AND email_key = ? AND pending > 0`, tenantID, emailKey)
	} else {
		_, err = q.w.ExecContext(ctx, `INSERT INTO login_failures (tenant_id, email_key, count, last_at, pending, pending_at)
			VALUES (?, ?, 1, ?, 0, 0)
			ON CONFLICT (tenant_id, email_key) DO UPDATE SET
				count = count + 1, last_at = excluded.last_at, pending = max(pending - 1, 0)`, tenantID, emailKey, micros(*failedAt))
	}
	if err != nil {
		return dbErr("end login attempt", err)
	}
	return nil
}

func scanLoginFailures(s scanner) (account.LoginFailures, error) {
	var (
		f    account.LoginFailures
		last int64
	)
	if err := s.Scan(&f.Count, &last, &f.Pending); err != nil {
		return account.LoginFailures{}, err
	}
	f.Last = fromMicros(last)
	return f, nil
}

// ClearLoginFailures forgets the failed logins of the email key.
func (q queries) ClearLoginFailures(ctx context.Context, tenantID int64, emailKey string) error {
	_, err := q.w.ExecContext(ctx, `DELETE FROM login_failures WHERE tenant_id = ? AND email_key = ?`, tenantID, emailKey)
	if err != nil {
		return dbErr("clear login failures", err)
	}
	return nil
}

// Purge deletes the tokens and sessions that expired before expiredBefore,
// and the login failures last recorded before failuresBefore, across all
// tenants.
func (q queries) Purge(ctx context.Context, expiredBefore, failuresBefore time.Time) error {
	for _, p := range []struct {
		op, query string
		cutoff    time.Time
	}{
		{"purge tokens", `DELETE FROM tokens WHERE expires_at < ?`, expiredBefore},
		{"purge sessions", `DELETE FROM sessions WHERE expires_at < ?`, expiredBefore},
		{"purge login failures", `DELETE FROM login_failures WHERE last_at < ?`, failuresBefore},
		{"purge authorizations", `DELETE FROM oidc_authorizations WHERE expires_at < ?`, expiredBefore},
		{"purge refresh tokens", `DELETE FROM oidc_refresh_tokens WHERE expires_at < ?`, expiredBefore},
	} {
		if _, err := q.w.ExecContext(ctx, p.query, micros(p.cutoff)); err != nil {
			return dbErr(p.op, err)
		}
	}
	return nil
}
