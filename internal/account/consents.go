package account

import (
	"context"
	"crypto/sha256"
	"errors"
	"regexp"
	"strings"
	"time"
)

// ConsentText is one version of a tenant's (or an application's)
// consent text in one language. Once shown to a registrant it never
// changes: a changed text is a new version.
type ConsentText struct {
	ID        int64
	TenantID  int64
	AppID     int64 // 0: the tenant's
	Version   string
	Lang      string
	Text      string
	Hash      []byte // SHA-256 of Text
	CreatedAt time.Time
	ShownAt   *time.Time
}

// Consents keeps consent texts.
type Consents struct{ *core }

// ErrConsentShown refuses to change a text a registrant has seen.
var ErrConsentShown = &Error{Kind: KindConflict, Code: CodeConsentShown,
	Message: "this consent version was shown to registrants and can no longer change; add a new version"}

var consentVersionPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Add keeps a consent text: a new version, or a new text for a version
// nobody has been shown yet. app names an application of the tenant, or
// is empty for the tenant's own text.
func (s *Consents) Add(ctx context.Context, slug, app, version, lang, text string) (ConsentText, error) {
	var fields []FieldError
	if !consentVersionPattern.MatchString(version) {
		fields = append(fields, FieldError{Field: "version", Code: FieldInvalid, Message: "must be 1 to 64 letters, digits, '.', '_' or '-'"})
	}
	if lang != "de" && lang != "en" {
		fields = append(fields, FieldError{Field: "lang", Code: FieldInvalid, Message: "must be de or en"})
	}
	if strings.TrimSpace(text) == "" || len(text) > 10000 {
		fields = append(fields, FieldError{Field: "text", Code: FieldInvalid, Message: "must be 1 to 10000 bytes"})
	}
	if len(fields) > 0 {
		return ConsentText{}, Invalid(fields...)
	}
	t, err := s.tenants.BySlug(ctx, slug)
	if err != nil {
		return ConsentText{}, err
	}
	var appID int64
	if app != "" {
		a, err := s.store.AppByName(ctx, t.ID, app)
		if errors.Is(err, ErrNotFound) {
			return ConsentText{}, Errorf(KindNotFound, CodeAppNotFound, "no application %q", app)
		} else if err != nil {
			return ConsentText{}, Internal(err)
		}
		appID = a.ID
	}
	sum := sha256.Sum256([]byte(text))
	ct := ConsentText{TenantID: t.ID, AppID: appID, Version: version, Lang: lang, Text: text, Hash: sum[:], CreatedAt: s.now()}
	if err := s.store.PutConsentText(ctx, &ct); errors.Is(err, ErrConsentShown) {
		return ConsentText{}, ErrConsentShown
	} else if err != nil {
		return ConsentText{}, Internal(err)
	}
	s.audit.recordAlone(ctx, t.ID, AuditEvent{Type: AuditSettingChanged, Actor: ActorCLI,
		Detail: map[string]string{"key": "consent", "version": version, "lang": lang}})
	return ct, nil
}

// List lists a tenant's consent texts, newest first.
func (s *Consents) List(ctx context.Context, slug string) ([]ConsentText, error) {
	t, err := s.tenants.BySlug(ctx, slug)
	if err != nil {
		return nil, err
	}
	list, err := s.store.ListConsentTexts(ctx, t.ID)
	if err != nil {
		return nil, Internal(err)
	}
	return list, nil
}

// Current is the consent text a caller's registrations show in lang:
// the newest version of the caller's application, else of its tenant;
// ok is false when there is none.
func (s *Consents) Current(ctx context.Context, c Caller, lang string) (ConsentText, bool, error) {
	var apps []int64
	if c.App != nil {
		apps = append(apps, c.App.ID)
	}
	for _, app := range append(apps, 0) {
		ct, err := s.store.CurrentConsentText(ctx, c.Tenant.ID, app, lang)
		if err == nil {
			return ct, true, nil
		} else if !errors.Is(err, ErrNotFound) {
			return ConsentText{}, false, Internal(err)
		}
	}
	return ConsentText{}, false, nil
}

// resolveConsent completes the consent a registration names with the
// text the tenant keeps under that version, and marks that text shown.
func (s *core) resolveConsent(ctx context.Context, tx Tx, c Caller, consent *Consent) error {
	if consent == nil || consent.Version == "" {
		return nil
	}
	var apps []int64
	if c.App != nil {
		apps = append(apps, c.App.ID)
	}
	for _, app := range append(apps, 0) {
		ct, err := tx.ConsentTextByVersion(ctx, c.Tenant.ID, app, consent.Version, consent.Lang)
		if errors.Is(err, ErrNotFound) {
			continue
		} else if err != nil {
			return err
		}
		consent.Text, consent.Lang = ct.Text, ct.Lang
		return tx.MarkConsentShown(ctx, ct.ID, s.now())
	}
	return nil
}
