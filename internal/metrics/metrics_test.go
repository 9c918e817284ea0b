package metrics

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"pforte/internal/password"
)

func TestMetrics(t *testing.T) {
	pool := password.NewPool(2, 3)
	if err := pool.Do(context.Background(), func() {}); err != nil {
		t.Fatal(err)
	}
	m := New(pool)
	m.ObserveRequest("POST /api/v1/sessions", "POST", 201, 30*time.Millisecond)
	m.ObserveRequest("POST /api/v1/sessions", "POST", 201, 40*time.Millisecond)
	m.ObserveRequest("unrouted", "GET", 404, time.Millisecond)
	m.ObserveRequest("unrouted", "BREW", 405, time.Millisecond)
	m.ObserveRequest("unrouted", "M1", 405, time.Millisecond)
	m.ObserveMail("sent", 200*time.Millisecond)
	m.ObserveMail("retry", time.Second)

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	text := string(body)
	for _, want := range []string{
		`pforte_http_requests_total{method="POST",route="POST /api/v1/sessions",status="201"} 2`,
		`pforte_http_requests_total{method="GET",route="unrouted",status="404"} 1`,
		`pforte_http_requests_total{method="other",route="unrouted",status="405"} 2`,
		`pforte_http_request_duration_seconds_count{route="POST /api/v1/sessions"} 2`,
		`pforte_http_request_duration_seconds_bucket{route="POST /api/v1/sessions",le="0.05"} 2`,
		`pforte_mail_deliveries_total{outcome="sent"} 1`,
		`pforte_mail_deliveries_total{outcome="retry"} 1`,
		`pforte_mail_send_duration_seconds_count 2`,
		`pforte_password_hashes_total 1`,
		`pforte_password_hash_pending 0`,
		`pforte_password_hash_waiting 0`,
		`pforte_password_hash_capacity 5`,
		`go_goroutines `,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the metrics lack %q", want)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", text)
	}
}
