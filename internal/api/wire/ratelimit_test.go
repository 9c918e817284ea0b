package wire

import (
	"net/netip"
	"testing"
	"time"

	"pforte/internal/account"
)

func TestClientLimiter(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	l := NewClientLimiter(60, 5, func() time.Time { return now })
	a := netip.MustParseAddr("203.0.113.7")
	for i := range 5 {
		if err := l.Allow(a); err != nil {
			t.Fatalf("request %d of the burst: %v", i+1, err)
		}
	}
	err := l.Allow(a)
	e, ok := err.(*account.Error)
	if !ok || e.Kind != account.KindRateLimited || e.RetryAfter < time.Second || e.RetryAfter > 2*time.Second {
		t.Fatalf("sixth request at once: %v", err)
	}
	// Another client is not affected.
	if err := l.Allow(netip.MustParseAddr("203.0.113.8")); err != nil {
		t.Fatalf("another client: %v", err)
	}
	// A refused request costs nothing: one second later one more is allowed.
	now = now.Add(time.Second)
	if err := l.Allow(a); err != nil {
		t.Fatalf("a second later: %v", err)
	}
	if err := l.Allow(a); err == nil {
		t.Fatal("the bucket refilled faster than 60 a minute")
	}
	// IPv6 clients count per /64.
	for i := range 5 {
		if err := l.Allow(netip.MustParseAddr("2001:db8::" + string(rune('1'+i)))); err != nil {
			t.Fatalf("IPv6 request %d: %v", i, err)
		}
	}
	if err := l.Allow(netip.MustParseAddr("2001:db8::ffff")); err == nil {
		t.Fatal("another address of the same /64 got a bucket of its own")
	}
	// Idle buckets are forgotten.
	now = now.Add(10 * time.Minute)
	l.Allow(a)
	if n := len(l.clients); n != 1 {
		t.Fatalf("%d buckets after the others idled, want 1", n)
	}
	if NewClientLimiter(0, 0, nil).Allow(a) != nil {
		t.Fatal("a disabled limiter refused")
	}
}
