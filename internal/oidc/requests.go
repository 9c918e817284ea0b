package oidc

import (
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"pforte/internal/account"
)

// authRequest is an account.Authorization as the provider sees it.
type authRequest struct {
	a       account.Authorization
	subject string // the customer's uuid, once approved
	refresh string // the first refresh token, made as the code was redeemed
}

var _ op.AuthRequest = (*authRequest)(nil)

func (r *authRequest) GetID() string          { return r.a.ID }
func (r *authRequest) GetACR() string         { return "" }
func (r *authRequest) GetAMR() []string       { return []string{"pwd"} }
func (r *authRequest) GetAudience() []string  { return []string{r.a.Request.ClientID} }
func (r *authRequest) GetAuthTime() time.Time { return r.a.AuthTime }
func (r *authRequest) GetClientID() string    { return r.a.Request.ClientID }
func (r *authRequest) GetNonce() string       { return r.a.Request.Nonce }
func (r *authRequest) GetRedirectURI() string { return r.a.Request.RedirectURI }
func (r *authRequest) GetScopes() []string    { return r.a.Request.Scopes }
func (r *authRequest) GetState() string       { return r.a.Request.State }
func (r *authRequest) GetSubject() string     { return r.subject }
func (r *authRequest) Done() bool             { return r.a.Approved() }
func (r *authRequest) GetResponseMode() oidc.ResponseMode {
	return oidc.ResponseMode(r.a.Request.ResponseMode)
}
func (r *authRequest) GetResponseType() oidc.ResponseType {
	return oidc.ResponseType(r.a.Request.ResponseType)
}
func (r *authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if r.a.Request.CodeChallenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{Challenge: r.a.Request.CodeChallenge,
		Method: oidc.CodeChallengeMethod(r.a.Request.CodeChallengeMethod)}
}

// refreshRequest is a grant being refreshed.
type refreshRequest struct {
	grant   account.Grant
	subject string
	scopes  []string
}

var _ op.RefreshTokenRequest = (*refreshRequest)(nil)

func (r *refreshRequest) GetAMR() []string                 { return []string{"pwd"} }
func (r *refreshRequest) GetAudience() []string            { return []string{r.grant.ClientID} }
func (r *refreshRequest) GetAuthTime() time.Time           { return r.grant.AuthTime }
func (r *refreshRequest) GetClientID() string              { return r.grant.ClientID }
func (r *refreshRequest) GetScopes() []string              { return r.scopes }
func (r *refreshRequest) GetSubject() string               { return r.subject }
func (r *refreshRequest) SetCurrentScopes(scopes []string) { r.scopes = scopes }

// client is an application as an OpenID Connect client.
type client struct {
	app      account.Application
	loginURL string
}

var _ op.Client = (*client)(nil)

func (c *client) GetID() string                    { return c.app.Client.ID }
func (c *client) RedirectURIs() []string           { return c.app.Client.RedirectURIs }
func (c *client) PostLogoutRedirectURIs() []string { return c.app.Client.LogoutURIs }

// LoginURL is the hosted login page, which carries the authorization
// through login, registration and a password reset.
func (c *client) LoginURL(id string) string { return c.loginURL + "?authorization=" + id }

// ApplicationType: a confidential client is a web server; a public one
// a browser or native app, whose redirect URIs may be a private scheme
// or a loopback address on any port (RFC 8252, 7.3).
func (c *client) ApplicationType() op.ApplicationType {
	if c.app.Client.Type == account.ClientConfidential {
		return op.ApplicationTypeWeb
	}
	return op.ApplicationTypeNative
}

func (c *client) AuthMethod() oidc.AuthMethod {
	if c.app.Client.Type == account.ClientConfidential {
		return oidc.AuthMethodBasic // client_secret_post is taken too
	}
	return oidc.AuthMethodNone
}

func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *client) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
}
func (c *client) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeJWT }
func (c *client) IDTokenLifetime() time.Duration      { return IDTokenTTL }
func (c *client) DevMode() bool                       { return false }
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(scopes []string) []string { return scopes }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(scopes []string) []string { return scopes }
}
func (c *client) IsScopeAllowed(string) bool           { return false }
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *client) ClockSkew() time.Duration             { return 0 }

// signingKey and publicKey present a tenant's key to the provider.
type signingKey struct{ k account.SigningKey }

func (k signingKey) SignatureAlgorithm() jose.SignatureAlgorithm {
	return jose.SignatureAlgorithm(k.k.Algorithm)
}
func (k signingKey) Key() any   { return k.k.Private }
func (k signingKey) ID() string { return k.k.ID }

type publicKey struct{ k account.SigningKey }

func (k publicKey) ID() string                         { return k.k.ID }
func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.SignatureAlgorithm(k.k.Algorithm) }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return k.k.Private.Public() }
