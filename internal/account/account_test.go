package account

import (
	"testing"
	"time"
)

func TestNormalizeEmail(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"Foo.Bar@Example.DE", "foo.bar@example.de", true},
		{"user@bücher.de", "user@xn--bcher-kva.de", true},
		{"USER@XN--BCHER-KVA.DE", "user@xn--bcher-kva.de", true},
		{"Ge\u0301rard@example.com", "g\u00e9rard@example.com", true}, // NFC: e + combining acute = é
		{"a+tag@example.com", "a+tag@example.com", true},
		{"", "", false},
		{"no-at.example.com", "", false},
		{"two@@example.com", "", false},
		{"name <a@example.com>", "", false},
		{"a@localhost", "", false},
		{"a b@example.com", "", false},
		{"a@example.com\r\nBcc: x@example.com", "", false},
		{"a@exa_mple.com", "", false},
		{string(make([]byte, 300)) + "@example.com", "", false},
	}
	for _, tt := range tests {
		got, fe := NormalizeEmail(tt.in)
		if (fe == nil) != tt.ok || got != tt.want {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want %q, ok=%v", tt.in, got, fe, tt.want, tt.ok)
		}
	}
}

func TestTransitions(t *testing.T) {
	allowed := map[[2]State]bool{
		{StateOffline, StatePending}: true, {StateOffline, StatePendingActive}: true, {StateOffline, StateActive}: true,
		{StateOffline, StateDisabled}: true, {StatePending, StatePendingActive}: true, {StatePending, StateActive}: true,
		{StatePending, StateDisabled}: true, {StatePendingActive, StateActive}: true, {StatePendingActive, StateDisabled}: true,
		{StateActive, StateDisabled}: true, {StateDisabled, StateActive}: true, {StateDisabled, StateOffline}: true,
		{StateDisabled, StatePending}: true, {StateDisabled, StatePendingActive}: true,
	}
	for _, from := range States {
		for _, to := range States {
			want := from == to || allowed[[2]State{from, to}]
			if got := CanTransition(from, to); got != want {
				t.Errorf("CanTransition(%s, %s) = %v, want %v", from, to, got, want)
			}
		}
	}
}

func TestLockedFor(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		count int
		ago   time.Duration
		want  time.Duration
	}{
		{0, 0, 0},
		{4, 0, 0},
		{5, 0, 30 * time.Second},
		{5, 10 * time.Second, 20 * time.Second},
		{5, time.Minute, 0},
		{6, 0, time.Minute},
		{11, 0, 32 * time.Minute},
		{12, 0, time.Hour},
		{99, 0, time.Hour},
		{99, 2 * time.Hour, 0},
		{100, 30 * 24 * time.Hour, time.Hour}, // locked until a reset, however long ago
	}
	for _, tt := range tests {
		if got := lockedFor(LoginFailures{Count: tt.count, Last: now.Add(-tt.ago)}, now); got != tt.want {
			t.Errorf("lockedFor(%d failures, %v ago) = %v, want %v", tt.count, tt.ago, got, tt.want)
		}
	}
}

func TestSettings(t *testing.T) {
	if err := ValidateSetting("delivery", "return"); err != nil {
		t.Fatal(err)
	}
	for _, kv := range [][2]string{{"delivery", "carrier-pigeon"}, {"nope", "x"}, {"default_locale", "fr"}} {
		if err := ValidateSetting(kv[0], kv[1]); !IsKind(err, KindInvalid) {
			t.Errorf("ValidateSetting(%s=%s) = %v, want invalid", kv[0], kv[1], err)
		}
	}
	if got := (Tenant{}).Delivery(); got != DeliveryBoth {
		t.Fatalf("default delivery = %s", got)
	}
}

// TestImportStateMovedPast: a file's state stays unapplied where the
// customer has gone on in its lifecycle, not where it was disabled.
func TestImportStateMovedPast(t *testing.T) {
	for _, tc := range []struct {
		cur, file State
		want      bool
	}{
		{StateActive, StatePending, true},
		{StatePendingActive, StateOffline, true},
		{StatePending, StateActive, false},
		{StateDisabled, StateActive, false},
		{StateActive, StateDisabled, false},
	} {
		if got := movedPast(tc.cur, tc.file); got != tc.want {
			t.Errorf("movedPast(%s, %s) = %v; want %v", tc.cur, tc.file, got, tc.want)
		}
	}
}
