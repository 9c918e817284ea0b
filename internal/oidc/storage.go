package oidc

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"

	"pforte/internal/account"
)

// ClaimPartnerRef is the claim (with the profile scope) that carries the
// customer's partner reference, when they have one.
const ClaimPartnerRef = "partner_ref"

// storage is op.Storage over account.Service, for the tenant that the
// request's context carries.
type storage struct{ p *Provider }

var _ op.Storage = (*storage)(nil)
var _ op.CanTerminateSessionFromRequest = (*storage)(nil)
var _ op.CanSetUserinfoFromRequest = (*storage)(nil)

func (s *storage) svc() *account.Service { return s.p.svc }

// oauthError maps the domain's errors onto the protocol's; nil stays nil.
func oauthError(err error, fallback *oidc.Error) error {
	var e *account.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &e) && e.Kind == account.KindInternal:
		return oidc.ErrServerError().WithParent(err)
	case errors.As(err, &e) && e.Kind == account.KindInvalid && len(e.Fields) > 0:
		return oidc.ErrInvalidRequest().WithDescription("%s: %s", e.Fields[0].Field, e.Fields[0].Message)
	}
	return fallback.WithParent(err)
}

// CreateAuthRequest keeps a checked authorization request until the
// hosted login approves it.
func (s *storage) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	tc := tenantOf(ctx)
	app, err := s.svc().Apps.ByClientID(ctx, tc.caller.Tenant.ID, req.ClientID)
	if err != nil {
		return nil, oauthError(err, oidc.ErrInvalidClient())
	}
	ar := account.AuthorizationRequest{ClientID: req.ClientID, RedirectURI: req.RedirectURI,
		ResponseType: string(req.ResponseType), ResponseMode: string(req.ResponseMode), Scopes: req.Scopes,
		State: req.State, Nonce: req.Nonce, CodeChallenge: req.CodeChallenge,
		CodeChallengeMethod: string(req.CodeChallengeMethod), Prompt: req.Prompt, LoginHint: req.LoginHint}
	if req.MaxAge != nil {
		v := int64(*req.MaxAge)
		ar.MaxAge = &v
	}
	for _, tag := range req.UILocales {
		ar.UILocales = append(ar.UILocales, tag.String())
	}
	callback := func(id string) string { return op.AuthCallbackURL(s.p.op)(ctx, id) }
	a, err := s.svc().Authorizations.Begin(ctx, app, ar, tc.issuer, callback)
	if err != nil {
		return nil, oauthError(err, oidc.ErrInvalidRequest())
	}
	return &authRequest{a: a}, nil
}

// AuthRequestByID returns the tenant's authorization, with its subject
// once a login approved it.
func (s *storage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	a, err := s.svc().Authorizations.Get(ctx, id)
	if err != nil || a.TenantID != tenantOf(ctx).caller.Tenant.ID {
		return nil, oidc.ErrInvalidRequest().WithDescription("this login request is unknown or has expired")
	}
	return s.withSubject(ctx, a)
}

func (s *storage) withSubject(ctx context.Context, a account.Authorization) (op.AuthRequest, error) {
	ar := &authRequest{a: a}
	if a.Approved() {
		cust, err := s.svc().Authorizations.Subject(ctx, a)
		if err != nil {
			return nil, oauthError(err, oidc.ErrInvalidGrant())
		}
		ar.subject = cust.UUID
	}
	return ar, nil
}

// AuthRequestByCode redeems a code: of concurrent redemptions one gets
// the authorization, and a code seen again revokes what it gave.
func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	tc := tenantOf(ctx)
	// The library checks these after it has the request; checked here
	// too, a wrong verifier or redirect URI spends nothing.
	check := func(a account.Authorization) error {
		if err := op.AuthorizeCodeChallenge(tc.verifier, (&authRequest{a: a}).GetCodeChallenge()); err != nil {
			return err
		}
		if tc.redirectURI != a.Request.RedirectURI {
			return oidc.ErrInvalidGrant().WithDescription("redirect_uri does not correspond")
		}
		return nil
	}
	a, refresh, err := s.svc().Authorizations.Redeem(ctx, code, tc.client, check)
	if err != nil {
		return nil, oauthError(err, oidc.ErrInvalidGrant())
	}
	if a.TenantID != tenantOf(ctx).caller.Tenant.ID {
		return nil, oidc.ErrInvalidGrant()
	}
	req, err := s.withSubject(ctx, a)
	if err != nil {
		return nil, err
	}
	req.(*authRequest).refresh = refresh
	return req, nil
}

// SaveAuthCode keeps the hash of an approved authorization's code.
func (s *storage) SaveAuthCode(ctx context.Context, id, code string) error {
	return oauthError(s.svc().Authorizations.SetCode(ctx, id, code), oidc.ErrInvalidRequest())
}

// DeleteAuthRequest keeps the authorization: its redeemed code must stay
// known until it expires, so that a second use is caught.
func (s *storage) DeleteAuthRequest(context.Context, string) error { return nil }

// grantOf is the grant a token request is for; access tokens carry its ID.
func grantOf(req op.TokenRequest) (string, error) {
	switch r := req.(type) {
	case *authRequest:
		return r.a.ID, nil
	case *refreshRequest:
		return r.grant.ID, nil
	}
	return "", oidc.ErrUnsupportedGrantType()
}

// CreateAccessToken names an access token by its grant and a random
// part, so that each token's jti is its own, for as long as the tenant's
// oidc.access_token_ttl.
func (s *storage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	id, err := grantOf(req)
	if err != nil {
		return "", time.Time{}, err
	}
	b := make([]byte, 9)
	rand.Read(b)
	return id + "." + base64.RawURLEncoding.EncodeToString(b), time.Now().Add(accessTokenTTL(tenantOf(ctx).caller.Tenant)), nil
}

// grantOfToken is the grant an access token's ID names.
func grantOfToken(tokenID string) string {
	grant, _, _ := strings.Cut(tokenID, ".")
	return grant
}

// CreateAccessAndRefreshTokens starts a grant's refresh chain, or spends
// current for the next link.
func (s *storage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	tokenID, exp, err := s.CreateAccessToken(ctx, req)
	if err != nil {
		return "", "", time.Time{}, err
	}
	id := grantOfToken(tokenID)
	tenantID := tenantOf(ctx).caller.Tenant.ID
	var refresh string
	if ar, ok := req.(*authRequest); ok && ar.refresh != "" {
		refresh = ar.refresh // made with the grant, as the code was spent
	} else if current == "" {
		refresh, _, err = s.svc().Authorizations.IssueRefresh(ctx, tenantID, id)
	} else {
		refresh, _, err = s.svc().Authorizations.Rotate(ctx, tenantID, current)
	}
	if err != nil {
		return "", "", time.Time{}, oauthError(err, oidc.ErrInvalidGrant())
	}
	return tokenID, refresh, exp, nil
}

// TokenRequestByRefreshToken returns the live grant of an unspent refresh
// token; a spent one revokes its grant.
func (s *storage) TokenRequestByRefreshToken(ctx context.Context, token string) (op.RefreshTokenRequest, error) {
	g, cust, err := s.svc().Authorizations.Refreshing(ctx, tenantOf(ctx).caller.Tenant.ID, token)
	if err != nil {
		return nil, oauthError(err, oidc.ErrInvalidGrant())
	}
	return &refreshRequest{grant: g, subject: cust.UUID, scopes: g.Scopes}, nil
}

// TerminateSession ends the customer's session that the browser holds.
func (s *storage) TerminateSession(ctx context.Context, userID, _ string) error {
	_, err := s.TerminateSessionFromRequest(ctx, &op.EndSessionRequest{UserID: userID})
	return err
}

// TerminateSessionFromRequest is the end-session endpoint's logout: it
// ends the session the ID token hint names and the browser's page
// session, if they are the hint's customer's. Without a hint nothing is
// ended: a link on any site must not log a customer out.
func (s *storage) TerminateSessionFromRequest(ctx context.Context, req *op.EndSessionRequest) (string, error) {
	tc := tenantOf(ctx)
	redirect := req.RedirectURI
	if u, err := url.Parse(redirect); err != nil || u.Host == "" && !strings.Contains(u.Scheme, ".") {
		// None, or only the state the library adds to none.
		redirect = tc.loginURL + "?done=logout"
	}
	if req.UserID == "" {
		return "", oidc.ErrInvalidRequest().WithDescription("id_token_hint is required to log out")
	}
	auths := s.svc().Authorizations
	if tc.session != "" {
		cust, sess, err := s.svc().Sessions.Lookup(ctx, tc.caller.Tenant.ID, tc.session)
		switch {
		case err == nil && cust.UUID == req.UserID:
			if err := auths.EndSession(ctx, tc.caller.Tenant.ID, sess.ID, req.UserID); err != nil {
				return "", oauthError(err, oidc.ErrServerError())
			}
			tc.ended = true
		case account.IsKind(err, account.KindUnauthorized):
			tc.ended = true // the cookie of a session that ended: of no use to anyone
		}
	}
	if req.IDTokenHintClaims != nil {
		if sid, _ := req.IDTokenHintClaims.Claims["sid"].(string); sid != "" {
			if g, _, err := auths.Grant(ctx, tc.caller.Tenant.ID, sid); err == nil {
				if err := auths.EndSession(ctx, tc.caller.Tenant.ID, g.SessionID, req.UserID); err != nil {
					return "", oauthError(err, oidc.ErrServerError())
				}
			}
		}
	}
	return redirect, nil
}

// RevokeToken ends the grant of a refresh token, or of an access token
// the library verified (then userID is its subject and tokenOrID its
// jti), as RFC 7009 asks: both end together. A bare ID, which travels in
// logs and ID tokens, revokes nothing.
func (s *storage) RevokeToken(ctx context.Context, tokenOrID, userID, clientID string) *oidc.Error {
	tenantID := tenantOf(ctx).caller.Tenant.ID
	app, err := s.svc().Apps.ByClientID(ctx, tenantID, clientID)
	if err != nil {
		return oidc.ErrInvalidClient()
	}
	auths := s.svc().Authorizations
	if userID != "" && strings.Contains(tokenOrID, ".") {
		err = auths.RevokeGrant(ctx, tenantID, app.ID, grantOfToken(tokenOrID), userID)
	} else {
		err = auths.RevokeRefresh(ctx, tenantID, app.ID, tokenOrID)
	}
	if err != nil {
		return oidc.ErrServerError().WithParent(err)
	}
	return nil
}

// GetRefreshTokenInfo tells the revocation endpoint whose a refresh
// token is; it then revokes by the token itself.
func (s *storage) GetRefreshTokenInfo(ctx context.Context, _ string, token string) (string, string, error) {
	_, cust, err := s.svc().Authorizations.Refreshing(ctx, tenantOf(ctx).caller.Tenant.ID, token)
	if err != nil {
		return "", "", op.ErrInvalidRefreshToken
	}
	return cust.UUID, token, nil
}

// SigningKey is the key that signs the tenant's tokens now.
func (s *storage) SigningKey(ctx context.Context) (op.SigningKey, error) {
	t := tenantOf(ctx).caller.Tenant
	k, err := s.svc().SigningKeys.Current(ctx, t, t.Setting(SettingSigningAlg))
	if err != nil {
		return nil, oauthError(err, oidc.ErrServerError())
	}
	return signingKey{k}, nil
}

// SignatureAlgorithms are those of the tenant's published keys.
func (s *storage) SignatureAlgorithms(ctx context.Context) ([]jose.SignatureAlgorithm, error) {
	keys, err := s.KeySet(ctx)
	if err != nil {
		return nil, err
	}
	var algs []jose.SignatureAlgorithm
	for _, k := range keys {
		if !containsAlg(algs, k.Algorithm()) {
			algs = append(algs, k.Algorithm())
		}
	}
	return algs, nil
}

func containsAlg(algs []jose.SignatureAlgorithm, a jose.SignatureAlgorithm) bool {
	for _, x := range algs {
		if x == a {
			return true
		}
	}
	return false
}

// KeySet is the tenant's published public keys, the first made on
// first use.
func (s *storage) KeySet(ctx context.Context) ([]op.Key, error) {
	t := tenantOf(ctx).caller.Tenant
	keys, err := s.svc().SigningKeys.Published(ctx, t.ID)
	if err == nil && !slices.ContainsFunc(keys, func(k account.SigningKey) bool { return k.RetiredAt == nil }) {
		if _, err = s.svc().SigningKeys.Current(ctx, t, t.Setting(SettingSigningAlg)); err == nil {
			keys, err = s.svc().SigningKeys.Published(ctx, t.ID)
		}
	}
	return publicKeys(keys, err)
}

// publicKeys presents keys to the provider.
func publicKeys(keys []account.SigningKey, err error) ([]op.Key, error) {
	if err != nil {
		return nil, oauthError(err, oidc.ErrServerError())
	}
	out := make([]op.Key, 0, len(keys))
	for _, k := range keys {
		out = append(out, publicKey{k})
	}
	return out, nil
}

// hintStorage is the storage whose key set verifies ID token hints: the
// published keys and those retired as long ago as a session lives.
type hintStorage struct{ *storage }

func (s hintStorage) KeySet(ctx context.Context) ([]op.Key, error) {
	return publicKeys(s.svc().SigningKeys.ForHints(ctx, tenantOf(ctx).caller.Tenant.ID))
}

// app is the tenant's application with this client_id: the one the
// request authenticated as, or looked up.
func (s *storage) app(ctx context.Context, clientID string) (account.Application, error) {
	tc := tenantOf(ctx)
	if tc.app != nil && tc.app.Client.ID == clientID {
		return *tc.app, nil
	}
	return s.svc().Apps.ByClientID(ctx, tc.caller.Tenant.ID, clientID)
}

// GetClientByClientID returns the tenant's client; another tenant's is
// unknown here.
func (s *storage) GetClientByClientID(ctx context.Context, clientID string) (op.Client, error) {
	tc := tenantOf(ctx)
	app, err := s.app(ctx, clientID)
	if err != nil {
		return nil, oauthError(err, oidc.ErrInvalidClient().WithDescription("unknown client"))
	}
	return &client{app: app, loginURL: tc.loginURL}, nil
}

// AuthorizeClientIDSecret checks a confidential client's secret.
func (s *storage) AuthorizeClientIDSecret(ctx context.Context, clientID, secret string) error {
	app, err := s.app(ctx, clientID)
	if err != nil || !app.Client.CheckSecret(secret) {
		return oidc.ErrInvalidClient().WithDescription("invalid client_id / client_secret")
	}
	return nil
}

// SetUserinfoFromScopes fills an ID token's claims.
func (s *storage) SetUserinfoFromScopes(ctx context.Context, ui *oidc.UserInfo, userID, _ string, scopes []string) error {
	cust, err := s.svc().Authorizations.Customer(ctx, tenantOf(ctx).caller.Tenant.ID, userID)
	if err != nil {
		return oauthError(err, oidc.ErrInvalidGrant())
	}
	setClaims(ui, cust, scopes)
	return nil
}

// SetUserinfoFromRequest adds the session's ID, which the end-session
// endpoint takes back from an ID token hint.
func (s *storage) SetUserinfoFromRequest(_ context.Context, ui *oidc.UserInfo, req op.IDTokenRequest, _ []string) error {
	if id, err := grantOf(req); err == nil {
		ui.AppendClaims("sid", id)
	}
	return nil
}

// SetUserinfoFromToken answers the userinfo endpoint for an access
// token, while its grant lives.
func (s *storage) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, tokenID, subject, _ string) error {
	g, cust, err := s.svc().Authorizations.Grant(ctx, tenantOf(ctx).caller.Tenant.ID, grantOfToken(tokenID))
	if err != nil || cust.UUID != subject {
		return oidc.ErrAccessDenied().WithDescription("the access token's grant has ended")
	}
	setClaims(ui, cust, g.Scopes)
	return nil
}

// SetIntrospectionFromToken answers introspection for a live grant.
func (s *storage) SetIntrospectionFromToken(ctx context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	g, cust, err := s.svc().Authorizations.Grant(ctx, tenantOf(ctx).caller.Tenant.ID, grantOfToken(tokenID))
	if err != nil || cust.UUID != subject || g.ClientID != clientID {
		return oidc.ErrAccessDenied()
	}
	ui := new(oidc.UserInfo)
	setClaims(ui, cust, g.Scopes)
	resp.SetUserInfo(ui)
	resp.Scope = g.Scopes
	resp.ClientID = g.ClientID
	resp.Active = true
	return nil
}

// GetPrivateClaimsFromScopes adds nothing to access tokens: they carry
// the standard claims only.
func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

// GetKeyByIDAndClientID: clients do not authenticate with keys.
func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, oidc.ErrInvalidClient().WithDescription("private_key_jwt is not supported")
}

// ValidateJWTProfileScopes: the JWT profile grant is not supported.
func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, oidc.ErrUnsupportedGrantType()
}

// Health is the store's.
func (s *storage) Health(ctx context.Context) error { return s.svc().Ready(ctx) }

// setClaims fills the standard claims a customer's scopes allow.
func setClaims(ui *oidc.UserInfo, cust account.Customer, scopes []string) {
	ui.Subject = cust.UUID
	for _, scope := range scopes {
		switch scope {
		case oidc.ScopeEmail:
			ui.Email = cust.Email
			ui.EmailVerified = oidc.Bool(cust.EmailConfirmedAt != nil)
		case oidc.ScopeProfile:
			ui.GivenName, ui.FamilyName = cust.FirstName, cust.LastName
			ui.Name = strings.TrimSpace(cust.FirstName + " " + cust.LastName)
			if tag, err := language.Parse(cust.Locale); err == nil && cust.Locale != "" {
				ui.Locale = oidc.NewLocale(tag)
			}
			if cust.PartnerRef != "" {
				ui.AppendClaims(ClaimPartnerRef, cust.PartnerRef)
			}
		}
	}
}
