package storetest

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"

	"pforte/internal/account"
)

// appendAudit appends an event the way the service does: in a
// transaction, after taking the next seq.
func appendAudit(t *testing.T, s account.Store, e account.AuditEvent) account.AuditEvent {
	t.Helper()
	err := s.InTx(t.Context(), func(tx account.Tx) error {
		seq, prev, err := tx.NextAuditSeq(t.Context(), e.TenantID)
		if err != nil {
			return err
		}
		e.Seq, e.PrevHash = seq, prev
		e.BodyHash, e.Hash = hash(fmt.Sprint("body", seq)), hash(fmt.Sprint(e.TenantID, "event", seq))
		return tx.AppendAudit(t.Context(), &e)
	})
	if err != nil {
		t.Fatalf("append audit event: %v", err)
	}
	return e
}

func listAudit(t *testing.T, s account.Store, q account.AuditQuery) []account.AuditEvent {
	t.Helper()
	if q.Limit == 0 {
		q.Limit = 100
	}
	events, err := s.ListAudit(t.Context(), q)
	if err != nil {
		t.Fatalf("ListAudit(%+v): %v", q, err)
	}
	return events
}

func testAuditChain(t *testing.T, s account.Store) {
	a := mustTenant(t, s, "acme")
	b := mustTenant(t, s, "globex")
	var acme []account.AuditEvent
	for i, e := range []account.AuditEvent{
		{Type: account.AuditLogin, Actor: "customer", Outcome: account.OutcomeSuccess, CustomerID: 7, ClientAddress: "192.0.2.0/24",
			Detail: map[string]string{"device": "Firefox on Windows"}},
		{Type: account.AuditLogin, Actor: "customer", Outcome: account.OutcomeFailure, CustomerID: 8},
		{Type: account.AuditSettingChanged, Actor: account.ActorCLI, Outcome: account.OutcomeSuccess, Detail: map[string]string{"key": "hosts"}},
	} {
		e.TenantID, e.At = a.ID, at(time.Duration(i)*time.Hour)
		acme = append(acme, appendAudit(t, s, e))
	}
	other := appendAudit(t, s, account.AuditEvent{TenantID: b.ID, At: t0, Type: account.AuditLogin, Actor: "customer", Outcome: account.OutcomeSuccess})
	if other.Seq != 1 || len(other.PrevHash) != 0 {
		t.Errorf("another tenant's first event: seq %d, prev %x; want 1 and nothing: each tenant has its own chain", other.Seq, other.PrevHash)
	}
	got := listAudit(t, s, account.AuditQuery{TenantID: a.ID})
	if len(got) != 3 {
		t.Fatalf("ListAudit: %d events, want 3", len(got))
	}
	for i, e := range got {
		w := acme[i]
		if e.Seq != int64(i+1) || !e.At.Equal(w.At) || e.Type != w.Type || e.Actor != w.Actor || e.Outcome != w.Outcome ||
			e.CustomerID != w.CustomerID || e.ClientAddress != w.ClientAddress || fmt.Sprint(e.Detail) != fmt.Sprint(w.Detail) ||
			!bytes.Equal(e.Hash, w.Hash) || !bytes.Equal(e.BodyHash, w.BodyHash) || e.Erased {
			t.Errorf("event %d: %+v, want %+v", i+1, e, w)
		}
		if i > 0 && !bytes.Equal(e.PrevHash, acme[i-1].Hash) {
			t.Errorf("event %d's prev hash %x, want the hash before it %x", e.Seq, e.PrevHash, acme[i-1].Hash)
		}
	}
	for _, c := range []struct {
		q    account.AuditQuery
		seqs string
	}{
		{account.AuditQuery{TenantID: a.ID, CustomerID: 8}, "[2]"},
		{account.AuditQuery{TenantID: a.ID, Type: account.AuditLogin}, "[1 2]"},
		{account.AuditQuery{TenantID: a.ID, Since: at(time.Hour)}, "[2 3]"},
		{account.AuditQuery{TenantID: a.ID, AfterSeq: 1, Limit: 1}, "[2]"},
	} {
		var seqs []int64
		for _, e := range listAudit(t, s, c.q) {
			seqs = append(seqs, e.Seq)
		}
		if fmt.Sprint(seqs) != c.seqs {
			t.Errorf("ListAudit(%+v) = seqs %v, want %s", c.q, seqs, c.seqs)
		}
	}

	// Erasing a customer's events clears their bodies and nothing else.
	if err := s.EraseAudit(t.Context(), a.ID, 7); err != nil {
		t.Fatalf("EraseAudit: %v", err)
	}
	if e := listAudit(t, s, account.AuditQuery{TenantID: a.ID})[0]; !e.Erased || e.CustomerID != 0 || e.ClientAddress != "" ||
		len(e.Detail) != 0 || !bytes.Equal(e.Hash, acme[0].Hash) || !bytes.Equal(e.BodyHash, acme[0].BodyHash) {
		t.Errorf("an erased event: %+v", e)
	}

	// Pruning deletes the old events and records the cut.
	if seq, h, err := s.AuditCut(t.Context(), a.ID); err != nil || seq != 0 || len(h) != 0 {
		t.Errorf("AuditCut before pruning: %d, %x, %v", seq, h, err)
	}
	if err := s.InTx(t.Context(), func(tx account.Tx) error { return tx.PruneAudit(t.Context(), a.ID, at(90*time.Minute)) }); err != nil {
		t.Fatalf("PruneAudit: %v", err)
	}
	if seq, h, err := s.AuditCut(t.Context(), a.ID); err != nil || seq != 2 || !bytes.Equal(h, acme[1].Hash) {
		t.Errorf("AuditCut after pruning: %d, %x, %v; want 2 and its hash", seq, h, err)
	}
	if left := listAudit(t, s, account.AuditQuery{TenantID: a.ID}); len(left) != 1 || left[0].Seq != 3 {
		t.Errorf("after pruning: %+v, want event 3 alone", left)
	}
	if next := appendAudit(t, s, account.AuditEvent{TenantID: a.ID, At: at(4 * time.Hour), Type: account.AuditLogin,
		Actor: "customer", Outcome: account.OutcomeSuccess}); next.Seq != 4 || !bytes.Equal(next.PrevHash, acme[2].Hash) {
		t.Errorf("the event after pruning: seq %d prev %x, want 4 after event 3", next.Seq, next.PrevHash)
	}
	if left := listAudit(t, s, account.AuditQuery{TenantID: b.ID}); len(left) != 1 {
		t.Errorf("another tenant's events after pruning: %+v", left)
	}
}

// testAuditConcurrent: events appended at once get one seq each, and each
// links to the one before it.
func testAuditConcurrent(t *testing.T, s account.Store) {
	a := mustTenant(t, s, "acme")
	const n = 16
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			appendAudit(t, s, account.AuditEvent{TenantID: a.ID, At: at(time.Duration(i) * time.Second), Type: account.AuditLogin,
				Actor: "customer", Outcome: account.OutcomeSuccess})
		})
	}
	wg.Wait()
	events := listAudit(t, s, account.AuditQuery{TenantID: a.ID})
	if len(events) != n {
		t.Fatalf("%d events, want %d", len(events), n)
	}
	var prev []byte
	for i, e := range events {
		if e.Seq != int64(i+1) || !bytes.Equal(e.PrevHash, prev) {
			t.Errorf("event %d: seq %d, prev %x; want seq %d after %x", i, e.Seq, e.PrevHash, i+1, prev)
		}
		prev = e.Hash
	}
}
