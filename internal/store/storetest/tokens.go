package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"pforte/internal/account"
)

func testTokenConsumeOnce(t *testing.T, s account.Store) {
	a := mustTenant(t, s, "acme")
	c := mustCustomer(t, s, newCustomer(a.ID, "alice"))
	link := mustToken(t, s, newToken(c, account.PurposeConfirm, "link", false))
	sibling := mustToken(t, s, newToken(c, account.PurposeConfirm, "sibling", false))
	code := mustToken(t, s, newToken(c, account.PurposePasswordReset, "code", true))
	if link.ID == sibling.ID {
		t.Fatalf("two tokens got one ID %d", link.ID)
	}

	mustConsume(t, s, link, at(time.Minute), 5, 0)
	wantNoConsume(t, s, "second consume", link, at(2*time.Minute), 5)
	mustConsume(t, s, sibling, at(3*time.Minute), 5, 0) // consuming one leaves its sibling alone
	mustConsume(t, s, code, at(4*time.Minute), 5, 0)
	wantNoConsume(t, s, "second consume of a code", code, at(5*time.Minute), 5)
}

func testTokenConsumeRefused(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")
	b := mustTenant(t, s, "globex")
	c := mustCustomer(t, s, newCustomer(a.ID, "alice"))
	c2 := mustCustomer(t, s, newCustomer(a.ID, "bob"))
	mustCustomer(t, s, newCustomer(b.ID, "alice")) // a namesake in b

	valid := mustToken(t, s, newToken(c, account.PurposeConfirm, "valid", false))
	used := mustToken(t, s, newToken(c, account.PurposeConfirm, "used", false))
	mustConsume(t, s, used, at(time.Second), 5, 0)
	expiring := newToken(c, account.PurposeConfirm, "expiring", false)
	expiring.ExpiresAt = at(time.Minute)
	expiring = mustToken(t, s, expiring)
	guessed := mustToken(t, s, newToken(c2, account.PurposePasswordReset, "guessed", true))
	for want := 1; want <= 3; want++ {
		n, err := s.RecordCodeFailure(ctx, a.ID, c2.ID, account.PurposePasswordReset, at(time.Second))
		if err != nil || n != want {
			t.Fatalf("RecordCodeFailure = %d, %v; want %d, nil", n, err, want)
		}
	}

	with := func(tok account.Token, modify func(*account.Token)) account.Token {
		modify(&tok)
		return tok
	}
	now := at(2 * time.Minute)
	for _, tc := range []struct {
		name        string
		tok         account.Token // as presented to ConsumeToken
		now         time.Time
		maxAttempts int
	}{
		{"used", used, now, 5},
		{"expired", expiring, now, 5},
		{"wrong purpose", with(valid, func(k *account.Token) { k.Purpose = account.PurposePasswordReset }), now, 5},
		{"wrong tenant", with(valid, func(k *account.Token) { k.TenantID = b.ID }), now, 5},
		{"unknown hash", with(valid, func(k *account.Token) { k.Hash = hash("unknown") }), now, 5},
		{"attempts at max", guessed, now, 3},
		{"attempts above max", guessed, now, 2},
	} {
		wantNoConsume(t, s, tc.name, tc.tok, tc.now, tc.maxAttempts)
	}

	// The refusals consumed nothing.
	mustConsume(t, s, valid, now, 5, 0)
	mustConsume(t, s, expiring, at(30*time.Second), 5, 0) // still valid before it expires
	mustConsume(t, s, guessed, now, 4, 3)
}

// testTokenRecordCodeFailure checks which tokens an attempt counts against:
// only the unused, unexpired code tokens of that tenant, customer and purpose.
func testTokenRecordCodeFailure(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")
	b := mustTenant(t, s, "globex")
	c := mustCustomer(t, s, newCustomer(a.ID, "alice"))
	o := mustCustomer(t, s, newCustomer(a.ID, "bob"))
	record := func(what string, tenantID, customerID int64, purpose account.Purpose, want int) {
		t.Helper()
		n, err := s.RecordCodeFailure(ctx, tenantID, customerID, purpose, t0)
		if err != nil {
			t.Fatalf("RecordCodeFailure(%s): %v", what, err)
		}
		if n != want {
			t.Errorf("RecordCodeFailure(%s) = %d, want %d", what, n, want)
		}
	}

	record("no codes yet", a.ID, c.ID, account.PurposeConfirm, 0)

	// A used code with many failures must not count afterwards.
	used := mustToken(t, s, newToken(c, account.PurposeConfirm, "used", true))
	for want := 1; want <= 4; want++ {
		record("one live code", a.ID, c.ID, account.PurposeConfirm, want)
	}
	mustConsume(t, s, used, t0, 5, 4)

	expired := newToken(c, account.PurposeConfirm, "expired", true)
	expired.CreatedAt, expired.ExpiresAt = at(-time.Hour), at(-time.Minute)
	expired = mustToken(t, s, expired)
	link := mustToken(t, s, newToken(c, account.PurposeConfirm, "link", false))
	otherPurpose := mustToken(t, s, newToken(c, account.PurposePasswordReset, "reset", true))
	otherCustomer := mustToken(t, s, newToken(o, account.PurposeConfirm, "bob's", true))
	c1 := mustToken(t, s, newToken(c, account.PurposeConfirm, "c1", true))

	record("after the used code", a.ID, c.ID, account.PurposeConfirm, 1) // c1: 1
	c2 := mustToken(t, s, newToken(c, account.PurposeConfirm, "c2", true))
	record("two live codes", a.ID, c.ID, account.PurposeConfirm, 2) // c1: 2, c2: 1, the max is 2
	record("wrong tenant", b.ID, c.ID, account.PurposeConfirm, 0)
	record("purpose without codes", a.ID, c.ID, account.PurposeInvite, 0)

	wantNoConsume(t, s, "c1 with 2 failures, max 2", c1, t0, 2)
	mustConsume(t, s, c1, t0, 3, 2)
	wantNoConsume(t, s, "c2 with 1 failure, max 1", c2, t0, 1)
	mustConsume(t, s, c2, t0, 2, 1)
	// None of these was counted: each still has no failure.
	mustConsume(t, s, expired, at(-2*time.Minute), 1, 0)
	mustConsume(t, s, link, t0, 1, 0)
	mustConsume(t, s, otherPurpose, t0, 1, 0)
	mustConsume(t, s, otherCustomer, t0, 1, 0)
}

func testTokenDeleteTokens(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")
	b := mustTenant(t, s, "globex")
	c := mustCustomer(t, s, newCustomer(a.ID, "alice"))
	d := mustCustomer(t, s, newCustomer(a.ID, "dora"))
	link := mustToken(t, s, newToken(c, account.PurposeConfirm, "link", false))
	code := mustToken(t, s, newToken(c, account.PurposeConfirm, "code", true))
	used := mustToken(t, s, newToken(c, account.PurposeConfirm, "used", false))
	mustConsume(t, s, used, t0, 5, 0)
	reset := mustToken(t, s, newToken(c, account.PurposePasswordReset, "reset", false))
	dLink := mustToken(t, s, newToken(d, account.PurposeConfirm, "dora's", false))

	if err := s.DeleteTokens(ctx, b.ID, c.ID, account.PurposePasswordReset); err != nil {
		t.Fatalf("DeleteTokens(wrong tenant): %v", err)
	}
	if err := s.DeleteTokens(ctx, a.ID, c.ID, account.PurposeConfirm); err != nil {
		t.Fatalf("DeleteTokens: %v", err)
	}
	wantNoConsume(t, s, "deleted link", link, at(time.Minute), 5)
	wantNoConsume(t, s, "deleted code", code, at(time.Minute), 5)
	wantNoConsume(t, s, "used token after DeleteTokens", used, at(time.Minute), 5)
	mustConsume(t, s, reset, at(time.Minute), 5, 0) // other purpose, and the wrong-tenant delete missed it
	mustConsume(t, s, dLink, at(time.Minute), 5, 0) // other customer
	if err := s.DeleteTokens(ctx, a.ID, c.ID, account.PurposeConfirm); err != nil {
		t.Errorf("DeleteTokens(nothing left): %v", err)
	}
}

// testTokenDeleteAllTokens checks that DeleteAllTokens removes the
// customer's unused tokens of every purpose and nothing else. A token's hash
// is unique, so CreateToken with the hash of a used token tells whether that
// token is still stored.
func testTokenDeleteAllTokens(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")
	b := mustTenant(t, s, "globex")
	c := mustCustomer(t, s, newCustomer(a.ID, "alice"))
	d := mustCustomer(t, s, newCustomer(a.ID, "dora"))
	cb := mustCustomer(t, s, newCustomer(b.ID, "alice")) // a namesake in b

	link := mustToken(t, s, newToken(c, account.PurposeConfirm, "link", false))
	code := mustToken(t, s, newToken(c, account.PurposeConfirm, "code", true))
	reset := mustToken(t, s, newToken(c, account.PurposePasswordReset, "reset", true))
	invite := mustToken(t, s, newToken(c, account.PurposeInvite, "invite", false))
	usedConfirm := mustToken(t, s, newToken(c, account.PurposeConfirm, "used confirm", false))
	mustConsume(t, s, usedConfirm, t0, 5, 0)
	usedReset := mustToken(t, s, newToken(c, account.PurposePasswordReset, "used reset", true))
	mustConsume(t, s, usedReset, t0, 5, 0)
	dLink := mustToken(t, s, newToken(d, account.PurposeConfirm, "dora's", false))
	dReset := mustToken(t, s, newToken(d, account.PurposePasswordReset, "dora's reset", false))
	bLink := mustToken(t, s, newToken(cb, account.PurposeConfirm, "b's", false))

	// The wrong tenant deletes nothing.
	if err := s.DeleteAllTokens(ctx, b.ID, c.ID); err != nil {
		t.Fatalf("DeleteAllTokens(wrong tenant): %v", err)
	}
	wantLiveTokens(t, s, "after a wrong-tenant delete", a.ID, c.ID, account.PurposeConfirm, t0, code, link)
	wantLiveTokens(t, s, "after a wrong-tenant delete", a.ID, c.ID, account.PurposePasswordReset, t0, reset)
	wantLiveTokens(t, s, "after a wrong-tenant delete", a.ID, c.ID, account.PurposeInvite, t0, invite)

	if err := s.DeleteAllTokens(ctx, a.ID, c.ID); err != nil {
		t.Fatalf("DeleteAllTokens: %v", err)
	}
	for _, p := range []account.Purpose{account.PurposeConfirm, account.PurposePasswordReset, account.PurposeInvite} {
		wantLiveTokens(t, s, "after DeleteAllTokens", a.ID, c.ID, p, t0)
	}
	for _, tok := range []account.Token{link, code, reset, invite} {
		wantNoConsume(t, s, "deleted token", tok, at(time.Minute), 5)
	}
	// The used tokens are still stored: their hashes are taken.
	for _, tok := range []account.Token{usedConfirm, usedReset} {
		again := newToken(c, tok.Purpose, "", tok.Code)
		again.Hash = tok.Hash
		wantErr(t, "CreateToken(hash of a used token after DeleteAllTokens)", s.CreateToken(ctx, &again), account.ErrDuplicate)
	}
	// The unused ones are gone: their hashes are free again.
	for _, tok := range []account.Token{link, code, reset, invite} {
		again := newToken(c, tok.Purpose, "", tok.Code)
		again.Hash = tok.Hash
		mustToken(t, s, again)
	}

	// Other customers keep theirs, in this tenant and in another.
	mustConsume(t, s, dLink, at(time.Minute), 5, 0)
	mustConsume(t, s, dReset, at(time.Minute), 5, 0)
	mustConsume(t, s, bLink, at(time.Minute), 5, 0)
	if err := s.DeleteAllTokens(ctx, a.ID, d.ID); err != nil {
		t.Errorf("DeleteAllTokens(only used tokens left): %v", err)
	}
}

// testTokenDeleteClaims: only the customer's unused tokens with a payload
// go, of any purpose; tokens without one, used ones, and other customers'
// and tenants' stay.
func testTokenDeleteClaims(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")
	b := mustTenant(t, s, "globex")
	c := mustCustomer(t, s, newCustomer(a.ID, "alice"))
	d := mustCustomer(t, s, newCustomer(a.ID, "dora"))
	cb := mustCustomer(t, s, newCustomer(b.ID, "alice"))
	withPayload := func(cust account.Customer, p account.Purpose, name string) account.Token {
		tok := newToken(cust, p, name, false)
		tok.Payload = []byte(`{"password_hash":"x"}`)
		return mustToken(t, s, tok)
	}
	claimLink := withPayload(c, account.PurposeConfirm, "claim link")
	claim := withPayload(c, account.PurposeClaim, "claim")
	plain := mustToken(t, s, newToken(c, account.PurposeConfirm, "plain link", false))
	used := withPayload(c, account.PurposeConfirm, "used claim")
	mustConsume(t, s, used, t0, 5, 0)
	dClaim := withPayload(d, account.PurposeConfirm, "dora's claim")
	bClaim := withPayload(cb, account.PurposeConfirm, "b's claim")

	if err := s.DeleteClaims(ctx, a.ID, c.ID); err != nil {
		t.Fatalf("DeleteClaims: %v", err)
	}
	wantNoConsume(t, s, "deleted claim link", claimLink, at(time.Minute), 5)
	wantNoConsume(t, s, "deleted claim", claim, at(time.Minute), 5)
	again := newToken(c, account.PurposeConfirm, "", false)
	again.Hash = used.Hash
	wantErr(t, "CreateToken(hash of a used claim after DeleteClaims)", s.CreateToken(ctx, &again), account.ErrDuplicate)
	mustConsume(t, s, plain, at(time.Minute), 5, 0)
	mustConsume(t, s, dClaim, at(time.Minute), 5, 0)
	mustConsume(t, s, bClaim, at(time.Minute), 5, 0)
}

// testTokenPayload round-trips payloads through CreateToken, LiveTokens and
// ConsumeToken: arbitrary bytes come back unchanged, and nil and empty
// payloads come back empty.
func testTokenPayload(t *testing.T, s account.Store) {
	a := mustTenant(t, s, "acme")
	c := mustCustomer(t, s, newCustomer(a.ID, "alice"))
	payloads := [][]byte{
		[]byte(`{"email":"alice@example.com","name":"Zoë","password_hash":"$argon2id$v=19$..."}`),
		{0x00, 0xff, 0xfe, 0x00, 'x', 0x80}, // not UTF-8, with NULs
		bytes.Repeat([]byte("0123456789abcdef"), 4096),
		{},
		nil,
	}
	var toks []account.Token
	for i, p := range payloads {
		tok := newToken(c, account.PurposeConfirm, fmt.Sprintf("payload %d", i), i%2 == 1)
		tok.CreatedAt = at(time.Duration(i) * time.Second) // LiveTokens: newest first
		tok.Payload = p
		toks = append(toks, mustToken(t, s, tok))
	}
	now := at(time.Minute)
	newestFirst := slices.Clone(toks)
	slices.Reverse(newestFirst)
	wantLiveTokens(t, s, "tokens with payloads", a.ID, c.ID, account.PurposeConfirm, now, newestFirst...)
	for _, tok := range toks {
		mustConsume(t, s, tok, now, 5, 0)
	}
}

// testTokenLiveTokens checks what LiveTokens returns and in which order:
// the unused tokens of that tenant, customer and purpose that are unexpired
// at now, newest first by CreatedAt and then by ID.
func testTokenLiveTokens(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")
	b := mustTenant(t, s, "globex")
	c := mustCustomer(t, s, newCustomer(a.ID, "alice"))
	o := mustCustomer(t, s, newCustomer(a.ID, "bob"))
	cb := mustCustomer(t, s, newCustomer(b.ID, "alice")) // a namesake in b
	now := t0

	wantLiveTokens(t, s, "no tokens yet", a.ID, c.ID, account.PurposeConfirm, now)

	live := func(secret string, created time.Duration, code bool) account.Token {
		tok := newToken(c, account.PurposeConfirm, secret, code)
		tok.CreatedAt = at(created)
		tok.Payload = []byte(secret)
		return mustToken(t, s, tok)
	}
	oldest := live("oldest", -3*time.Minute, false)
	tieLow := live("tie, lower id", -time.Minute, true)
	tieHigh := live("tie, higher id", -time.Minute, false)
	older := live("created last, but older", -2*time.Minute, false) // CreatedAt decides before ID

	used := newToken(c, account.PurposeConfirm, "used", false)
	used.CreatedAt = at(-time.Second) // would be the newest
	used = mustToken(t, s, used)
	mustConsume(t, s, used, at(-time.Second), 5, 0)
	expired := newToken(c, account.PurposeConfirm, "expired", false)
	expired.CreatedAt, expired.ExpiresAt = at(-time.Hour), at(-time.Microsecond)
	expired = mustToken(t, s, expired)
	expiresNow := newToken(c, account.PurposeConfirm, "expires now", false)
	expiresNow.CreatedAt, expiresNow.ExpiresAt = at(-time.Hour), now // expired at now, as for ConsumeToken
	expiresNow = mustToken(t, s, expiresNow)
	reset := mustToken(t, s, newToken(c, account.PurposePasswordReset, "reset", true))
	bobs := mustToken(t, s, newToken(o, account.PurposeConfirm, "bob's", false))
	bs := mustToken(t, s, newToken(cb, account.PurposeConfirm, "b's", false))

	// A guess counted against the live code shows in its Attempts.
	if n, err := s.RecordCodeFailure(ctx, a.ID, c.ID, account.PurposeConfirm, now); err != nil || n != 1 {
		t.Fatalf("RecordCodeFailure = %d, %v; want 1, nil", n, err)
	}
	tieLow.Attempts = 1

	wantLiveTokens(t, s, "alice's confirm tokens", a.ID, c.ID, account.PurposeConfirm, now, tieHigh, tieLow, older, oldest)
	wantLiveTokens(t, s, "alice's reset tokens", a.ID, c.ID, account.PurposePasswordReset, now, reset)
	wantLiveTokens(t, s, "alice's invite tokens", a.ID, c.ID, account.PurposeInvite, now)
	wantLiveTokens(t, s, "bob's confirm tokens", a.ID, o.ID, account.PurposeConfirm, now, bobs)
	wantLiveTokens(t, s, "b's namesake", b.ID, cb.ID, account.PurposeConfirm, now, bs)
	wantLiveTokens(t, s, "alice's id in the wrong tenant", b.ID, c.ID, account.PurposeConfirm, now)
	// Earlier, the expired tokens were live; later, only those unexpired then.
	wantLiveTokens(t, s, "an hour earlier", a.ID, c.ID, account.PurposeConfirm, at(-time.Hour+time.Microsecond),
		tieHigh, tieLow, older, oldest, expiresNow, expired)
	wantLiveTokens(t, s, "at expiry", a.ID, c.ID, account.PurposeConfirm, at(time.Hour))

	// LiveTokens only reads: the tokens are still there to consume.
	mustConsume(t, s, tieHigh, now, 5, 0)
	wantLiveTokens(t, s, "after consuming the newest", a.ID, c.ID, account.PurposeConfirm, now, tieLow, older, oldest)
}

// testTokenLiveTokensInTx checks that LiveTokens inside a transaction sees
// the transaction's own writes.
func testTokenLiveTokensInTx(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")
	c := mustCustomer(t, s, newCustomer(a.ID, "alice"))
	before := mustToken(t, s, newToken(c, account.PurposeConfirm, "before", false))
	err := s.InTx(ctx, func(tx account.Tx) error {
		tok := newToken(c, account.PurposeConfirm, "inside", false)
		tok.CreatedAt = at(time.Second)
		tok.Payload = []byte("inside")
		if err := tx.CreateToken(ctx, &tok); err != nil {
			return err
		}
		wantLiveTokens(t, tx, "inside the transaction", a.ID, c.ID, account.PurposeConfirm, at(time.Minute), tok, before)
		if err := tx.DeleteAllTokens(ctx, a.ID, c.ID); err != nil {
			return err
		}
		wantLiveTokens(t, tx, "after DeleteAllTokens inside the transaction", a.ID, c.ID, account.PurposeConfirm, at(time.Minute))
		return nil
	})
	if err != nil {
		t.Fatalf("InTx: %v", err)
	}
	wantLiveTokens(t, s, "after the transaction", a.ID, c.ID, account.PurposeConfirm, at(time.Minute))
}

// testTokenLiveToken checks that LiveToken finds a live token by hash and
// purpose without using it, and nothing that is used, expired, of another
// purpose or of another tenant.
func testTokenLiveToken(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")
	b := mustTenant(t, s, "globex")
	c := mustCustomer(t, s, newCustomer(a.ID, "alice"))
	tok := newToken(c, account.PurposeConfirm, "peek", false)
	tok.Payload = []byte("claim")
	tok = mustToken(t, s, tok)
	for range 2 {
		got, err := s.LiveToken(ctx, a.ID, hash("peek"), account.PurposeConfirm, at(time.Minute))
		if err != nil || got.ID != tok.ID || got.CustomerID != c.ID || string(got.Payload) != "claim" || got.UsedAt != nil {
			t.Fatalf("LiveToken = %+v, %v; want the token, unused", got, err)
		}
	}
	for what, call := range map[string]func() error{
		"another purpose": func() error {
			_, err := s.LiveToken(ctx, a.ID, hash("peek"), account.PurposeInvite, at(time.Minute))
			return err
		},
		"another tenant": func() error {
			_, err := s.LiveToken(ctx, b.ID, hash("peek"), account.PurposeConfirm, at(time.Minute))
			return err
		},
		"expired": func() error {
			_, err := s.LiveToken(ctx, a.ID, hash("peek"), account.PurposeConfirm, at(time.Hour))
			return err
		},
		"unknown": func() error {
			_, err := s.LiveToken(ctx, a.ID, hash("nope"), account.PurposeConfirm, at(time.Minute))
			return err
		},
	} {
		if err := call(); !errors.Is(err, account.ErrNotFound) {
			t.Errorf("LiveToken of %s: %v, want ErrNotFound", what, err)
		}
	}
	if _, err := s.ConsumeToken(ctx, a.ID, hash("peek"), account.PurposeConfirm, at(time.Minute), 5); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LiveToken(ctx, a.ID, hash("peek"), account.PurposeConfirm, at(time.Minute)); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("LiveToken of a used token: %v, want ErrNotFound", err)
	}
}
