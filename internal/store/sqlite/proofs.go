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
