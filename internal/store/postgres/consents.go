package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"pforte/internal/account"
)

const consentColumns = `id, tenant_id, app_id, version, lang, text, text_hash, created_at, shown_at`

func scanConsent(row scanner) (account.ConsentText, error) {
	var t account.ConsentText
	if err := row.Scan(&t.ID, &t.TenantID, &t.AppID, &t.Version, &t.Lang, &t.Text, &t.Hash, &t.CreatedAt, &t.ShownAt); err != nil {
		return account.ConsentText{}, err
	}
	t.CreatedAt, t.ShownAt = t.CreatedAt.UTC(), utcPtr(t.ShownAt)
	return t, nil
}

// PutConsentText inserts a text, or replaces one nobody was shown yet.
func (q *queries) PutConsentText(ctx context.Context, t *account.ConsentText) error {
	t.CreatedAt = dbTime(t.CreatedAt)
	// The update applies only while shown_at is null; a shown row makes
	// the statement return no row.
	err := q.db.QueryRow(ctx, `INSERT INTO consent_texts (tenant_id, app_id, version, lang, text, text_hash, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (tenant_id, app_id, version, lang) DO UPDATE SET text = excluded.text, text_hash = excluded.text_hash
		WHERE consent_texts.shown_at IS NULL
		RETURNING id`, t.TenantID, t.AppID, t.Version, t.Lang, t.Text, t.Hash, t.CreatedAt).Scan(&t.ID)
	if errors.Is(err, pgx.ErrNoRows) {
		return account.ErrConsentShown
	}
	return storeError("put consent text", err)
}

// ListConsentTexts returns the tenant's texts, newest first.
func (q *queries) ListConsentTexts(ctx context.Context, tenantID int64) ([]account.ConsentText, error) {
	rows, err := q.db.Query(ctx, `SELECT `+consentColumns+` FROM consent_texts WHERE tenant_id = $1 ORDER BY id DESC`, tenantID)
	if err != nil {
		return nil, storeError("list consent texts", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (account.ConsentText, error) { return scanConsent(row) })
	if list == nil {
		list = []account.ConsentText{}
	}
	return list, storeError("list consent texts", err)
}

// CurrentConsentText returns the newest text of an app in lang.
func (q *queries) CurrentConsentText(ctx context.Context, tenantID, appID int64, lang string) (account.ConsentText, error) {
	t, err := scanConsent(q.db.QueryRow(ctx, `SELECT `+consentColumns+` FROM consent_texts
		WHERE tenant_id = $1 AND app_id = $2 AND lang = $3 ORDER BY id DESC LIMIT 1`, tenantID, appID, lang))
	return t, storeError("current consent text", err)
}

// ConsentTextByVersion returns one version's text.
func (q *queries) ConsentTextByVersion(ctx context.Context, tenantID, appID int64, version, lang string) (account.ConsentText, error) {
	t, err := scanConsent(q.db.QueryRow(ctx, `SELECT `+consentColumns+` FROM consent_texts
		WHERE tenant_id = $1 AND app_id = $2 AND version = $3 AND lang = $4`, tenantID, appID, version, lang))
	return t, storeError("consent text", err)
}

// MarkConsentShown records that a text was shown, once.
func (q *queries) MarkConsentShown(ctx context.Context, id int64, at time.Time) error {
	_, err := q.db.Exec(ctx, `UPDATE consent_texts SET shown_at = $2 WHERE id = $1 AND shown_at IS NULL`, id, dbTime(at))
	return storeError("mark consent shown", err)
}
