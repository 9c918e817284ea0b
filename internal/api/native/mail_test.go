package native_test

import (
	"bytes"
	"context"
	"errors"
	"html"
	"net/http"
	netmail "net/mail"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"pforte/internal/account"
	"pforte/internal/api/apitest"
	"pforte/internal/mail/mailtest"
	"pforte/internal/store/teststore"
)

// The end-to-end mail tests: the real service on both stores behind the
// real HTTP server, a real relay, and real SMTP over TCP to a mailtest
// server. Time in the outbox (due times, leases, limits) is the harness's
// clock, which moves only when a test advances it; the relay polls in real
// time. Nothing here asserts a wall-clock duration: tests wait for events,
// with apitest.MailWait as the deadline.

// The applications of Betterez's examples.
const (
	immobilienConfirm = "https://www.meine-immobilien.de/confirm/{token}"
	immobilienReset   = "https://www.meine-immobilien.de/reset-password/{token}"
	immobilienInvite  = "https://www.meine-immobilien.de/activate/{token}"
	zweiteEndpoint    = "https://www.domain-of-your-app.org/actions/"
	tenantEndpoint    = "https://konto.example.de/aktionen"
	mailPassword      = "Sommer-Haus-am-See-2030"
)

// mustApps creates "immobilien" (link templates for every action) and
// "zweite" (a request endpoint only) through the admin API.
func (h *harness) mustApps(t *testing.T) {
	t.Helper()
	for _, app := range []map[string]any{
		{"name": "immobilien", "endpoint": "https://www.meine-immobilien.de/actions/",
			"confirm_url": immobilienConfirm, "reset_url": immobilienReset, "invite_url": immobilienInvite},
		{"name": "zweite", "endpoint": zweiteEndpoint},
	} {
		h.MustApp(t, h.secret, app)
	}
}

// newMailHarness is a harness whose relay mails over SMTP to srv, with the
// applications of mustApps.
func newMailHarness(t *testing.T, open teststore.Opener) (*harness, *mailtest.Server) {
	t.Helper()
	h := newHarness(t, open, apitest.WithRelay())
	h.mustApps(t)
	return h, h.SMTP
}

// mustRegisterPublic registers through the public key, as a browser does,
// with an Accept-Language header unless lang is empty, and expects the
// uniform 202.
func (h *harness) mustRegisterPublic(t *testing.T, path, lang string, body map[string]any) {
	t.Helper()
	r := request{Method: http.MethodPost, Path: path, Key: h.public, Body: body}
	if lang != "" {
		r.Header = http.Header{"Accept-Language": {lang}}
	}
	mustAccepted(t, h.Do(t, r))
}

// mustAccepted checks for exactly {"status": "accepted"} with status 202.
func mustAccepted(t *testing.T, r *response) {
	t.Helper()
	if got := apitest.MustJSON[map[string]string](t, r, http.StatusAccepted); len(got) != 1 || got["status"] != "accepted" {
		t.Fatalf("%s, want exactly {\"status\": \"accepted\"}", r)
	}
}

// outbox lists tenant default's mails, newest first.
func (h *harness) outbox(t testing.TB) []account.MailView {
	t.Helper()
	ms, err := h.svc.Outbox.List(context.Background(), account.DefaultTenant, 500)
	if err != nil {
		t.Fatalf("Mails: %v", err)
	}
	return ms
}

// mailsOf picks the mails to one customer of tenant default out of ms.
func (h *harness) mailsOf(t *testing.T, ms []account.MailView, email string) []account.MailView {
	t.Helper()
	id := h.storedCustomer(t, email).ID
	var out []account.MailView
	for _, m := range ms {
		if m.CustomerID == id {
			out = append(out, m)
		}
	}
	return out
}

// eventually polls cond until it holds, and fails the test if it does
// not within apitest.MailWait.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(apitest.MailWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", apitest.MailWait, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// mustSettle waits until the relay has finished with every mail of the
// outbox (sent or failed) and returns the outbox. Once it has, the SMTP
// server has seen every delivery it will ever see.
func (h *harness) mustSettle(t *testing.T) []account.MailView {
	t.Helper()
	var ms []account.MailView
	eventually(t, "every mail sent or failed", func() bool {
		ms = h.outbox(t)
		for _, m := range ms {
			if m.Status == account.MailUnsent {
				return false
			}
		}
		return true
	})
	return ms
}

// mustQuiesce waits until the relay has dealt with every mail due at the
// service's current time: no unsent mail is leased or due. A test that
// advances the clock in steps waits for this at each step, so that every
// attempt happens at the time the outbox scheduled it.
func (h *harness) mustQuiesce(t *testing.T) []account.MailView {
	t.Helper()
	var ms []account.MailView
	eventually(t, "the relay dealt with every due mail", func() bool {
		ms = h.outbox(t)
		now := h.clock.Now()
		for _, m := range ms {
			if m.Status == account.MailUnsent && (m.LeaseOwner != "" || !m.NextAttemptAt.After(now)) {
				return false
			}
		}
		return true
	})
	return ms
}

// mustMailTo waits for the first mail to addr, checks its envelope and
// headers, and returns it.
func mustMailTo(t *testing.T, srv *mailtest.Server, addr string) mailtest.Message {
	t.Helper()
	m := apitest.MustMailsTo(t, srv, addr, 1)[0]
	checkMail(t, m, addr)
	return m
}

// checkMail checks what every mail must be: exactly one recipient, the
// harness's sender, a Message-ID, and both a text and an HTML part.
func checkMail(t *testing.T, m mailtest.Message, to string) {
	t.Helper()
	if m.ParseErr != nil {
		t.Fatalf("mail to %s does not parse: %v\n%s", to, m.ParseErr, m.Data)
	}
	if len(m.To) != 1 || m.To[0] != to {
		t.Errorf("RCPT TO %v, want exactly %s", m.To, to)
	}
	if m.From != "noreply@shop.example" {
		t.Errorf("MAIL FROM %q, want noreply@shop.example", m.From)
	}
	if from, err := netmail.ParseAddress(m.Header.Get("From")); err != nil || from.Name != "Shop" || from.Address != "noreply@shop.example" {
		t.Errorf("From: %q (%v), want Shop <noreply@shop.example>", m.Header.Get("From"), err)
	}
	if hto, err := netmail.ParseAddressList(m.Header.Get("To")); err != nil || len(hto) != 1 || hto[0].Address != to {
		t.Errorf("To: %q (%v), want %s alone", m.Header.Get("To"), err, to)
	}
	if m.Header.Get("Cc") != "" || m.Header.Get("Bcc") != "" {
		t.Errorf("mail to %s has Cc or Bcc: %q %q", to, m.Header.Get("Cc"), m.Header.Get("Bcc"))
	}
	if !strings.HasPrefix(m.MessageID, "<") || !strings.HasSuffix(m.MessageID, "@shop.example>") {
		t.Errorf("Message-ID %q, want <...@shop.example>", m.MessageID)
	}
	if strings.TrimSpace(m.Text) == "" || strings.TrimSpace(m.HTML) == "" {
		t.Errorf("mail to %s lacks a text or an HTML part:\n%s", to, m.Data)
	}
}

// linkOf returns the one link of a mail's text, and checks that the HTML
// part carries it too.
func linkOf(t *testing.T, m mailtest.Message) string {
	t.Helper()
	links := apitest.Links(m.Text)
	if len(links) != 1 {
		t.Fatalf("mail %q has links %q in its text, want one:\n%s", m.Subject, links, m.Text)
	}
	if !strings.Contains(html.UnescapeString(m.HTML), links[0]) {
		t.Fatalf("the HTML of mail %q lacks the link %s:\n%s", m.Subject, links[0], m.HTML)
	}
	return links[0]
}

// tokenOf takes the token out of a link as a site does: the token query
// parameter of a request endpoint, or the last path segment of a link
// template ending in {token}.
func tokenOf(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatalf("link %q: %v", link, err)
	}
	tok := u.Query().Get("token")
	if tok == "" {
		tok = path.Base(u.Path)
	}
	if len(tok) < 32 {
		t.Fatalf("link %q: no token in it", link)
	}
	return tok
}

// mustTokenMail checks that m has this subject and one link, starting
// with prefix, and returns the link's token.
func mustTokenMail(t *testing.T, m mailtest.Message, subject, prefix string) string {
	t.Helper()
	if m.Subject != subject {
		t.Errorf("subject %q, want %q", m.Subject, subject)
	}
	link := linkOf(t, m)
	if !strings.HasPrefix(link, prefix) {
		t.Fatalf("link %s, want it to start with %s", link, prefix)
	}
	return tokenOf(t, link)
}

// endpointLink is Betterez's link to a request endpoint, in its order.
func endpointLink(endpoint string, customerID int64, token, action string) string {
	return endpoint + "?accountId=default&customerId=" + itoa(customerID) + "&token=" + url.QueryEscape(token) + "&action=" + action
}

// TestMailConfirmationLinks: a public registration delivers one
// confirmation mail over SMTP, in the language of the request, with a link
// built from the chosen application; the token taken out of the link
// confirms the account.
func TestMailConfirmationLinks(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h, srv := newMailHarness(t, open)

		t.Run("link template, German", func(t *testing.T) {
			const email = "erika@example.com"
			h.mustRegisterPublic(t, "/api/v1/registrations", "de-DE,de;q=0.9,en;q=0.5", map[string]any{
				"email": email, "password": mailPassword, "first_name": "Erika", "last_name": "Muster", "app": "immobilien"})
			m := mustMailTo(t, srv, email)
			// A public registration's names wait in its claim: they do not
			// greet the owner of the address before confirmation.
			if to, _ := netmail.ParseAddress(m.Header.Get("To")); to == nil || to.Name != "" {
				t.Errorf("To: %q, want the bare address <%s>", m.Header.Get("To"), email)
			}
			if !strings.Contains(m.Text, "Guten Tag,") || strings.Contains(m.Text, "Erika") || !strings.Contains(m.Text, "bestätigen Sie Ihre Registrierung") {
				t.Errorf("text is not the German confirmation with a neutral greeting:\n%s", m.Text)
			}
			if !strings.Contains(m.HTML, `lang="de"`) {
				t.Errorf("HTML is not German:\n%s", m.HTML)
			}
			tok := mustTokenMail(t, m, "Bitte bestätigen Sie Ihre Registrierung", "https://www.meine-immobilien.de/confirm/")
			if link := linkOf(t, m); link != strings.Replace(immobilienConfirm, "{token}", tok, 1) {
				t.Errorf("link %s is not the application's template", link)
			}
			cs := h.MustConfirm(t, h.public, tok)
			if cs.Customer.Email != email || cs.Customer.Locale != "de" {
				t.Errorf("confirmed %+v", cs.Customer)
			}
			h.mustLogin(t, email, mailPassword)
			h.mustSettle(t)
			if n := len(apitest.MessagesTo(srv.Messages(), email)); n != 1 {
				t.Errorf("%d mails to %s, want exactly 1", n, email)
			}
		})

		t.Run("request endpoint, English", func(t *testing.T) {
			const email = "john@example.com"
			h.mustRegisterPublic(t, "/api/v1/registrations", "en-US,en;q=0.8", map[string]any{
				"email": email, "password": mailPassword, "app": "zweite"})
			m := mustMailTo(t, srv, email)
			if !strings.Contains(m.Text, "Please confirm your registration with this link") || !strings.Contains(m.HTML, `lang="en"`) {
				t.Errorf("not the English confirmation:\n%s\n%s", m.Text, m.HTML)
			}
			tok := mustTokenMail(t, m, "Please confirm your registration", zweiteEndpoint+"?")
			id := h.storedCustomer(t, email).ID
			if link, want := linkOf(t, m), endpointLink(zweiteEndpoint, id, tok, "confirm"); link != want {
				t.Errorf("link\n%s, want\n%s", link, want)
			}
			h.MustConfirm(t, h.public, tok)
		})

		t.Run("appName query parameter", func(t *testing.T) {
			const email = "query@example.com"
			h.mustRegisterPublic(t, "/api/v1/registrations?appName=zweite", "de", map[string]any{"email": email, "password": mailPassword})
			m := mustMailTo(t, srv, email)
			tok := mustTokenMail(t, m, "Bitte bestätigen Sie Ihre Registrierung", zweiteEndpoint+"?")
			if link, want := linkOf(t, m), endpointLink(zweiteEndpoint, h.storedCustomer(t, email).ID, tok, "confirm"); link != want {
				t.Errorf("link\n%s, want\n%s", link, want)
			}
		})

		t.Run("unknown app falls back to the tenant", func(t *testing.T) {
			// Set after the tenant was cached by the requests above;
			// mustSetting lets the cache expire on the service's clock.
			h.MustSetting(t, account.DefaultTenant, "endpoint", tenantEndpoint)
			for _, c := range []struct{ email, path, app string }{
				{"unknown-body@example.com", "/api/v1/registrations", "gibt-es-nicht"},
				{"unknown-query@example.com", "/api/v1/registrations?appName=gibt-es-nicht", ""},
				{"no-app@example.com", "/api/v1/registrations", ""},
			} {
				body := map[string]any{"email": c.email, "password": mailPassword}
				if c.app != "" {
					body["app"] = c.app
				}
				h.mustRegisterPublic(t, c.path, "de", body)
				m := mustMailTo(t, srv, c.email)
				tok := mustTokenMail(t, m, "Bitte bestätigen Sie Ihre Registrierung", tenantEndpoint+"?")
				if link, want := linkOf(t, m), endpointLink(tenantEndpoint, h.storedCustomer(t, c.email).ID, tok, "confirm"); link != want {
					t.Errorf("%s: link\n%s, want\n%s", c.email, link, want)
				}
				h.MustConfirm(t, h.public, tok)
			}
		})

		// Every Message-ID once: nothing was sent twice.
		ms := h.mustSettle(t)
		seen := map[string]bool{}
		for _, m := range srv.Messages() {
			if seen[m.MessageID] {
				t.Errorf("Message-ID %s arrived twice", m.MessageID)
			}
			seen[m.MessageID] = true
		}
		if len(seen) != len(ms) {
			t.Errorf("%d mails arrived, the outbox holds %d", len(seen), len(ms))
		}
	})
}

// TestMailDeliveryModes: mail sends and returns no token anywhere, return
// returns tokens and queues no mail at all, both does both; an
// application's delivery overrides the tenant's.
func TestMailDeliveryModes(t *testing.T) {
	t.Parallel()
	type want struct{ tokens, mails bool }
	modes := map[string]want{"mail": {false, true}, "return": {true, false}, "both": {true, true}}
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		t.Parallel()
		for _, mode := range []string{"mail", "return", "both"} {
			t.Run(mode, func(t *testing.T) {
				t.Parallel()
				h := newHarness(t, open, apitest.WithRelay())
				srv := h.SMTP
				h.MustSetting(t, account.DefaultTenant, "delivery", mode)
				h.MustSetting(t, account.DefaultTenant, "endpoint", tenantEndpoint)
				// The application delivers the other way.
				other := map[string]string{"mail": "return", "return": "mail", "both": "mail"}[mode]
				apitest.MustStatus(t, h.Post(t, h.secret, "/api/v1/apps", map[string]any{
					"name": "other", "endpoint": zweiteEndpoint, "delivery": other}), http.StatusCreated)
				h.mustCreate(t, map[string]any{"email": "reset@example.com", "password": mailPassword})

				var bodies [][]byte
				keep := func(r *response) *response { bodies = append(bodies, r.Body); return r }
				type flow struct {
					email, subject, token string
					want                  want
				}
				var flows []flow

				reg := apitest.MustJSON[registered](t, keep(h.Post(t, h.secret, "/api/v1/registrations",
					map[string]any{"email": "reg@example.com", "password": mailPassword})), http.StatusCreated)
				flows = append(flows, flow{"reg@example.com", "Bitte bestätigen Sie Ihre Registrierung", reg.ConfirmationToken, modes[mode]})

				inv := apitest.MustJSON[created](t, keep(h.Post(t, h.secret, "/api/v1/customers",
					map[string]any{"email": "invite@example.com"})), http.StatusCreated)
				if inv.ConfirmationToken != "" {
					t.Errorf("invitation with a confirmation token: %+v", inv)
				}
				flows = append(flows, flow{"invite@example.com", "Einladung: Bitte aktivieren Sie Ihr Konto", inv.InviteToken, modes[mode]})

				type resetBody struct {
					Status     string `json:"status"`
					Token      string `json:"token"`
					CustomerID int64  `json:"customer_id"`
					Email      string `json:"email"`
				}
				rst := apitest.MustJSON[resetBody](t, keep(h.Post(t, h.secret, "/api/v1/password-resets",
					map[string]any{"email": "reset@example.com"})), http.StatusAccepted)
				if rst.Status != "accepted" || (rst.Token == "") != (rst.Email == "") {
					t.Errorf("reset request: %+v", rst)
				}
				flows = append(flows, flow{"reset@example.com", "Passwort zurücksetzen", rst.Token, modes[mode]})

				app := apitest.MustJSON[registered](t, keep(h.Post(t, h.secret, "/api/v1/registrations",
					map[string]any{"email": "app@example.com", "password": mailPassword, "app": "other"})), http.StatusCreated)
				flows = append(flows, flow{"app@example.com", "Bitte bestätigen Sie Ihre Registrierung", app.ConfirmationToken, modes[other]})

				// A public key gets the bare 202 in every mode.
				mustAccepted(t, keep(h.Post(t, h.public, "/api/v1/password-resets", map[string]any{"email": "nobody@example.com"})))

				ms := h.mustSettle(t)
				for _, f := range flows {
					if (f.token != "") != f.want.tokens {
						t.Errorf("%s: token in the response %v, want %v", f.email, f.token != "", f.want.tokens)
					}
					queued := h.mailsOf(t, ms, f.email)
					if !f.want.mails {
						if len(queued) != 0 {
							t.Errorf("%s: %d mails queued, want none", f.email, len(queued))
						}
						continue
					}
					if len(queued) != 1 || queued[0].Status != account.MailSent {
						t.Fatalf("%s: outbox %+v, want one sent mail", f.email, queued)
					}
					m := mustMailTo(t, srv, f.email)
					if m.Subject != f.subject {
						t.Errorf("%s: subject %q, want %q", f.email, m.Subject, f.subject)
					}
					tok := tokenOf(t, linkOf(t, m))
					if f.want.tokens && tok != f.token {
						t.Errorf("%s: the mail carries token %s, the response %s", f.email, tok, f.token)
					}
					for _, b := range bodies {
						if bytes.Contains(b, []byte(tok)) && !f.want.tokens {
							t.Errorf("%s: a response carries the mailed token: %s", f.email, b)
						}
					}
				}
				if !modes[mode].mails {
					// Nothing queued for the tenant's own flows at all; only
					// the application's mail.
					if len(ms) != 1 || ms[0].Kind != account.MailConfirm {
						t.Errorf("return delivery queued %d mails: %+v", len(ms), ms)
					}
				}
				if got, want := srv.Accepted(), len(ms); got != want {
					t.Errorf("%d mails arrived, %d queued", got, want)
				}
			})
		}
	})
}

// TestMailLinkGETConsumesNothing: opening a link, as a mail scanner or a
// link preview does, is a GET, and no GET uses a token up: pforte answers
// 405 and the token then still works.
func TestMailLinkGETConsumesNothing(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h, srv := newMailHarness(t, open)
		h.mustRegisterPublic(t, "/api/v1/registrations", "de", map[string]any{
			"email": "scanned@example.com", "password": mailPassword, "app": "zweite"})
		h.mustCreate(t, map[string]any{"email": "reset-scanned@example.com", "password": mailPassword})
		mustAccepted(t, h.Post(t, h.public, "/api/v1/password-resets", map[string]any{"email": "reset-scanned@example.com", "app": "zweite"}))
		h.mustCreate(t, map[string]any{"email": "invite-scanned@example.com", "app": "zweite"})

		confirm := tokenOf(t, linkOf(t, mustMailTo(t, srv, "scanned@example.com")))
		reset := tokenOf(t, linkOf(t, mustMailTo(t, srv, "reset-scanned@example.com")))
		invite := tokenOf(t, linkOf(t, mustMailTo(t, srv, "invite-scanned@example.com")))

		for _, c := range []struct{ path, token string }{
			{"/api/v1/confirmations", confirm},
			{"/api/v1/password-resets/complete", reset},
			{"/api/v1/invitations/accept", invite},
		} {
			for _, key := range []string{"", h.public, h.secret} {
				for _, method := range []string{http.MethodGet, http.MethodHead} {
					res := h.Do(t, request{Method: method, Path: c.path + "?token=" + url.QueryEscape(c.token) + "&action=confirm", Key: key})
					apitest.MustStatus(t, res, http.StatusMethodNotAllowed)
					if method == http.MethodGet {
						apitest.MustProblem(t, res, http.StatusMethodNotAllowed, "method_not_allowed")
					}
					if !strings.Contains(res.Header.Get("Allow"), http.MethodPost) {
						t.Errorf("%s: Allow %q", res, res.Header.Get("Allow"))
					}
				}
			}
		}

		h.MustConfirm(t, h.public, confirm)
		for _, c := range []struct{ path, token string }{
			{"/api/v1/password-resets/complete", reset},
			{"/api/v1/invitations/accept", invite},
		} {
			res := h.Post(t, h.public, c.path, map[string]any{"token": c.token, "password": "Neues-Passwort-2031"})
			if cs := apitest.MustJSON[customerSession](t, res, http.StatusOK); cs.Customer.State != "active" {
				t.Errorf("%s: %s", c.path, res)
			}
		}
	})
}

// TestMailPasswordReset: a reset requested through the public key arrives
// with the application's reset link, its token sets a new password, and a
// notice of the change follows. A public registration of an address that
// has an account mails its owner a reset link instead of making a second
// account.
func TestMailPasswordReset(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h, srv := newMailHarness(t, open)
		const email = "rita@example.com"
		h.mustCreate(t, map[string]any{"email": email, "password": mailPassword, "first_name": "Rita", "locale": "en"})

		mustAccepted(t, h.Post(t, h.public, "/api/v1/password-resets", map[string]any{"email": email, "app": "immobilien"}))
		msgs := apitest.MustMailsTo(t, srv, email, 1)
		checkMail(t, msgs[0], email)
		tok := mustTokenMail(t, msgs[0], "Reset your password", "https://www.meine-immobilien.de/reset-password/")
		res := h.Post(t, h.public, "/api/v1/password-resets/complete", map[string]any{
			"token": tok, "password": "Neues-Passwort-2031", "password_confirmation": "Neues-Passwort-2031"})
		if cs := apitest.MustJSON[customerSession](t, res, http.StatusOK); cs.Customer.Email != email || cs.Session.Token == "" {
			t.Fatalf("complete: %s", res)
		}
		msgs = apitest.MustMailsTo(t, srv, email, 2)
		changed := msgs[1]
		checkMail(t, changed, email)
		if changed.Subject != "Your password was changed" || !strings.Contains(changed.Text, "Hello Rita,") {
			t.Errorf("second mail %q:\n%s", changed.Subject, changed.Text)
		}
		if links := apitest.Links(changed.Text); len(links) != 0 {
			t.Errorf("the password_changed mail has links %q", links)
		}
		apitest.MustProblem(t, h.Login(t, h.secret, email, mailPassword), http.StatusUnauthorized, "invalid_credentials")
		h.mustLogin(t, email, "Neues-Passwort-2031")
		h.mustTokenRefused(t, h.public, "/api/v1/password-resets/complete", tok)

		// Someone registers the address again: its owner gets a reset link.
		h.mustRegisterPublic(t, "/api/v1/registrations", "de", map[string]any{
			"email": email, "password": "Fremdes-Passwort-2031", "app": "immobilien"})
		msgs = apitest.MustMailsTo(t, srv, email, 3)
		attempt := msgs[2]
		checkMail(t, attempt, email)
		tok = mustTokenMail(t, attempt, "Registration with your email address", "https://www.meine-immobilien.de/reset-password/")
		res = h.Post(t, h.public, "/api/v1/password-resets/complete", map[string]any{"token": tok, "password": "Drittes-Passwort-2032"})
		apitest.MustJSON[customerSession](t, res, http.StatusOK)
		h.mustLogin(t, email, "Drittes-Passwort-2032")

		list := apitest.MustJSON[customerList](t, h.Get(t, h.secret, "/api/v1/customers"), http.StatusOK)
		if len(list.Customers) != 1 || list.Customers[0].Email != email || list.Customers[0].State != "active" {
			t.Errorf("customers after the second registration: %+v", list.Customers)
		}
		ms := h.mustSettle(t)
		var kinds []account.MailKind
		for _, m := range slices.Backward(ms) {
			kinds = append(kinds, m.Kind)
		}
		if want := []account.MailKind{account.MailPasswordReset, account.MailPasswordChanged, account.MailRegisterAttempt, account.MailPasswordChanged}; !slices.Equal(kinds, want) {
			t.Errorf("outbox kinds %v, want %v", kinds, want)
		}
		if n := srv.Accepted(); n != 4 {
			t.Errorf("%d mails arrived, want 4", n)
		}
	})
}

var codeLine = regexp.MustCompile(`(?m)^\s*([0-9]{8})\s*$`)

// TestMailInvitation: an admin-created customer without a password gets
// an invitation with a link and an 8-digit code; accepting with the code
// activates the account and kills the link.
func TestMailInvitation(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h, srv := newMailHarness(t, open)
		const email = "ina@example.com"
		c := h.mustCreate(t, map[string]any{"email": email, "first_name": "Ina", "app": "zweite"})
		if c.Customer.State != "pending" {
			t.Fatalf("created %+v", c.Customer)
		}
		m := mustMailTo(t, srv, email)
		tok := mustTokenMail(t, m, "Einladung: Bitte aktivieren Sie Ihr Konto", zweiteEndpoint+"?")
		if link, want := linkOf(t, m), endpointLink(zweiteEndpoint, c.Customer.ID, tok, "activate"); link != want {
			t.Errorf("link\n%s, want\n%s", link, want)
		}
		if tok != c.InviteToken {
			t.Errorf("the mail's token differs from the response's invite_token in both delivery")
		}
		codes := codeLine.FindAllStringSubmatch(m.Text, -1)
		if len(codes) != 1 {
			t.Fatalf("invitation text has codes %q, want one:\n%s", codes, m.Text)
		}
		code := codes[0][1]
		if !strings.Contains(m.HTML, code) {
			t.Errorf("the HTML lacks the code %s", code)
		}

		res := h.Post(t, h.public, "/api/v1/invitations/accept", map[string]any{"email": email, "code": code, "password": mailPassword})
		cs := apitest.MustJSON[customerSession](t, res, http.StatusOK)
		if cs.Customer.State != "active" || cs.Customer.EmailConfirmedAt == nil || cs.Session.Token == "" {
			t.Fatalf("accept with code: %s", res)
		}
		h.mustLogin(t, email, mailPassword)
		h.mustTokenRefused(t, h.public, "/api/v1/invitations/accept", tok)
		h.mustLogin(t, email, mailPassword)
	})
}

// TestMailResend: a resend mails a new link that confirms with the
// registration's password; past three confirmation mails an hour the
// requests still answer 202 but send nothing, until the hour is over.
func TestMailResend(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h, srv := newMailHarness(t, open)

		const email = "later@example.com"
		h.mustRegisterPublic(t, "/api/v1/registrations", "de", map[string]any{"email": email, "password": mailPassword, "app": "immobilien"})
		first := mustTokenMail(t, mustMailTo(t, srv, email), "Bitte bestätigen Sie Ihre Registrierung", "https://www.meine-immobilien.de/confirm/")
		mustAccepted(t, h.Post(t, h.public, "/api/v1/confirmations/resend", map[string]any{"email": email, "app": "immobilien"}))
		msgs := apitest.MustMailsTo(t, srv, email, 2)
		checkMail(t, msgs[1], email)
		tok := mustTokenMail(t, msgs[1], "Ihr neuer Link zur Bestätigung", "https://www.meine-immobilien.de/confirm/")
		if tok == first {
			t.Errorf("the resend carries the first mail's token")
		}
		// A resent link carries no registration's password (anyone can ask
		// for a resend): confirming it sets one.
		apitest.MustProblem(t, h.Post(t, h.public, "/api/v1/confirmations", map[string]any{"token": tok}), http.StatusForbidden, "password_required")
		apitest.MustStatus(t, h.Post(t, h.public, "/api/v1/confirmations", map[string]any{"token": tok, "password": "resent-Secret-phrase"}), http.StatusOK)
		h.mustLogin(t, email, "resent-Secret-phrase")
		apitest.MustProblem(t, h.Login(t, h.public, email, mailPassword), http.StatusUnauthorized, "invalid_credentials")

		// The limit: the registration and two resends are three mails.
		const limited = "impatient@example.com"
		h.mustRegisterPublic(t, "/api/v1/registrations", "de", map[string]any{"email": limited, "password": mailPassword})
		for range 4 {
			mustAccepted(t, h.Post(t, h.public, "/api/v1/confirmations/resend", map[string]any{"email": limited}))
		}
		ms := h.mustSettle(t)
		if n := len(h.mailsOf(t, ms, limited)); n != 3 {
			t.Errorf("%d confirmation mails queued within the hour, want 3", n)
		}
		got := apitest.MessagesTo(srv.Messages(), limited)
		if len(got) != 3 {
			t.Fatalf("%d confirmation mails arrived within the hour, want 3", len(got))
		}
		// Without a URL anywhere, the mail shows the token to enter.
		if got[1].Subject != "Ihr neuer Code zur Bestätigung" || len(apitest.Links(got[1].Text)) > 0 {
			t.Errorf("resend without a link: %q\n%s", got[1].Subject, got[1].Text)
		}

		h.clock.Advance(time.Hour + time.Minute)
		mustAccepted(t, h.Post(t, h.public, "/api/v1/confirmations/resend", map[string]any{"email": limited, "app": "immobilien"}))
		msgs = apitest.MustMailsTo(t, srv, limited, 4)
		tok = mustTokenMail(t, msgs[3], "Ihr neuer Link zur Bestätigung", "https://www.meine-immobilien.de/confirm/")
		apitest.MustStatus(t, h.Post(t, h.public, "/api/v1/confirmations", map[string]any{"token": tok, "password": "later-Secret-phrase"}), http.StatusOK)
		h.mustLogin(t, limited, "later-Secret-phrase")
	})
}

// TestMailConfirmationLimitCountsRegistrations: the limit of three
// confirmation mails per address an hour (README, "Limits": "registration
// and resend") holds for repeated registrations too, so a public
// registration form cannot flood an address that has not confirmed yet.
func TestMailConfirmationLimitCountsRegistrations(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open, apitest.WithRelay())
		srv := h.SMTP
		const email = "flooded@example.com"
		for range 5 {
			h.mustRegisterPublic(t, "/api/v1/registrations", "de", map[string]any{"email": email, "password": mailPassword})
		}
		mustAccepted(t, h.Post(t, h.public, "/api/v1/confirmations/resend", map[string]any{"email": email}))
		ms := h.mustSettle(t)
		queued, arrived := len(h.mailsOf(t, ms, email)), len(apitest.MessagesTo(srv.Messages(), email))
		if queued < 1 || queued > 3 || arrived != queued {
			t.Errorf("five registrations and a resend within the hour: %d confirmation mails queued, %d arrived; want 1 to 3", queued, arrived)
		}
	})
}

// writeTemplates writes files (relative path: content) into a new
// directory and returns it.
func writeTemplates(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for rel, content := range files {
		name := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestMailTemplateOverride: a tenant's template directory changes the
// mail; a broken one is refused when it is set, and the one in force
// stays.
func TestMailTemplateOverride(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h, srv := newMailHarness(t, open)
		good := writeTemplates(t, map[string]string{"de/confirm.txt": `{{define "subject"}}Willkommen bei Meine Immobilien{{end}}
{{define "text"}}Willkommen{{with .Name}}, {{.}}{{end}}! Bitte bestätigen Sie hier: {{.Link}}{{.Token}}{{end}}`})
		h.MustSetting(t, account.DefaultTenant, "templates", good)

		h.mustRegisterPublic(t, "/api/v1/registrations", "de", map[string]any{
			"email": "override@example.com", "password": mailPassword, "first_name": "Olga", "app": "immobilien"})
		m := mustMailTo(t, srv, "override@example.com")
		tok := mustTokenMail(t, m, "Willkommen bei Meine Immobilien", "https://www.meine-immobilien.de/confirm/")
		if !strings.HasPrefix(m.Text, "Willkommen! Bitte bestätigen Sie hier: https://") {
			t.Errorf("text is not the override's:\n%s", m.Text)
		}
		h.MustConfirm(t, h.public, tok)

		// Files the directory does not override keep the defaults.
		h.mustRegisterPublic(t, "/api/v1/registrations", "en", map[string]any{
			"email": "default@example.com", "password": mailPassword, "app": "immobilien"})
		mustTokenMail(t, mustMailTo(t, srv, "default@example.com"), "Please confirm your registration", "https://www.meine-immobilien.de/confirm/")

		for _, c := range []struct {
			name string
			dir  string
		}{
			{"parse error", writeTemplates(t, map[string]string{"de/confirm.txt": `{{define "subject"}}{{.Link{{end}}{{define "text"}}x{{end}}`})},
			{"no subject", writeTemplates(t, map[string]string{"de/confirm.txt": `{{define "text"}}{{.Link}}{{end}}`})},
			{"unknown field", writeTemplates(t, map[string]string{"en/invite.txt": `{{define "subject"}}Hi{{end}}{{define "text"}}{{.Passwort}}{{end}}`})},
			{"line break in subject", writeTemplates(t, map[string]string{"de/confirm.txt": "{{define \"subject\"}}Hallo\nBcc: victim@example.com{{end}}{{define \"text\"}}x{{end}}"})},
			{"broken html", writeTemplates(t, map[string]string{"de/confirm.html": `{{define "html"}}<a href="{{.Link}}">{{end}}{{end}}`})},
			{"misspelt file", writeTemplates(t, map[string]string{"de/confirmation.txt": `{{define "subject"}}x{{end}}{{define "text"}}x{{end}}`})},
			{"empty directory", t.TempDir()},
			{"no such directory", filepath.Join(t.TempDir(), "missing")},
		} {
			err := h.svc.Tenants.Set(context.Background(), account.DefaultTenant, "templates", c.dir)
			var e *account.Error
			if !errors.As(err, &e) || e.Kind != account.KindInvalid {
				t.Errorf("%s: SetTenantSetting = %v, want an invalid error", c.name, err)
			}
		}
		h.clock.Advance(3 * time.Second)
		tenant, err := h.svc.Tenants.BySlug(context.Background(), account.DefaultTenant)
		if err != nil || tenant.Setting("templates") != good {
			t.Fatalf("templates setting %q (%v), want %q kept", tenant.Setting("templates"), err, good)
		}
		h.mustRegisterPublic(t, "/api/v1/registrations", "de", map[string]any{"email": "still@example.com", "password": mailPassword})
		if m := mustMailTo(t, srv, "still@example.com"); m.Subject != "Willkommen bei Meine Immobilien" {
			t.Errorf("after refused settings, subject %q", m.Subject)
		}
	})
}

// TestMailWithoutRelay: with no SMTP configured, mail waits in the outbox
// as unsent, with its link for the operator to see, and the flow works
// from there.
func TestMailWithoutRelay(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		h.mustApps(t)
		const email = "local@example.com"
		h.mustRegisterPublic(t, "/api/v1/registrations", "de", map[string]any{"email": email, "password": mailPassword, "app": "immobilien"})
		ms := h.outbox(t)
		if len(ms) != 1 {
			t.Fatalf("outbox %+v, want one mail", ms)
		}
		m := ms[0]
		if m.Kind != account.MailConfirm || m.Status != account.MailUnsent || m.Attempts != 0 || m.LeaseOwner != "" ||
			m.LastError != "" || m.FinishedAt != nil || m.Locale != "de" || m.CustomerID != h.storedCustomer(t, email).ID {
			t.Errorf("outbox row %+v", m.Mail)
		}
		if m.Envelope == nil || m.Envelope.To != email || m.Envelope.Subject != "Bitte bestätigen Sie Ihre Registrierung" || len(m.Envelope.Links) != 1 {
			t.Fatalf("envelope %+v", m.Envelope)
		}
		link := m.Envelope.Links[0]
		if !strings.HasPrefix(link, "https://www.meine-immobilien.de/confirm/") || !strings.Contains(m.Envelope.Text, link) {
			t.Fatalf("link %s, text:\n%s", link, m.Envelope.Text)
		}
		h.MustConfirm(t, h.public, tokenOf(t, link))
		h.mustLogin(t, email, mailPassword)
		if ms := h.outbox(t); len(ms) != 1 || ms[0].Status != account.MailUnsent || ms[0].Attempts != 0 {
			t.Errorf("outbox after confirming: %+v", ms)
		}
	})
}

// TestMailSenderRecipientAndTenants: a customer's name cannot add a
// recipient or a header; a tenant's own sender and URLs apply to its
// mail, and an application name of another tenant means nothing; a
// locale given in the registration beats Accept-Language.
func TestMailSenderRecipientAndTenants(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h, srv := newMailHarness(t, open)

		t.Run("names cannot inject", func(t *testing.T) {
			const email = "target@example.com"
			first := `Eve" <evil@attacker.example>, "Mal`
			last := `=?utf-8?q?=0D=0ABcc:_evil@attacker.example?=; x@attacker.example`
			// Through a secret key, whose registrations keep their names on
			// the customer, so that the names reach the To header.
			apitest.MustStatus(t, h.Post(t, h.secret, "/api/v1/registrations", map[string]any{
				"email": email, "password": mailPassword, "first_name": first, "last_name": last, "app": "immobilien"}), http.StatusCreated)
			m := mustMailTo(t, srv, email) // exactly one RCPT TO, one address in To
			to, err := netmail.ParseAddress(m.Header.Get("To"))
			if err != nil || to.Address != email || to.Name != first+" "+last {
				t.Errorf("To: %q parses as %+v (%v)", m.Header.Get("To"), to, err)
			}
			for key := range m.Header {
				if k := strings.ToLower(key); k == "bcc" || k == "cc" || k == "reply-to" {
					t.Errorf("header %s: %q", key, m.Header.Get(key))
				}
			}
			header := append([]byte("\r\n"), m.Data[:bytes.Index(m.Data, []byte("\r\n\r\n"))]...)
			if bytes.Count(bytes.ToLower(header), []byte("\r\nto:")) != 1 {
				t.Errorf("the raw mail has other than one To header:\n%s", header)
			}
			// A line break in a name is refused before any mail is queued.
			res := h.Post(t, h.public, "/api/v1/registrations", map[string]any{
				"email": "crlf@example.com", "password": mailPassword, "first_name": "Eve\r\nBcc: evil@attacker.example"})
			apitest.MustFieldError(t, res, "first_name", "invalid")
		})

		t.Run("tenant sender", func(t *testing.T) {
			h.MustSetting(t, account.DefaultTenant, "mail_from", "Meine Immobilien <kontakt@meine-immobilien.de>")
			defer h.MustSetting(t, account.DefaultTenant, "mail_from", "")
			const email = "sender@example.com"
			h.mustRegisterPublic(t, "/api/v1/registrations", "de", map[string]any{"email": email, "password": mailPassword, "app": "immobilien"})
			m := apitest.MustMailsTo(t, srv, email, 1)[0]
			from, err := netmail.ParseAddress(m.Header.Get("From"))
			if err != nil || from.Name != "Meine Immobilien" || from.Address != "kontakt@meine-immobilien.de" || m.From != "kontakt@meine-immobilien.de" {
				t.Errorf("From: %q, MAIL FROM %q", m.Header.Get("From"), m.From)
			}
			if !strings.HasSuffix(m.MessageID, "@meine-immobilien.de>") {
				t.Errorf("Message-ID %s is not on the sender's domain", m.MessageID)
			}
		})

		t.Run("locale beats Accept-Language", func(t *testing.T) {
			const email = "locale@example.com"
			h.mustRegisterPublic(t, "/api/v1/registrations", "de-DE,de", map[string]any{
				"email": email, "password": mailPassword, "locale": "en-GB", "app": "immobilien"})
			mustTokenMail(t, mustMailTo(t, srv, email), "Please confirm your registration", "https://www.meine-immobilien.de/confirm/")
		})

		t.Run("second tenant", func(t *testing.T) {
			secret, public := h.MustTenant(t, "zweiter-mandant")
			if err := h.svc.Tenants.Set(context.Background(), "zweiter-mandant", "endpoint", tenantEndpoint); err != nil {
				t.Fatal(err)
			}
			h.clock.Advance(3 * time.Second)
			const email = "mandant@example.com"
			// "immobilien" is an application of tenant default only.
			mustAccepted(t, h.Do(t, request{Method: http.MethodPost, Path: "/api/v1/registrations?appName=immobilien", Key: public,
				Body: map[string]any{"email": email, "password": mailPassword, "app": "immobilien"}}))
			m := mustMailTo(t, srv, email)
			tok := tokenOf(t, linkOf(t, m))
			id := h.MustFind(t, secret, email)[0].ID
			want := tenantEndpoint + "?accountId=zweiter-mandant&customerId=" + itoa(id) + "&token=" + url.QueryEscape(tok) + "&action=confirm"
			if link := linkOf(t, m); link != want {
				t.Errorf("link\n%s, want\n%s", link, want)
			}
			// The token is the other tenant's: tenant default's key cannot use it.
			apitest.MustProblem(t, h.Post(t, h.public, "/api/v1/confirmations", map[string]any{"token": tok}), http.StatusBadRequest, "token_invalid")
			res := h.Post(t, public, "/api/v1/confirmations", map[string]any{"token": tok})
			if cs := apitest.MustJSON[customerSession](t, res, http.StatusOK); cs.Customer.State != "active" {
				t.Errorf("confirm in the second tenant: %s", res)
			}
			// The relay records the delivery just after the server has the
			// mail: wait for it.
			var ms []account.MailView
			var err error
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				if ms, err = h.svc.Outbox.List(context.Background(), "zweiter-mandant", 10); err != nil || len(ms) == 1 && ms[0].Status == account.MailSent {
					break
				}
			}
			if err != nil || len(ms) != 1 || ms[0].Status != account.MailSent {
				t.Errorf("the second tenant's outbox: %+v (%v)", ms, err)
			}
		})
		h.mustSettle(t)
	})
}
