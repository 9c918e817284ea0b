package postgres

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"pforte/internal/account"
)

const mailColumns = `id, tenant_id, customer_id, kind, locale, message_id, status, attempts, next_attempt_at,
	lease_owner, lease_until, last_error, sealed, created_at, finished_at`

func scanMail(row scanner) (account.Mail, error) {
	var m account.Mail
	if err := row.Scan(&m.ID, &m.TenantID, &m.CustomerID, &m.Kind, &m.Locale, &m.MessageID, &m.Status, &m.Attempts,
		&m.NextAttemptAt, &m.LeaseOwner, &m.LeaseUntil, &m.LastError, &m.Sealed, &m.CreatedAt, &m.FinishedAt); err != nil {
		return account.Mail{}, err
	}
	m.NextAttemptAt = m.NextAttemptAt.UTC()
	m.LeaseUntil = utcPtr(m.LeaseUntil)
	m.CreatedAt = m.CreatedAt.UTC()
	m.FinishedAt = utcPtr(m.FinishedAt)
	return m, nil
}

func collectMail(rows pgx.Rows) ([]account.Mail, error) {
	ms, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (account.Mail, error) { return scanMail(row) })
	if ms == nil {
		ms = []account.Mail{}
	}
	return ms, err
}

// EnqueueMail inserts m as given and sets m.ID; a nil Sealed is NULL.
// ErrDuplicate if another mail has m's MessageID.
func (q *queries) EnqueueMail(ctx context.Context, m *account.Mail) error {
	m.NextAttemptAt = dbTime(m.NextAttemptAt)
	m.LeaseUntil = dbTimePtr(m.LeaseUntil)
	m.CreatedAt = dbTime(m.CreatedAt)
	m.FinishedAt = dbTimePtr(m.FinishedAt)
	err := insertID(ctx, q.db, &m.ID, `INSERT INTO outbox (tenant_id, customer_id, kind, locale, message_id, status, attempts,
				next_attempt_at, lease_owner, lease_until, last_error, sealed, created_at, finished_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
			ON CONFLICT DO NOTHING RETURNING id`,
		m.TenantID, m.CustomerID, string(m.Kind), m.Locale, m.MessageID, string(m.Status), m.Attempts,
		m.NextAttemptAt, m.LeaseOwner, m.LeaseUntil, m.LastError, m.Sealed, m.CreatedAt, m.FinishedAt)
	return storeError("enqueue mail", err)
}

// ClaimMail leases up to limit due, unleased, unsent mails to owner, the
// lowest IDs first, in one statement. The subquery locks the rows it picks
// and skips rows another claim has locked (FOR UPDATE SKIP LOCKED); a row
// that another claim leased and committed meanwhile is re-checked against
// the conditions and dropped. So concurrent claimers, on any replica, never
// get the same mail. The mails come back by ID.
func (q *queries) ClaimMail(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]account.Mail, error) {
	if limit <= 0 {
		return []account.Mail{}, nil
	}
	// The conditions on status and next_attempt_at match the partial
	// index outbox_due.
	rows, err := q.db.Query(ctx, `UPDATE outbox SET lease_owner = $1, lease_until = $3, attempts = attempts + 1
		WHERE id IN (
			SELECT id FROM outbox
			WHERE status = 'unsent' AND next_attempt_at <= $2 AND (lease_until IS NULL OR lease_until < $2)
			ORDER BY id LIMIT $4
			FOR UPDATE SKIP LOCKED
		)
		RETURNING `+mailColumns,
		owner, now, leaseUntil, limit)
	if err != nil {
		return nil, storeError("claim mail", err)
	}
	ms, err := collectMail(rows)
	if err != nil {
		return nil, storeError("claim mail", err)
	}
	// RETURNING promises no order.
	slices.SortFunc(ms, func(a, b account.Mail) int { return cmp.Compare(a.ID, b.ID) })
	return ms, nil
}

// MarkMailSent marks an unsent mail sent at at, erases its sealed content
// and clears its lease, whoever holds it. A mail that is sent already is
// left as it is, without an error: the first report wins. ErrNotFound if
// the mail failed or does not exist.
func (q *queries) MarkMailSent(ctx context.Context, id int64, at time.Time) error {
	tag, err := q.db.Exec(ctx, `UPDATE outbox
		SET status = 'sent', finished_at = $2, sealed = NULL, lease_owner = '', lease_until = NULL
		WHERE id = $1 AND status = 'unsent'`,
		id, at)
	err = exactlyOne("mark mail sent", tag, err)
	if !errors.Is(err, account.ErrNotFound) {
		return err
	}
	// A statement of its own: under READ COMMITTED it sees a concurrent
	// MarkMailSent that committed while the UPDATE waited for its lock,
	// which the UPDATE's own snapshot would not.
	var status account.MailStatus
	if err := q.db.QueryRow(ctx, `SELECT status FROM outbox WHERE id = $1`, id).Scan(&status); err != nil {
		return storeError("mark mail sent", err)
	}
	if status == account.MailSent {
		return nil
	}
	return storeError("mark mail sent", pgx.ErrNoRows)
}

// RescheduleMail returns a mail that owner holds to the queue, due at next,
// and records lastError. ErrNotFound if the mail is not unsent or owner
// does not hold it; an empty owner holds nothing.
func (q *queries) RescheduleMail(ctx context.Context, id int64, owner string, next time.Time, lastError string) error {
	tag, err := q.db.Exec(ctx, `UPDATE outbox
		SET next_attempt_at = $3, last_error = $4, lease_owner = '', lease_until = NULL
		WHERE id = $1 AND status = 'unsent' AND lease_owner = $2 AND lease_owner <> ''`,
		id, owner, next, lastError)
	return exactlyOne("reschedule mail", tag, err)
}

// FailMail marks an unsent mail failed at at, records lastError, erases its
// sealed content and clears its lease. ErrNotFound if the mail is not
// unsent.
func (q *queries) FailMail(ctx context.Context, id int64, at time.Time, lastError string) error {
	tag, err := q.db.Exec(ctx, `UPDATE outbox
		SET status = 'failed', finished_at = $2, last_error = $3, sealed = NULL, lease_owner = '', lease_until = NULL
		WHERE id = $1 AND status = 'unsent'`,
		id, at, lastError)
	return exactlyOne("fail mail", tag, err)
}

// PurgeMail deletes sent and failed mail that finished before the cutoff.
func (q *queries) PurgeMail(ctx context.Context, finishedBefore time.Time) error {
	_, err := q.db.Exec(ctx, `DELETE FROM outbox WHERE status <> 'unsent' AND finished_at < $1`, finishedBefore)
	return storeError("purge mail", err)
}

// CancelMail fails the customer's unsent mail and erases its content.
func (q *queries) CancelMail(ctx context.Context, tenantID, customerID int64, at time.Time, reason string) error {
	_, err := q.db.Exec(ctx, `UPDATE outbox
		SET status = 'failed', finished_at = $3, last_error = $4, sealed = NULL, lease_owner = '', lease_until = NULL
		WHERE tenant_id = $1 AND customer_id = $2 AND status = 'unsent'`,
		tenantID, customerID, at, reason)
	return storeError("cancel mail", err)
}

// MailByID returns the outbox row with this ID.
func (q *queries) MailByID(ctx context.Context, id int64) (account.Mail, error) {
	m, err := scanMail(q.db.QueryRow(ctx, `SELECT `+mailColumns+` FROM outbox WHERE id = $1`, id))
	return m, storeError("mail by id", err)
}

// MailOf returns a customer's outbox rows, newest first.
func (q *queries) MailOf(ctx context.Context, tenantID, customerID int64) ([]account.Mail, error) {
	rows, err := q.db.Query(ctx, `SELECT `+mailColumns+` FROM outbox WHERE tenant_id = $1 AND customer_id = $2
		ORDER BY id DESC`, tenantID, customerID)
	if err != nil {
		return nil, storeError("mail of customer", err)
	}
	ms, err := collectMail(rows)
	return ms, storeError("mail of customer", err)
}

// ListMail returns up to limit of the tenant's mails, or of every tenant's
// if tenantID is 0, newest (highest ID) first.
func (q *queries) ListMail(ctx context.Context, tenantID int64, limit int) ([]account.Mail, error) {
	if limit <= 0 {
		return []account.Mail{}, nil
	}
	// Two statements rather than "$1 = 0 OR tenant_id = $1", so that each
	// gets a plan of its own: the (tenant_id, id) index or the primary key.
	query, args := `SELECT `+mailColumns+` FROM outbox ORDER BY id DESC LIMIT $1`, []any{limit}
	if tenantID != 0 {
		query, args = `SELECT `+mailColumns+` FROM outbox WHERE tenant_id = $1 ORDER BY id DESC LIMIT $2`, []any{tenantID, limit}
	}
	rows, err := q.db.Query(ctx, query, args...)
	if err != nil {
		return nil, storeError("list mail", err)
	}
	ms, err := collectMail(rows)
	if err != nil {
		return nil, storeError("list mail", err)
	}
	return ms, nil
}

// CountMail counts the customer's mails of these kinds created at or after
// since, whatever their status. No kinds count nothing.
func (q *queries) CountMail(ctx context.Context, tenantID, customerID int64, kinds []account.MailKind, since time.Time) (int, error) {
	if len(kinds) == 0 {
		return 0, nil
	}
	ks := make([]string, len(kinds))
	for i, k := range kinds {
		ks[i] = string(k)
	}
	var n int
	err := q.db.QueryRow(ctx, `SELECT count(*) FROM outbox
		WHERE tenant_id = $1 AND customer_id = $2 AND kind = ANY ($3::text[]) AND created_at >= $4`,
		tenantID, customerID, ks, since).Scan(&n)
	return n, storeError("count mail", err)
}
