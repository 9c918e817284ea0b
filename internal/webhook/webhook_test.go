package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"pforte/internal/account"
	"pforte/internal/api/apitest"
	"pforte/internal/store/teststore"
	"pforte/internal/webhook"
)

// received is one request a receiver got.
type received struct {
	Header http.Header
	Body   []byte
	Event  struct {
		Type string         `json:"type"`
		Data map[string]any `json:"data"`
	}
}

// receiver is a site's endpoint: it records what it gets and answers
// with the status the test sets.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []received
	status int
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{status: http.StatusNoContent}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		rec := received{Header: req.Header.Clone(), Body: body}
		if err := json.Unmarshal(body, &rec.Event); err != nil {
			t.Errorf("a payload that is not JSON: %s", body)
		}
		r.mu.Lock()
		r.got = append(r.got, rec)
		status := r.status
		r.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) answer(status int) {
	r.mu.Lock()
	r.status = status
	r.mu.Unlock()
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// waitFor polls until cond holds; a relay works on its own goroutine.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(apitest.MailWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited in vain for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// startRelay runs a relay on the harness's service until the test ends.
func startRelay(t *testing.T, h *apitest.Harness, owner string) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	relay := &webhook.Relay{Queue: h.Svc.Webhooks, Sender: webhook.NewSender(true, 5*time.Second), Owner: owner, Poll: 10 * time.Millisecond}
	go func() { relay.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

type endpoint struct {
	ID           int64      `json:"id"`
	URL          string     `json:"url"`
	Secret       string     `json:"secret"`
	Enabled      bool       `json:"enabled"`
	Events       []string   `json:"events"`
	Description  string     `json:"description"`
	FailingSince *time.Time `json:"failing_since"`
	DisabledWhy  string     `json:"disabled_reason"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
}

func mustEndpoint(t *testing.T, h *apitest.Harness, url string, events ...string) endpoint {
	t.Helper()
	res := h.Post(t, h.Secret, "/api/v1/webhooks", map[string]any{"url": url, "events": events})
	e := apitest.MustJSON[map[string]endpoint](t, res, http.StatusCreated)["webhook"]
	if !strings.HasPrefix(e.Secret, "whsec_") || !e.Enabled {
		t.Fatalf("the new endpoint: %s", res)
	}
	return e
}

type deliveryLog struct {
	Webhook    endpoint `json:"webhook"`
	Deliveries []struct {
		ID             int64      `json:"id"`
		EventID        string     `json:"event_id"`
		Type           string     `json:"type"`
		CustomerID     int64      `json:"customer_id"`
		Status         string     `json:"status"`
		Attempts       int        `json:"attempts"`
		ResponseStatus int        `json:"response_status"`
		LastError      string     `json:"last_error"`
		NextAttemptAt  *time.Time `json:"next_attempt_at"`
		CreatedAt      time.Time  `json:"created_at"`
		FinishedAt     *time.Time `json:"finished_at"`
	} `json:"deliveries"`
}

func logOf(t *testing.T, h *apitest.Harness, id int64) deliveryLog {
	t.Helper()
	return apitest.MustJSON[deliveryLog](t, h.Get(t, h.Secret, fmt.Sprintf("/api/v1/webhooks/%d", id)), http.StatusOK)
}

func setState(t *testing.T, h *apitest.Harness, id int64, state string) {
	t.Helper()
	res := h.Do(t, apitest.Request{Method: http.MethodPatch, Path: fmt.Sprintf("/api/v1/customers/%d", id), Key: h.Secret,
		Body: map[string]any{"state": state}})
	apitest.MustStatus(t, res, http.StatusOK)
}

// TestDelivery: a customer's registration and confirmation reach the
// endpoint signed, in order, with the customer and no secret; an outage
// is retried with the same webhook-id, and a later event about the
// customer waits for the earlier one.
func TestDelivery(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := apitest.New(t, open)
		rcv := newReceiver(t)
		e := mustEndpoint(t, h, rcv.URL+"/hooks", "*")
		startRelay(t, h, "relay-1")
		const pw = "Sommer-Haus-am-See-2030"
		cs := h.MustSignUp(t, h.Secret, "hook@example.com", pw)
		waitFor(t, "two deliveries", func() bool { return len(rcv.requests()) == 2 })
		got := rcv.requests()
		for i, want := range []string{account.EventRegistered, account.EventConfirmed} {
			r := got[i]
			if r.Event.Type != want {
				t.Errorf("delivery %d: %s, want %s", i, r.Event.Type, want)
			}
			if err := webhook.Verify(e.Secret, r.Header, r.Body, time.Now()); err != nil {
				t.Errorf("delivery %d does not verify: %v (%v)", i, err, r.Header)
			}
			cust, _ := r.Event.Data["customer"].(map[string]any)
			if cust["uuid"] != cs.Customer.UUID || cust["email"] != "hook@example.com" || r.Event.Data["tenant"] != "default" {
				t.Errorf("delivery %d data: %v", i, r.Event.Data)
			}
			if strings.Contains(string(r.Body), pw) || strings.Contains(string(r.Body), cs.Session.Token) {
				t.Errorf("delivery %d carries a secret: %s", i, r.Body)
			}
			if !strings.HasPrefix(r.Header.Get("webhook-id"), "msg_") {
				t.Errorf("webhook-id %q", r.Header.Get("webhook-id"))
			}
		}
		if err := webhook.Verify(e.Secret, got[0].Header, []byte(`{"tampered":true}`), time.Now()); err == nil {
			t.Error("a changed body verifies")
		}
		if err := webhook.Verify(e.Secret, got[0].Header, got[0].Body, time.Now().Add(time.Hour)); err == nil {
			t.Error("an hour-old message verifies")
		}

		// An outage: the first state change is retried; the second, about
		// the same customer, waits behind it.
		rcv.answer(http.StatusServiceUnavailable)
		setState(t, h, cs.Customer.ID, "disabled")
		waitFor(t, "the failed attempt", func() bool { return len(rcv.requests()) == 3 })
		setState(t, h, cs.Customer.ID, "active")
		waitFor(t, "the attempt recorded", func() bool {
			l := logOf(t, h, e.ID)
			return len(l.Deliveries) == 4 && l.Deliveries[1].Attempts == 1 && l.Deliveries[1].ResponseStatus == 503
		})
		if n := len(rcv.requests()); n != 3 {
			t.Fatalf("%d requests while the first change waits for its retry; want the second change held back", n)
		}
		rcv.answer(http.StatusOK)
		h.Clock.Advance(10 * time.Second) // past the first retry's backoff (5 s and jitter)
		waitFor(t, "the retry and the held-back event", func() bool { return len(rcv.requests()) == 5 })
		got = rcv.requests()
		if got[2].Header.Get("webhook-id") != got[3].Header.Get("webhook-id") {
			t.Errorf("the retry's webhook-id %q, the first attempt's %q", got[3].Header.Get("webhook-id"), got[2].Header.Get("webhook-id"))
		}
		for i, state := range map[int]string{3: "disabled", 4: "active"} {
			cust, _ := got[i].Event.Data["customer"].(map[string]any)
			if got[i].Event.Type != account.EventStateChanged || cust["state"] != state {
				t.Errorf("request %d: %s %v, want the state change to %s", i, got[i].Event.Type, got[i].Event.Data, state)
			}
		}
		waitFor(t, "every delivery recorded", func() bool {
			for _, d := range logOf(t, h, e.ID).Deliveries {
				if d.Status != "delivered" {
					return false
				}
			}
			return true
		})
	})
}

// TestDisabledEndpoint: an endpoint whose every attempt fails for 72
// hours is disabled, gets no more events, and comes back when enabled.
func TestDisabledEndpoint(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := apitest.New(t, open)
		rcv := newReceiver(t)
		rcv.answer(http.StatusInternalServerError)
		e := mustEndpoint(t, h, rcv.URL, account.EventStateChanged)
		startRelay(t, h, "relay-1")
		c := h.MustCreateCustomer(t, h.Secret, map[string]any{"email": "down@example.com", "password": "Sommer-Haus-am-See-2030"})
		setState(t, h, c.Customer.ID, "disabled")
		for step := 1; ; step++ {
			// Each attempt fails and is rescheduled after the current time.
			waitFor(t, "an attempt recorded", func() bool {
				l := logOf(t, h, e.ID)
				return !l.Webhook.Enabled || len(rcv.requests()) >= step && len(l.Deliveries) == 1 &&
					l.Deliveries[0].NextAttemptAt != nil && l.Deliveries[0].NextAttemptAt.After(h.Clock.Now())
			})
			if !logOf(t, h, e.ID).Webhook.Enabled {
				break
			}
			if step > 100 {
				t.Fatal("the endpoint is still enabled after 100 failed attempts")
			}
			h.Clock.Advance(2 * time.Hour)
		}
		l := logOf(t, h, e.ID)
		if len(l.Deliveries) != 1 || l.Deliveries[0].Status != "failed" {
			t.Errorf("after disabling: %+v", l.Deliveries)
		}
		n := len(rcv.requests())
		setState(t, h, c.Customer.ID, "active")
		if l := logOf(t, h, e.ID); len(l.Deliveries) != 1 {
			t.Errorf("a disabled endpoint got a delivery: %+v", l.Deliveries)
		}
		rcv.answer(http.StatusOK)
		res := h.Do(t, apitest.Request{Method: http.MethodPatch, Path: fmt.Sprintf("/api/v1/webhooks/%d", e.ID), Key: h.Secret,
			Body: map[string]any{"enabled": true}})
		apitest.MustStatus(t, res, http.StatusOK)
		setState(t, h, c.Customer.ID, "disabled")
		waitFor(t, "a delivery after enabling", func() bool { return len(rcv.requests()) == n+1 })
	})
}

// TestTwoRelays: two relays on one database deliver each event once.
func TestTwoRelays(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := apitest.New(t, open)
		rcv := newReceiver(t)
		mustEndpoint(t, h, rcv.URL, account.EventStateChanged)
		startRelay(t, h, "relay-1")
		startRelay(t, h, "relay-2")
		const customers = 8
		for i := range customers {
			c := h.MustCreateCustomer(t, h.Secret, map[string]any{"email": fmt.Sprintf("twice-%d@example.com", i), "password": "Sommer-Haus-am-See-2030"})
			setState(t, h, c.Customer.ID, "disabled")
			setState(t, h, c.Customer.ID, "active")
		}
		waitFor(t, "every event", func() bool { return len(rcv.requests()) >= 2*customers })
		seen := map[string]int{}
		for _, r := range rcv.requests() {
			seen[r.Header.Get("webhook-id")]++
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("event %s delivered %d times", id, n)
			}
		}
		if len(seen) != 2*customers {
			t.Errorf("%d events delivered, want %d", len(seen), 2*customers)
		}
	})
}

// TestEndpointAddresses: without --webhook-allow-private, endpoints on
// loopback, private or link-local addresses, and plain http, are
// refused when created, and the sender refuses to connect to them
// whatever a name resolves to.
func TestEndpointAddresses(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := apitest.New(t, open, apitest.WithPublicWebhooksOnly())
		for _, url := range []string{"http://127.0.0.1:8080/", "https://localhost/", "https://10.1.2.3/", "https://169.254.169.254/latest",
			"https://[fd00::1]/", "http://hooks.example.org/", "ftp://hooks.example.org/", "https://user:pw@hooks.example.org/"} {
			res := h.Post(t, h.Secret, "/api/v1/webhooks", map[string]any{"url": url, "events": []string{"*"}})
			apitest.MustProblem(t, res, http.StatusBadRequest, "validation_failed")
		}
		apitest.MustProblem(t, h.Post(t, h.Secret, "/api/v1/webhooks", map[string]any{"url": "https://hooks.example.org/", "events": []string{"nope"}}),
			http.StatusBadRequest, "validation_failed")
		apitest.MustProblem(t, h.Post(t, h.Public, "/api/v1/webhooks", map[string]any{"url": "https://hooks.example.org/", "events": []string{"*"}}),
			http.StatusForbidden, "secret_key_required")
		mustEndpoint(t, h, "https://hooks.example.org/pforte", account.EventDeleted)

		rcv := newReceiver(t)
		_, err := webhook.NewSender(false, time.Second).Send(t.Context(), account.OutgoingWebhook{URL: rcv.URL, Body: []byte("{}")})
		if err == nil || !strings.Contains(err.Error(), "not allowed") || len(rcv.requests()) != 0 {
			t.Errorf("sending to loopback without allowing it: %v, %d requests", err, len(rcv.requests()))
		}
	})
}

// TestPayloadWithoutAddress: under email_storage=hmac a payload names no
// address.
func TestPayloadWithoutAddress(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := apitest.New(t, open)
		h.MustSetting(t, account.DefaultTenant, "email_storage", "hmac")
		rcv := newReceiver(t)
		mustEndpoint(t, h, rcv.URL, "*")
		startRelay(t, h, "relay-1")
		h.MustSignUp(t, h.Secret, "Versteckt@Example.com", "Sommer-Haus-am-See-2030")
		waitFor(t, "two deliveries", func() bool { return len(rcv.requests()) == 2 })
		for _, r := range rcv.requests() {
			if strings.Contains(strings.ToLower(string(r.Body)), "versteckt") {
				t.Errorf("a payload names the address: %s", r.Body)
			}
		}
	})
}

// TestMailFailedEvent: a mail the SMTP server refuses for good is
// reported, with the customer and the mail's Message-ID.
func TestMailFailedEvent(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := apitest.New(t, open, apitest.WithRelay())
		rcv := newReceiver(t)
		mustEndpoint(t, h, rcv.URL, account.EventMailFailed)
		startRelay(t, h, "relay-1")
		h.SMTP.RejectRecipient("bounce@example.com")
		c := h.MustCreateCustomer(t, h.Secret, map[string]any{"email": "bounce@example.com"}) // an invitation goes out
		waitFor(t, "the mail.failed event", func() bool { return len(rcv.requests()) == 1 })
		r := rcv.requests()[0]
		cust, _ := r.Event.Data["customer"].(map[string]any)
		m, _ := r.Event.Data["mail"].(map[string]any)
		if r.Event.Type != account.EventMailFailed || cust["uuid"] != c.Customer.UUID || m["kind"] != "invite" || m["message_id"] == "" {
			t.Errorf("the event: %s", r.Body)
		}
	})
}
