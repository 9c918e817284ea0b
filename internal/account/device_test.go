package account

import (
	"net/netip"
	"testing"
)

func TestDeviceLabel(t *testing.T) {
	for _, tt := range []struct{ agent, want string }{
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox on Windows"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", "Edge on Windows"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "Chrome on macOS"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15", "Safari on macOS"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1", "Safari on iPhone"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1", "Chrome on iPhone"},
		{"Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36", "Samsung Internet on Android"},
		{"Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36", "Chrome on Android"},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 OPR/115.0.0.0", "Opera on Linux"},
		{"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "Chrome on ChromeOS"},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36", "Chrome on Linux"},
		{"Mozilla/5.0 (compatible; SomeBot/1.0)", "Unknown browser"},
		{"Mozilla/5.0 (Windows NT 10.0)", "Browser on Windows"},
		{"curl/8.5.0", "curl"},
		{"okhttp/4.12.0", "okhttp"},
		{"", "Unknown device"},
		{"   ", "Unknown device"},
	} {
		if got := DeviceLabel(tt.agent); got != tt.want {
			t.Errorf("DeviceLabel(%q) = %q, want %q", tt.agent, got, tt.want)
		}
	}
}

func TestStoredAddress(t *testing.T) {
	for _, tt := range []struct{ addr, how, want string }{
		{"203.0.113.77", AddressFull, "203.0.113.77"},
		{"203.0.113.77", AddressTruncated, "203.0.113.0/24"},
		{"::ffff:203.0.113.77", AddressTruncated, "203.0.113.0/24"},
		{"2001:db8:1:2:3:4:5:6", AddressTruncated, "2001:db8:1::/48"},
		{"2001:db8:1:2:3:4:5:6", AddressFull, "2001:db8:1:2:3:4:5:6"},
		{"203.0.113.77", AddressNone, ""},
	} {
		if got := storedAddress(netip.MustParseAddr(tt.addr), tt.how); got != tt.want {
			t.Errorf("storedAddress(%s, %s) = %q, want %q", tt.addr, tt.how, got, tt.want)
		}
	}
	if got := storedAddress(netip.Addr{}, AddressFull); got != "" {
		t.Errorf("storedAddress(no address) = %q, want empty", got)
	}
}
