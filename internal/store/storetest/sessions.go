package storetest

import (
	"fmt"
	"testing"
	"time"

	"pforte/internal/account"
)

func testSessionCreateAndRead(t *testing.T, s account.Store) {
	a := mustTenant(t, s, "acme")
	c := mustCustomer(t, s, newCustomer(a.ID, "alice"))
	one := mustSession(t, s, newSession(c, "one"))
	two := newSession(c, "two")
	two.CreatedAt, two.LastSeenAt = at(time.Microsecond), at(time.Minute)
	two.ExpiresAt, two.IdleExpiry = at(90*time.Minute), 36*time.Hour+15*time.Second
	two = mustSession(t, s, two)
	if one.ID == two.ID {
		t.Fatalf("two sessions got one ID %d", one.ID)
	}
	three := newSession(c, "three")
	three.Remembered, three.ClientAddress, three.Device = true, "2001:db8:1::/48", "Firefox on Windows"
	three = mustSession(t, s, three)
	wantSession(t, s, "first session", one)
	wantSession(t, s, "second session", two)
	wantSession(t, s, "remembered session with its client", three)
	wantNoSession(t, s, "unknown hash", newSession(c, "unknown"))
}

func testListSessions(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")
	b := mustTenant(t, s, "globex")
	c := mustCustomer(t, s, newCustomer(a.ID, "alice"))
	d := mustCustomer(t, s, newCustomer(a.ID, "dora"))
	old := newSession(c, "old")
	old.ExpiresAt = at(time.Second) // ended: listed all the same
	old = mustSession(t, s, old)
	recent := newSession(c, "recent")
	recent.LastSeenAt, recent.Device, recent.ClientAddress = at(time.Hour), "Safari on iPhone", "192.0.2.0/24"
	recent = mustSession(t, s, recent)
	tie := mustSession(t, s, newSession(c, "tie")) // seen when old was: the newer ID first
	mustSession(t, s, newSession(d, "dora's"))

	got, err := s.ListSessions(ctx, a.ID, c.ID)
	if err != nil {
		t.Fatalf("ListSessions: %v", err)
	}
	want := []account.Session{recent, tie, old}
	if len(got) != len(want) {
		t.Fatalf("ListSessions = %d sessions %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		checkSession(t, fmt.Sprintf("ListSessions[%d]", i), got[i], want[i])
	}
	if other, err := s.ListSessions(ctx, b.ID, c.ID); err != nil || len(other) != 0 {
		t.Errorf("ListSessions(wrong tenant) = %+v, %v; want none", other, err)
	}
}

func testSessionTouch(t *testing.T, s account.Store) {
	a := mustTenant(t, s, "acme")
	c := mustCustomer(t, s, newCustomer(a.ID, "alice"))
	sess := mustSession(t, s, newSession(c, "touched"))
	other := mustSession(t, s, newSession(c, "other"))
	for _, when := range []time.Time{at(time.Minute), at(time.Hour + time.Microsecond)} {
		if err := s.TouchSession(t.Context(), sess.ID, when); err != nil {
			t.Fatalf("TouchSession: %v", err)
		}
		sess.LastSeenAt = when
		wantSession(t, s, "touched session", sess) // only LastSeenAt changes
	}
	wantSession(t, s, "untouched session", other)
}

func testSessionDelete(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")
	b := mustTenant(t, s, "globex")
	c := mustCustomer(t, s, newCustomer(a.ID, "alice"))
	sess := mustSession(t, s, newSession(c, "doomed"))
	other := mustSession(t, s, newSession(c, "other"))

	wantErr(t, "DeleteSession(wrong tenant)", s.DeleteSession(ctx, b.ID, sess.ID), account.ErrNotFound)
	wantSession(t, s, "session after a wrong-tenant delete", sess)
	wantErr(t, "DeleteSession(unknown id)", s.DeleteSession(ctx, a.ID, other.ID+1000), account.ErrNotFound)

	if err := s.DeleteSession(ctx, a.ID, sess.ID); err != nil {
		t.Fatalf("DeleteSession: %v", err)
	}
	wantNoSession(t, s, "deleted session", sess)
	wantSession(t, s, "other session", other)
	wantErr(t, "DeleteSession(again)", s.DeleteSession(ctx, a.ID, sess.ID), account.ErrNotFound)
}

func testSessionDeleteSessions(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")
	b := mustTenant(t, s, "globex")
	c := mustCustomer(t, s, newCustomer(a.ID, "alice"))
	d := mustCustomer(t, s, newCustomer(a.ID, "dora"))
	c1 := mustSession(t, s, newSession(c, "c1"))
	keep := mustSession(t, s, newSession(c, "keep"))
	c3 := mustSession(t, s, newSession(c, "c3"))
	dSess := mustSession(t, s, newSession(d, "dora's"))

	if err := s.DeleteSessions(ctx, b.ID, c.ID, 0); err != nil {
		t.Fatalf("DeleteSessions(wrong tenant): %v", err)
	}
	for _, sess := range []account.Session{c1, keep, c3, dSess} {
		wantSession(t, s, "session after a wrong-tenant DeleteSessions", sess)
	}

	if err := s.DeleteSessions(ctx, a.ID, c.ID, keep.ID); err != nil {
		t.Fatalf("DeleteSessions(except one): %v", err)
	}
	wantNoSession(t, s, "deleted session", c1)
	wantNoSession(t, s, "deleted session", c3)
	wantSession(t, s, "excepted session", keep)
	wantSession(t, s, "other customer's session", dSess)

	if err := s.DeleteSessions(ctx, a.ID, c.ID, 0); err != nil {
		t.Fatalf("DeleteSessions(all): %v", err)
	}
	wantNoSession(t, s, "formerly excepted session", keep)
	wantSession(t, s, "other customer's session", dSess)
}

func testLoginFailures(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")
	b := mustTenant(t, s, "globex")
	const key = "alice@example.com"
	none := account.LoginFailures{}

	wantLoginFailures(t, s, a.ID, key, none) // unknown keys answer like known ones
	got := mustLoginFailure(t, s, a.ID, key, at(time.Second))
	checkLoginFailures(t, "first failure", got, account.LoginFailures{Count: 1, Last: at(time.Second)})
	got = mustLoginFailure(t, s, a.ID, key, at(time.Minute))
	checkLoginFailures(t, "second failure", got, account.LoginFailures{Count: 2, Last: at(time.Minute)})
	wantLoginFailures(t, s, a.ID, key, account.LoginFailures{Count: 2, Last: at(time.Minute)})

	wantLoginFailures(t, s, b.ID, key, none)               // per tenant
	wantLoginFailures(t, s, a.ID, "bob@example.com", none) // per key
	got = mustLoginFailure(t, s, b.ID, key, at(time.Hour))
	checkLoginFailures(t, "a failure in another tenant", got, account.LoginFailures{Count: 1, Last: at(time.Hour)})

	if err := s.ClearLoginFailures(ctx, a.ID, key); err != nil {
		t.Fatalf("ClearLoginFailures: %v", err)
	}
	wantLoginFailures(t, s, a.ID, key, none)
	wantLoginFailures(t, s, b.ID, key, account.LoginFailures{Count: 1, Last: at(time.Hour)})
	if err := s.ClearLoginFailures(ctx, a.ID, key); err != nil {
		t.Errorf("ClearLoginFailures(nothing recorded): %v", err)
	}
	got = mustLoginFailure(t, s, a.ID, key, at(2*time.Hour))
	checkLoginFailures(t, "a failure after clearing", got, account.LoginFailures{Count: 1, Last: at(2 * time.Hour)})

	// A reservation is pending, not a failure; ending it unchecked takes
	// it back (never below zero), and touches only its tenant and key.
	for i := 1; i <= 2; i++ {
		r, err := s.ReserveLoginAttempt(ctx, a.ID, key, at(3*time.Hour), at(3*time.Hour-time.Minute))
		if err != nil {
			t.Fatalf("ReserveLoginAttempt: %v", err)
		}
		checkLoginFailures(t, "reserved", r, account.LoginFailures{Count: 1, Last: at(2 * time.Hour), Pending: i})
	}
	for _, want := range []int{1, 0, 0} {
		if err := s.EndLoginAttempt(ctx, a.ID, key, nil); err != nil {
			t.Fatalf("EndLoginAttempt: %v", err)
		}
		wantLoginFailures(t, s, a.ID, key, account.LoginFailures{Count: 1, Last: at(2 * time.Hour), Pending: want})
	}
	if err := s.EndLoginAttempt(ctx, a.ID, "nobody@example.com", nil); err != nil {
		t.Errorf("EndLoginAttempt(nothing recorded): %v", err)
	}
	wantLoginFailures(t, s, a.ID, "nobody@example.com", none)
	wantLoginFailures(t, s, b.ID, key, account.LoginFailures{Count: 1, Last: at(time.Hour)})

	// Reservations older than staleBefore were left by a checker that
	// died: the next one starts over.
	const stale = "stale@example.com"
	for range 3 {
		if _, err := s.ReserveLoginAttempt(ctx, a.ID, stale, at(4*time.Hour), at(4*time.Hour-time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	r, err := s.ReserveLoginAttempt(ctx, a.ID, stale, at(5*time.Hour), at(5*time.Hour-time.Minute))
	if err != nil || r.Pending != 1 {
		t.Errorf("a reservation after stale ones: pending %d, %v; want 1", r.Pending, err)
	}
	// A failure ends its reservation and counts, in one step.
	if err := s.EndLoginAttempt(ctx, a.ID, stale, ptr(at(5*time.Hour))); err != nil {
		t.Fatal(err)
	}
	wantLoginFailures(t, s, a.ID, stale, account.LoginFailures{Count: 1, Last: at(5 * time.Hour)})
}

func testPurge(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")
	b := mustTenant(t, s, "globex")
	c := mustCustomer(t, s, newCustomer(a.ID, "alice"))
	cb := mustCustomer(t, s, newCustomer(b.ID, "bob"))
	cutoff := t0

	oldToken := newToken(c, account.PurposeConfirm, "old", false)
	oldToken.CreatedAt, oldToken.ExpiresAt = at(-time.Hour), at(-time.Second)
	oldToken = mustToken(t, s, oldToken)
	oldTokenB := newToken(cb, account.PurposeConfirm, "old b", true)
	oldTokenB.CreatedAt, oldTokenB.ExpiresAt = at(-time.Hour), at(-time.Microsecond)
	oldTokenB = mustToken(t, s, oldTokenB)
	freshToken := newToken(c, account.PurposeConfirm, "fresh", false)
	freshToken.CreatedAt, freshToken.ExpiresAt = at(-time.Hour), at(time.Second)
	freshToken = mustToken(t, s, freshToken)

	// Both sessions' idle expiry agrees with their absolute one, so the test
	// holds whichever of the two Purge looks at.
	oldSession := newSession(c, "old")
	oldSession.CreatedAt, oldSession.LastSeenAt = at(-3*time.Hour), at(-2*time.Hour)
	oldSession.ExpiresAt, oldSession.IdleExpiry = at(-time.Second), time.Hour
	oldSession = mustSession(t, s, oldSession)
	freshSession := newSession(c, "fresh")
	freshSession.CreatedAt, freshSession.LastSeenAt = at(-3*time.Hour), at(-time.Minute)
	freshSession.ExpiresAt, freshSession.IdleExpiry = at(time.Hour), time.Hour
	freshSession = mustSession(t, s, freshSession)

	mustLoginFailure(t, s, a.ID, "old@example.com", at(-time.Second))
	mustLoginFailure(t, s, b.ID, "old@example.com", at(-time.Hour))
	mustLoginFailure(t, s, a.ID, "fresh@example.com", at(-time.Hour))
	mustLoginFailure(t, s, a.ID, "fresh@example.com", at(time.Second)) // last touched after the cutoff

	if err := s.Purge(ctx, cutoff, cutoff); err != nil {
		t.Fatalf("Purge: %v", err)
	}
	wantNoConsume(t, s, "purged token", oldToken, at(-time.Minute), 5)
	wantNoConsume(t, s, "purged token of another tenant", oldTokenB, at(-time.Minute), 5)
	mustConsume(t, s, freshToken, at(-time.Minute), 5, 0)
	wantNoSession(t, s, "purged session", oldSession)
	wantSession(t, s, "fresh session", freshSession)
	wantLoginFailures(t, s, a.ID, "old@example.com", account.LoginFailures{})
	wantLoginFailures(t, s, b.ID, "old@example.com", account.LoginFailures{})
	wantLoginFailures(t, s, a.ID, "fresh@example.com", account.LoginFailures{Count: 2, Last: at(time.Second)})
	wantCustomerReads(t, s, c)
	wantCustomerReads(t, s, cb)
}

// testPurgeCutoffs checks that tokens and sessions go by expiredBefore and
// login failures by failuresBefore, each cutoff on its own: once with the
// expiry cutoff the earlier, once with the failure cutoff the earlier.
func testPurgeCutoffs(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")
	c := mustCustomer(t, s, newCustomer(a.ID, "alice"))
	early, late := at(-2*time.Hour), t0

	token := func(secret string, expires time.Duration) account.Token {
		tok := newToken(c, account.PurposeConfirm, secret, false)
		tok.CreatedAt, tok.ExpiresAt = at(-5*time.Hour), at(expires)
		return mustToken(t, s, tok)
	}
	session := func(secret string, expires time.Duration) account.Session {
		sess := newSession(c, secret)
		sess.CreatedAt, sess.LastSeenAt = at(-5*time.Hour), at(-5*time.Hour)
		sess.ExpiresAt, sess.IdleExpiry = at(expires), 5*time.Hour+expires // idle expiry agrees
		return mustSession(t, s, sess)
	}
	// Between the cutoffs: only a purge with the late cutoff takes them.
	midToken, midSession := token("mid", -time.Hour), session("mid", -time.Hour)
	mustLoginFailure(t, s, a.ID, "mid@example.com", at(-time.Hour))
	// Before both: any purge takes them.
	token("old", -3*time.Hour)
	oldSession := session("old", -3*time.Hour)
	mustLoginFailure(t, s, a.ID, "old@example.com", at(-3*time.Hour))
	// After both: no purge takes them.
	freshToken, freshSession := token("fresh", time.Hour), session("fresh", time.Hour)
	mustLoginFailure(t, s, a.ID, "fresh@example.com", at(time.Second))
	mid := account.LoginFailures{Count: 1, Last: at(-time.Hour)}
	fresh := account.LoginFailures{Count: 1, Last: at(time.Second)}
	earlier := at(-4 * time.Hour) // when every token was still live

	// Expiry cutoff early, failure cutoff late.
	if err := s.Purge(ctx, early, late); err != nil {
		t.Fatalf("Purge(early, late): %v", err)
	}
	wantLiveTokens(t, s, "tokens after Purge(early, late)", a.ID, c.ID, account.PurposeConfirm, earlier, freshToken, midToken)
	wantNoSession(t, s, "old session after Purge(early, late)", oldSession)
	wantSession(t, s, "mid session after Purge(early, late)", midSession)
	wantSession(t, s, "fresh session after Purge(early, late)", freshSession)
	wantLoginFailures(t, s, a.ID, "old@example.com", account.LoginFailures{})
	wantLoginFailures(t, s, a.ID, "mid@example.com", account.LoginFailures{})
	wantLoginFailures(t, s, a.ID, "fresh@example.com", fresh)

	// Failures between the cutoffs again; now the failure cutoff is early
	// and the expiry cutoff late.
	mustLoginFailure(t, s, a.ID, "mid@example.com", at(-time.Hour))
	mustLoginFailure(t, s, a.ID, "old@example.com", at(-3*time.Hour))
	if err := s.Purge(ctx, late, early); err != nil {
		t.Fatalf("Purge(late, early): %v", err)
	}
	wantLiveTokens(t, s, "tokens after Purge(late, early)", a.ID, c.ID, account.PurposeConfirm, earlier, freshToken)
	wantNoSession(t, s, "mid session after Purge(late, early)", midSession)
	wantSession(t, s, "fresh session after Purge(late, early)", freshSession)
	wantLoginFailures(t, s, a.ID, "old@example.com", account.LoginFailures{})
	wantLoginFailures(t, s, a.ID, "mid@example.com", mid)
	wantLoginFailures(t, s, a.ID, "fresh@example.com", fresh)
}

func testSessionWithCustomer(t *testing.T, s account.Store) {
	a := mustTenant(t, s, "acme")
	b := mustTenant(t, s, "globex")
	c := mustCustomer(t, s, fullCustomer(a.ID, "alice"))
	mustCustomer(t, s, fullCustomer(b.ID, "alice")) // the same name in another tenant
	sess := mustSession(t, s, newSession(c, "joined"))
	gotSess, gotCust, err := s.SessionWithCustomer(t.Context(), hash("joined"))
	if err != nil {
		t.Fatalf("SessionWithCustomer: %v", err)
	}
	wantSession(t, s, "the session alone", gotSess) // reads as SessionByHash does
	if gotSess.ID != sess.ID || gotCust.ID != c.ID || gotCust.TenantID != a.ID || gotCust.UUID != c.UUID ||
		gotCust.Email != c.Email || gotCust.FirstName != c.FirstName || gotCust.State != c.State {
		t.Errorf("SessionWithCustomer = %+v, %+v; want the session and its customer %+v", gotSess, gotCust, c)
	}
	checkTimePtr(t, "EmailConfirmedAt", gotCust.EmailConfirmedAt, c.EmailConfirmedAt)
	checkTime(t, "CreatedAt", gotCust.CreatedAt, c.CreatedAt)
	_, _, err = s.SessionWithCustomer(t.Context(), hash("unknown"))
	wantErr(t, "unknown session", err, account.ErrNotFound)
}

func testSeeSignInPlace(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")
	b := mustTenant(t, s, "globex")
	c := mustCustomer(t, s, newCustomer(a.ID, "alice"))
	d := mustCustomer(t, s, newCustomer(a.ID, "dora"))
	e := mustCustomer(t, s, newCustomer(b.ID, "erin"))
	see := func(cust account.Customer, place string, wantSeen bool, wantOthers int) {
		t.Helper()
		seen, others, err := s.SeeSignInPlace(ctx, cust.TenantID, cust.ID, hash(place), at(time.Minute))
		if err != nil || seen != wantSeen || others != wantOthers {
			t.Errorf("SeeSignInPlace(%d, %s) = %v, %d, %v; want %v, %d", cust.ID, place, seen, others, err, wantSeen, wantOthers)
		}
	}
	see(c, "laptop", false, 0)
	see(c, "laptop", true, 0)
	see(c, "phone", false, 1)
	see(c, "phone", true, 1)
	see(c, "laptop", true, 1)
	see(d, "laptop", false, 0) // another customer's places are not hers
	see(e, "laptop", false, 0) // nor another tenant's
	// The places go with their customer: the foreign key does not stand
	// in the way of erasing it.
	if err := s.DeleteCustomer(ctx, a.ID, c.ID); err != nil {
		t.Fatalf("DeleteCustomer with sign-in places: %v", err)
	}
}
