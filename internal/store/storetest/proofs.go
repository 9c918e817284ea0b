package storetest

import (
	"bytes"
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
	if got, err := s.ProofsOf(ctx, a.ID, c.ID); err != nil || len(got) != 0 {
		t.Errorf("proofs of an erased customer: %+v, %v; want none", got, err)
	}
}
