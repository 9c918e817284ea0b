package native_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"pforte/internal/account"
	"pforte/internal/api/apitest"
	"pforte/internal/store/teststore"
)

type auditEvent struct {
	Seq           int64             `json:"seq"`
	At            time.Time         `json:"at"`
	Type          string            `json:"type"`
	Actor         string            `json:"actor"`
	Outcome       string            `json:"outcome"`
	CustomerID    int64             `json:"customer_id"`
	ClientAddress string            `json:"client_address"`
	Detail        map[string]string `json:"detail"`
	Erased        bool              `json:"erased"`
	Hash          string            `json:"hash"`
}

type auditPage struct {
	Events []auditEvent `json:"events"`
	Next   *int64       `json:"next_after"`
}

// verify checks tenant default's chain and returns the report.
func (h *harness) verify(t *testing.T) account.AuditReport {
	t.Helper()
	r, err := h.svc.Audit.Verify(context.Background(), account.DefaultTenant)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return r
}

// TestAuditLog: security events land in the tenant's chain in order,
// with who, where and the outcome and never a secret; the chain verifies
// across an erasure and a prune by retention, and a changed, or removed
// event breaks it exactly there.
func TestAuditLog(t *testing.T) {
	t.Parallel()
	teststore.EachTampered(t, func(t *testing.T, st account.Store, tamper teststore.Tamperer) {
		t.Parallel()
		h := newHarness(t, nil, apitest.WithStore(st))
		const email, pw, newPw = "audited@example.com", "Sommer-Haus-am-See-2030", "Winter-Haus-am-Berg-2031"
		cs := h.mustSignUp(t, email, pw)
		h.mustLogin(t, email, pw)
		apitest.MustProblem(t, h.Login(t, h.secret, email, "not the password!"), http.StatusUnauthorized, "invalid_credentials")
		res := h.Do(t, request{Method: http.MethodPut, Path: "/api/v1/password", Bearer: cs.Session.Token,
			Body: map[string]any{"current_password": pw, "password": newPw}})
		apitest.MustStatus(t, res, http.StatusNoContent)
		res = h.Do(t, request{Method: http.MethodPatch, Path: fmt.Sprintf("/api/v1/customers/%d", cs.Customer.ID), Key: h.secret,
			Body: map[string]any{"first_name": "Aud"}})
		apitest.MustStatus(t, res, http.StatusOK)

		res = h.Get(t, h.secret, "/api/v1/audit")
		page := apitest.MustJSON[auditPage](t, res, http.StatusOK)
		var got []string
		for _, e := range page.Events {
			got = append(got, e.Type+"/"+e.Outcome+"/"+e.Actor)
		}
		want := []string{"registration_confirmed/success/customer", "login/success/customer", "login/failure/customer", "password_changed/success/customer",
			"customer_updated/success/api_key:1"}
		if tail := got[len(got)-len(want):]; strings.Join(tail, " ") != strings.Join(want, " ") {
			t.Fatalf("the audit log ends %v, want %v", got, want)
		}
		for _, secret := range []string{pw, newPw, cs.Session.Token, h.secret, email} {
			if strings.Contains(string(res.Body), secret) {
				t.Errorf("the audit log holds %q", secret)
			}
		}
		login := page.Events[len(page.Events)-4]
		if login.CustomerID != cs.Customer.ID || login.ClientAddress != "127.0.0.0/24" || login.Detail["device"] != "Go-http-client" {
			t.Errorf("the login event: %+v", login)
		}
		if p := apitest.MustJSON[auditPage](t, h.Get(t, h.secret, "/api/v1/audit?type=login&customer="+fmt.Sprint(cs.Customer.ID)), http.StatusOK); len(p.Events) != 2 {
			t.Errorf("the customer's login events: %+v, want the success and the failure", p.Events)
		}
		apitest.MustProblem(t, h.Get(t, h.public, "/api/v1/audit"), http.StatusForbidden, "secret_key_required")
		apitest.MustProblem(t, h.Get(t, h.secret, "/api/v1/audit?since=yesterday"), http.StatusBadRequest, "validation_failed")

		if r := h.verify(t); r.BrokenAt != 0 || r.Checked != len(page.Events) || got[0] != "api_key_created/success/cli" {
			t.Fatalf("an untouched chain: %+v, want %d events checked and no break", r, len(page.Events))
		}

		// Erasing a customer clears its events' bodies; the chain holds.
		other := h.mustSignUp(t, "leaves@example.com", pw)
		h.mustLogin(t, "leaves@example.com", pw)
		apitest.MustStatus(t, h.Do(t, request{Method: http.MethodDelete, Path: fmt.Sprintf("/api/v1/customers/%d", other.Customer.ID),
			Key: h.secret}), http.StatusNoContent)
		if p := apitest.MustJSON[auditPage](t, h.Get(t, h.secret, "/api/v1/audit?customer="+fmt.Sprint(other.Customer.ID)), http.StatusOK); len(p.Events) != 1 || p.Events[0].Type != "customer_deleted" {
			t.Errorf("the erased customer's events: %+v, want only the deletion", p.Events)
		}
		if r := h.verify(t); r.BrokenAt != 0 {
			t.Fatalf("after an erasure: %+v", r)
		}

		// Retention prunes the old events and the chain verifies from the cut.
		h.MustSetting(t, account.DefaultTenant, "audit_retention", "24h")
		h.clock.Advance(25 * time.Hour)
		h.mustLogin(t, email, newPw)
		h.mustLogin(t, email, newPw)
		if err := h.svc.Purge(context.Background()); err != nil {
			t.Fatal(err)
		}
		r := h.verify(t)
		if r.BrokenAt != 0 || r.CutSeq == 0 || r.Checked != 2 {
			t.Fatalf("after pruning: %+v, want a cut and the two logins since left", r)
		}

		// A changed outcome, a changed detail and a removed event break it.
		last := r.HeadSeq
		tamper(t, `UPDATE audit_events SET outcome = 'failure' WHERE seq = `+fmt.Sprint(last))
		if r := h.verify(t); r.BrokenAt != last || !strings.Contains(r.Reason, "outcome") {
			t.Errorf("a changed outcome: %+v, want the break at %d", r, last)
		}
		tamper(t, `UPDATE audit_events SET outcome = 'success', detail = '{"device":"Anything"}' WHERE seq = `+fmt.Sprint(last))
		if r := h.verify(t); r.BrokenAt != last || !strings.Contains(r.Reason, "detail") {
			t.Errorf("a changed detail: %+v, want the break at %d", r, last)
		}
		tamper(t, `DELETE FROM audit_events WHERE seq = `+fmt.Sprint(last-1))
		if r := h.verify(t); r.BrokenAt != last-1 || !strings.Contains(r.Reason, "missing") {
			t.Errorf("a removed event: %+v, want the break at %d", r, last-1)
		}
	})
}

// TestUnconfirmedRegistrationsErased: the hourly clean-up erases pending
// customers older than pending_retention with their opt-in proofs, even
// under proof_retention, and proofs of registrations whose link was
// never used; it keeps confirmed customers and younger ones; 0 keeps
// them all.
func TestUnconfirmedRegistrationsErased(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		h.MustSetting(t, account.DefaultTenant, "proof_retention", "26280h")
		const pw = "Sommer-Haus-am-See-2030"
		old := h.mustRegister(t, "never@example.com", pw)
		h.mustRegister(t, "confirmed@example.com", pw) // a registration whose link is never used
		confirmed := h.mustConfirm(t, h.mustRegister(t, "confirmed@example.com", pw).ConfirmationToken)
		if ps := apitest.MustJSON[proofs](t, h.Get(t, h.secret, fmt.Sprintf("/api/v1/customers/%d/consents", confirmed.Customer.ID)),
			http.StatusOK).Proofs; len(ps) != 2 {
			t.Fatalf("proofs before the clean-up: %+v; want the registration and the claim", ps)
		}
		h.clock.Advance(29 * 24 * time.Hour)
		h.mustRegister(t, "young@example.com", pw)
		h.clock.Advance(2 * 24 * time.Hour)
		if err := h.svc.Purge(context.Background()); err != nil {
			t.Fatal(err)
		}
		h.mustNotStored(t, "never@example.com")
		h.storedCustomer(t, "confirmed@example.com")
		h.storedCustomer(t, "young@example.com")
		p := apitest.MustJSON[auditPage](t, h.Get(t, h.secret, "/api/v1/audit?type=customer_deleted"), http.StatusOK)
		if len(p.Events) != 1 || p.Events[0].CustomerID != old.Customer.ID || p.Events[0].Actor != "system" {
			t.Errorf("the erasure's audit events: %+v", p.Events)
		}
		if x := apitest.MustJSON[erasures](t, h.Get(t, h.secret, "/api/v1/erasures?email=never@example.com"), http.StatusOK); len(x.Erasures) != 0 {
			t.Errorf("an unconfirmed registration's proofs kept: %+v", x)
		}
		if ps := apitest.MustJSON[proofs](t, h.Get(t, h.secret, fmt.Sprintf("/api/v1/customers/%d/consents", confirmed.Customer.ID)),
			http.StatusOK).Proofs; len(ps) != 1 || ps[0].ConfirmedAt == nil {
			t.Errorf("proofs after the clean-up: %+v; want the confirmed registration alone", ps)
		}

		h.MustSetting(t, account.DefaultTenant, "pending_retention", "0")
		h.clock.Advance(60 * 24 * time.Hour)
		if err := h.svc.Purge(context.Background()); err != nil {
			t.Fatal(err)
		}
		h.storedCustomer(t, "young@example.com")
	})
}

// TestCustomerExport: the export holds the profile, the live sessions,
// the mail and the audit events, in exactly the documented fields, and
// no secret; it and the documented example match the documented schema.
func TestCustomerExport(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h, _ := newMailHarness(t, open)
		const email, pw = "export@example.com", "Sommer-Haus-am-See-2030"
		cs := h.mustSignUp(t, email, pw)
		phone := h.loginFrom(t, email, pw, safariOnIPhone, false)
		h.mustSettle(t)
		path := fmt.Sprintf("/api/v1/customers/%d/export", cs.Customer.ID)
		apitest.MustProblem(t, h.Get(t, h.public, path), http.StatusForbidden, "secret_key_required")
		apitest.MustProblem(t, h.Get(t, h.secret, "/api/v1/customers/999999/export"), http.StatusNotFound, "customer_not_found")
		res := h.Get(t, h.secret, path)
		x := apitest.MustJSON[account.CustomerExport](t, res, http.StatusOK) // strict: no field beyond the documented ones
		if x.Format != "pforte-customer-export" || x.Version != 1 || x.Tenant != "default" || x.Customer.Email != email ||
			!x.Customer.HasPassword || x.Customer.State != account.StateActive {
			t.Errorf("export header and customer: %+v", x)
		}
		if len(x.Sessions) != 2 || x.Sessions[0].ID != phone.Session.ID || x.Sessions[0].Device != "Safari on iPhone" {
			t.Errorf("export sessions: %+v", x.Sessions)
		}
		if len(x.Mail) != 1 || x.Mail[0].Kind != account.MailConfirm || x.Mail[0].Status != account.MailSent || x.Mail[0].MessageID == "" {
			t.Errorf("export mail: %+v", x.Mail)
		}
		var types []string
		for _, e := range x.AuditEvents {
			types = append(types, string(e.Type))
		}
		if strings.Join(types, " ") != "registration_confirmed login" {
			t.Errorf("export audit events: %v", types)
		}
		stored := h.storedCustomer(t, email)
		for _, secret := range []string{pw, stored.PasswordHash, cs.Session.Token, phone.Session.Token} {
			if strings.Contains(string(res.Body), secret) {
				t.Errorf("the export holds a secret: %q", secret)
			}
		}
		doc, err := os.ReadFile("../../../docs/export.md")
		if err != nil {
			t.Fatal(err)
		}
		example := string(doc)[strings.Index(string(doc), "```json\n")+8:]
		example = example[:strings.Index(example, "```")]
		var documented account.CustomerExport
		if err := apitest.DecodeStrict([]byte(example), &documented); err != nil || documented.Format != x.Format {
			t.Errorf("docs/export.md's example does not decode as the export: %v", err)
		}
		mustMatchExportSchema(t, []byte(example))
		mustMatchExportSchema(t, res.Body)
	})
}
