package storetest

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"pforte/internal/account"
)

func testOptInProofs(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")
	c := mustCustomer(t, s, newCustomer(a.ID, "alice"))
	d := mustCustomer(t, s, newCustomer(a.ID, "dora"))
	p := account.OptInProof{TenantID: a.ID, CustomerID: c.ID, TokenID: 11, Kind: account.ProofRegistration, Channel: "pages",
		RequestedAt: t0, RequestAddress: "192.0.2.0/24", RequestAgent: "Firefox", ConsentVersion: "v1", ConsentLang: "de",
		ConsentHash: hash("text"), MailID: 21, MessageID: "<m@example.org>"}
	if err := s.CreateProof(ctx, &p); err != nil || p.ID == 0 {
		t.Fatalf("CreateProof: %v, id %d", err, p.ID)
	}
	bare := account.OptInProof{TenantID: a.ID, CustomerID: d.ID, TokenID: 12, Kind: account.ProofRegistration, Channel: "native", RequestedAt: t0}
	if err := s.CreateProof(ctx, &bare); err != nil {
		t.Fatalf("CreateProof without consent or mail: %v", err)
	}
	if err := s.ProofMailAccepted(ctx, 21, at(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.ProofMailAccepted(ctx, 21, at(time.Hour)); err != nil { // a second report changes nothing
		t.Fatal(err)
	}
	if err := s.ConfirmProof(ctx, a.ID, 11, at(time.Minute), "198.51.100.0/24", "Safari"); err != nil {
		t.Fatal(err)
	}
	if err := s.ConfirmProof(ctx, a.ID, 11, at(time.Hour), "203.0.113.0/24", "Other"); err != nil { // nor does a second one
		t.Fatal(err)
	}
	got, err := s.ProofsOf(ctx, a.ID, c.ID)
	if err != nil || len(got) != 1 {
		t.Fatalf("ProofsOf: %+v, %v", got, err)
	}
	g := got[0]
	if g.ID != p.ID || g.Channel != "pages" || !g.RequestedAt.Equal(t0) || g.RequestAddress != "192.0.2.0/24" || g.RequestAgent != "Firefox" ||
		g.ConsentVersion != "v1" || g.ConsentLang != "de" || !bytes.Equal(g.ConsentHash, hash("text")) || g.MessageID != "<m@example.org>" ||
		g.MailAcceptedAt == nil || !g.MailAcceptedAt.Equal(at(time.Second)) || g.ConfirmedAt == nil || !g.ConfirmedAt.Equal(at(time.Minute)) ||
		g.ConfirmAddress != "198.51.100.0/24" || g.ConfirmAgent != "Safari" {
		t.Errorf("the proof read back: %+v", g)
	}
	if got, err := s.ProofsOf(ctx, a.ID, d.ID); err != nil || len(got) != 1 || got[0].MailAcceptedAt != nil || got[0].ConfirmedAt != nil {
		t.Errorf("the other proof: %+v, %v; want it untouched", got, err)
	}
	invite := account.OptInProof{TenantID: a.ID, CustomerID: d.ID, TokenID: 13, Kind: account.ProofInvitation, Channel: "native", RequestedAt: t0}
	if err := s.CreateProof(ctx, &invite); err != nil {
		t.Fatal(err)
	}
	if err := s.ConfirmProofsOfKind(ctx, a.ID, d.ID, account.ProofInvitation, at(time.Hour), "192.0.2.0/24", "Edge"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ProofsOf(ctx, a.ID, d.ID); err != nil || len(got) != 2 || got[0].ConfirmedAt != nil ||
		got[1].ConfirmedAt == nil || !got[1].ConfirmedAt.Equal(at(time.Hour)) || got[1].ConfirmAgent != "Edge" {
		t.Errorf("after confirming the invitations: %+v, %v; want the invitation confirmed and the registration not", got, err)
	}
	if err := s.DeleteCustomer(ctx, a.ID, c.ID); err != nil {
		t.Fatalf("DeleteCustomer with a proof: %v", err)
	}
	if got, err := s.ProofsOf(ctx, a.ID, c.ID); err != nil || len(got) != 1 {
		t.Errorf("proofs of an erased customer: %+v, %v; want them kept until the service deletes them", got, err)
	}
	if err := s.DeleteProofs(ctx, a.ID, c.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ProofsOf(ctx, a.ID, c.ID); err != nil || len(got) != 0 {
		t.Errorf("after DeleteProofs: %+v, %v; want none", got, err)
	}
	// Dora's registration was never confirmed; her invitation was.
	if err := s.DeleteUnconfirmedProofs(ctx, a.ID, t0); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ProofsOf(ctx, a.ID, d.ID); err != nil || len(got) != 2 {
		t.Errorf("unconfirmed proofs requested at the cut: %+v, %v; want them kept", got, err)
	}
	if err := s.DeleteUnconfirmedProofs(ctx, a.ID, at(time.Second)); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ProofsOf(ctx, a.ID, d.ID); err != nil || len(got) != 1 || got[0].Kind != account.ProofInvitation {
		t.Errorf("after deleting unconfirmed proofs: %+v, %v; want the confirmed invitation alone", got, err)
	}
}

func testErasures(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")
	b := mustTenant(t, s, "bravo")
	es := []account.Erasure{
		{TenantID: a.ID, CustomerID: 7, Subject: "hmac:aa", ErasedAt: at(time.Hour), KeepUntil: at(3 * time.Hour)},
		{TenantID: a.ID, CustomerID: 3, Subject: "hmac:aa", ErasedAt: t0, KeepUntil: at(2 * time.Hour)},
		{TenantID: a.ID, CustomerID: 4, Subject: "hmac:bb", ErasedAt: t0, KeepUntil: at(time.Hour)},
		{TenantID: b.ID, CustomerID: 5, Subject: "hmac:aa", ErasedAt: t0, KeepUntil: at(time.Hour)},
	}
	for _, e := range es {
		if err := s.CreateErasure(ctx, e); err != nil {
			t.Fatalf("CreateErasure %+v: %v", e, err)
		}
	}
	if err := s.CreateErasure(ctx, es[0]); !errors.Is(err, account.ErrDuplicate) {
		t.Errorf("the same customer erased twice: %v; want ErrDuplicate", err)
	}
	got, err := s.ErasuresOf(ctx, a.ID, "hmac:aa")
	if err != nil || len(got) != 2 || got[0] != es[1] || got[1] != es[0] {
		t.Errorf("ErasuresOf: %+v, %v; want acme's two of the subject, oldest first", got, err)
	}
	if got, err := s.ErasuresOf(ctx, b.ID, "hmac:cc"); err != nil || got == nil || len(got) != 0 {
		t.Errorf("ErasuresOf an unknown subject: %#v, %v; want an empty list", got, err)
	}
	ended, err := s.ErasuresEnded(ctx, at(time.Hour), 10)
	if err != nil || len(ended) != 2 {
		t.Fatalf("ErasuresEnded at an hour: %+v, %v; want both tenants' ending then", ended, err)
	}
	if ended, err := s.ErasuresEnded(ctx, at(2*time.Hour), 1); err != nil || len(ended) != 1 || !ended[0].KeepUntil.Equal(at(time.Hour)) {
		t.Errorf("ErasuresEnded with limit 1: %+v, %v; want the earliest", ended, err)
	}
	for _, e := range ended {
		if err := s.DeleteErasure(ctx, e.TenantID, e.CustomerID); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteErasure(ctx, b.ID, 5); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("DeleteErasure again: %v; want ErrNotFound", err)
	}
	if ended, err := s.ErasuresEnded(ctx, at(time.Hour), 10); err != nil || len(ended) != 0 {
		t.Errorf("after deleting: %+v, %v; want none ended", ended, err)
	}
}
