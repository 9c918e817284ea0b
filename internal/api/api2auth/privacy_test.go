package api2auth_test

import (
	"bytes"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"
	"testing"

	"pforte/internal/account"
	"pforte/internal/api/apitest"
	"pforte/internal/store/teststore"
)

// TestEmailStorageHMAC: with email_storage=hmac (as the original API keeps
// addresses only as salted hashes), the dialect's flows work over real
// SMTP (register, verify, log in, forgot, reset, log in again), mail
// reaches the address each request carried, and afterwards the address,
// in any case, is nowhere in the database: on SQLite not in the database
// file, its WAL or its shared memory; on PostgreSQL in no row of any
// table.
func TestEmailStorageHMAC(t *testing.T) {
	teststore.EachDumped(t, func(t *testing.T, st account.Store, dump teststore.Dumper) {
		checkNoAddress(t, func(testing.TB) account.Store { return st }, dump)
	})
}

// checkNoAddress walks the dialect's flows under email_storage=hmac and
// then looks for the address in what dump returns.
func checkNoAddress(t *testing.T, open teststore.Opener, dump teststore.Dumper) {
	t.Helper()
	h := newHarness(t, open, apitest.WithSetting("email_storage", "hmac"))
	const addr = "Jeff.Privat@Example.com"
	const username = "jeff_privat"

	h.mustRegister(t, "", username, addr, seedPassword)
	m := h.mustMail(t, addr, 1)
	if !slices.Contains(m.To, addr) {
		t.Fatalf("the verification mail went to %q, want %s", m.To, addr)
	}
	v := h.mustVerifyLink(t, addr, 1)
	mustOK(t, h.verify(t, "", username, v.token))
	h.MustPassword(t, h.Public, "jeff.privat@example.com", seedPassword, seedNewPassword)

	// Another case of the same address finds the same account.
	const asked = "JEFF.PRIVAT@example.COM"
	mustOK(t, h.forgot(t, "", asked))
	m = h.mustMail(t, addr, 2)
	if !slices.Contains(m.To, asked) {
		t.Fatalf("the reset mail went to %q, want %s", m.To, asked)
	}
	reset := h.mustResetToken(t, addr, 2, resetURL)
	mustOK(t, h.resetPassword(t, "", username, reset, seedNewPassword))
	h.MustPassword(t, h.Public, addr, seedNewPassword, seedPassword)
	// A registration of the address tells its owner, at the address given.
	mustOK(t, h.register(t, "", "mallory", addr, "Mallorys-Passwort-2030"))
	if m := h.mustMail(t, addr, 3); m.Subject != "Registrierung mit Ihrer E-Mail-Adresse" {
		t.Fatalf("mail %q, want the registration attempt notice", m.Subject)
	}
	// The relay sends in order: once a later mail arrived, every earlier
	// one has been sent, and its sealed content erased.
	h.mustRegister(t, "", "marker", "marker@example.org", strongPassword)
	h.mustMail(t, "marker@example.org", 1)

	data := dump(t)
	// The dump must hold the data, or finding nothing proves nothing.
	for _, want := range []string{"$argon2id$", "hmac:", username} {
		if !bytes.Contains(data, []byte(want)) {
			t.Fatalf("the dump (%d bytes) lacks %q: it does not read the data", len(data), want)
		}
	}
	lower := bytes.ToLower(data)
	for _, s := range []string{strings.ToLower(addr), "jeff.privat@", "@example.com"} {
		if bytes.Contains(lower, []byte(s)) {
			t.Errorf("the database holds %q (in some case)", s)
		}
	}
	for _, s := range []string{addr, asked, strings.ToLower(addr), strings.ToUpper(addr)} {
		if bytes.Contains(lower, []byte(hex.EncodeToString([]byte(s)))) {
			t.Errorf("the database holds %q in hex", s)
		}
	}
	h.mustNotLeak(t, v.token, reset)
	if logs := strings.ToLower(h.logs.String()); strings.Contains(logs, strings.ToLower(addr)) {
		t.Errorf("the address reached the log")
	}
	if r := h.Login(t, h.Public, "nobody@example.com", seedNewPassword); r.Status != http.StatusUnauthorized {
		t.Errorf("login of an unknown address: %s", r)
	}
}
