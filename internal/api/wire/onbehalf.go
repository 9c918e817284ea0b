package wire

import (
	"net/http"
	"net/netip"
	"strings"

	"pforte/internal/account"
)

// Headers with which a site's server, calling with a secret key, names
// the end customer it calls for: what new sessions and the audit log
// record then is the customer's address and browser, not the server's.
// From any other caller they are ignored: a browser's claims about
// itself prove nothing.
const (
	HeaderCustomerIP    = "X-Pforte-Customer-IP"
	HeaderCustomerAgent = "X-Pforte-Customer-Agent"
)

// maxAgentLength bounds a user agent a site passes on.
const maxAgentLength = 512

// OnBehalf returns r carrying, as its requester, the end customer a
// secret-key caller names in HeaderCustomerIP and HeaderCustomerAgent;
// otherwise r unchanged. A malformed address is a validation error.
func OnBehalf(r *http.Request, c account.Caller) (*http.Request, error) {
	if !c.IsSecret() {
		return r, nil
	}
	ip, agent := r.Header.Get(HeaderCustomerIP), r.Header.Get(HeaderCustomerAgent)
	if ip == "" && agent == "" {
		return r, nil
	}
	req := account.RequesterFrom(r.Context())
	if ip != "" {
		a, err := netip.ParseAddr(strings.TrimSpace(ip))
		if err != nil {
			return nil, account.Invalid(account.FieldError{Field: HeaderCustomerIP, Code: account.FieldInvalid,
				Message: "must be an IPv4 or IPv6 address"})
		}
		req.Addr = a.Unmap()
	}
	if agent != "" {
		if len(agent) > maxAgentLength {
			agent = agent[:maxAgentLength]
		}
		req.UserAgent = agent
	}
	return r.WithContext(account.WithRequester(r.Context(), req)), nil
}
