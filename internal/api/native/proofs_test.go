package native_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"pforte/internal/account"
	"pforte/internal/api/apitest"
	"pforte/internal/store/teststore"
)

type proofs struct {
	Proofs []account.ExportedProof `json:"proofs"`
}

// mustProof checks the one proof of a customer: the request's channel,
// address and agent, the consent, the confirmation mail as the SMTP
// server saw it and when it took it, and the confirmation's data.
func (h *harness) mustProof(t *testing.T, customerID int64, channel, agent, messageID, consentVersion, consentText, confirmAgent string) {
	t.Helper()
	h.mustSettle(t) // the relay has recorded the SMTP server's acceptance
	res := h.Get(t, h.secret, fmt.Sprintf("/api/v1/customers/%d/consents", customerID))
	ps := apitest.MustJSON[proofs](t, res, http.StatusOK).Proofs
	if len(ps) != 1 {
		t.Fatalf("proofs: %+v, want one", ps)
	}
	p := ps[0]
	wantHash := ""
	if consentText != "" {
		sum := sha256.Sum256([]byte(consentText))
		wantHash = hex.EncodeToString(sum[:])
	}
	switch {
	case p.Kind != "registration" || p.Channel != channel:
		t.Errorf("proof kind %q channel %q, want registration through %s", p.Kind, p.Channel, channel)
	case p.RequestAddress != "127.0.0.0/24" || p.RequestAgent != agent || p.RequestedAt.IsZero():
		t.Errorf("proof request: %+v", p)
	case p.ConsentVersion != consentVersion || p.ConsentSHA256 != wantHash:
		t.Errorf("proof consent %q %q, want %q %q", p.ConsentVersion, p.ConsentSHA256, consentVersion, wantHash)
	case p.MessageID != messageID || p.MailAcceptedAt == nil || p.MailAcceptedAt.Before(p.RequestedAt):
		t.Errorf("proof mail %q accepted %v, want %q as the SMTP server got it, and a time", p.MessageID, p.MailAcceptedAt, messageID)
	case p.ConfirmedAt == nil || p.ConfirmAddress != "127.0.0.0/24" || p.ConfirmAgent != confirmAgent:
		t.Errorf("proof confirmation: %+v", p)
	}
}

// TestOptInProof: a registration through the native API and one through
// Propstack's dialect each leave a complete proof, which the export
// carries too.
func TestOptInProof(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h, srv := newMailHarness(t, open)
		const consentText = "Ich stimme der Datenschutzerklärung zu."
		res := h.Do(t, request{Method: http.MethodPost, Path: "/api/v1/registrations", Key: h.public,
			Header: http.Header{"User-Agent": {firefoxOnWindows}},
			Body: map[string]any{"email": "optin@example.com", "password": mailPassword, "app": "zweite",
				"consent_version": "2026-11", "consent_lang": "de", "consent_text": consentText}})
		mustAccepted(t, res)
		m := mustMailTo(t, srv, "optin@example.com")
		token := mustTokenMail(t, m, "Bitte bestätigen Sie Ihre Registrierung", zweiteEndpoint)
		res = h.Do(t, request{Method: http.MethodPost, Path: "/api/v1/confirmations", Key: h.public,
			Header: http.Header{"User-Agent": {safariOnIPhone}}, Body: map[string]any{"token": token}})
		cs := apitest.MustJSON[customerSession](t, res, http.StatusOK)
		h.mustProof(t, cs.Customer.ID, "native", firefoxOnWindows, m.MessageID, "2026-11", consentText, safariOnIPhone)
		res = h.Get(t, h.secret, fmt.Sprintf("/api/v1/customers/%d/export", cs.Customer.ID))
		x := apitest.MustJSON[account.CustomerExport](t, res, http.StatusOK)
		if len(x.Proofs) != 1 || x.Proofs[0].MessageID != m.MessageID {
			t.Errorf("the export's proofs: %+v", x.Proofs)
		}
		mustMatchExportSchema(t, res.Body)

		// Propstack's registration has no room for a consent version: the
		// tenant's current text is recorded.
		const current = "Aktuelle Einwilligung des Mandanten."
		if _, err := h.svc.Consents.Add(t.Context(), "default", "", "2026-12", "de", current); err != nil {
			t.Fatal(err)
		}
		res = h.Do(t, request{Method: http.MethodPost, Path: "/v1/contacts/register", Key: h.secret,
			Header: http.Header{"User-Agent": {"site-backend/1.0"}},
			Body: map[string]any{"client": map[string]string{"email": "dialect@example.com", "password": mailPassword,
				"password_confirmation": mailPassword, "first_name": "Dia", "last_name": "Lekt"}}})
		apitest.MustStatus(t, res, http.StatusOK)
		m = mustMailTo(t, srv, "dialect@example.com")
		var reg map[string]any
		if err := json.Unmarshal(res.Body, &reg); err != nil || reg["confirmation_token"] == nil {
			t.Fatalf("Propstack's registration: %s", res)
		}
		res = h.Do(t, request{Method: http.MethodPost, Path: "/v1/contacts/confirm", Key: h.secret,
			Header: http.Header{"User-Agent": {"site-backend/1.0"}}, Body: map[string]any{"confirmation_token": reg["confirmation_token"]}})
		apitest.MustStatus(t, res, http.StatusOK)
		h.mustProof(t, h.storedCustomer(t, "dialect@example.com").ID, "propstack", "site-backend/1.0", m.MessageID, "2026-12", current, "site-backend/1.0")
	})
}

// TestConsentTexts: a secret key keeps versioned consent texts; a
// registration that names a version has its proof hash the kept text;
// once shown, a version can no longer change.
func TestConsentTexts(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h, srv := newMailHarness(t, open)
		const text = "Ich willige in die Verarbeitung meiner Daten ein."
		body := map[string]any{"version": "2026-12", "lang": "de", "text": text}
		apitest.MustProblem(t, h.Post(t, h.public, "/api/v1/consents", body), http.StatusForbidden, "secret_key_required")
		apitest.MustProblem(t, h.Post(t, h.secret, "/api/v1/consents", map[string]any{"version": "no spaces", "lang": "fr", "text": ""}),
			http.StatusBadRequest, "validation_failed")
		apitest.MustStatus(t, h.Post(t, h.secret, "/api/v1/consents", body), http.StatusCreated)

		res := h.Do(t, request{Method: http.MethodPost, Path: "/api/v1/registrations", Key: h.public,
			Header: http.Header{"User-Agent": {firefoxOnWindows}},
			Body: map[string]any{"email": "versioned@example.com", "password": mailPassword, "app": "zweite",
				"consent_version": "2026-12", "consent_lang": "de"}})
		mustAccepted(t, res)
		m := mustMailTo(t, srv, "versioned@example.com")
		token := mustTokenMail(t, m, "Bitte bestätigen Sie Ihre Registrierung", zweiteEndpoint)
		res = h.Do(t, request{Method: http.MethodPost, Path: "/api/v1/confirmations", Key: h.public,
			Header: http.Header{"User-Agent": {firefoxOnWindows}}, Body: map[string]any{"token": token}})
		cs := apitest.MustJSON[customerSession](t, res, http.StatusOK)
		h.mustProof(t, cs.Customer.ID, "native", firefoxOnWindows, m.MessageID, "2026-12", text, firefoxOnWindows)

		body["text"] = "Ein still geänderter Text."
		apitest.MustProblem(t, h.Post(t, h.secret, "/api/v1/consents", body), http.StatusConflict, "consent_shown")
		body["version"] = "2026-12b"
		apitest.MustStatus(t, h.Post(t, h.secret, "/api/v1/consents", body), http.StatusCreated)
		var list struct {
			Consents []struct {
				Version string  `json:"version"`
				Text    string  `json:"text"`
				SHA256  string  `json:"sha256"`
				ShownAt *string `json:"shown_at"`
			} `json:"consents"`
		}
		res = h.Get(t, h.secret, "/api/v1/consents")
		if err := json.Unmarshal(res.Body, &list); err != nil || len(list.Consents) != 2 || list.Consents[0].Version != "2026-12b" ||
			list.Consents[1].ShownAt == nil || list.Consents[1].Text != text || list.Consents[0].ShownAt != nil {
			t.Errorf("GET /api/v1/consents: %s", res)
		}
	})
}

// TestInvitationProof: a back office's invitation leaves a proof, which
// its acceptance completes, by link or by code.
func TestInvitationProof(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h, srv := newMailHarness(t, open)
		for _, byCode := range []bool{false, true} {
			email := fmt.Sprintf("invited-%v@example.com", byCode)
			created := h.mustCreate(t, map[string]any{"email": email, "app": "zweite"})
			m := mustMailTo(t, srv, email)
			var res *response
			if byCode {
				code := codeLine.FindStringSubmatch(m.Text)
				if code == nil {
					t.Fatalf("no code in the invitation:\n%s", m.Text)
				}
				res = h.Do(t, request{Method: http.MethodPost, Path: "/api/v1/invitations/accept", Key: h.public,
					Header: http.Header{"User-Agent": {safariOnIPhone}},
					Body:   map[string]any{"email": email, "code": code[1], "password": "Eingeladen-und-da-2030"}})
			} else {
				res = h.Do(t, request{Method: http.MethodPost, Path: "/api/v1/invitations/accept", Key: h.public,
					Header: http.Header{"User-Agent": {safariOnIPhone}},
					Body:   map[string]any{"token": tokenOf(t, linkOf(t, m)), "password": "Eingeladen-und-da-2030"}})
			}
			apitest.MustStatus(t, res, http.StatusOK)
			h.mustSettle(t)
			ps := apitest.MustJSON[proofs](t, h.Get(t, h.secret, fmt.Sprintf("/api/v1/customers/%d/consents", created.Customer.ID)), http.StatusOK).Proofs
			if len(ps) != 1 || ps[0].Kind != "invitation" || ps[0].MessageID != m.MessageID || ps[0].MailAcceptedAt == nil ||
				ps[0].ConfirmedAt == nil || ps[0].ConfirmAgent != safariOnIPhone {
				t.Errorf("the invitation's proof (by code: %v): %+v", byCode, ps)
			}
		}
	})
}
