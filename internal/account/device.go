package account

import (
	"context"
	"net/netip"
	"strings"
)

// Requester is where a request comes from: its client's address (the
// rightmost untrusted hop) and its user agent. The HTTP layer puts it
// into the request's context; a session records what the tenant's
// session.client_address setting allows of it.
type Requester struct {
	Addr      netip.Addr
	UserAgent string
}

type requesterKey struct{}

// WithRequester returns ctx carrying the request's requester.
func WithRequester(ctx context.Context, r Requester) context.Context {
	return context.WithValue(ctx, requesterKey{}, r)
}

// RequesterFrom is the requester ctx carries, or the zero Requester.
func RequesterFrom(ctx context.Context) Requester {
	r, _ := ctx.Value(requesterKey{}).(Requester)
	return r
}

// How a session keeps its client's address (session.client_address).
const (
	AddressFull      = "full"      // the address as it came
	AddressTruncated = "truncated" // IPv4 to its /24, IPv6 to its /48
	AddressNone      = "none"      // not at all
)

// storedAddress is the address as the tenant's setting keeps it: empty,
// the address, or its network in CIDR notation.
func storedAddress(a netip.Addr, how string) string {
	if !a.IsValid() || how == AddressNone {
		return ""
	}
	a = a.Unmap()
	if how == AddressFull {
		return a.String()
	}
	bits := 48
	if a.Is4() {
		bits = 24
	}
	return netip.PrefixFrom(a, bits).Masked().String()
}

// clientAddress is the address of ctx's requester as tenant t keeps
// addresses (session.client_address).
func clientAddress(ctx context.Context, t Tenant) string {
	return storedAddress(RequesterFrom(ctx).Addr, t.Setting("session.client_address"))
}

// DeviceLabel names a user agent for a customer's list of sessions, such
// as "Firefox on Windows", from a small table: the browsers and systems
// that make up nearly all traffic, tested in order (Edge and Opera claim
// to be Chrome, Chrome claims to be Safari, so the specific come first).
// An agent it does not know is "Unknown browser", one without a header
// "Unknown device"; an API client is named by its product token
// ("curl", "okhttp").
func DeviceLabel(ua string) string {
	if strings.TrimSpace(ua) == "" {
		return "Unknown device"
	}
	browser := firstMatch(ua, browsers)
	system := firstMatch(ua, systems)
	switch {
	case browser != "" && system != "":
		return browser + " on " + system
	case browser != "":
		return browser
	case system != "":
		return "Browser on " + system
	}
	if !strings.HasPrefix(ua, "Mozilla/") {
		// A library or tool: its product token, without the version.
		product, _, _ := strings.Cut(strings.Fields(ua)[0], "/")
		if len(product) > 40 {
			product = product[:40]
		}
		return product
	}
	return "Unknown browser"
}

// match is one row of a table: a label and the substring that marks it.
type match struct{ marker, label string }

// browsers are tested in order: a row's marker must not appear in the
// agents of a browser below it.
var browsers = []match{
	{"Edg/", "Edge"}, {"EdgA/", "Edge"}, {"EdgiOS/", "Edge"},
	{"OPR/", "Opera"}, {"OPiOS/", "Opera"},
	{"SamsungBrowser/", "Samsung Internet"},
	{"YaBrowser/", "Yandex Browser"},
	{"Vivaldi/", "Vivaldi"},
	{"Firefox/", "Firefox"}, {"FxiOS/", "Firefox"},
	{"CriOS/", "Chrome"}, {"Chromium/", "Chromium"}, {"Chrome/", "Chrome"},
	{"Safari/", "Safari"},
}

// systems are tested in order, for the same reason: iPhone and Android
// agents also mention Mac OS X and Linux.
var systems = []match{
	{"iPhone", "iPhone"}, {"iPad", "iPad"},
	{"Android", "Android"},
	{"CrOS", "ChromeOS"},
	{"Windows", "Windows"},
	{"Macintosh", "macOS"}, {"Mac OS X", "macOS"},
	{"Linux", "Linux"},
}

func firstMatch(ua string, table []match) string {
	for _, m := range table {
		if strings.Contains(ua, m.marker) {
			return m.label
		}
	}
	return ""
}
