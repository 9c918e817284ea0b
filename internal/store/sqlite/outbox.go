package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"pforte/internal/account"
)

const mailColumns = `id, tenant_id, customer_id, kind, locale, message_id, status, attempts, next_attempt_at,
	lease_owner, lease_until, last_error, sealed, created_at, finished_at`

func scanMail(s scanner) (account.Mail, error) {
	var (
		m                  account.Mail
		next, created      int64
		leaseUntil, finish sql.NullInt64
	)
	if err := s.Scan(&m.ID, &m.TenantID, &m.CustomerID, &m.Kind, &m.Locale, &m.MessageID, &m.Status, &m.Attempts,
		&next, &m.LeaseOwner, &leaseUntil, &m.LastError, &m.Sealed, &created, &finish); err != nil {
		return account.Mail{}, err
	}
	m.NextAttemptAt = fromMicros(next)
	m.LeaseUntil = fromNullMicros(leaseUntil)
	m.CreatedAt = fromMicros(created)
	m.FinishedAt = fromNullMicros(finish)
	return m, nil
}

// sealedBlob is the sealed envelope as the column stores it: a nil slice is
// NULL, anything else the bytes as given.
func sealedBlob(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

// EnqueueMail inserts m as given and sets its ID. It returns
// account.ErrDuplicate if another mail has m's MessageID.
func (q queries) EnqueueMail(ctx context.Context, m *account.Mail) error {
	res, err := q.w.ExecContext(ctx, `INSERT INTO outbox
		(tenant_id, customer_id, kind, locale, message_id, status, attempts, next_attempt_at,
		 lease_owner, lease_until, last_error, sealed, created_at, finished_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		m.TenantID, m.CustomerID, string(m.Kind), m.Locale, m.MessageID, string(m.Status), m.Attempts,
		micros(m.NextAttemptAt), m.LeaseOwner, nullMicros(m.LeaseUntil), m.LastError, sealedBlob(m.Sealed),
		micros(m.CreatedAt), nullMicros(m.FinishedAt))
	if err != nil {
		return dbErr("enqueue mail", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return dbErr("enqueue mail", err)
	}
	m.ID = id
	m.NextAttemptAt, m.CreatedAt = utc(m.NextAttemptAt), utc(m.CreatedAt)
	m.LeaseUntil, m.FinishedAt = utcPtr(m.LeaseUntil), utcPtr(m.FinishedAt)
	return nil
}

// ClaimMail leases up to limit due, unleased, unsent mails to owner, the
// lowest IDs first, in one UPDATE. Writes are serialised (one write
// connection here, SQLite's lock across processes), so no two claims see
// the same mail unleased. The mails come back by ID.
func (q queries) ClaimMail(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]account.Mail, error) {
	ms := []account.Mail{}
	if limit <= 0 {
		return ms, nil // LIMIT -1 would mean no limit
	}
	// The conditions on status and next_attempt_at match the partial
	// index outbox_due.
	rows, err := q.w.QueryContext(ctx, `UPDATE outbox SET lease_owner = ?, lease_until = ?, attempts = attempts + 1
		WHERE id IN (
			SELECT id FROM outbox
			WHERE status = 'unsent' AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until < ?)
			ORDER BY id LIMIT ?
		)
		RETURNING `+mailColumns,
		owner, micros(leaseUntil), micros(now), micros(now), limit)
	if err != nil {
		return nil, dbErr("claim mail", err)
	}
	defer rows.Close()
	for rows.Next() {
		m, err := scanMail(rows)
		if err != nil {
			return nil, dbErr("claim mail", err)
		}
		ms = append(ms, m)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr("claim mail", err)
	}
	// RETURNING promises no order.
	slices.SortFunc(ms, func(a, b account.Mail) int { return cmp.Compare(a.ID, b.ID) })
	return ms, nil
}

// MarkMailSent marks an unsent mail sent at at, erases its sealed content
// and clears its lease, whoever holds it. A mail that is sent already is
// left as it is, without an error: the first report wins. It returns
// account.ErrNotFound if the mail failed or does not exist.
func (q queries) MarkMailSent(ctx context.Context, id int64, at time.Time) error {
	res, err := q.w.ExecContext(ctx, `UPDATE outbox
		SET status = 'sent', finished_at = ?, sealed = NULL, lease_owner = '', lease_until = NULL
		WHERE id = ? AND status = 'unsent'`,
		micros(at), id)
	if err != nil {
		return dbErr("mark mail sent", err)
	}
	err = mustAffect("mark mail sent", res)
	if !errors.Is(err, account.ErrNotFound) {
		return err
	}
	// Through the write connection, which saw the UPDATE.
	var status string
	if err := q.w.QueryRowContext(ctx, `SELECT status FROM outbox WHERE id = ?`, id).Scan(&status); err != nil {
		return dbErr("mark mail sent", err)
	}
	if account.MailStatus(status) == account.MailSent {
		return nil
	}
	return dbErr("mark mail sent", sql.ErrNoRows)
}

// RescheduleMail returns a mail that owner holds to the queue, due at next,
// and records lastError. It returns account.ErrNotFound if the mail is not
// unsent or owner does not hold it; an empty owner holds nothing.
func (q queries) RescheduleMail(ctx context.Context, id int64, owner string, next time.Time, lastError string) error {
	res, err := q.w.ExecContext(ctx, `UPDATE outbox
		SET next_attempt_at = ?, last_error = ?, lease_owner = '', lease_until = NULL
		WHERE id = ? AND status = 'unsent' AND lease_owner = ? AND lease_owner <> ''`,
		micros(next), lastError, id, owner)
	if err != nil {
		return dbErr("reschedule mail", err)
	}
	return mustAffect("reschedule mail", res)
}

// FailMail marks an unsent mail failed at at, records lastError, erases its
// sealed content and clears its lease. It returns account.ErrNotFound if the
// mail is not unsent.
func (q queries) FailMail(ctx context.Context, id int64, at time.Time, lastError string) error {
	res, err := q.w.ExecContext(ctx, `UPDATE outbox
		SET status = 'failed', finished_at = ?, last_error = ?, sealed = NULL, lease_owner = '', lease_until = NULL
		WHERE id = ? AND status = 'unsent'`,
		micros(at), lastError, id)
	if err != nil {
		return dbErr("fail mail", err)
	}
	return mustAffect("fail mail", res)
}

// PurgeMail deletes sent and failed mail that finished before the cutoff.
func (q queries) PurgeMail(ctx context.Context, finishedBefore time.Time) error {
	if _, err := q.w.ExecContext(ctx, `DELETE FROM outbox WHERE status <> 'unsent' AND finished_at < ?`,
		micros(finishedBefore)); err != nil {
		return dbErr("purge mail", err)
	}
	return nil
}

// CancelMail fails the customer's unsent mail and erases its content.
func (q queries) CancelMail(ctx context.Context, tenantID, customerID int64, at time.Time, reason string) error {
	_, err := q.w.ExecContext(ctx, `UPDATE outbox
		SET status = 'failed', finished_at = ?, last_error = ?, sealed = NULL, lease_owner = '', lease_until = NULL
		WHERE tenant_id = ? AND customer_id = ? AND status = 'unsent'`,
		micros(at), reason, tenantID, customerID)
	if err != nil {
		return dbErr("cancel mail", err)
	}
	return nil
}

// ListMail returns up to limit of the tenant's mails, or of every tenant's
// if tenantID is 0, newest (highest ID) first.
// MailByID returns the outbox row with this ID.
func (q queries) MailByID(ctx context.Context, id int64) (account.Mail, error) {
	m, err := scanMail(q.r.QueryRowContext(ctx, `SELECT `+mailColumns+` FROM outbox WHERE id = ?`, id))
	if err != nil {
		return account.Mail{}, dbErr("mail by id", err)
	}
	return m, nil
}

func (q queries) ListMail(ctx context.Context, tenantID int64, limit int) ([]account.Mail, error) {
	ms := []account.Mail{}
	if limit <= 0 {
		return ms, nil
	}
	query, args := `SELECT `+mailColumns+` FROM outbox ORDER BY id DESC LIMIT ?`, []any{limit}
	if tenantID != 0 {
		query, args = `SELECT `+mailColumns+` FROM outbox WHERE tenant_id = ? ORDER BY id DESC LIMIT ?`, []any{tenantID, limit}
	}
	rows, err := q.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, dbErr("list mail", err)
	}
	defer rows.Close()
	for rows.Next() {
		m, err := scanMail(rows)
		if err != nil {
			return nil, dbErr("list mail", err)
		}
		ms = append(ms, m)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr("list mail", err)
	}
	return ms, nil
}

// MailOf returns a customer's outbox rows, newest first.
func (q queries) MailOf(ctx context.Context, tenantID, customerID int64) ([]account.Mail, error) {
	rows, err := q.r.QueryContext(ctx, `SELECT `+mailColumns+` FROM outbox WHERE tenant_id = ? AND customer_id = ?
		ORDER BY id DESC`, tenantID, customerID)
	if err != nil {
		return nil, dbErr("mail of customer", err)
	}
	defer rows.Close()
	ms := []account.Mail{}
	for rows.Next() {
		m, err := scanMail(rows)
		if err != nil {
			return nil, dbErr("mail of customer", err)
		}
		ms = append(ms, m)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr("mail of customer", err)
	}
	return ms, nil
}

// CountMail counts the customer's mails of these kinds created at or after
// since, whatever their status. No kinds count nothing.
func (q queries) CountMail(ctx context.Context, tenantID, customerID int64, kinds []account.MailKind, since time.Time) (int, error) {
	if len(kinds) == 0 {
		return 0, nil
	}
	args := []any{tenantID, customerID, micros(since)}
	for _, k := range kinds {
		args = append(args, string(k))
	}
	// One placeholder per kind; the kinds themselves are bound. The text
	// varies only with the number of kinds, which callers pass as a few
	// fixed lists, so it adds a few prepared statements; maxStmts bounds
	// them anyway.
	in := strings.Repeat(", ?", len(kinds))[2:]
	var n int
	err := q.r.QueryRowContext(ctx, `SELECT count(*) FROM outbox
		WHERE tenant_id = ? AND customer_id = ? AND created_at >= ? AND kind IN (`+in+`)`, args...).Scan(&n)
	if err != nil {
		return 0, dbErr("count mail", err)
	}
	return n, nil
}
