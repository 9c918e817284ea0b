package native_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"pforte/internal/account"
	"pforte/internal/api/apitest"
	"pforte/internal/store/teststore"
)

type erasures struct {
	Erasures []struct {
		CustomerID int64                   `json:"customer_id"`
		ErasedAt   time.Time               `json:"erased_at"`
		KeptUntil  time.Time               `json:"kept_until"`
		Proofs     []account.ExportedProof `json:"proofs"`
	} `json:"erasures"`
}

// TestErasureRetention: erasing a customer leaves what the README's Data
// protection section says. Without proof_retention nothing about the
// customer stays but the bare fact of each audit event and the erasure
// itself; with it the
// opt-in proof and the audit events stay, found by the address and by
// nothing in the database that names the customer, until the retention
// has passed. The database is searched for the address and the names.
func TestErasureRetention(t *testing.T) {
	t.Parallel()
	teststore.EachDumped(t, func(t *testing.T, st account.Store, dump teststore.Dumper) {
		t.Parallel()
		h := newHarness(t, nil, apitest.WithStore(st), apitest.WithRelay())
		h.mustApps(t)
		h.MustSetting(t, account.DefaultTenant, "audit_retention", "0") // so that events outlive the proofs
		// signUp registers as a browser does, with names, confirms from the
		// mail, logs in, and returns the customer's ID and session.
		signUp := func(email, first, last string) customerSession {
			t.Helper()
			res := h.Do(t, request{Method: http.MethodPost, Path: "/api/v1/registrations", Key: h.public,
				Header: http.Header{"User-Agent": {firefoxOnWindows}},
				Body: map[string]any{"email": email, "password": mailPassword, "app": "zweite",
					"first_name": first, "last_name": last, "consent_version": "2026-12", "consent_lang": "de",
					"consent_text": "Ich willige ein."}})
			mustAccepted(t, res)
			token := mustTokenMail(t, mustMailTo(t, h.SMTP, email), "Bitte bestätigen Sie Ihre Registrierung", zweiteEndpoint)
			res = h.Do(t, request{Method: http.MethodPost, Path: "/api/v1/confirmations", Key: h.public,
				Header: http.Header{"User-Agent": {safariOnIPhone}}, Body: map[string]any{"token": token}})
			apitest.MustJSON[customerSession](t, res, http.StatusOK)
			h.mustSettle(t)
			return h.mustLogin(t, email, mailPassword)
		}
		mustNotHold := func(when string, words ...string) {
			t.Helper()
			db := bytes.ToLower(dump(t))
			for _, w := range words {
				if bytes.Contains(db, []byte(strings.ToLower(w))) {
					t.Errorf("%s, the database holds %q", when, w)
				}
			}
		}
		lookUp := func(email string) erasures {
			t.Helper()
			return apitest.MustJSON[erasures](t, h.Get(t, h.secret, "/api/v1/erasures?email="+url.QueryEscape(email)), http.StatusOK)
		}
		events := func(customerID int64) auditPage {
			t.Helper()
			return apitest.MustJSON[auditPage](t, h.Get(t, h.secret, fmt.Sprintf("/api/v1/audit?customer=%d", customerID)), http.StatusOK)
		}

		// Without proof_retention (the default): the proof goes, and the
		// events keep only their type and time.
		const gone = "Spurlos.Weg@Example.org"
		cs := signUp(gone, "Gundula", "Verschwindibus")
		if len(events(cs.Customer.ID).Events) == 0 {
			t.Fatal("no audit events before the erasure")
		}
		apitest.MustStatus(t, h.Do(t, request{Method: http.MethodDelete, Path: fmt.Sprintf("/api/v1/customers/%d", cs.Customer.ID), Key: h.secret}), http.StatusNoContent)
		mustNotHold("after an erasure without proof_retention", gone, "Gundula", "Verschwindibus")
		if ps, err := st.ProofsOf(t.Context(), h.tenant.ID, cs.Customer.ID); err != nil || len(ps) != 0 {
			t.Errorf("proofs after the erasure: %+v, %v; want none", ps, err)
		}
		if ev := events(cs.Customer.ID).Events; len(ev) != 1 || ev[0].Type != "customer_deleted" {
			t.Errorf("events naming the erased customer: %+v; want only that it was erased", ev)
		}
		if x := lookUp(gone); len(x.Erasures) != 0 {
			t.Errorf("erasures of %s: %+v; want none kept", gone, x)
		}

		// With proof_retention: the proof and the events stay,
		// pseudonymised, for three years.
		h.MustSetting(t, account.DefaultTenant, "proof_retention", "26280h")
		const kept = "Beweis.Bleibt@Example.org"
		cs = signUp(kept, "Berthold", "Nachweisinger")
		res := h.Do(t, request{Method: http.MethodPost, Path: "/api/v1/account/deletion", Bearer: cs.Session.Token,
			Body: map[string]any{"password": mailPassword}})
		apitest.MustStatus(t, res, http.StatusNoContent)
		h.mustNotStored(t, kept)
		mustNotHold("after an erasure with proof_retention", kept, "Berthold", "Nachweisinger")
		x := lookUp(strings.ToUpper(kept))
		if len(x.Erasures) != 1 || x.Erasures[0].CustomerID != cs.Customer.ID || !x.Erasures[0].ErasedAt.Equal(h.clock.Now()) ||
			x.Erasures[0].KeptUntil.Sub(x.Erasures[0].ErasedAt) != 26280*time.Hour {
			t.Fatalf("erasures of %s: %+v", kept, x)
		}
		if ps := x.Erasures[0].Proofs; len(ps) != 1 || ps[0].Kind != "registration" || ps[0].RequestAgent != firefoxOnWindows ||
			ps[0].ConsentVersion != "2026-12" || ps[0].MessageID == "" || ps[0].MailAcceptedAt == nil ||
			ps[0].ConfirmedAt == nil || ps[0].ConfirmAgent != safariOnIPhone {
			t.Errorf("the kept proof: %+v", ps)
		}
		if x := lookUp(gone); len(x.Erasures) != 0 {
			t.Errorf("erasures of another address: %+v", x)
		}
		types := map[string]bool{}
		for _, e := range events(cs.Customer.ID).Events {
			types[e.Type] = !e.Erased
		}
		for _, want := range []string{"registration_confirmed", "login", "customer_deleted"} {
			if !types[want] {
				t.Errorf("kept events: %v; want %s with its body", types, want)
			}
		}
		apitest.MustProblem(t, h.Get(t, h.public, "/api/v1/erasures?email="+kept), http.StatusForbidden, "secret_key_required")
		apitest.MustProblem(t, h.Get(t, h.secret, "/api/v1/erasures?email=not-an-address"), http.StatusBadRequest, "validation_failed")

		// A day short of three years the clean-up keeps them; after, it
		// removes the proof and the events' bodies, and the chain holds.
		h.clock.Advance(26279 * time.Hour)
		if err := h.svc.Purge(t.Context()); err != nil {
			t.Fatal(err)
		}
		if x := lookUp(kept); len(x.Erasures) != 1 {
			t.Fatalf("erasures before the retention passed: %+v", x)
		}
		h.clock.Advance(time.Hour)
		if err := h.svc.Purge(t.Context()); err != nil {
			t.Fatal(err)
		}
		if x := lookUp(kept); len(x.Erasures) != 0 {
			t.Errorf("erasures after the retention passed: %+v", x)
		}
		if ps, err := st.ProofsOf(t.Context(), h.tenant.ID, cs.Customer.ID); err != nil || len(ps) != 0 {
			t.Errorf("proofs after the retention: %+v, %v; want none", ps, err)
		}
		if ev := events(cs.Customer.ID).Events; len(ev) != 0 {
			t.Errorf("events naming the customer after the retention: %+v; want none", ev)
		}
		if r := h.verify(t); r.BrokenAt != 0 {
			t.Errorf("audit verify after erasures: %+v", r)
		}
	})
}

// mustMatchExportSchema validates an export against docs/export.schema.json.
func mustMatchExportSchema(t *testing.T, export []byte) {
	t.Helper()
	f, err := os.Open("../../../docs/export.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("docs/export.schema.json: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("export.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile("export.schema.json")
	if err != nil {
		t.Fatalf("docs/export.schema.json: %v", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(export))
	if err != nil {
		t.Fatalf("the export is not JSON: %v", err)
	}
	if err := schema.Validate(inst); err != nil {
		t.Errorf("the export does not match docs/export.schema.json: %v\n%s", err, export)
	}
}
