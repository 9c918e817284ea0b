package postgres

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"pforte/internal/account"
)

const webhookColumns = `id, tenant_id, url, events, description, secret, enabled, failing_since, disabled_why, created_at, updated_at`

func scanWebhook(row scanner) (account.WebhookEndpoint, error) {
	var (
		e      account.WebhookEndpoint
		events string
	)
	err := row.Scan(&e.ID, &e.TenantID, &e.URL, &events, &e.Description, &e.Secret, &e.Enabled, &e.FailingSince,
		&e.DisabledWhy, &e.CreatedAt, &e.UpdatedAt)
	e.Events = splitList(events)
	e.FailingSince, e.CreatedAt, e.UpdatedAt = utcPtr(e.FailingSince), e.CreatedAt.UTC(), e.UpdatedAt.UTC()
	return e, err
}

func splitList(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

// CreateWebhook inserts an endpoint and sets its ID.
func (q *queries) CreateWebhook(ctx context.Context, e *account.WebhookEndpoint) error {
	err := q.db.QueryRow(ctx, `INSERT INTO webhook_endpoints (tenant_id, url, events, description, secret, enabled,
		failing_since, disabled_why, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
		e.TenantID, e.URL, strings.Join(e.Events, ","), e.Description, e.Secret, e.Enabled, dbTimePtr(e.FailingSince),
		e.DisabledWhy, dbTime(e.CreatedAt), dbTime(e.UpdatedAt)).Scan(&e.ID)
	return storeError("create webhook", err)
}

// WebhookByID returns one endpoint.
func (q *queries) WebhookByID(ctx context.Context, id int64) (account.WebhookEndpoint, error) {
	e, err := scanWebhook(q.db.QueryRow(ctx, `SELECT `+webhookColumns+` FROM webhook_endpoints WHERE id = $1`, id))
	return e, storeError("webhook", err)
}

// ListWebhooks returns a tenant's endpoints by ID.
func (q *queries) ListWebhooks(ctx context.Context, tenantID int64) ([]account.WebhookEndpoint, error) {
	rows, err := q.db.Query(ctx, `SELECT `+webhookColumns+` FROM webhook_endpoints WHERE tenant_id = $1 ORDER BY id`, tenantID)
	if err != nil {
		return nil, storeError("webhooks", err)
	}
	es, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (account.WebhookEndpoint, error) { return scanWebhook(row) })
	if es == nil {
		es = []account.WebhookEndpoint{}
	}
	return es, storeError("webhooks", err)
}

// UpdateWebhook writes an endpoint's changeable columns.
func (q *queries) UpdateWebhook(ctx context.Context, e *account.WebhookEndpoint) error {
	tag, err := q.db.Exec(ctx, `UPDATE webhook_endpoints SET url = $2, events = $3, description = $4, enabled = $5,
		failing_since = $6, disabled_why = $7, updated_at = $8 WHERE id = $1`,
		e.ID, e.URL, strings.Join(e.Events, ","), e.Description, e.Enabled, dbTimePtr(e.FailingSince), e.DisabledWhy, dbTime(e.UpdatedAt))
	return exactlyOne("update webhook", tag, err)
}

// DeleteWebhook deletes an endpoint; its deliveries go with it.
func (q *queries) DeleteWebhook(ctx context.Context, tenantID, id int64) error {
	tag, err := q.db.Exec(ctx, `DELETE FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	return exactlyOne("delete webhook", tag, err)
}

const deliveryColumns = `id, tenant_id, endpoint_id, customer_id, event_id, type, payload, status, attempts, next_attempt_at,
	lease_owner, lease_until, response_status, last_error, created_at, finished_at`

func scanDelivery(row scanner) (account.WebhookDelivery, error) {
	var d account.WebhookDelivery
	err := row.Scan(&d.ID, &d.TenantID, &d.EndpointID, &d.CustomerID, &d.EventID, &d.Type, &d.Payload, &d.Status, &d.Attempts,
		&d.NextAttemptAt, &d.LeaseOwner, &d.LeaseUntil, &d.ResponseStatus, &d.LastError, &d.CreatedAt, &d.FinishedAt)
	d.NextAttemptAt, d.LeaseUntil, d.CreatedAt, d.FinishedAt = d.NextAttemptAt.UTC(), utcPtr(d.LeaseUntil), d.CreatedAt.UTC(), utcPtr(d.FinishedAt)
	return d, err
}

func collectDeliveries(rows pgx.Rows) ([]account.WebhookDelivery, error) {
	ds, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (account.WebhookDelivery, error) { return scanDelivery(row) })
	if ds == nil {
		ds = []account.WebhookDelivery{}
	}
	return ds, err
}

// EnqueueDelivery inserts a delivery and sets its ID.
func (q *queries) EnqueueDelivery(ctx context.Context, d *account.WebhookDelivery) error {
	err := q.db.QueryRow(ctx, `INSERT INTO webhook_deliveries (tenant_id, endpoint_id, customer_id, event_id, type, payload,
		status, attempts, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
		d.TenantID, d.EndpointID, d.CustomerID, d.EventID, d.Type, d.Payload, string(d.Status), d.Attempts,
		dbTime(d.NextAttemptAt), dbTime(d.CreatedAt)).Scan(&d.ID)
	return storeError("enqueue delivery", err)
}

// ClaimDeliveries leases due deliveries in one statement. The subquery
// locks what it picks and skips rows another claim holds; a delivery
// with an earlier pending one of its endpoint and customer waits, so
// that at most one of them is in flight.
func (q *queries) ClaimDeliveries(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]account.WebhookDelivery, error) {
	if limit <= 0 {
		return []account.WebhookDelivery{}, nil
	}
	rows, err := q.db.Query(ctx, `UPDATE webhook_deliveries SET lease_owner = $1, lease_until = $3, attempts = attempts + 1
		WHERE id IN (
			SELECT d.id FROM webhook_deliveries d
			WHERE d.status = 'pending' AND d.next_attempt_at <= $2 AND (d.lease_until IS NULL OR d.lease_until < $2)
			AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e WHERE e.endpoint_id = d.endpoint_id
				AND e.customer_id = d.customer_id AND e.status = 'pending' AND e.id < d.id)
			ORDER BY d.id LIMIT $4
			FOR UPDATE SKIP LOCKED
		)
		RETURNING `+deliveryColumns, owner, dbTime(now), dbTime(leaseUntil), limit)
	if err != nil {
		return nil, storeError("claim deliveries", err)
	}
	ds, err := collectDeliveries(rows)
	slices.SortFunc(ds, func(a, b account.WebhookDelivery) int { return cmp.Compare(a.ID, b.ID) })
	return ds, storeError("claim deliveries", err)
}

// FinishDelivery marks a pending delivery delivered or failed.
func (q *queries) FinishDelivery(ctx context.Context, id int64, status account.DeliveryStatus, at time.Time, responseStatus int, lastError string) error {
	tag, err := q.db.Exec(ctx, `UPDATE webhook_deliveries SET status = $2, finished_at = $3, payload = NULL, lease_owner = '',
		lease_until = NULL, response_status = $4, last_error = $5 WHERE id = $1 AND status = 'pending'`,
		id, string(status), dbTime(at), responseStatus, lastError)
	return exactlyOne("finish delivery", tag, err)
}

// RescheduleDelivery returns a delivery owner holds to the queue.
func (q *queries) RescheduleDelivery(ctx context.Context, id int64, owner string, next time.Time, responseStatus int, lastError string) error {
	tag, err := q.db.Exec(ctx, `UPDATE webhook_deliveries SET next_attempt_at = $3, lease_owner = '', lease_until = NULL,
		response_status = $4, last_error = $5 WHERE id = $1 AND status = 'pending' AND lease_owner = $2 AND $2 <> ''`,
		id, owner, dbTime(next), responseStatus, lastError)
	return exactlyOne("reschedule delivery", tag, err)
}

// FailPendingDeliveries fails every pending delivery of an endpoint.
func (q *queries) FailPendingDeliveries(ctx context.Context, endpointID int64, at time.Time, reason string) error {
	_, err := q.db.Exec(ctx, `UPDATE webhook_deliveries SET status = 'failed', finished_at = $2, payload = NULL, lease_owner = '',
		lease_until = NULL, last_error = $3 WHERE endpoint_id = $1 AND status = 'pending'`, endpointID, dbTime(at), reason)
	return storeError("fail deliveries", err)
}

// ListDeliveries returns an endpoint's newest deliveries first.
func (q *queries) ListDeliveries(ctx context.Context, endpointID int64, limit int) ([]account.WebhookDelivery, error) {
	rows, err := q.db.Query(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries WHERE endpoint_id = $1 ORDER BY id DESC LIMIT $2`,
		endpointID, limit)
	if err != nil {
		return nil, storeError("deliveries", err)
	}
	ds, err := collectDeliveries(rows)
	return ds, storeError("deliveries", err)
}

// PurgeDeliveries deletes deliveries finished before before.
func (q *queries) PurgeDeliveries(ctx context.Context, before time.Time) error {
	_, err := q.db.Exec(ctx, `DELETE FROM webhook_deliveries WHERE status <> 'pending' AND finished_at < $1`, dbTime(before))
	return storeError("purge deliveries", err)
}
