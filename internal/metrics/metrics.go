// Package metrics exposes pforte's Prometheus metrics: HTTP requests by
// route and status, mail deliveries, and the password hashing pool, with
// the Go runtime's and the process's. The server and the mail relay report
// through small interfaces, so that only this package knows Prometheus.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"pforte/internal/password"
)

// Metrics collects pforte's metrics in a registry of its own.
type Metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	mails    *prometheus.CounterVec
	sending  prometheus.Histogram
	webhooks *prometheus.CounterVec
}

// New registers every metric; pool, when not nil, is the password hashing
// pool whose load is reported.
func New(pool *password.Pool) *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pforte_http_requests_total",
			Help: "HTTP requests by route pattern (\"unrouted\" for none), method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "pforte_http_request_duration_seconds",
			Help: "Time from a request's arrival to its answer, by route pattern.",
			// Password hashing puts most logins between 20 and 100 ms.
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route"}),
		mails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pforte_mail_deliveries_total",
			Help: "Mail delivery attempts by outcome: sent, retry (a temporary failure) or failed (permanent).",
		}, []string{"outcome"}),
		sending: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "pforte_mail_send_duration_seconds",
			Help:    "Time an SMTP delivery attempt took, whatever its outcome.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pforte_webhook_deliveries_total",
			Help: "Webhook delivery attempts by outcome: delivered, retry, failed (given up), or endpoint_disabled (an endpoint disabled after failing every attempt for 72 h).",
		}, []string{"outcome"}),
	}
	m.registry.MustRegister(m.requests, m.duration, m.mails, m.sending, m.webhooks,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if pool != nil {
		m.registry.MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "pforte_password_hashes_total",
				Help: "Password hashes computed (each login, registration and password change costs one or two).",
			}, func() float64 { return float64(pool.Runs()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "pforte_password_hash_pending",
				Help: "Requests holding a place in the hashing pool now: hashing, at work, or waiting for their turn or a hashing slot.",
			}, func() float64 { return float64(pool.Pending()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "pforte_password_hash_waiting",
				Help: "Of the pending requests, those waiting for their turn, before reading or writing anything.",
			}, func() float64 { return float64(pool.Waiting()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "pforte_password_hash_capacity",
				Help: "Callers that may hash or wait at once; beyond it the API answers 503.",
			}, func() float64 { return float64(pool.Capacity()) }),
		)
	}
	return m
}

// ObserveRequest counts an answered request; the server calls it. Methods
// other than the standard ones count as "other": clients choose them, and
// each would be a series of its own.
func (m *Metrics) ObserveRequest(route, method string, status int, took time.Duration) {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
	default:
		method = "other"
	}
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route).Observe(took.Seconds())
}

// ObserveMail counts a delivery attempt, by outcome (sent, retry or
// failed); the mail relay calls it.
func (m *Metrics) ObserveMail(outcome string, took time.Duration) {
	m.mails.WithLabelValues(outcome).Inc()
	m.sending.Observe(took.Seconds())
}

// ObserveWebhook counts a webhook delivery attempt by outcome; the
// webhook relay calls it.
func (m *Metrics) ObserveWebhook(outcome string) { m.webhooks.WithLabelValues(outcome).Inc() }

// Handler serves the metrics in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}
