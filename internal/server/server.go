// Package server builds pforte's HTTP handler: every API on one mux, with
// request ids, access logs and panic recovery around it.
package server

import (
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"pforte/internal/account"
	"pforte/internal/api/wire"
)

// Deps are what the server needs.
type Deps struct {
	Service *account.Service
	Logger  *slog.Logger
	// CORSOrigins may call the API from a browser: exact origins such as
	// https://www.example.org, or "*" for any. Empty: none.
	CORSOrigins []string
	// PublicURL is where pforte is reached from outside, e.g.
	// https://accounts.example.org: links to pforte's own endpoints are
	// built from it, never from a request.
	PublicURL string
	// TrustedProxies may set X-Forwarded-For; see wire.ClientIP.
	TrustedProxies []netip.Prefix
	// ClientLimiter bounds the requests of each client address to what
	// browsers and keyless clients call: calls without a secret key to
	// the native API and the dialects, the hosted pages' forms, OpenID
	// Connect authorizations; nil: no limit. /readyz tells whether a
	// wire.SharedLimiter shares its counts now.
	ClientLimiter wire.Limiter
	// Observer, when set, hears of every answered request (metrics).
	Observer Observer
}

// Observer hears of every answered request: its route pattern ("unrouted"
// for none), method, status and duration.
type Observer interface {
	ObserveRequest(route, method string, status int, took time.Duration)
}

// New returns the handler that serves every route in routes.go.
func New(d Deps) http.Handler {
	if d.Logger != nil {
		d.Logger = slog.New(wire.LogRequestID(d.Logger.Handler()))
	}
	mux := http.NewServeMux()
	routes := addRoutes(mux, d)
	h := recoverPanics(mux, d.Logger)
	h = cors(h, d.CORSOrigins, routes.selfCORS, d.Service, d.Logger)
	// Outside cors, so that the preflights it answers are logged and counted.
	h = accessLog(h, d.Logger, d.Observer)
	// Outside accessLog, which reads the route the mux sets on its request.
	h = withRequester(h, d.TrustedProxies)
	h = securityHeaders(h)
	return wire.WithRequestID(h)
}

// withRequester tells the domain where each request comes from: its
// client's address and user agent, which a new session records as its
// tenant allows.
func withRequester(next http.Handler, proxies []netip.Prefix) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := account.Requester{Addr: wire.ClientIP(r, proxies), UserAgent: r.UserAgent()}
		next.ServeHTTP(w, r.WithContext(account.WithRequester(r.Context(), req)))
	})
}

// cors lets the configured origins call the APIs (native and dialects)
// from a browser, which is how public keys are meant to be used: those of
// --cors-origins always, a tenant's cors_origins where the request's key
// or host resolves to that tenant. No cookies are involved, so credentials
// are never allowed.
func cors(next http.Handler, origins, selfCORS []string, svc *account.Service, log *slog.Logger) http.Handler {
	allowed := map[string]bool{}
	for _, o := range origins {
		allowed[strings.TrimRight(o, "/")] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" || r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || hasAnyPrefix(r.URL.Path, selfCORS) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Add("Vary", "Origin")
		allow := func() {
			w.Header().Set("Access-Control-Allow-Origin", origin)
			w.Header().Set("Access-Control-Expose-Headers", "Retry-After, X-Request-Id, Location, WWW-Authenticate")
		}
		ok := allowed["*"] || allowed[origin]
		preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
		if !ok && preflight && svc != nil {
			// A preflight names no tenant: any tenant's origin may send.
			listed, err := svc.Tenants.OriginListed(r.Context(), origin)
			if err != nil {
				log.WarnContext(r.Context(), "reading the tenants' cors_origins failed", "err", err)
			}
			ok = listed
		}
		if ok {
			allow()
		} else if svc != nil {
			r = r.WithContext(account.WithTenantSeen(r.Context(), func(t account.Tenant) {
				if t.AllowsOrigin(origin) {
					allow()
				}
			}))
		}
		if preflight {
			if ok {
				w.Header().Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE")
				w.Header().Set("Access-Control-Allow-Headers", "Content-Type, X-API-KEY, Authorization")
				w.Header().Set("Access-Control-Max-Age", "600")
			}
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func hasAnyPrefix(path string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// accessLog logs one line per request. It logs the route pattern, never the
// path or query: paths of some dialects carry tokens.
func accessLog(next http.Handler, log *slog.Logger, obs Observer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		took := time.Since(start)
		route := r.Pattern
		if route == "" {
			route = "unrouted"
		}
		log.InfoContext(r.Context(), "request", "method", r.Method, "route", route,
			"status", rec.status, "duration_ms", took.Milliseconds())
		if obs != nil {
			obs.ObserveRequest(route, r.Method, rec.status, took)
		}
	})
}

func recoverPanics(next http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil && v != http.ErrAbortHandler {
				log.ErrorContext(r.Context(), "panic", "route", r.Pattern, "panic", v)
				w.Header().Set("Content-Type", "application/problem+json")
				w.WriteHeader(http.StatusInternalServerError)
				w.Write([]byte(`{"type":"urn:pforte:problem:internal","title":"Internal Server Error","status":500,"detail":"internal error","code":"internal"}` + "\n"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}
