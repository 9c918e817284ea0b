package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"pforte/internal/account"
)

// NextAuditSeq takes the tenant's chain head; the upsert locks its row
// until the transaction ends, which orders the tenant's events.
func (q *queries) NextAuditSeq(ctx context.Context, tenantID int64) (int64, []byte, error) {
	var seq int64
	var prev []byte
	err := q.db.QueryRow(ctx, `INSERT INTO audit_heads (tenant_id, seq, hash) VALUES ($1, 1, '')
		ON CONFLICT (tenant_id) DO UPDATE SET seq = audit_heads.seq + 1 RETURNING seq, hash`, tenantID).Scan(&seq, &prev)
	return seq, prev, storeError("next audit seq", err)
}

// AppendAudit inserts e and makes its hash the tenant's head.
func (q *queries) AppendAudit(ctx context.Context, e *account.AuditEvent) error {
	detail, err := json.Marshal(e.Detail)
	if err != nil {
		return err
	}
	e.At = dbTime(e.At)
	if e.PrevHash == nil {
		e.PrevHash = []byte{} // the first event's: empty, not NULL
	}
	// One statement, one round trip: the chain head is locked meanwhile.
	_, err = q.db.Exec(ctx, `WITH event AS (INSERT INTO audit_events (tenant_id, seq, at, type, actor, outcome, customer_id,
		client_address, detail, erased, body_hash, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, false, $10, $11, $12))
		UPDATE audit_heads SET hash = $12 WHERE tenant_id = $1`,
		e.TenantID, e.Seq, e.At, string(e.Type), e.Actor, e.Outcome, e.CustomerID, e.ClientAddress, string(detail),
		e.BodyHash, e.PrevHash, e.Hash)
	return storeError("append audit event", err)
}

// ListAudit returns the tenant's events that aq selects, by seq.
func (q *queries) ListAudit(ctx context.Context, aq account.AuditQuery) ([]account.AuditEvent, error) {
	where := []string{"tenant_id = $1", "seq > $2"}
	args := []any{aq.TenantID, aq.AfterSeq}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.Replace(cond, "?", "$"+strconv.Itoa(len(args)), 1))
	}
	if aq.CustomerID != 0 {
		add("customer_id = ?", aq.CustomerID)
	}
	if aq.Type != "" {
		add("type = ?", string(aq.Type))
	}
	if !aq.Since.IsZero() {
		add("at >= ?", aq.Since)
	}
	args = append(args, aq.Limit)
	rows, err := q.db.Query(ctx, `SELECT tenant_id, seq, at, type, actor, outcome, customer_id, client_address,
		detail, erased, body_hash, prev_hash, hash FROM audit_events WHERE `+strings.Join(where, " AND ")+
		` ORDER BY seq LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, storeError("list audit events", err)
	}
	events, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (account.AuditEvent, error) {
		var (
			e      account.AuditEvent
			typ    string
			detail string
		)
		if err := row.Scan(&e.TenantID, &e.Seq, &e.At, &typ, &e.Actor, &e.Outcome, &e.CustomerID, &e.ClientAddress,
			&detail, &e.Erased, &e.BodyHash, &e.PrevHash, &e.Hash); err != nil {
			return e, err
		}
		e.At, e.Type = e.At.UTC(), account.AuditType(typ)
		return e, json.Unmarshal([]byte(detail), &e.Detail)
	})
	if events == nil {
		events = []account.AuditEvent{}
	}
	return events, storeError("list audit events", err)
}

// AuditCut returns where pruning cut the tenant's chain.
func (q *queries) AuditCut(ctx context.Context, tenantID int64) (int64, []byte, error) {
	var seq int64
	var hash []byte
	err := q.db.QueryRow(ctx, `SELECT cut_seq, cut_hash FROM audit_heads WHERE tenant_id = $1`, tenantID).Scan(&seq, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil, nil
	}
	return seq, hash, storeError("audit cut", err)
}

// PruneAudit deletes the tenant's events before before, recording the
// seq and hash of the last one deleted as the chain's cut.
func (q *queries) PruneAudit(ctx context.Context, tenantID int64, before time.Time) error {
	var seq int64
	var hash []byte
	err := q.db.QueryRow(ctx, `SELECT seq, hash FROM audit_events WHERE tenant_id = $1 AND at < $2
		ORDER BY seq DESC LIMIT 1`, tenantID, before).Scan(&seq, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	} else if err != nil {
		return storeError("prune audit events", err)
	}
	// The head's row lock orders this against appends.
	if _, err := q.db.Exec(ctx, `UPDATE audit_heads SET cut_seq = $2, cut_hash = $3 WHERE tenant_id = $1`, tenantID, seq, hash); err != nil {
		return storeError("prune audit events", err)
	}
	_, err = q.db.Exec(ctx, `DELETE FROM audit_events WHERE tenant_id = $1 AND seq <= $2`, tenantID, seq)
	return storeError("prune audit events", err)
}

// EraseAudit clears the bodies of a customer's events.
func (q *queries) EraseAudit(ctx context.Context, tenantID, customerID int64) error {
	_, err := q.db.Exec(ctx, `UPDATE audit_events SET customer_id = 0, client_address = '', detail = '{}', erased = true
		WHERE tenant_id = $1 AND customer_id = $2`, tenantID, customerID)
	return storeError("erase audit events", err)
}
