package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"pforte/internal/account"
)

// NextAuditSeq takes the tenant's chain head. SQLite has one writer at a
// time, so the head cannot move until the transaction ends.
func (q queries) NextAuditSeq(ctx context.Context, tenantID int64) (int64, []byte, error) {
	var seq int64
	var prev []byte
	err := q.w.QueryRowContext(ctx, `INSERT INTO audit_heads (tenant_id, seq, hash) VALUES (?, 1, x'')
		ON CONFLICT (tenant_id) DO UPDATE SET seq = seq + 1 RETURNING seq, hash`, tenantID).Scan(&seq, &prev)
	if err != nil {
		return 0, nil, dbErr("next audit seq", err)
	}
	return seq, prev, nil
}

// AppendAudit inserts e and makes its hash the tenant's head.
func (q queries) AppendAudit(ctx context.Context, e *account.AuditEvent) error {
	detail, err := json.Marshal(e.Detail)
	if err != nil {
		return err
	}
	if e.PrevHash == nil {
		e.PrevHash = []byte{} // the first event's: an empty blob, not NULL
	}
	_, err = q.w.ExecContext(ctx, `INSERT INTO audit_events (tenant_id, seq, at, type, actor, outcome, customer_id,
		client_address, detail, erased, body_hash, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)`,
		e.TenantID, e.Seq, micros(e.At), string(e.Type), e.Actor, e.Outcome, e.CustomerID, e.ClientAddress, string(detail),
		e.BodyHash, e.PrevHash, e.Hash)
	if err != nil {
		return dbErr("append audit event", err)
	}
	if _, err := q.w.ExecContext(ctx, `UPDATE audit_heads SET hash = ? WHERE tenant_id = ?`, e.Hash, e.TenantID); err != nil {
		return dbErr("append audit event", err)
	}
	e.At = utc(e.At)
	return nil
}

// ListAudit returns the tenant's events that aq selects, by seq.
func (q queries) ListAudit(ctx context.Context, aq account.AuditQuery) ([]account.AuditEvent, error) {
	where := []string{"tenant_id = ?", "seq > ?"}
	args := []any{aq.TenantID, aq.AfterSeq}
	if aq.CustomerID != 0 {
		where, args = append(where, "customer_id = ?"), append(args, aq.CustomerID)
	}
	if aq.Type != "" {
		where, args = append(where, "type = ?"), append(args, string(aq.Type))
	}
	if !aq.Since.IsZero() {
		where, args = append(where, "at >= ?"), append(args, micros(aq.Since))
	}
	rows, err := q.r.QueryContext(ctx, `SELECT tenant_id, seq, at, type, actor, outcome, customer_id, client_address,
		detail, erased, body_hash, prev_hash, hash FROM audit_events WHERE `+strings.Join(where, " AND ")+
		` ORDER BY seq LIMIT ?`, append(args, aq.Limit)...)
	if err != nil {
		return nil, dbErr("list audit events", err)
	}
	defer rows.Close()
	events := []account.AuditEvent{}
	for rows.Next() {
		var (
			e      account.AuditEvent
			at     int64
			typ    string
			detail string
		)
		if err := rows.Scan(&e.TenantID, &e.Seq, &at, &typ, &e.Actor, &e.Outcome, &e.CustomerID, &e.ClientAddress,
			&detail, &e.Erased, &e.BodyHash, &e.PrevHash, &e.Hash); err != nil {
			return nil, dbErr("list audit events", err)
		}
		e.At, e.Type = fromMicros(at), account.AuditType(typ)
		if err := json.Unmarshal([]byte(detail), &e.Detail); err != nil {
			return nil, dbErr("list audit events", err)
		}
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr("list audit events", err)
	}
	return events, nil
}

// AuditCut returns where pruning cut the tenant's chain.
func (q queries) AuditCut(ctx context.Context, tenantID int64) (int64, []byte, error) {
	var seq int64
	var hash []byte
	err := q.r.QueryRowContext(ctx, `SELECT cut_seq, cut_hash FROM audit_heads WHERE tenant_id = ?`, tenantID).Scan(&seq, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil, nil
	} else if err != nil {
		return 0, nil, dbErr("audit cut", err)
	}
	return seq, hash, nil
}

// PruneAudit deletes the tenant's events before before, recording the
// seq and hash of the last one deleted as the chain's cut.
func (q queries) PruneAudit(ctx context.Context, tenantID int64, before time.Time) error {
	var seq int64
	var hash []byte
	err := q.w.QueryRowContext(ctx, `SELECT seq, hash FROM audit_events WHERE tenant_id = ? AND at < ?
		ORDER BY seq DESC LIMIT 1`, tenantID, micros(before)).Scan(&seq, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	} else if err != nil {
		return dbErr("prune audit events", err)
	}
	if _, err := q.w.ExecContext(ctx, `DELETE FROM audit_events WHERE tenant_id = ? AND seq <= ?`, tenantID, seq); err != nil {
		return dbErr("prune audit events", err)
	}
	_, err = q.w.ExecContext(ctx, `UPDATE audit_heads SET cut_seq = ?, cut_hash = ? WHERE tenant_id = ?`, seq, hash, tenantID)
	return errOrNil("prune audit events", err)
}

// EraseAudit clears the bodies of a customer's events.
func (q queries) EraseAudit(ctx context.Context, tenantID, customerID int64) error {
	_, err := q.w.ExecContext(ctx, `UPDATE audit_events SET customer_id = 0, client_address = '', detail = '{}', erased = 1
		WHERE tenant_id = ? AND customer_id = ?`, tenantID, customerID)
	return errOrNil("erase audit events", err)
}

func errOrNil(op string, err error) error {
	if err != nil {
		return dbErr(op, err)
	}
	return nil
}
