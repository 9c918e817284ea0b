package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"pforte/internal/account"
)

func mustWebhook(t *testing.T, s account.Tx, tenantID int64, url string) account.WebhookEndpoint {
	t.Helper()
	e := account.WebhookEndpoint{TenantID: tenantID, URL: url, Events: []string{account.EventConfirmed, account.EventDeleted},
		Secret: []byte("sealed"), Enabled: true, CreatedAt: t0, UpdatedAt: t0}
	if err := s.CreateWebhook(t.Context(), &e); err != nil || e.ID == 0 {
		t.Fatalf("CreateWebhook: %v, id %d", err, e.ID)
	}
	return e
}

func mustDelivery(t *testing.T, s account.Tx, e account.WebhookEndpoint, customerID int64, eventID string) account.WebhookDelivery {
	t.Helper()
	d := account.WebhookDelivery{TenantID: e.TenantID, EndpointID: e.ID, CustomerID: customerID, EventID: eventID,
		Type: account.EventConfirmed, Payload: []byte("sealed payload"), Status: account.DeliveryPending, NextAttemptAt: t0, CreatedAt: t0}
	if err := s.EnqueueDelivery(t.Context(), &d); err != nil || d.ID == 0 {
		t.Fatalf("EnqueueDelivery: %v, id %d", err, d.ID)
	}
	return d
}

func testWebhooks(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")
	b := mustTenant(t, s, "bravo")
	e := mustWebhook(t, s, a.ID, "https://hooks.example/a")
	mustWebhook(t, s, b.ID, "https://hooks.example/b")
	got, err := s.WebhookByID(ctx, e.ID)
	if err != nil || got.URL != e.URL || len(got.Events) != 2 || got.Events[1] != account.EventDeleted || !got.Enabled ||
		got.FailingSince != nil || string(got.Secret) != "sealed" || !got.CreatedAt.Equal(t0) {
		t.Errorf("WebhookByID: %+v, %v", got, err)
	}
	if es, err := s.ListWebhooks(ctx, a.ID); err != nil || len(es) != 1 || es[0].ID != e.ID {
		t.Errorf("ListWebhooks: %+v, %v", es, err)
	}
	failing := at(time.Minute)
	got.Enabled, got.FailingSince, got.DisabledWhy, got.Events, got.UpdatedAt = false, &failing, "why", []string{"*"}, at(time.Hour)
	if err := s.UpdateWebhook(ctx, &got); err != nil {
		t.Fatal(err)
	}
	if g, err := s.WebhookByID(ctx, e.ID); err != nil || g.Enabled || g.FailingSince == nil || !g.FailingSince.Equal(failing) ||
		g.DisabledWhy != "why" || len(g.Events) != 1 || !g.UpdatedAt.Equal(at(time.Hour)) {
		t.Errorf("after UpdateWebhook: %+v, %v", g, err)
	}
	if _, err := s.WebhookByID(ctx, 9999); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("WebhookByID of nothing: %v", err)
	}

	// Customer 1's events reach the endpoint in order: the second waits
	// while the first is pending; customer 2's does not wait for them.
	d1 := mustDelivery(t, s, e, 1, "msg_1")
	d2 := mustDelivery(t, s, e, 1, "msg_2")
	d3 := mustDelivery(t, s, e, 2, "msg_3")
	ds, err := s.ClaimDeliveries(ctx, "r1", t0, at(time.Minute), 10)
	if err != nil || len(ds) != 2 || ds[0].ID != d1.ID || ds[1].ID != d3.ID || ds[0].Attempts != 1 || ds[0].LeaseOwner != "r1" ||
		string(ds[0].Payload) != "sealed payload" {
		t.Fatalf("first claim: %+v, %v; want customer 1's first and customer 2's", ds, err)
	}
	if ds, err := s.ClaimDeliveries(ctx, "r2", t0, at(time.Minute), 10); err != nil || len(ds) != 0 {
		t.Errorf("a claim while both are leased: %+v, %v", ds, err)
	}
	if err := s.RescheduleDelivery(ctx, d1.ID, "r2", at(time.Second), 503, "busy"); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("rescheduling another's lease: %v", err)
	}
	if err := s.RescheduleDelivery(ctx, d1.ID, "r1", at(time.Second), 503, "busy"); err != nil {
		t.Fatal(err)
	}
	if ds, err := s.ClaimDeliveries(ctx, "r2", t0, at(time.Minute), 10); err != nil || len(ds) != 0 {
		t.Errorf("a claim before the retry is due: %+v, %v; want d2 still waiting behind d1", ds, err)
	}
	ds, err = s.ClaimDeliveries(ctx, "r2", at(time.Second), at(time.Minute), 10)
	if err != nil || len(ds) != 1 || ds[0].ID != d1.ID || ds[0].Attempts != 2 || ds[0].ResponseStatus != 503 || ds[0].LastError != "busy" {
		t.Fatalf("the retry: %+v, %v", ds, err)
	}
	if err := s.FinishDelivery(ctx, d1.ID, account.DeliveryDelivered, at(2*time.Second), 204, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishDelivery(ctx, d1.ID, account.DeliveryDelivered, at(2*time.Second), 204, ""); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("finishing twice: %v", err)
	}
	if ds, err := s.ClaimDeliveries(ctx, "r2", at(2*time.Second), at(time.Minute), 10); err != nil || len(ds) != 1 || ds[0].ID != d2.ID {
		t.Errorf("after the first was delivered: %+v, %v; want the second", ds, err)
	}
	log, err := s.ListDeliveries(ctx, e.ID, 10)
	if err != nil || len(log) != 3 || log[2].ID != d1.ID || log[2].Status != account.DeliveryDelivered || log[2].Payload != nil ||
		log[2].ResponseStatus != 204 || log[2].FinishedAt == nil || log[2].LeaseUntil != nil {
		t.Errorf("ListDeliveries: %+v, %v", log, err)
	}
	if err := s.FailPendingDeliveries(ctx, e.ID, at(time.Hour), "disabled"); err != nil {
		t.Fatal(err)
	}
	log, _ = s.ListDeliveries(ctx, e.ID, 10)
	for _, d := range log[:2] {
		if d.Status != account.DeliveryFailed || d.LastError != "disabled" || d.Payload != nil {
			t.Errorf("after FailPendingDeliveries: %+v", d)
		}
	}
	if err := s.PurgeDeliveries(ctx, at(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if log, _ := s.ListDeliveries(ctx, e.ID, 10); len(log) != 2 {
		t.Errorf("after purging what finished before an hour: %d left, want the two failed at the hour", len(log))
	}
	if err := s.DeleteWebhook(ctx, b.ID, e.ID); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("deleting another tenant's endpoint: %v", err)
	}
	if err := s.DeleteWebhook(ctx, a.ID, e.ID); err != nil {
		t.Fatal(err)
	}
	if log, err := s.ListDeliveries(ctx, e.ID, 10); err != nil || len(log) != 0 {
		t.Errorf("deliveries of a deleted endpoint: %+v, %v", log, err)
	}
}

// testWebhookClaimsConcurrently: workers claiming at once get each
// delivery once.
func testWebhookClaimsConcurrently(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")
	e := mustWebhook(t, s, a.ID, "https://hooks.example/a")
	const n = 40
	for i := range n {
		mustDelivery(t, s, e, int64(i+1), fmt.Sprintf("msg_%d", i))
	}
	var mu sync.Mutex
	claimed := map[int64]int{}
	concurrently(4, func(w int) {
		for range n + 1 {
			ds, err := s.ClaimDeliveries(ctx, fmt.Sprintf("w%d", w), t0, at(time.Hour), 3)
			if err != nil {
				t.Errorf("ClaimDeliveries: %v", err)
				return
			}
			if len(ds) == 0 {
				return
			}
			mu.Lock()
			for _, d := range ds {
				claimed[d.ID]++
			}
			mu.Unlock()
		}
	})
	if len(claimed) != n {
		t.Errorf("%d deliveries claimed, want %d", len(claimed), n)
	}
	for id, times := range claimed {
		if times != 1 {
			t.Errorf("delivery %d claimed %d times", id, times)
		}
	}
}
