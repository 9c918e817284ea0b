package cli

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// pforte healthcheck exits 0 when /healthz answers 200 and fails
// otherwise; it finds the server by --url, --addr or PFORTE_ADDR, asking
// a wildcard listen address on loopback.
func TestHealthcheck(t *testing.T) {
	var status atomic.Int32 // the handler runs on the server's goroutines
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(int(status.Load()))
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	run := func(env map[string]string, args ...string) error {
		var stdout, stderr bytes.Buffer
		return Run(context.Background(), append([]string{"healthcheck"}, args...),
			func(k string) string { return env[k] }, &stdout, &stderr)
	}
	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"--url", nil, []string{"--url", srv.URL + "/healthz"}},
		{"--addr", nil, []string{"--addr", srv.Listener.Addr().String()}},
		{"wildcard --addr", nil, []string{"--addr", ":" + port}},
		{"PFORTE_ADDR", map[string]string{"PFORTE_ADDR": "0.0.0.0:" + port}, nil},
	} {
		status.Store(http.StatusOK)
		if err := run(tt.env, tt.args...); err != nil {
			t.Errorf("%s: healthy server: %v", tt.name, err)
		}
		status.Store(http.StatusServiceUnavailable)
		if err := run(tt.env, tt.args...); err == nil || errors.Is(err, ErrUsage) {
			t.Errorf("%s: unhealthy server: %v, want a failure", tt.name, err)
		}
	}
	if err := run(nil, "--url", srv.URL+"/elsewhere"); err == nil {
		t.Error("a 404 passed")
	}
	srv.Close()
	if err := run(nil, "--url", srv.URL+"/healthz"); err == nil || errors.Is(err, ErrUsage) {
		t.Errorf("no server: %v, want a failure", err)
	}
}
