package wire

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ParseProxies parses a list of trusted proxies: addresses or CIDR
// prefixes such as 10.0.0.0/8 or ::1.
func ParseProxies(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			// Peers are compared unmapped, so ::ffff:10.0.0.0/104 is 10.0.0.0/8.
			if a := p.Addr(); a.Is4In6() {
				if p.Bits() < 96 {
					return nil, fmt.Errorf("trusted proxy %q mixes IPv4-mapped and IPv6 addresses", s)
				}
				p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q is neither an address nor a CIDR prefix", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// Host is the request's host name as the keyless APIs resolve tenants by
// it: without a port, in lower case, without a final dot.
func Host(r *http.Request) string {
	h := r.Host
	if name, _, err := net.SplitHostPort(h); err == nil {
		h = name
	}
	return NormalHost(strings.Trim(h, "[]"))
}

// NormalHost is a host name in the form Host gives.
func NormalHost(h string) string { return strings.TrimSuffix(strings.ToLower(h), ".") }

// peer is the address of the connection's other end, unmapped; invalid if
// RemoteAddr is not an address (as in some tests).
func peer(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// ClientIP is the address of the client: the peer's, unless the peer is a
// trusted proxy; then X-Forwarded-For is read from the right, skipping
// trusted proxies, and the first address that is not one is the client.
// Entries left of it were written by the client and prove nothing.
func ClientIP(r *http.Request, proxies []netip.Prefix) netip.Addr {
	peer := peer(r)
	if !peer.IsValid() {
		return peer
	}
	if !trusted(peer, proxies) {
		return peer
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			// A malformed hop: nothing left of it can be trusted.
			break
		}
		client = a.Unmap()
		if !trusted(client, proxies) {
			break
		}
	}
	return client
}
