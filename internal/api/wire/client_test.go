package wire

import (
	"net/http/httptest"
	"testing"
)

func TestClientIP(t *testing.T) {
	trusted, err := ParseProxies([]string{"10.0.0.0/8", "::1"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, remote string
		xff          []string
		want         string
	}{
		{"direct client", "203.0.113.7:5000", nil, "203.0.113.7"},
		{"untrusted peer's header is ignored", "203.0.113.7:5000", []string{"198.51.100.1"}, "203.0.113.7"},
		{"trusted proxy", "10.1.2.3:5000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"spoofed entries left of the client", "10.1.2.3:5000", []string{"1.1.1.1, 198.51.100.1"}, "198.51.100.1"},
		{"chain of trusted proxies", "10.1.2.3:5000", []string{"198.51.100.1, 10.9.9.9", "10.8.8.8"}, "198.51.100.1"},
		{"trusted IPv6 loopback", "[::1]:5000", []string{"2001:db8::5"}, "2001:db8::5"},
		{"garbage hop stops the walk", "10.1.2.3:5000", []string{"198.51.100.1, bogus"}, "10.1.2.3"},
		{"only proxies", "10.1.2.3:5000", []string{"10.4.4.4"}, "10.4.4.4"},
		{"IPv4-mapped peer", "[::ffff:203.0.113.9]:1", nil, "203.0.113.9"},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.remote
		for _, v := range c.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := ClientIP(r, trusted).String(); got != c.want {
			t.Errorf("%s: ClientIP = %s, want %s", c.name, got, c.want)
		}
	}
	mapped, err := ParseProxies([]string{"::ffff:10.0.0.0/104"})
	if err != nil || len(mapped) != 1 || mapped[0].String() != "10.0.0.0/8" {
		t.Errorf("an IPv4-mapped prefix: %v, %v", mapped, err)
	}
	if _, err := ParseProxies([]string{"not-an-ip"}); err == nil {
		t.Error("ParseProxies accepted a name")
	}
}

// TestHost: the Host header without its port, in lower case and without
// a final dot, picks the tenant of the keyless APIs.
func TestHost(t *testing.T) {
	for in, want := range map[string]string{"wallet.example": "wallet.example", "Wallet.Example.:8443": "wallet.example",
		"[::1]:80": "::1", "[::1]": "::1", "127.0.0.1:5000": "127.0.0.1", "": ""} {
		r := httptest.NewRequest("POST", "/", nil)
		r.Host = in
		if got := Host(r); got != want {
			t.Errorf("Host(%q) = %q, want %q", in, got, want)
		}
	}
}
