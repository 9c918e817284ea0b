package cli

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"pforte/internal/account"
	"pforte/internal/store/teststore"
	"pforte/internal/webhook"
)

// TestWebhookCommands: create shows the secret once, test delivers a
// signed webhook.test at once, and the rest manage the endpoint; a
// loopback URL needs --webhook-allow-private.
func TestWebhookCommands(t *testing.T) {
	db := "sqlite:" + teststore.SQLitePath(t)
	const secret = "ein-langes-geheimnis-fuer-den-test-2030"
	var (
		mu  sync.Mutex
		got []*http.Request
		raw [][]byte
	)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got, raw = append(got, r), append(raw, body)
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer rcv.Close()
	err := Run(context.Background(), []string{"webhook", "create", "--url", rcv.URL, "--events", "*", "--db", db, "--secret", secret},
		noEnv, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("a loopback endpoint without --webhook-allow-private: %v", err)
	}
	out := mustRun(t, "webhook", "create", "--url", rcv.URL, "--events", "customer.confirmed,customer.deleted",
		"--webhook-allow-private", "--db", db, "--secret", secret)
	m := regexp.MustCompile(`webhook 1 created for \S+\nsigning secret \(shown only now\): (whsec_\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("webhook create:\n%s", out)
	}
	if list := mustRun(t, "webhook", "list", "--db", db, "--secret", secret); !regexp.MustCompile(`(?m)^1 +http://127\.0\.0\.1:\d+ +customer\.confirmed,customer\.deleted +true +-$`).MatchString(list) ||
		strings.Contains(list, "whsec_") {
		t.Errorf("webhook list:\n%s", list)
	}
	out = mustRun(t, "webhook", "test", "1", "--webhook-allow-private", "--db", db, "--secret", secret)
	if !strings.Contains(out, "the endpoint answered 202") || len(got) != 1 {
		t.Fatalf("webhook test: %q, %d requests", out, len(got))
	}
	if err := webhook.Verify(m[1], got[0].Header, raw[0], time.Now()); err != nil || !strings.Contains(string(raw[0]), `"webhook.test"`) {
		t.Errorf("the test message: %v %s", err, raw[0])
	}
	mustRun(t, "webhook", "disable", "1", "--db", db, "--secret", secret)
	if show := mustRun(t, "webhook", "show", "1", "--db", db, "--secret", secret); !strings.Contains(show, "enabled: false disabled by a back office") {
		t.Errorf("webhook show:\n%s", show)
	}
	mustRun(t, "webhook", "delete", "1", "--db", db, "--secret", secret)
	if err := Run(context.Background(), []string{"webhook", "show", "1", "--db", db, "--secret", secret}, noEnv, io.Discard, io.Discard); !errors.Is(err, account.ErrWebhookNotFound) {
		t.Errorf("show after delete: %v", err)
	}
	if err := Run(context.Background(), []string{"webhook", "create", "--url", "https://x.example", "--db", db}, noEnv, io.Discard, io.Discard); !errors.Is(err, ErrUsage) {
		t.Errorf("create without --events: %v", err)
	}
}
