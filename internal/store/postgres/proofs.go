package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"pforte/internal/account"
)

// CreateProof inserts an opt-in proof and sets its ID.
func (q *queries) CreateProof(ctx context.Context, p *account.OptInProof) error {
	if p.ConsentHash == nil {
		p.ConsentHash = []byte{}
	}
	p.RequestedAt = dbTime(p.RequestedAt)
	err := q.db.QueryRow(ctx, `INSERT INTO optin_proofs (tenant_id, customer_id, token_id, kind, channel, requested_at,
		request_address, request_agent, consent_version, consent_lang, consent_hash, mail_id, message_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id`,
		p.TenantID, p.CustomerID, p.TokenID, p.Kind, p.Channel, p.RequestedAt, p.RequestAddress, p.RequestAgent,
		p.ConsentVersion, p.ConsentLang, p.ConsentHash, p.MailID, p.MessageID).Scan(&p.ID)
	return storeError("create proof", err)
}

// ConfirmProof records the confirmation of a token's proofs.
func (q *queries) ConfirmProof(ctx context.Context, tenantID, tokenID int64, at time.Time, address, agent string) error {
	_, err := q.db.Exec(ctx, `UPDATE optin_proofs SET confirmed_at = $3, confirm_address = $4, confirm_agent = $5
		WHERE tenant_id = $1 AND token_id = $2 AND confirmed_at IS NULL`, tenantID, tokenID, dbTime(at), address, agent)
	return storeError("confirm proof", err)
}

// ProofMailAccepted records when a proof's mail was accepted.
func (q *queries) ProofMailAccepted(ctx context.Context, mailID int64, at time.Time) error {
	_, err := q.db.Exec(ctx, `UPDATE optin_proofs SET mail_accepted_at = $2 WHERE mail_id = $1 AND mail_accepted_at IS NULL`,
		mailID, dbTime(at))
	return storeError("proof mail accepted", err)
}

// ProofsOf returns a customer's proofs, oldest first.
func (q *queries) ProofsOf(ctx context.Context, tenantID, customerID int64) ([]account.OptInProof, error) {
	rows, err := q.db.Query(ctx, `SELECT id, tenant_id, customer_id, token_id, kind, channel, requested_at,
		request_address, request_agent, consent_version, consent_lang, consent_hash, mail_id, message_id,
		mail_accepted_at, confirmed_at, confirm_address, confirm_agent
		FROM optin_proofs WHERE tenant_id = $1 AND customer_id = $2 ORDER BY id`, tenantID, customerID)
	if err != nil {
		return nil, storeError("proofs", err)
	}
	ps, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (account.OptInProof, error) {
		var p account.OptInProof
		err := row.Scan(&p.ID, &p.TenantID, &p.CustomerID, &p.TokenID, &p.Kind, &p.Channel, &p.RequestedAt,
			&p.RequestAddress, &p.RequestAgent, &p.ConsentVersion, &p.ConsentLang, &p.ConsentHash, &p.MailID, &p.MessageID,
			&p.MailAcceptedAt, &p.ConfirmedAt, &p.ConfirmAddress, &p.ConfirmAgent)
		p.RequestedAt, p.MailAcceptedAt, p.ConfirmedAt = p.RequestedAt.UTC(), utcPtr(p.MailAcceptedAt), utcPtr(p.ConfirmedAt)
		return p, err
	})
	if ps == nil {
		ps = []account.OptInProof{}
	}
	return ps, storeError("proofs", err)
}

// ConfirmProofsOfKind records the confirmation of a customer's
// unconfirmed proofs of a kind.
func (q *queries) ConfirmProofsOfKind(ctx context.Context, tenantID, customerID int64, kind string, at time.Time, address, agent string) error {
	_, err := q.db.Exec(ctx, `UPDATE optin_proofs SET confirmed_at = $4, confirm_address = $5, confirm_agent = $6
		WHERE tenant_id = $1 AND customer_id = $2 AND kind = $3 AND confirmed_at IS NULL`,
		tenantID, customerID, kind, dbTime(at), address, agent)
	return storeError("confirm proofs", err)
}

// DeleteProofs removes a customer's proofs.
func (q *queries) DeleteProofs(ctx context.Context, tenantID, customerID int64) error {
	_, err := q.db.Exec(ctx, `DELETE FROM optin_proofs WHERE tenant_id = $1 AND customer_id = $2`, tenantID, customerID)
	return storeError("delete proofs", err)
}

// DeleteUnconfirmedProofs removes the tenant's proofs requested before
// before and never confirmed.
func (q *queries) DeleteUnconfirmedProofs(ctx context.Context, tenantID int64, before time.Time) error {
	_, err := q.db.Exec(ctx, `DELETE FROM optin_proofs WHERE tenant_id = $1 AND confirmed_at IS NULL AND requested_at < $2`,
		tenantID, dbTime(before))
	return storeError("delete unconfirmed proofs", err)
}

// CreateErasure records an erased customer whose proofs are kept.
func (q *queries) CreateErasure(ctx context.Context, e account.Erasure) error {
	_, err := q.db.Exec(ctx, `INSERT INTO erasures (tenant_id, customer_id, subject, erased_at, keep_until)
		VALUES ($1, $2, $3, $4, $5)`, e.TenantID, e.CustomerID, e.Subject, dbTime(e.ErasedAt), dbTime(e.KeepUntil))
	return storeError("create erasure", err)
}

// ErasuresOf returns the tenant's erasures of this subject, oldest first.
func (q *queries) ErasuresOf(ctx context.Context, tenantID int64, subject string) ([]account.Erasure, error) {
	return q.erasures(ctx, "erasures", `SELECT tenant_id, customer_id, subject, erased_at, keep_until FROM erasures
		WHERE tenant_id = $1 AND subject = $2 ORDER BY erased_at, customer_id`, tenantID, subject)
}

// ErasuresEnded returns up to limit erasures kept until now or before.
func (q *queries) ErasuresEnded(ctx context.Context, now time.Time, limit int) ([]account.Erasure, error) {
	return q.erasures(ctx, "ended erasures", `SELECT tenant_id, customer_id, subject, erased_at, keep_until FROM erasures
		WHERE keep_until <= $1 ORDER BY keep_until LIMIT $2`, dbTime(now), limit)
}

func (q *queries) erasures(ctx context.Context, op, query string, args ...any) ([]account.Erasure, error) {
	rows, err := q.db.Query(ctx, query, args...)
	if err != nil {
		return nil, storeError(op, err)
	}
	es, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (account.Erasure, error) {
		var e account.Erasure
		err := row.Scan(&e.TenantID, &e.CustomerID, &e.Subject, &e.ErasedAt, &e.KeepUntil)
		e.ErasedAt, e.KeepUntil = e.ErasedAt.UTC(), e.KeepUntil.UTC()
		return e, err
	})
	if es == nil {
		es = []account.Erasure{}
	}
	return es, storeError(op, err)
}

// DeleteErasure removes an erasure record.
func (q *queries) DeleteErasure(ctx context.Context, tenantID, customerID int64) error {
	tag, err := q.db.Exec(ctx, `DELETE FROM erasures WHERE tenant_id = $1 AND customer_id = $2`, tenantID, customerID)
	return exactlyOne("delete erasure", tag, err)
}
