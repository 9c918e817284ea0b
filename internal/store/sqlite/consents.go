package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"pforte/internal/account"
)

const consentColumns = `id, tenant_id, app_id, version, lang, text, text_hash, created_at, shown_at`

func scanConsent(s scanner) (account.ConsentText, error) {
	var (
		t       account.ConsentText
		created int64
		shown   sql.NullInt64
	)
	if err := s.Scan(&t.ID, &t.TenantID, &t.AppID, &t.Version, &t.Lang, &t.Text, &t.Hash, &created, &shown); err != nil {
		return account.ConsentText{}, err
	}
	t.CreatedAt, t.ShownAt = fromMicros(created), fromNullMicros(shown)
	return t, nil
}

// PutConsentText inserts a text, or replaces one nobody was shown yet.
func (q queries) PutConsentText(ctx context.Context, t *account.ConsentText) error {
	var shown sql.NullInt64
	err := q.w.QueryRowContext(ctx, `SELECT shown_at FROM consent_texts WHERE tenant_id = ? AND app_id = ? AND version = ? AND lang = ?`,
		t.TenantID, t.AppID, t.Version, t.Lang).Scan(&shown)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return dbErr("put consent text", err)
	case shown.Valid:
		return account.ErrConsentShown
	}
	err = q.w.QueryRowContext(ctx, `INSERT INTO consent_texts (tenant_id, app_id, version, lang, text, text_hash, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, app_id, version, lang) DO UPDATE SET text = excluded.text, text_hash = excluded.text_hash
		RETURNING id`, t.TenantID, t.AppID, t.Version, t.Lang, t.Text, t.Hash, micros(t.CreatedAt)).Scan(&t.ID)
	return errOrNil("put consent text", err)
}

// ListConsentTexts returns the tenant's texts, newest first.
func (q queries) ListConsentTexts(ctx context.Context, tenantID int64) ([]account.ConsentText, error) {
	rows, err := q.r.QueryContext(ctx, `SELECT `+consentColumns+` FROM consent_texts WHERE tenant_id = ? ORDER BY id DESC`, tenantID)
	if err != nil {
		return nil, dbErr("list consent texts", err)
	}
	defer rows.Close()
	list := []account.ConsentText{}
	for rows.Next() {
		t, err := scanConsent(rows)
		if err != nil {
			return nil, dbErr("list consent texts", err)
		}
		list = append(list, t)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr("list consent texts", err)
	}
	return list, nil
}

// CurrentConsentText returns the newest text of an app in lang.
func (q queries) CurrentConsentText(ctx context.Context, tenantID, appID int64, lang string) (account.ConsentText, error) {
	t, err := scanConsent(q.r.QueryRowContext(ctx, `SELECT `+consentColumns+` FROM consent_texts
		WHERE tenant_id = ? AND app_id = ? AND lang = ? ORDER BY id DESC LIMIT 1`, tenantID, appID, lang))
	if err != nil {
		return account.ConsentText{}, dbErr("current consent text", err)
	}
	return t, nil
}

// ConsentTextByVersion returns one version's text.
func (q queries) ConsentTextByVersion(ctx context.Context, tenantID, appID int64, version, lang string) (account.ConsentText, error) {
	t, err := scanConsent(q.r.QueryRowContext(ctx, `SELECT `+consentColumns+` FROM consent_texts
		WHERE tenant_id = ? AND app_id = ? AND version = ? AND lang = ?`, tenantID, appID, version, lang))
	if err != nil {
		return account.ConsentText{}, dbErr("consent text", err)
	}
	return t, nil
}

// MarkConsentShown records that a text was shown, once.
func (q queries) MarkConsentShown(ctx context.Context, id int64, at time.Time) error {
	_, err := q.w.ExecContext(ctx, `UPDATE consent_texts SET shown_at = ? WHERE id = ? AND shown_at IS NULL`, micros(at), id)
	return errOrNil("mark consent shown", err)
}
