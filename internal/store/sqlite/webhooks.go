package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"slices"
	"strings"
	"time"

	"pforte/internal/account"
)

const webhookColumns = `id, tenant_id, url, events, description, secret, enabled, failing_since, disabled_why, created_at, updated_at`

func scanWebhook(row scanner) (account.WebhookEndpoint, error) {
	var (
		e                account.WebhookEndpoint
		events           string
		failing          sql.NullInt64
		created, updated int64
	)
	if err := row.Scan(&e.ID, &e.TenantID, &e.URL, &events, &e.Description, &e.Secret, &e.Enabled, &failing,
		&e.DisabledWhy, &created, &updated); err != nil {
		return account.WebhookEndpoint{}, err
	}
	e.Events = []string{}
	if events != "" {
		e.Events = strings.Split(events, ",")
	}
	e.FailingSince, e.CreatedAt, e.UpdatedAt = fromNullMicros(failing), fromMicros(created), fromMicros(updated)
	return e, nil
}

// CreateWebhook inserts an endpoint and sets its ID.
func (q queries) CreateWebhook(ctx context.Context, e *account.WebhookEndpoint) error {
	res, err := q.w.ExecContext(ctx, `INSERT INTO webhook_endpoints (tenant_id, url, events, description, secret, enabled,
		failing_since, disabled_why, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.TenantID, e.URL, strings.Join(e.Events, ","), e.Description, e.Secret, boolInt(e.Enabled), nullMicros(e.FailingSince),
		e.DisabledWhy, micros(e.CreatedAt), micros(e.UpdatedAt))
	if err != nil {
		return dbErr("create webhook", err)
	}
	e.ID, err = res.LastInsertId()
	return errOrNil("create webhook", err)
}

// WebhookByID returns one endpoint.
func (q queries) WebhookByID(ctx context.Context, id int64) (account.WebhookEndpoint, error) {
	e, err := scanWebhook(q.r.QueryRowContext(ctx, `SELECT `+webhookColumns+` FROM webhook_endpoints WHERE id = ?`, id))
	if err != nil {
		return account.WebhookEndpoint{}, dbErr("webhook", err)
	}
	return e, nil
}

// ListWebhooks returns a tenant's endpoints by ID.
func (q queries) ListWebhooks(ctx context.Context, tenantID int64) ([]account.WebhookEndpoint, error) {
	rows, err := q.r.QueryContext(ctx, `SELECT `+webhookColumns+` FROM webhook_endpoints WHERE tenant_id = ? ORDER BY id`, tenantID)
	if err != nil {
		return nil, dbErr("webhooks", err)
	}
	defer rows.Close()
	es := []account.WebhookEndpoint{}
	for rows.Next() {
		e, err := scanWebhook(rows)
		if err != nil {
			return nil, dbErr("webhooks", err)
		}
		es = append(es, e)
	}
	return es, errOrNil("webhooks", rows.Err())
}

// UpdateWebhook writes an endpoint's changeable columns.
func (q queries) UpdateWebhook(ctx context.Context, e *account.WebhookEndpoint) error {
	res, err := q.w.ExecContext(ctx, `UPDATE webhook_endpoints SET url = ?, events = ?, description = ?, enabled = ?,
		failing_since = ?, disabled_why = ?, updated_at = ? WHERE id = ?`,
		e.URL, strings.Join(e.Events, ","), e.Description, boolInt(e.Enabled), nullMicros(e.FailingSince), e.DisabledWhy,
		micros(e.UpdatedAt), e.ID)
	if err != nil {
		return dbErr("update webhook", err)
	}
	return mustAffect("update webhook", res)
}

// DeleteWebhook deletes an endpoint; its deliveries go with it.
func (q queries) DeleteWebhook(ctx context.Context, tenantID, id int64) error {
	res, err := q.w.ExecContext(ctx, `DELETE FROM webhook_endpoints WHERE tenant_id = ? AND id = ?`, tenantID, id)
	if err != nil {
		return dbErr("delete webhook", err)
	}
	return mustAffect("delete webhook", res)
}

const deliveryColumns = `id, tenant_id, endpoint_id, customer_id, event_id, type, payload, status, attempts, next_attempt_at,
	lease_owner, lease_until, response_status, last_error, created_at, finished_at`

func scanDelivery(row scanner) (account.WebhookDelivery, error) {
	var (
		d               account.WebhookDelivery
		next, created   int64
		lease, finished sql.NullInt64
	)
	if err := row.Scan(&d.ID, &d.TenantID, &d.EndpointID, &d.CustomerID, &d.EventID, &d.Type, &d.Payload, &d.Status, &d.Attempts,
		&next, &d.LeaseOwner, &lease, &d.ResponseStatus, &d.LastError, &created, &finished); err != nil {
		return account.WebhookDelivery{}, err
	}
	d.NextAttemptAt, d.LeaseUntil, d.CreatedAt, d.FinishedAt = fromMicros(next), fromNullMicros(lease), fromMicros(created), fromNullMicros(finished)
	return d, nil
}

func (q queries) deliveries(ctx context.Context, db dbtx, op, query string, args ...any) ([]account.WebhookDelivery, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, dbErr(op, err)
	}
	defer rows.Close()
	ds := []account.WebhookDelivery{}
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, dbErr(op, err)
		}
		ds = append(ds, d)
	}
	return ds, errOrNil(op, rows.Err())
}

// EnqueueDelivery inserts a delivery and sets its ID.
func (q queries) EnqueueDelivery(ctx context.Context, d *account.WebhookDelivery) error {
	res, err := q.w.ExecContext(ctx, `INSERT INTO webhook_deliveries (tenant_id, endpoint_id, customer_id, event_id, type, payload,
		status, attempts, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.TenantID, d.EndpointID, d.CustomerID, d.EventID, d.Type, sealedBlob(d.Payload), string(d.Status), d.Attempts,
		micros(d.NextAttemptAt), micros(d.CreatedAt))
	if err != nil {
		return dbErr("enqueue delivery", err)
	}
	d.ID, err = res.LastInsertId()
	return errOrNil("enqueue delivery", err)
}

// ClaimDeliveries leases due deliveries in one statement, which the one
// write connection serialises; a delivery with an earlier pending one
// of its endpoint and customer waits.
func (q queries) ClaimDeliveries(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]account.WebhookDelivery, error) {
	if limit <= 0 {
		return []account.WebhookDelivery{}, nil
	}
	ds, err := q.deliveries(ctx, q.w, "claim deliveries", `UPDATE webhook_deliveries SET lease_owner = ?, lease_until = ?, attempts = attempts + 1
		WHERE id IN (
			SELECT d.id FROM webhook_deliveries d
			WHERE d.status = 'pending' AND d.next_attempt_at <= ? AND (d.lease_until IS NULL OR d.lease_until < ?)
			AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e WHERE e.endpoint_id = d.endpoint_id
				AND e.customer_id = d.customer_id AND e.status = 'pending' AND e.id < d.id)
			ORDER BY d.id LIMIT ?
		)
		RETURNING `+deliveryColumns, owner, micros(leaseUntil), micros(now), micros(now), limit)
	slices.SortFunc(ds, func(a, b account.WebhookDelivery) int { return cmp.Compare(a.ID, b.ID) })
	return ds, err
}

// FinishDelivery marks a pending delivery delivered or failed.
func (q queries) FinishDelivery(ctx context.Context, id int64, status account.DeliveryStatus, at time.Time, responseStatus int, lastError string) error {
	res, err := q.w.ExecContext(ctx, `UPDATE webhook_deliveries SET status = ?, finished_at = ?, payload = NULL, lease_owner = '',
		lease_until = NULL, response_status = ?, last_error = ? WHERE id = ? AND status = 'pending'`,
		string(status), micros(at), responseStatus, lastError, id)
	if err != nil {
		return dbErr("finish delivery", err)
	}
	return mustAffect("finish delivery", res)
}

// RescheduleDelivery returns a delivery owner holds to the queue.
func (q queries) RescheduleDelivery(ctx context.Context, id int64, owner string, next time.Time, responseStatus int, lastError string) error {
	res, err := q.w.ExecContext(ctx, `UPDATE webhook_deliveries SET next_attempt_at = ?, lease_owner = '', lease_until = NULL,
		response_status = ?, last_error = ? WHERE id = ? AND status = 'pending' AND lease_owner = ? AND lease_owner <> ''`,
		micros(next), responseStatus, lastError, id, owner)
	if err != nil {
		return dbErr("reschedule delivery", err)
	}
	return mustAffect("reschedule delivery", res)
}

// FailPendingDeliveries fails every pending delivery of an endpoint.
func (q queries) FailPendingDeliveries(ctx context.Context, endpointID int64, at time.Time, reason string) error {
	_, err := q.w.ExecContext(ctx, `UPDATE webhook_deliveries SET status = 'failed', finished_at = ?, payload = NULL, lease_owner = '',
		lease_until = NULL, last_error = ? WHERE endpoint_id = ? AND status = 'pending'`, micros(at), reason, endpointID)
	return errOrNil("fail deliveries", err)
}

// ListDeliveries returns an endpoint's newest deliveries first.
func (q queries) ListDeliveries(ctx context.Context, endpointID int64, limit int) ([]account.WebhookDelivery, error) {
	return q.deliveries(ctx, q.r, "deliveries", `SELECT `+deliveryColumns+` FROM webhook_deliveries WHERE endpoint_id = ?
		ORDER BY id DESC LIMIT ?`, endpointID, limit)
}

// PurgeDeliveries deletes deliveries finished before before.
func (q queries) PurgeDeliveries(ctx context.Context, before time.Time) error {
	_, err := q.w.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE status <> 'pending' AND finished_at < ?`, micros(before))
	return errOrNil("purge deliveries", err)
}
