package account

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/url"
	"slices"
	"strings"
)

// ClientType says how an application logs customers in with OpenID
// Connect, if at all.
type ClientType string

const (
	// ClientNone: the application is no OpenID Connect client.
	ClientNone ClientType = ""
	// ClientConfidential is a server-side site: it proves itself with its
	// client secret at the token endpoint.
	ClientConfidential ClientType = "confidential"
	// ClientPublic is a single-page or mobile app, which can keep no
	// secret: it must use PKCE.
	ClientPublic ClientType = "public"
)

// Client is an application's OpenID Connect client registration.
type Client struct {
	Type ClientType
	// ID is the client_id, generated when the application becomes a
	// client; it is unique across tenants.
	ID string
	// SecretHash is the SHA-256 of a confidential client's secret.
	SecretHash []byte
	// RedirectURIs are where authorizations may return, matched exactly.
	RedirectURIs []string
	// LogoutURIs are where a logout at the end-session endpoint may
	// return, matched exactly.
	LogoutURIs []string
}

// ClientPatch changes an application's client registration; nil fields stay.
type ClientPatch struct {
	Type         *ClientType
	RedirectURIs *[]string
	LogoutURIs   *[]string
	// NewSecret replaces a confidential client's secret.
	NewSecret bool
}

const maxClientURIs = 20

// applyClient applies p to a and returns the new client secret, if it
// made one: when a becomes confidential, or p asks for a new one.
func applyClient(a *Application, p *ClientPatch) string {
	if p == nil {
		return ""
	}
	if p.Type != nil {
		a.Client.Type = *p.Type
	}
	if p.RedirectURIs != nil {
		a.Client.RedirectURIs = slices.Clone(*p.RedirectURIs)
	}
	if p.LogoutURIs != nil {
		a.Client.LogoutURIs = slices.Clone(*p.LogoutURIs)
	}
	switch a.Client.Type {
	case ClientNone:
		// URIs without a type stay for validate to refuse.
		a.Client = Client{RedirectURIs: a.Client.RedirectURIs, LogoutURIs: a.Client.LogoutURIs}
		if p.RedirectURIs == nil && p.LogoutURIs == nil {
			a.Client = Client{}
		}
		return ""
	case ClientPublic:
		a.Client.SecretHash = nil
	}
	if a.Client.ID == "" {
		a.Client.ID = newClientID()
	}
	if a.Client.Type == ClientConfidential && (p.NewSecret || len(a.Client.SecretHash) == 0) {
		secret, hash := newSecret()
		a.Client.SecretHash = hash
		return secret
	}
	return ""
}

// newClientID returns 128 random bits, URL-safe, with a prefix that
// tells what it is.
func newClientID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return "pfc_" + base64.RawURLEncoding.EncodeToString(b)
}

func (c Client) validate() []FieldError {
	var fields []FieldError
	switch c.Type {
	case ClientNone:
		if len(c.RedirectURIs)+len(c.LogoutURIs) > 0 {
			return []FieldError{{Field: "oidc.type", Code: FieldRequired, Message: "redirect URIs need a client type: confidential or public"}}
		}
		return nil
	case ClientConfidential, ClientPublic:
	default:
		return []FieldError{{Field: "oidc.type", Code: FieldInvalid, Message: "must be confidential, public or empty"}}
	}
	if len(c.RedirectURIs) == 0 {
		fields = append(fields, FieldError{Field: "oidc.redirect_uris", Code: FieldRequired, Message: "a client needs at least one redirect URI"})
	}
	for name, uris := range map[string][]string{"oidc.redirect_uris": c.RedirectURIs, "oidc.post_logout_redirect_uris": c.LogoutURIs} {
		if len(uris) > maxClientURIs {
			fields = append(fields, FieldError{Field: name, Code: FieldInvalid, Message: "at most 20 URIs"})
			continue
		}
		for _, u := range uris {
			if msg := checkRedirectURI(u, c.Type); msg != "" {
				fields = append(fields, FieldError{Field: name, Code: FieldInvalid, Message: u + ": " + msg})
			}
		}
	}
	slices.SortFunc(fields, func(a, b FieldError) int { return strings.Compare(a.Field, b.Field) })
	return fields
}

// checkRedirectURI says what is wrong with a redirect URI, or "". https
// everywhere; http only to the client's own machine (loopback), and
// a private scheme (com.example.app:/cb) only for public clients, which
// mobile apps are.
func checkRedirectURI(raw string, t ClientType) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil || len(raw) > 2000 || !u.IsAbs():
		return "must be an absolute URL"
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return "must have no fragment"
	case u.User != nil:
		return "must carry no user name or password"
	case u.Scheme == "https":
		if u.Host == "" {
			return "must have a host"
		}
		return ""
	case u.Scheme == "http":
		if !isLoopbackHost(u.Hostname()) {
			return "http is only allowed for localhost; use https"
		}
		return ""
	case t == ClientPublic && strings.Contains(u.Scheme, "."):
		return "" // a private-use scheme, reverse DNS (RFC 8252, 7.1)
	}
	return "must be https, http on localhost, or (public clients) a reverse-DNS private scheme"
}

func isLoopbackHost(h string) bool {
	return h == "localhost" || h == "127.0.0.1" || h == "::1"
}

// CheckSecret reports whether secret is the client's, in constant time.
func (c Client) CheckSecret(secret string) bool {
	if c.Type != ClientConfidential || len(c.SecretHash) == 0 || secret == "" {
		return false
	}
	return subtle.ConstantTimeCompare(HashSecret(secret), c.SecretHash) == 1
}

var errClientNotFound = &Error{Kind: KindNotFound, Code: CodeClientNotFound, Message: "no such client"}

// ByClientID returns the tenant's application with this client_id; a
// client of another tenant is not found.
func (s *Apps) ByClientID(ctx context.Context, tenantID int64, clientID string) (Application, error) {
	if id, ok := strings.CutPrefix(clientID, "pfc_"); !ok || !isBase64URL(id, 22, 22) {
		return Application{}, errClientNotFound
	}
	a, err := s.store.AppByClientID(ctx, clientID)
	switch {
	case errors.Is(err, ErrNotFound) || (err == nil && (a.TenantID != tenantID || a.Client.Type == ClientNone)):
		return Application{}, errClientNotFound
	case err != nil:
		return Application{}, Internal(err)
	}
	return a, nil
}
