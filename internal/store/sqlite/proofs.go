package sqlite

import (
	"context"
	"database/sql"
	"time"

	"pforte/internal/account"
)

// CreateProof inserts an opt-in proof and sets its ID.
func (q queries) CreateProof(ctx context.Context, p *account.OptInProof) error {
	if p.ConsentHash == nil {
		p.ConsentHash = []byte{}
	}
	res, err := q.w.ExecContext(ctx, `INSERT INTO optin_proofs (tenant_id, customer_id, token_id, kind, channel, requested_at,
		request_address, request_agent, consent_version, consent_lang, consent_hash, mail_id, message_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.TenantID, p.CustomerID, p.TokenID, p.Kind, p.Channel, micros(p.RequestedAt), p.RequestAddress, p.RequestAgent,
		p.ConsentVersion, p.ConsentLang, p.ConsentHash, p.MailID, p.MessageID)
	if err != nil {
		return dbErr("create proof", err)
	}
	if p.ID, err = res.LastInsertId(); err != nil {
		return dbErr("create proof", err)
	}
	return nil
}

// ConfirmProof records the confirmation of a token's proofs.
func (q queries) ConfirmProof(ctx context.Context, tenantID, tokenID int64, at time.Time, address, agent string) error {
	_, err := q.w.ExecContext(ctx, `UPDATE optin_proofs SET confirmed_at = ?, confirm_address = ?, confirm_agent = ?
		WHERE tenant_id = ? AND token_id = ? AND confirmed_at IS NULL`, micros(at), address, agent, tenantID, tokenID)
	return errOrNil("confirm proof", err)
}

// ProofMailAccepted records when a proof's mail was accepted.
func (q queries) ProofMailAccepted(ctx context.Context, mailID int64, at time.Time) error {
	_, err := q.w.ExecContext(ctx, `UPDATE optin_proofs SET mail_accepted_at = ? WHERE mail_id = ? AND mail_accepted_at IS NULL`,
		micros(at), mailID)
	return errOrNil("proof mail accepted", err)
}

// ProofsOf returns a customer's proofs, oldest first.
func (q queries) ProofsOf(ctx context.Context, tenantID, customerID int64) ([]account.OptInProof, error) {
	rows, err := q.r.QueryContext(ctx, `SELECT id, tenant_id, customer_id, token_id, kind, channel, requested_at,
		request_address, request_agent, consent_version, consent_lang, consent_hash, mail_id, message_id,
		mail_accepted_at, confirmed_at, confirm_address, confirm_agent
		FROM optin_proofs WHERE tenant_id = ? AND customer_id = ? ORDER BY id`, tenantID, customerID)
	if err != nil {
		return nil, dbErr("proofs", err)
	}
	defer rows.Close()
	ps := []account.OptInProof{}
	for rows.Next() {
		var (
			p                   account.OptInProof
			requested           int64
			accepted, confirmed sql.NullInt64
		)
		if err := rows.Scan(&p.ID, &p.TenantID, &p.CustomerID, &p.TokenID, &p.Kind, &p.Channel, &requested,
			&p.RequestAddress, &p.RequestAgent, &p.ConsentVersion, &p.ConsentLang, &p.ConsentHash, &p.MailID, &p.MessageID,
			&accepted, &confirmed, &p.ConfirmAddress, &p.ConfirmAgent); err != nil {
			return nil, dbErr("proofs", err)
		}
		p.RequestedAt, p.MailAcceptedAt, p.ConfirmedAt = fromMicros(requested), fromNullMicros(accepted), fromNullMicros(confirmed)
		ps = append(ps, p)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr("proofs", err)
	}
	return ps, nil
}

// ConfirmProofsOfKind records the confirmation of a customer's
// unconfirmed proofs of a kind.
func (q queries) ConfirmProofsOfKind(ctx context.Context, tenantID, customerID int64, kind string, at time.Time, address, agent string) error {
	_, err := q.w.ExecContext(ctx, `UPDATE optin_proofs SET confirmed_at = ?, confirm_address = ?, confirm_agent = ?
		WHERE tenant_id = ? AND customer_id = ? AND kind = ? AND confirmed_at IS NULL`,
		micros(at), address, agent, tenantID, customerID, kind)
	return errOrNil("confirm proofs", err)
}

// DeleteProofs removes a customer's proofs.
func (q queries) DeleteProofs(ctx context.Context, tenantID, customerID int64) error {
	_, err := q.w.ExecContext(ctx, `DELETE FROM optin_proofs WHERE tenant_id = ? AND customer_id = ?`, tenantID, customerID)
	return errOrNil("delete proofs", err)
}

// DeleteUnconfirmedProofs removes the tenant's proofs requested before
// before and never confirmed.
func (q queries) DeleteUnconfirmedProofs(ctx context.Context, tenantID int64, before time.Time) error {
	_, err := q.w.ExecContext(ctx, `DELETE FROM optin_proofs WHERE tenant_id = ? AND confirmed_at IS NULL AND requested_at < ?`,
		tenantID, micros(before))
	return errOrNil("delete unconfirmed proofs", err)
}

// CreateErasure records an erased customer whose proofs are kept.
func (q queries) CreateErasure(ctx context.Context, e account.Erasure) error {
	_, err := q.w.ExecContext(ctx, `INSERT INTO erasures (tenant_id, customer_id, subject, erased_at, keep_until)
		VALUES (?, ?, ?, ?, ?)`, e.TenantID, e.CustomerID, e.Subject, micros(e.ErasedAt), micros(e.KeepUntil))
	return errOrNil("create erasure", err)
}

// ErasuresOf returns the tenant's erasures of this subject, oldest first.
func (q queries) ErasuresOf(ctx context.Context, tenantID int64, subject string) ([]account.Erasure, error) {
	return q.erasures(ctx, "erasures", `SELECT tenant_id, customer_id, subject, erased_at, keep_until FROM erasures
		WHERE tenant_id = ? AND subject = ? ORDER BY erased_at, customer_id`, tenantID, subject)
}

// ErasuresEnded returns up to limit erasures kept until now or before.
func (q queries) ErasuresEnded(ctx context.Context, now time.Time, limit int) ([]account.Erasure, error) {
	return q.erasures(ctx, "ended erasures", `SELECT tenant_id, customer_id, subject, erased_at, keep_until FROM erasures
		WHERE keep_until <= ? ORDER BY keep_until LIMIT ?`, micros(now), limit)
}

func (q queries) erasures(ctx context.Context, op, query string, args ...any) ([]account.Erasure, error) {
	rows, err := q.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, dbErr(op, err)
	}
	defer rows.Close()
	es := []account.Erasure{}
	for rows.Next() {
		var (
			e               account.Erasure
			erased, keepTil int64
		)
		if err := rows.Scan(&e.TenantID, &e.CustomerID, &e.Subject, &erased, &keepTil); err != nil {
			return nil, dbErr(op, err)
		}
		e.ErasedAt, e.KeepUntil = fromMicros(erased), fromMicros(keepTil)
		es = append(es, e)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr(op, err)
	}
	return es, nil
}

// DeleteErasure removes an erasure record.
func (q queries) DeleteErasure(ctx context.Context, tenantID, customerID int64) error {
	res, err := q.w.ExecContext(ctx, `DELETE FROM erasures WHERE tenant_id = ? AND customer_id = ?`, tenantID, customerID)
	if err != nil {
		return dbErr("delete erasure", err)
	}
	return mustAffect("delete erasure", res)
}
