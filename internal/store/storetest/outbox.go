package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"pforte/internal/account"
)

// newMail returns an unsaved unsent mail of the customer (0: none), due a
// minute before t0, unleased, with sealed content and a message ID that
// derive from name.
func newMail(tenantID, customerID int64, name string) account.Mail {
	return account.Mail{
		TenantID:      tenantID,
		CustomerID:    customerID,
		Kind:          account.MailConfirm,
		Locale:        "de",
		MessageID:     "<" + name + "@pforte.test>",
		Status:        account.MailUnsent,
		NextAttemptAt: at(-time.Minute),
		Sealed:        []byte("sealed:" + name),
		CreatedAt:     at(-time.Minute),
	}
}

// fullMail returns an unsaved mail with every field set, its times given
// in a zone other than UTC and, where the store must truncate, below the
// microsecond.
func fullMail(tenantID, customerID int64, name string) account.Mail {
	cest := time.FixedZone("CEST", 2*60*60)
	m := newMail(tenantID, customerID, name)
	m.Kind = account.MailInvite
	m.Locale = "en"
	m.Attempts = 3
	m.NextAttemptAt = at(time.Minute + 999*time.Nanosecond).In(cest)
	m.LeaseOwner = "relay-1/4711"
	m.LeaseUntil = ptr(at(2*time.Minute + time.Microsecond).In(cest))
	m.LastError = "421 4.7.0 Try again later – Überlastung"
	m.Sealed = []byte{0, 1, 2, 0xff, 0xfe, 0}
	m.CreatedAt = at(-time.Hour).In(cest)
	m.FinishedAt = ptr(at(3 * time.Minute).In(cest))
	return m
}

func mustMail(t *testing.T, s account.Tx, m account.Mail) account.Mail {
	t.Helper()
	if err := s.EnqueueMail(t.Context(), &m); err != nil {
		t.Fatalf("EnqueueMail(%s): %v", m.MessageID, err)
	}
	if m.ID == 0 {
		t.Fatalf("EnqueueMail(%s) did not set ID", m.MessageID)
	}
	return m
}

// checkMail compares every field: times by instant and in UTC, Sealed by
// its bytes and whether it is nil.
func checkMail(t *testing.T, what string, got, want account.Mail) {
	t.Helper()
	checkTime(t, what+".NextAttemptAt", got.NextAttemptAt, want.NextAttemptAt)
	checkTime(t, what+".CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTimePtr(t, what+".LeaseUntil", got.LeaseUntil, want.LeaseUntil)
	checkTimePtr(t, what+".FinishedAt", got.FinishedAt, want.FinishedAt)
	if (got.Sealed == nil) != (want.Sealed == nil) || !bytes.Equal(got.Sealed, want.Sealed) {
		t.Errorf("%s.Sealed = %x (nil: %t), want %x (nil: %t)", what, got.Sealed, got.Sealed == nil, want.Sealed, want.Sealed == nil)
	}
	got.NextAttemptAt, got.CreatedAt, got.LeaseUntil, got.FinishedAt, got.Sealed = time.Time{}, time.Time{}, nil, nil, nil
	want.NextAttemptAt, want.CreatedAt, want.LeaseUntil, want.FinishedAt, want.Sealed = time.Time{}, time.Time{}, nil, nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func checkMails(t *testing.T, what string, got []account.Mail, want ...account.Mail) {
	t.Helper()
	if got == nil {
		t.Errorf("%s = nil, want an empty slice", what)
	}
	if len(got) != len(want) {
		t.Errorf("%s returned IDs %v, want %v", what, mailIDs(got), mailIDs(want))
		return
	}
	for i := range got {
		checkMail(t, fmt.Sprintf("%s[%d]", what, i), got[i], want[i])
	}
}

func mailIDs(ms []account.Mail) []int64 {
	ids := []int64{}
	for _, m := range ms {
		ids = append(ids, m.ID)
	}
	return ids
}

// wantMail checks that the mail is stored as want, reading it back with
// ListMail.
func wantMail(t *testing.T, s account.Tx, what string, want account.Mail) {
	t.Helper()
	ms, err := s.ListMail(t.Context(), want.TenantID, 1000)
	if err != nil {
		t.Errorf("%s: ListMail(%d): %v", what, want.TenantID, err)
		return
	}
	for _, m := range ms {
		if m.ID == want.ID {
			checkMail(t, what, m, want)
			return
		}
	}
	t.Errorf("%s: mail %d not listed", what, want.ID)
}

// wantClaim claims mails and checks that exactly want come back, in
// order, each leased to owner until leaseUntil with one more attempt. It
// returns the mails as they are stored now.
func wantClaim(t *testing.T, s account.Tx, what, owner string, now, leaseUntil time.Time, limit int, want ...account.Mail) []account.Mail {
	t.Helper()
	got, err := s.ClaimMail(t.Context(), owner, now, leaseUntil, limit)
	if err != nil {
		t.Fatalf("%s: ClaimMail(%q, limit %d): %v", what, owner, limit, err)
	}
	claimed := make([]account.Mail, len(want))
	for i, m := range want {
		m.LeaseOwner = owner
		m.LeaseUntil = &leaseUntil
		m.Attempts++
		claimed[i] = m
	}
	checkMails(t, what+": ClaimMail", got, claimed...)
	return claimed
}

func testMailRoundTrip(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")

	full := fullMail(a.ID, 42, "full")
	if err := s.EnqueueMail(ctx, &full); err != nil {
		t.Fatalf("EnqueueMail(full): %v", err)
	}
	bare := account.Mail{ // the zero value of every optional field
		TenantID:      a.ID,
		Kind:          account.MailPasswordChanged,
		MessageID:     "<bare@pforte.test>",
		Status:        account.MailUnsent,
		NextAttemptAt: t0,
		CreatedAt:     t0,
	}
	if err := s.EnqueueMail(ctx, &bare); err != nil {
		t.Fatalf("EnqueueMail(bare): %v", err)
	}
	if full.ID == 0 || bare.ID == 0 || full.ID == bare.ID {
		t.Fatalf("EnqueueMail set IDs %d and %d, want two distinct non-zero IDs", full.ID, bare.ID)
	}

	wantFull := fullMail(a.ID, 42, "full")
	wantFull.ID = full.ID
	wantFull.NextAttemptAt = at(time.Minute) // truncated to the microsecond
	wantBare := bare
	got, err := s.ListMail(ctx, a.ID, 10)
	if err != nil {
		t.Fatalf("ListMail: %v", err)
	}
	checkMails(t, "ListMail", got, wantBare, wantFull)
	if m, err := s.MailByID(ctx, full.ID); err != nil {
		t.Errorf("MailByID(%d): %v", full.ID, err)
	} else {
		checkMail(t, "MailByID", m, wantFull)
	}
	if _, err := s.MailByID(ctx, full.ID+bare.ID+1000); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("MailByID of no mail = %v, want ErrNotFound", err)
	}

	// Every status reads back as written, and a failed or sent mail
	// without content reads back with a nil Sealed.
	for _, st := range []account.MailStatus{account.MailSent, account.MailFailed} {
		m := newMail(a.ID, 7, string(st))
		m.Status, m.Sealed, m.FinishedAt = st, nil, ptr(t0)
		m = mustMail(t, s, m)
		wantMail(t, s, "mail "+string(st), m)
	}

	dup := newMail(a.ID, 43, "other")
	dup.MessageID = full.MessageID
	wantErr(t, "EnqueueMail(duplicate message ID)", s.EnqueueMail(ctx, &dup), account.ErrDuplicate)
	if got, err := s.ListMail(ctx, a.ID, 10); err != nil || len(got) != 4 {
		t.Errorf("ListMail after a refused duplicate = %v, %v; want the 4 mails", mailIDs(got), err)
	}
}

func testMailClaim(t *testing.T, s account.Store) {
	a := mustTenant(t, s, "acme")
	b := mustTenant(t, s, "globex")
	with := func(name string, modify func(m *account.Mail)) account.Mail {
		m := newMail(a.ID, 1, name)
		modify(&m)
		return mustMail(t, s, m)
	}
	now := t0
	due := with("due", func(m *account.Mail) {})
	notYet := with("not-yet", func(m *account.Mail) { m.NextAttemptAt = at(time.Microsecond) })
	leased := with("leased", func(m *account.Mail) {
		m.LeaseOwner, m.LeaseUntil, m.Attempts = "other", ptr(at(time.Second)), 1
	})
	leaseEndsNow := with("lease-ends-now", func(m *account.Mail) {
		m.LeaseOwner, m.LeaseUntil, m.Attempts = "other", ptr(now), 1
	})
	sent := with("sent", func(m *account.Mail) {
		m.Status, m.Sealed, m.FinishedAt, m.Attempts = account.MailSent, nil, ptr(at(-time.Second)), 1
	})
	failed := with("failed", func(m *account.Mail) {
		m.Status, m.Sealed, m.FinishedAt, m.Attempts = account.MailFailed, nil, ptr(at(-time.Second)), 5
	})
	expired := with("expired", func(m *account.Mail) {
		m.LeaseOwner, m.LeaseUntil, m.Attempts, m.LastError = "crashed", ptr(at(-time.Microsecond)), 2, "421 busy"
	})
	dueNow := with("due-now", func(m *account.Mail) { m.NextAttemptAt = now })
	m := newMail(b.ID, 1, "globex")
	otherTenant := mustMail(t, s, m)

	wantClaim(t, s, "limit 0", "w0", now, at(5*time.Minute), 0)
	// The lowest IDs first, across tenants, up to the limit.
	claimed := wantClaim(t, s, "limit 3", "w1", now, at(5*time.Minute), 3, due, expired, dueNow)
	due, expired, dueNow = claimed[0], claimed[1], claimed[2]
	otherTenant = wantClaim(t, s, "the rest", "w2", now, at(5*time.Minute), 10, otherTenant)[0]
	wantClaim(t, s, "nothing left", "w3", now, at(5*time.Minute), 10)
	for _, m := range []account.Mail{due, notYet, leased, leaseEndsNow, sent, failed, expired, dueNow, otherTenant} {
		wantMail(t, s, "after the claims: "+m.MessageID, m)
	}

	// Once the leases have run out, the mails are claimed again, with one
	// more attempt each; sent and failed mails never.
	later := at(5*time.Minute + time.Microsecond)
	wantClaim(t, s, "expired leases", "w4", later, at(10*time.Minute), 100,
		due, notYet, leased, leaseEndsNow, expired, dueNow, otherTenant)
	wantMail(t, s, "sent mail", sent)
	wantMail(t, s, "failed mail", failed)
}

// testMailClaimConcurrent lets four claimers empty a queue of 40 mails
// together, in several rounds so that a race has a fair chance to show:
// every mail must be claimed exactly once.
func testMailClaimConcurrent(t *testing.T, s account.Store) {
	const (
		rounds  = 5
		n       = 40
		workers = 4
		limit   = 5
	)
	a := mustTenant(t, s, "acme")
	for round := range rounds {
		claimConcurrently(t, s, a.ID, round, n, workers, limit)
	}
}

// claimConcurrently enqueues n mails and has workers claim them, limit at a
// time, until none is left. Leases last long enough that the mails of
// earlier rounds stay leased.
func claimConcurrently(t *testing.T, s account.Store, tenantID int64, round, n, workers, limit int) {
	t.Helper()
	ctx := t.Context()
	leaseUntil := at(100 * time.Hour)
	queued := map[int64]bool{}
	for i := range n {
		queued[mustMail(t, s, newMail(tenantID, int64(i), fmt.Sprintf("r%d-m%d", round, i))).ID] = true
	}
	var mu sync.Mutex
	claims := map[int64][]string{} // mail ID: the owners that claimed it
	concurrently(workers, func(w int) {
		owner := fmt.Sprintf("round-%d-worker-%d", round, w)
		for range n + 1 { // bounded, so that a store that hands out mails forever fails instead of hanging
			ms, err := s.ClaimMail(ctx, owner, t0, leaseUntil, limit)
			if err != nil {
				t.Errorf("%s: ClaimMail: %v", owner, err)
				return
			}
			if len(ms) == 0 {
				return
			}
			if len(ms) > limit {
				t.Errorf("%s: ClaimMail(limit %d) returned %d mails", owner, limit, len(ms))
			}
			mu.Lock()
			for _, m := range ms {
				claims[m.ID] = append(claims[m.ID], owner)
				if m.LeaseOwner != owner || m.Attempts != 1 {
					t.Errorf("%s: claimed mail %d with LeaseOwner %q, Attempts %d", owner, m.ID, m.LeaseOwner, m.Attempts)
				}
			}
			mu.Unlock()
		}
		t.Errorf("%s: still claiming mails after %d rounds", owner, n+1)
	})

	if len(claims) != n {
		t.Errorf("round %d: %d mails claimed, want %d", round, len(claims), n)
	}
	for id, owners := range claims {
		if !queued[id] {
			t.Errorf("round %d: mail %d of an earlier round claimed again, by %v", round, id, owners)
		} else if len(owners) != 1 {
			t.Errorf("round %d: mail %d claimed %d times, by %v", round, id, len(owners), owners)
		}
	}
	stored, err := s.ListMail(ctx, tenantID, n)
	if err != nil {
		t.Fatalf("ListMail: %v", err)
	}
	for _, m := range stored {
		if owners := claims[m.ID]; len(owners) != 1 || m.LeaseOwner != owners[0] || m.Attempts != 1 {
			t.Errorf("round %d: mail %d stored with LeaseOwner %q, Attempts %d; claimed by %v", round, m.ID, m.LeaseOwner, m.Attempts, owners)
		}
	}
	wantClaim(t, s, fmt.Sprintf("round %d: after the workers", round), "late", t0, leaseUntil, limit)
}

func testMailMarkSent(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")
	leased := mustMail(t, s, newMail(a.ID, 1, "leased"))
	leased = wantClaim(t, s, "claim", "w1", t0, at(time.Minute), 1, leased)[0]
	unleased := mustMail(t, s, newMail(a.ID, 1, "unleased"))
	failing := mustMail(t, s, newMail(a.ID, 1, "failing"))
	failed := newMail(a.ID, 1, "failed")
	failed.Status, failed.Sealed, failed.FinishedAt = account.MailFailed, nil, ptr(t0)
	failed = mustMail(t, s, failed)

	// Delivery is recorded whoever holds the lease (here w1) or none.
	if err := s.MarkMailSent(ctx, leased.ID, at(2*time.Minute)); err != nil {
		t.Fatalf("MarkMailSent(leased): %v", err)
	}
	want := leased
	want.Status, want.FinishedAt, want.Sealed = account.MailSent, ptr(at(2*time.Minute)), nil
	want.LeaseOwner, want.LeaseUntil = "", nil
	wantMail(t, s, "sent mail", want)
	// A second report changes nothing: the first one wins.
	if err := s.MarkMailSent(ctx, leased.ID, at(3*time.Minute)); err != nil {
		t.Errorf("MarkMailSent(sent already) = %v, want nil", err)
	}
	wantMail(t, s, "sent mail after a second report", want)

	if err := s.MarkMailSent(ctx, unleased.ID, at(time.Minute)); err != nil {
		t.Fatalf("MarkMailSent(unleased): %v", err)
	}
	unleased.Status, unleased.FinishedAt, unleased.Sealed = account.MailSent, ptr(at(time.Minute)), nil
	wantMail(t, s, "unleased mail sent", unleased)

	if err := s.FailMail(ctx, failing.ID, at(time.Minute), "550 no such user"); err != nil {
		t.Fatalf("FailMail: %v", err)
	}
	failing.Status, failing.FinishedAt, failing.Sealed, failing.LastError = account.MailFailed, ptr(at(time.Minute)), nil, "550 no such user"
	wantErr(t, "MarkMailSent(failed by FailMail)", s.MarkMailSent(ctx, failing.ID, at(2*time.Minute)), account.ErrNotFound)
	wantMail(t, s, "failed mail after MarkMailSent", failing)
	wantErr(t, "MarkMailSent(enqueued failed)", s.MarkMailSent(ctx, failed.ID, at(2*time.Minute)), account.ErrNotFound)
	wantMail(t, s, "enqueued failed mail after MarkMailSent", failed)
	wantErr(t, "MarkMailSent(unknown)", s.MarkMailSent(ctx, failed.ID+1000, t0), account.ErrNotFound)

	wantClaim(t, s, "nothing unsent", "w2", at(time.Hour), at(2*time.Hour), 10)
}

func testMailReschedule(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")
	m := mustMail(t, s, newMail(a.ID, 1, "retried"))
	idle := mustMail(t, s, newMail(a.ID, 1, "idle"))
	m = wantClaim(t, s, "claim", "w1", t0, at(time.Minute), 1, m)[0]

	wantErr(t, "RescheduleMail(not the owner)", s.RescheduleMail(ctx, m.ID, "w2", at(10*time.Minute), "stolen"), account.ErrNotFound)
	wantMail(t, s, "mail after a stranger's reschedule", m)
	wantErr(t, "RescheduleMail(no owner, unleased mail)", s.RescheduleMail(ctx, idle.ID, "", at(10*time.Minute), "x"), account.ErrNotFound)
	wantMail(t, s, "unleased mail after a reschedule without owner", idle)
	wantErr(t, "RescheduleMail(unknown)", s.RescheduleMail(ctx, idle.ID+1000, "w1", at(10*time.Minute), "x"), account.ErrNotFound)

	// The owner may reschedule even after its lease ran out, as long as
	// nobody claimed the mail since.
	if err := s.RescheduleMail(ctx, m.ID, "w1", at(10*time.Minute), "421 4.7.0 try again later"); err != nil {
		t.Fatalf("RescheduleMail(owner): %v", err)
	}
	m.NextAttemptAt, m.LastError, m.LeaseOwner, m.LeaseUntil = at(10*time.Minute), "421 4.7.0 try again later", "", nil
	wantMail(t, s, "rescheduled mail", m)
	wantErr(t, "RescheduleMail(owner again, lease given up)", s.RescheduleMail(ctx, m.ID, "w1", at(20*time.Minute), "again"), account.ErrNotFound)
	wantMail(t, s, "rescheduled mail after a second reschedule", m)

	// Due again at next, not before.
	idle = wantClaim(t, s, "before next", "w2", at(10*time.Minute-time.Microsecond), at(11*time.Minute), 10, idle)[0]
	m = wantClaim(t, s, "at next", "w3", at(10*time.Minute), at(11*time.Minute), 10, m)[0]
	if m.Attempts != 2 {
		t.Errorf("Attempts after two claims = %d, want 2", m.Attempts)
	}

	// Only unsent mails: a sent one that (oddly) still names its owner is
	// refused.
	sent := newMail(a.ID, 1, "sent")
	sent.Status, sent.LeaseOwner, sent.LeaseUntil, sent.FinishedAt = account.MailSent, "w1", ptr(at(time.Hour)), ptr(t0)
	sent = mustMail(t, s, sent)
	wantErr(t, "RescheduleMail(sent)", s.RescheduleMail(ctx, sent.ID, "w1", at(time.Hour), "x"), account.ErrNotFound)
	wantMail(t, s, "sent mail after RescheduleMail", sent)
}

func testMailFail(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")
	m := mustMail(t, s, newMail(a.ID, 1, "bounced"))
	unleased := mustMail(t, s, newMail(a.ID, 1, "unleased"))
	sent := mustMail(t, s, newMail(a.ID, 1, "sent"))
	m = wantClaim(t, s, "claim", "w1", t0, at(time.Minute), 1, m)[0]

	if err := s.FailMail(ctx, m.ID, at(5*time.Second), "550 5.1.1 user unknown"); err != nil {
		t.Fatalf("FailMail: %v", err)
	}
	m.Status, m.FinishedAt, m.LastError, m.Sealed = account.MailFailed, ptr(at(5*time.Second)), "550 5.1.1 user unknown", nil
	m.LeaseOwner, m.LeaseUntil = "", nil
	wantMail(t, s, "failed mail", m)
	wantErr(t, "FailMail(failed already)", s.FailMail(ctx, m.ID, at(time.Minute), "again"), account.ErrNotFound)
	wantMail(t, s, "failed mail after a second FailMail", m)

	if err := s.FailMail(ctx, unleased.ID, at(48*time.Hour), "given up"); err != nil {
		t.Fatalf("FailMail(unleased): %v", err)
	}
	unleased.Status, unleased.FinishedAt, unleased.LastError, unleased.Sealed = account.MailFailed, ptr(at(48*time.Hour)), "given up", nil
	wantMail(t, s, "unleased mail failed", unleased)

	if err := s.MarkMailSent(ctx, sent.ID, t0); err != nil {
		t.Fatalf("MarkMailSent: %v", err)
	}
	sent.Status, sent.FinishedAt, sent.Sealed = account.MailSent, ptr(t0), nil
	wantErr(t, "FailMail(sent)", s.FailMail(ctx, sent.ID, at(time.Minute), "late bounce"), account.ErrNotFound)
	wantMail(t, s, "sent mail after FailMail", sent)
	wantErr(t, "FailMail(unknown)", s.FailMail(ctx, sent.ID+1000, t0, "x"), account.ErrNotFound)

	wantClaim(t, s, "nothing unsent", "w2", at(time.Hour), at(2*time.Hour), 10)
}

func testMailPurge(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")
	oldSent := mustMail(t, s, newMail(a.ID, 1, "old-sent"))
	oldFailed := mustMail(t, s, newMail(a.ID, 1, "old-failed"))
	newSent := mustMail(t, s, newMail(a.ID, 1, "new-sent"))
	unsent := mustMail(t, s, newMail(a.ID, 1, "unsent"))
	for _, step := range []struct {
		m    *account.Mail
		when time.Time
		sent bool
	}{{&oldSent, at(-48 * time.Hour), true}, {&oldFailed, at(-25 * time.Hour), false}, {&newSent, at(-time.Hour), true}} {
		var err error
		if step.sent {
			err = s.MarkMailSent(ctx, step.m.ID, step.when)
			step.m.Status = account.MailSent
		} else {
			err = s.FailMail(ctx, step.m.ID, step.when, "550 no")
			step.m.Status, step.m.LastError = account.MailFailed, "550 no"
		}
		if err != nil {
			t.Fatalf("finishing %s: %v", step.m.MessageID, err)
		}
		step.m.FinishedAt, step.m.Sealed = ptr(step.when), nil
	}
	if err := s.PurgeMail(ctx, at(-24*time.Hour)); err != nil {
		t.Fatalf("PurgeMail: %v", err)
	}
	got, err := s.ListMail(ctx, a.ID, 10)
	if err != nil {
		t.Fatalf("ListMail: %v", err)
	}
	checkMails(t, "after PurgeMail", got, unsent, newSent)
	// The cutoff is exclusive.
	if err := s.PurgeMail(ctx, at(-time.Hour)); err != nil {
		t.Fatalf("PurgeMail: %v", err)
	}
	got, _ = s.ListMail(ctx, a.ID, 10)
	checkMails(t, "after PurgeMail at the finish time", got, unsent, newSent)
}

func testMailList(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")
	b := mustTenant(t, s, "globex")
	a1 := mustMail(t, s, newMail(a.ID, 1, "a1"))
	b1 := mustMail(t, s, newMail(b.ID, 1, "b1"))
	a2 := mustMail(t, s, newMail(a.ID, 2, "a2"))
	a3 := mustMail(t, s, newMail(a.ID, 0, "a3"))
	b2 := mustMail(t, s, newMail(b.ID, 1, "b2"))

	for _, tc := range []struct {
		name     string
		tenantID int64
		limit    int
		want     []account.Mail
	}{
		{"tenant a", a.ID, 10, []account.Mail{a3, a2, a1}},
		{"tenant a, limit 2", a.ID, 2, []account.Mail{a3, a2}},
		{"tenant b", b.ID, 10, []account.Mail{b2, b1}},
		{"every tenant", 0, 10, []account.Mail{b2, a3, a2, b1, a1}},
		{"every tenant, limit 3", 0, 3, []account.Mail{b2, a3, a2}},
		{"limit 0", a.ID, 0, nil},
		{"unknown tenant", b.ID + 1000, 10, nil},
	} {
		got, err := s.ListMail(ctx, tc.tenantID, tc.limit)
		if err != nil {
			t.Errorf("%s: ListMail: %v", tc.name, err)
			continue
		}
		checkMails(t, tc.name+": ListMail", got, tc.want...)
	}
}

func testMailCount(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")
	b := mustTenant(t, s, "globex")
	const c, d = 7, 8 // customer IDs: the outbox has no foreign key on them
	add := func(tenantID, customerID int64, name string, kind account.MailKind, created time.Time) account.Mail {
		m := newMail(tenantID, customerID, name)
		m.Kind, m.CreatedAt = kind, created
		return mustMail(t, s, m)
	}
	add(a.ID, c, "old confirm", account.MailConfirm, at(-2*time.Hour))
	add(a.ID, c, "confirm", account.MailConfirm, at(-30*time.Minute))
	add(a.ID, c, "resend", account.MailConfirmResend, t0)
	reset := add(a.ID, c, "reset", account.MailPasswordReset, at(-10*time.Minute))
	if err := s.MarkMailSent(ctx, reset.ID, t0); err != nil {
		t.Fatalf("MarkMailSent: %v", err)
	}
	add(a.ID, d, "dora's confirm", account.MailConfirm, t0)
	add(b.ID, c, "globex confirm", account.MailConfirm, t0)
	add(a.ID, 0, "no customer", account.MailConfirm, t0)

	confirms := []account.MailKind{account.MailConfirm, account.MailConfirmResend}
	for _, tc := range []struct {
		name                 string
		tenantID, customerID int64
		kinds                []account.MailKind
		since                time.Time
		want                 int
	}{
		{"confirms in the last hour", a.ID, c, confirms, at(-time.Hour), 2},
		{"since is inclusive", a.ID, c, confirms, at(-30 * time.Minute), 2},
		{"just after", a.ID, c, confirms, at(-30*time.Minute + time.Microsecond), 1},
		{"one kind, three hours", a.ID, c, []account.MailKind{account.MailConfirm}, at(-3 * time.Hour), 2},
		{"sent mails count", a.ID, c, []account.MailKind{account.MailPasswordReset}, at(-time.Hour), 1},
		{"every kind", a.ID, c, account.MailKinds, at(-3 * time.Hour), 4},
		{"kind never sent", a.ID, c, []account.MailKind{account.MailInvite}, at(-3 * time.Hour), 0},
		{"no kinds", a.ID, c, []account.MailKind{}, at(-3 * time.Hour), 0},
		{"nil kinds", a.ID, c, nil, at(-3 * time.Hour), 0},
		{"other customer", a.ID, d, confirms, at(-time.Hour), 1},
		{"other tenant", b.ID, c, confirms, at(-time.Hour), 1},
		{"no customer", a.ID, 0, confirms, at(-time.Hour), 1},
		{"unknown customer", a.ID, 99, confirms, at(-time.Hour), 0},
	} {
		n, err := s.CountMail(ctx, tc.tenantID, tc.customerID, tc.kinds, tc.since)
		if err != nil {
			t.Errorf("%s: CountMail: %v", tc.name, err)
		} else if n != tc.want {
			t.Errorf("%s: CountMail = %d, want %d", tc.name, n, tc.want)
		}
	}
}

// testMailInTx checks that a mail commits and rolls back with the
// transaction that enqueues it, and that a duplicate message ID leaves the
// transaction usable.
func testMailInTx(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")
	var m1, m2 account.Mail
	err := s.InTx(ctx, func(tx account.Tx) error {
		m1 = newMail(a.ID, 1, "one")
		if err := tx.EnqueueMail(ctx, &m1); err != nil {
			return fmt.Errorf("EnqueueMail: %w", err)
		}
		dup := newMail(a.ID, 2, "one")
		if err := tx.EnqueueMail(ctx, &dup); !errors.Is(err, account.ErrDuplicate) {
			return fmt.Errorf("EnqueueMail(duplicate message ID) = %v, want ErrDuplicate", err)
		}
		m2 = newMail(a.ID, 2, "two")
		if err := tx.EnqueueMail(ctx, &m2); err != nil {
			return fmt.Errorf("EnqueueMail after ErrDuplicate: %w", err)
		}
		if n, err := tx.CountMail(ctx, a.ID, 2, []account.MailKind{account.MailConfirm}, at(-time.Hour)); err != nil || n != 1 {
			return fmt.Errorf("CountMail inside the transaction = %d, %v; want 1", n, err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("InTx: %v", err)
	}
	got, err := s.ListMail(ctx, a.ID, 10)
	if err != nil {
		t.Fatalf("ListMail: %v", err)
	}
	checkMails(t, "ListMail after commit", got, m2, m1)

	marker := &markerError{1}
	err = s.InTx(ctx, func(tx account.Tx) error {
		m3 := newMail(a.ID, 3, "three")
		if err := tx.EnqueueMail(ctx, &m3); err != nil {
			return err
		}
		if _, err := tx.ClaimMail(ctx, "w1", t0, at(time.Minute), 10); err != nil {
			return err
		}
		if err := tx.FailMail(ctx, m1.ID, t0, "rolled back"); err != nil {
			return err
		}
		return marker
	})
	if !errors.Is(err, marker) {
		t.Fatalf("InTx = %v, want the error fn returned", err)
	}
	got, err = s.ListMail(ctx, a.ID, 10)
	if err != nil {
		t.Fatalf("ListMail: %v", err)
	}
	checkMails(t, "ListMail after rollback", got, m2, m1)
}

func testMailCancel(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")
	b := mustTenant(t, s, "globex")
	leased := mustMail(t, s, newMail(a.ID, 1, "leased"))
	queued := mustMail(t, s, newMail(a.ID, 1, "queued"))
	sent := mustMail(t, s, newMail(a.ID, 1, "sent"))
	otherCustomer := mustMail(t, s, newMail(a.ID, 2, "other customer"))
	otherTenant := mustMail(t, s, newMail(b.ID, 1, "other tenant"))
	leased = wantClaim(t, s, "claim", "w1", t0, at(time.Minute), 1, leased)[0]
	if err := s.MarkMailSent(ctx, sent.ID, t0); err != nil {
		t.Fatalf("MarkMailSent: %v", err)
	}
	sent.Status, sent.FinishedAt, sent.Sealed = account.MailSent, ptr(t0), nil

	if err := s.CancelMail(ctx, a.ID, 1, at(time.Second), "customer erased"); err != nil {
		t.Fatalf("CancelMail: %v", err)
	}
	for _, m := range []*account.Mail{&leased, &queued} {
		m.Status, m.FinishedAt, m.LastError, m.Sealed = account.MailFailed, ptr(at(time.Second)), "customer erased", nil
		m.LeaseOwner, m.LeaseUntil = "", nil
	}
	wantMail(t, s, "leased mail after CancelMail", leased)
	wantMail(t, s, "queued mail after CancelMail", queued)
	wantMail(t, s, "sent mail after CancelMail", sent)
	wantMail(t, s, "another customer's mail", otherCustomer)
	wantMail(t, s, "another tenant's mail", otherTenant)
	if err := s.CancelMail(ctx, a.ID, 99, t0, "nobody"); err != nil {
		t.Errorf("CancelMail(no mail): %v", err)
	}
}
