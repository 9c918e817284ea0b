package account

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Lifetimes of the OpenID Connect flow's records.
const (
	// AuthorizationTTL is how long a customer has, from the site's
	// redirect, to log in (or register and confirm) and come back.
	AuthorizationTTL = time.Hour
	// CodeTTL is how long an authorization code may be redeemed.
	CodeTTL = 60 * time.Second
)

// AuthorizationRequest is what a client asked for at the authorization
// endpoint, as the provider parsed and checked it.
type AuthorizationRequest struct {
	ClientID            string   `json:"client_id"`
	RedirectURI         string   `json:"redirect_uri"`
	ResponseType        string   `json:"response_type"`
	ResponseMode        string   `json:"response_mode,omitempty"`
	Scopes              []string `json:"scopes"`
	State               string   `json:"state,omitempty"`
	Nonce               string   `json:"nonce,omitempty"`
	CodeChallenge       string   `json:"code_challenge,omitempty"`
	CodeChallengeMethod string   `json:"code_challenge_method,omitempty"`
	Prompt              []string `json:"prompt,omitempty"`
	// MaxAge is the max_age in seconds; nil if not asked.
	MaxAge    *int64   `json:"max_age,omitempty"`
	UILocales []string `json:"ui_locales,omitempty"`
	LoginHint string   `json:"login_hint,omitempty"`
}

// check refuses what the provider passed but pforte does not take: a
// public client without PKCE, a method but S256, a response mode but
// query, and values that are too long or no plain text (they are
// stored, and sent back to the client).
func (r AuthorizationRequest) check(app Application) []FieldError {
	var fields []FieldError
	bad := func(field, code, msg string) {
		fields = append(fields, FieldError{Field: field, Code: code, Message: msg})
	}
	switch {
	case app.Client.Type == ClientPublic && r.CodeChallenge == "":
		bad("code_challenge", FieldRequired, "a public client must use PKCE (S256)")
	case r.CodeChallenge != "" && r.CodeChallengeMethod != "S256":
		bad("code_challenge_method", FieldInvalid, "only S256 is supported")
	case r.CodeChallenge != "" && !isBase64URL(r.CodeChallenge, 43, 128):
		bad("code_challenge", FieldInvalid, "must be 43 to 128 characters of base64url")
	}
	if r.ResponseMode != "" && r.ResponseMode != "query" {
		bad("response_mode", FieldInvalid, "only query is supported")
	}
	for _, f := range []struct {
		name, value string
		max         int
	}{{"state", r.State, 1024}, {"nonce", r.Nonce, 512}, {"login_hint", r.LoginHint, 320}} {
		if len(f.value) > f.max || !isPlainText(f.value) {
			bad(f.name, FieldInvalid, fmt.Sprintf("must be printable text of at most %d bytes", f.max))
		}
	}
	if len(r.UILocales) > 10 {
		bad("ui_locales", FieldInvalid, "at most 10 locales")
	}
	return fields
}

// isPlainText reports whether s is valid UTF-8 without control characters.
func isPlainText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl)
}

// isBase64URL reports whether s is min to max characters of base64url.
func isBase64URL(s string, minLen, maxLen int) bool {
	if len(s) < minLen || len(s) > maxLen {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// isRandomID reports whether s can be an ID newSecret made (an
// authorization's, a grant's): anything else is unknown without a lookup.
func isRandomID(s string) bool { return isBase64URL(s, 43, 43) }

// Prompts the hosted pages act on.
const (
	PromptNone   = "none"
	PromptLogin  = "login"
	PromptCreate = "create"
)

// Authorization is an OpenID Connect login in progress: a client's
// request, which the hosted login approves with a session, and then its
// one-time code.
type Authorization struct {
	ID       string // 256 random bits; the hosted pages carry it
	TenantID int64
	AppID    int64
	Request  AuthorizationRequest
	// Issuer is the issuer URL the client asked, and CallbackURL where
	// the browser goes once the login approved the authorization.
	Issuer      string
	CallbackURL string
	// Set when approved: who logged in, with which session, when, and
	// the hash of the secret the callback must bring.
	CustomerID   int64
	SessionID    int64
	AuthTime     time.Time
	CallbackHash []byte
	// The code, once issued: only its hash is kept.
	CodeHash      []byte
	CodeExpiresAt time.Time
	RedeemedAt    *time.Time
	CreatedAt     time.Time
	ExpiresAt     time.Time
}

// Approved reports whether a login approved the authorization.
func (a Authorization) Approved() bool { return a.SessionID != 0 }

// Asks reports whether the request's prompt holds p.
func (a Authorization) Asks(p string) bool { return slices.Contains(a.Request.Prompt, p) }

// NeedsLogin reports whether a session authenticated at authTime is too
// old or too early for the request: prompt=login asks for a login now,
// max_age for one within that many seconds.
func (a Authorization) NeedsLogin(authTime, now time.Time) bool {
	if a.Asks(PromptLogin) && !authTime.After(a.CreatedAt) {
		return true
	}
	if m := a.Request.MaxAge; m != nil && (*m == 0 || now.Sub(authTime) > time.Duration(*m)*time.Second) {
		return true
	}
	return false
}

// Grant is what a redeemed code gave a client: access for as long as the
// session it came from lives. Its ID is the authorization's, and access
// tokens carry it as their jti.
type Grant struct {
	ID         string
	TenantID   int64
	AppID      int64
	ClientID   string
	CustomerID int64
	SessionID  int64
	Scopes     []string
	AuthTime   time.Time
	CreatedAt  time.Time
}

// RefreshToken is one link of a grant's chain of refresh tokens; using
// it spends it for the next one.
type RefreshToken struct {
	Hash      []byte
	GrantID   string
	TenantID  int64
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}

// Authorizations keeps the state of OpenID Connect logins: requests
// waiting for the hosted login, their codes, the grants codes turn into,
// and their refresh tokens. The protocol itself is the oidc package's.
type Authorizations struct{ *core }

var (
	errAuthorizationGone = &Error{Kind: KindNotFound, Code: CodeAuthorizationGone,
		Message: "this login request is unknown or has expired; go back to the site and start again"}
	// ErrGrantInvalid: a code or refresh token that is unknown, expired,
	// spent, or whose session has ended.
	ErrGrantInvalid = &Error{Kind: KindUnauthorized, Code: CodeGrantInvalid, Message: "the grant is invalid, expired or revoked"}
)

// Begin stores a client's checked request for app. The hosted login
// finds it by the ID it returns; callback builds the URL the browser
// continues at once a login approved it.
func (s *Authorizations) Begin(ctx context.Context, app Application, req AuthorizationRequest, issuer string, callback func(id string) string) (Authorization, error) {
	if fields := req.check(app); len(fields) > 0 {
		return Authorization{}, Invalid(fields...)
	}
	id, _ := newSecret()
	now := s.now()
	a := Authorization{ID: id, TenantID: app.TenantID, AppID: app.ID, Request: req, Issuer: issuer,
		CallbackURL: callback(id), CreatedAt: now, ExpiresAt: now.Add(AuthorizationTTL)}
	if err := s.store.CreateAuthorization(ctx, &a); err != nil {
		return Authorization{}, Internal(err)
	}
	return a, nil
}

// Pending returns the tenant's authorization with this ID, and its
// application, while it waits for a login.
func (s *Authorizations) Pending(ctx context.Context, tenantID int64, id string) (Authorization, Application, error) {
	a, err := s.Get(ctx, id)
	if err != nil || a.TenantID != tenantID || a.Approved() {
		return Authorization{}, Application{}, errAuthorizationGone
	}
	app, err := s.appByID(ctx, a)
	if err != nil {
		return Authorization{}, Application{}, err
	}
	return a, app, nil
}

func (s *Authorizations) appByID(ctx context.Context, a Authorization) (Application, error) {
	app, err := s.store.AppByClientID(ctx, a.Request.ClientID)
	if errors.Is(err, ErrNotFound) || (err == nil && app.ID != a.AppID) {
		return Application{}, errAuthorizationGone // the client was deleted meanwhile
	} else if err != nil {
		return Application{}, Internal(err)
	}
	return app, nil
}

// Get returns an unexpired authorization in any state.
func (s *Authorizations) Get(ctx context.Context, id string) (Authorization, error) {
	if !isRandomID(id) {
		return Authorization{}, errAuthorizationGone
	}
	a, err := s.store.AuthorizationByID(ctx, id)
	if errors.Is(err, ErrNotFound) || (err == nil && !s.now().Before(a.ExpiresAt)) {
		return Authorization{}, errAuthorizationGone
	} else if err != nil {
		return Authorization{}, Internal(err)
	}
	return a, nil
}

// Approve records that sess's customer logged in for the tenant's
// authorization id; the session's start is the time of authentication.
// It returns where the approving browser goes on: the callback, with a
// secret only this answer carries. The authorization's ID travels in
// links and so proves nothing; without the secret, whoever knew the ID
// could collect the code of a login someone else approved.
func (s *Authorizations) Approve(ctx context.Context, tenantID int64, id string, sess Session) (string, error) {
	a, err := s.Get(ctx, id)
	if err != nil || a.TenantID != tenantID || sess.TenantID != tenantID {
		return "", errAuthorizationGone
	}
	secret, hash := newSecret()
	err = s.store.ApproveAuthorization(ctx, id, sess.CustomerID, sess.ID, sess.CreatedAt, hash, s.now())
	if errors.Is(err, ErrNotFound) {
		return "", errAuthorizationGone
	} else if err != nil {
		return "", Internal(err)
	}
	return a.CallbackURL + "&k=" + secret, nil
}

// CheckCallback reports whether secret is the one Approve gave the
// browser that approved the tenant's authorization id, in constant time.
func (s *Authorizations) CheckCallback(ctx context.Context, tenantID int64, id, secret string) error {
	a, err := s.Get(ctx, id)
	if err != nil || a.TenantID != tenantID || !a.Approved() || secret == "" ||
		subtle.ConstantTimeCompare(HashSecret(secret), a.CallbackHash) != 1 {
		return errAuthorizationGone
	}
	return nil
}

// SetCode keeps the hash of the code the provider made for an approved
// authorization; it may be redeemed once, within CodeTTL.
func (s *Authorizations) SetCode(ctx context.Context, id, code string) error {
	err := s.store.SetAuthorizationCode(ctx, id, HashSecret(code), s.now().Add(CodeTTL))
	if errors.Is(err, ErrNotFound) {
		return errAuthorizationGone
	} else if err != nil {
		return Internal(err)
	}
	return nil
}

// Redeem spends a code and turns its authorization into a grant, with
// the first refresh token of its chain if the client asked for
// offline_access. Of concurrent redemptions exactly one succeeds. A code
// presented again after it was spent revokes the grant it gave (RFC
// 6749, 4.1.2): the grant and its refresh token are made in the one
// transaction that spends the code, so a replay that loses the race
// finds them to revoke.
//
// clientID is the client that proved itself, and check tests what the
// token request brought for the code (its PKCE verifier, its redirect
// URI): another client's code, or one brought with the wrong proof, is
// refused and stays unspent, so that an intercepted code cannot be
// spent to revoke its owner's grant.
func (s *Authorizations) Redeem(ctx context.Context, code, clientID string, check func(Authorization) error) (Authorization, string, error) {
	if code == "" || len(code) > 512 {
		return Authorization{}, "", ErrGrantInvalid
	}
	hash, now := HashSecret(code), s.now()
	if a, err := s.store.AuthorizationByCode(ctx, hash); errors.Is(err, ErrNotFound) || (err == nil && a.Request.ClientID != clientID) {
		return Authorization{}, "", ErrGrantInvalid
	} else if err != nil {
		return Authorization{}, "", Internal(err)
	} else if a.RedeemedAt == nil {
		if err := check(a); err != nil {
			return Authorization{}, "", err
		}
	}
	var a Authorization
	var refresh string
	err := s.inTx(ctx, func(tx Tx) error {
		var err error
		a, err = tx.RedeemAuthorizationCode(ctx, hash, now)
		if err != nil {
			return err
		}
		sess, err := tx.SessionByID(ctx, a.TenantID, a.SessionID)
		if err != nil || !now.Before(sess.EndsAt()) {
			return ErrGrantInvalid // logged out since the approval
		}
		g := Grant{ID: a.ID, TenantID: a.TenantID, AppID: a.AppID, ClientID: a.Request.ClientID, CustomerID: a.CustomerID, SessionID: a.SessionID,
			Scopes: a.Request.Scopes, AuthTime: a.AuthTime, CreatedAt: now}
		if err := tx.CreateGrant(ctx, &g); err != nil {
			return err
		}
		refresh = ""
		if slices.Contains(g.Scopes, ScopeOfflineAccess) {
			refresh, _, err = s.newRefresh(ctx, tx, g.TenantID, g.ID)
		}
		return err
	})
	if errors.Is(err, ErrNotFound) {
		if spent, err := s.store.AuthorizationByCode(ctx, hash); err == nil && spent.RedeemedAt != nil {
			s.log.WarnContext(ctx, "authorization code used twice; its grant is revoked", "tenant_id", spent.TenantID, "app_id", spent.AppID)
			if err := s.store.DeleteGrant(ctx, spent.TenantID, spent.ID); err != nil && !errors.Is(err, ErrNotFound) {
				return Authorization{}, "", Internal(err)
			}
		}
		return Authorization{}, "", ErrGrantInvalid
	}
	if err != nil {
		return Authorization{}, "", err
	}
	return a, refresh, nil
}

// ScopeOfflineAccess asks for refresh tokens.
const ScopeOfflineAccess = "offline_access"

// Grant returns a live grant and its customer: the session it came from
// has not ended and the customer may still log in.
func (s *Authorizations) Grant(ctx context.Context, tenantID int64, id string) (Grant, Customer, error) {
	if !isRandomID(id) {
		return Grant{}, Customer{}, ErrGrantInvalid
	}
	g, err := s.store.GrantByID(ctx, tenantID, id)
	if errors.Is(err, ErrNotFound) {
		return Grant{}, Customer{}, ErrGrantInvalid
	} else if err != nil {
		return Grant{}, Customer{}, Internal(err)
	}
	sess, err := s.store.SessionByID(ctx, tenantID, g.SessionID)
	now := s.now()
	if errors.Is(err, ErrNotFound) || (err == nil && !now.Before(sess.EndsAt())) {
		return Grant{}, Customer{}, ErrGrantInvalid
	} else if err != nil {
		return Grant{}, Customer{}, Internal(err)
	}
	// A client's use of the grant is use of its session, which it keeps
	// from ending idle; written at most once a minute.
	if now.Sub(sess.LastSeenAt) > time.Minute {
		if err := s.store.TouchSession(ctx, sess.ID, now); err != nil && !errors.Is(err, ErrNotFound) {
			return Grant{}, Customer{}, Internal(err)
		}
	}
	cust, err := s.store.CustomerByID(ctx, tenantID, g.CustomerID)
	if errors.Is(err, ErrNotFound) || (err == nil && !cust.State.canLogIn()) {
		return Grant{}, Customer{}, ErrGrantInvalid
	} else if err != nil {
		return Grant{}, Customer{}, Internal(err)
	}
	return g, cust, nil
}

// IssueRefresh starts a grant's chain of refresh tokens.
func (s *Authorizations) IssueRefresh(ctx context.Context, tenantID int64, grantID string) (string, time.Time, error) {
	var raw string
	var expires time.Time
	err := s.inTx(ctx, func(tx Tx) error {
		var err error
		raw, expires, err = s.newRefresh(ctx, tx, tenantID, grantID)
		return err
	})
	return raw, expires, err
}

// newRefresh adds a refresh token to a grant; it lives as long as the
// grant's session at most.
func (s *Authorizations) newRefresh(ctx context.Context, tx Tx, tenantID int64, grantID string) (string, time.Time, error) {
	g, err := tx.GrantByID(ctx, tenantID, grantID)
	if errors.Is(err, ErrNotFound) {
		return "", time.Time{}, ErrGrantInvalid
	} else if err != nil {
		return "", time.Time{}, err
	}
	sess, err := tx.SessionByID(ctx, tenantID, g.SessionID)
	if errors.Is(err, ErrNotFound) {
		return "", time.Time{}, ErrGrantInvalid
	} else if err != nil {
		return "", time.Time{}, err
	}
	raw, hash := newSecret()
	now := s.now()
	rt := RefreshToken{Hash: hash, GrantID: g.ID, TenantID: tenantID, CreatedAt: now, ExpiresAt: sess.ExpiresAt}
	if err := tx.CreateRefreshToken(ctx, &rt); err != nil {
		return "", time.Time{}, err
	}
	return raw, rt.ExpiresAt, nil
}

// Refreshing returns the live grant of an unspent refresh token. A spent
// one is a replay, by a thief or by the client it was stolen from: the
// whole grant is revoked.
func (s *Authorizations) Refreshing(ctx context.Context, tenantID int64, token string) (Grant, Customer, error) {
	if token == "" || len(token) > 256 {
		return Grant{}, Customer{}, ErrGrantInvalid
	}
	rt, err := s.store.RefreshTokenByHash(ctx, HashSecret(token))
	switch {
	case errors.Is(err, ErrNotFound) || (err == nil && rt.TenantID != tenantID):
		return Grant{}, Customer{}, ErrGrantInvalid
	case err != nil:
		return Grant{}, Customer{}, Internal(err)
	case rt.UsedAt != nil:
		return Grant{}, Customer{}, s.replayed(ctx, rt)
	case !s.now().Before(rt.ExpiresAt):
		return Grant{}, Customer{}, ErrGrantInvalid
	}
	return s.Grant(ctx, tenantID, rt.GrantID)
}

// Rotate spends a refresh token for the next one of its chain. Of
// concurrent uses one wins; the others are replays, which revoke the
// grant.
func (s *Authorizations) Rotate(ctx context.Context, tenantID int64, token string) (string, time.Time, error) {
	hash := HashSecret(token)
	var raw string
	var expires time.Time
	err := s.inTx(ctx, func(tx Tx) error {
		rt, err := tx.RefreshTokenByHash(ctx, hash)
		if errors.Is(err, ErrNotFound) || (err == nil && rt.TenantID != tenantID) {
			return ErrGrantInvalid
		} else if err != nil {
			return err
		}
		if err := tx.UseRefreshToken(ctx, hash, s.now()); errors.Is(err, ErrNotFound) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		raw, expires, err = s.newRefresh(ctx, tx, tenantID, rt.GrantID)
		return err
	})
	if errors.Is(err, ErrNotFound) {
		rt, lookErr := s.store.RefreshTokenByHash(ctx, hash)
		if lookErr == nil {
			return "", time.Time{}, s.replayed(ctx, rt)
		}
		return "", time.Time{}, ErrGrantInvalid
	}
	return raw, expires, err
}

func (s *Authorizations) replayed(ctx context.Context, rt RefreshToken) error {
	s.log.WarnContext(ctx, "refresh token used twice; its grant is revoked", "tenant_id", rt.TenantID)
	if err := s.store.DeleteGrant(ctx, rt.TenantID, rt.GrantID); err != nil && !errors.Is(err, ErrNotFound) {
		return Internal(err)
	}
	return ErrGrantInvalid
}

// RevokeRefresh ends the grant a refresh token belongs to, if it is the
// tenant's and appID's. Unknown tokens are no error (RFC 7009, 2.2).
func (s *Authorizations) RevokeRefresh(ctx context.Context, tenantID, appID int64, token string) error {
	if token == "" || len(token) > 256 {
		return nil
	}
	rt, err := s.store.RefreshTokenByHash(ctx, HashSecret(token))
	if errors.Is(err, ErrNotFound) {
		return nil
	} else if err != nil {
		return Internal(err)
	}
	return s.revoke(ctx, tenantID, appID, rt.GrantID, "")
}

// RevokeGrant ends the grant of an access token the provider verified:
// its ID and its subject, the customer's uuid.
func (s *Authorizations) RevokeGrant(ctx context.Context, tenantID, appID int64, grantID, subject string) error {
	if !isRandomID(grantID) || subject == "" {
		return nil
	}
	return s.revoke(ctx, tenantID, appID, grantID, subject)
}

func (s *Authorizations) revoke(ctx context.Context, tenantID, appID int64, grantID, subject string) error {
	g, err := s.store.GrantByID(ctx, tenantID, grantID)
	if errors.Is(err, ErrNotFound) || (err == nil && g.AppID != appID) {
		return nil
	} else if err != nil {
		return Internal(err)
	}
	if subject != "" {
		if cust, err := s.store.CustomerByID(ctx, tenantID, g.CustomerID); err != nil || cust.UUID != subject {
			return nil
		}
	}
	if err := s.store.DeleteGrant(ctx, tenantID, g.ID); err != nil && !errors.Is(err, ErrNotFound) {
		return Internal(err)
	}
	return nil
}

// Subject returns the customer who approved a, if they may still log in.
func (s *Authorizations) Subject(ctx context.Context, a Authorization) (Customer, error) {
	cust, err := s.store.CustomerByID(ctx, a.TenantID, a.CustomerID)
	if errors.Is(err, ErrNotFound) || (err == nil && !cust.State.canLogIn()) {
		return Customer{}, ErrGrantInvalid
	} else if err != nil {
		return Customer{}, Internal(err)
	}
	return cust, nil
}

// Customer returns the tenant's customer with this uuid (an ID token's
// subject) if they may log in.
func (s *Authorizations) Customer(ctx context.Context, tenantID int64, uuid string) (Customer, error) {
	cust, err := s.store.CustomerByUUID(ctx, tenantID, uuid)
	if errors.Is(err, ErrNotFound) || (err == nil && !cust.State.canLogIn()) {
		return Customer{}, ErrGrantInvalid
	} else if err != nil {
		return Customer{}, Internal(err)
	}
	return cust, nil
}

// EndSession ends the tenant's session id if it is the customer's with
// this uuid (a logout at the end-session endpoint); its grants end with it.
func (s *Authorizations) EndSession(ctx context.Context, tenantID, id int64, uuid string) error {
	sess, err := s.store.SessionByID(ctx, tenantID, id)
	if errors.Is(err, ErrNotFound) {
		return nil
	} else if err != nil {
		return Internal(err)
	}
	cust, err := s.store.CustomerByID(ctx, tenantID, sess.CustomerID)
	if err != nil || cust.UUID != uuid {
		return nil // not theirs: nothing of theirs to end
	}
	if err := s.store.DeleteSession(ctx, tenantID, id); err != nil && !errors.Is(err, ErrNotFound) {
		return Internal(err)
	}
	s.log.InfoContext(ctx, "logout", "tenant_id", tenantID, "customer_id", cust.ID, "via", "oidc")
	return nil
}
