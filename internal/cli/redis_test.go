package cli

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"pforte/internal/redislimit/redistest"
	"pforte/internal/store/teststore"
)

// An empty --redis-prefix is refused: every key needs one. (An empty
// variable is no value, so only the flag can give it.)
func TestServeRefusesEmptyRedisPrefix(t *testing.T) {
	dir := t.TempDir()
	vars := map[string]string{"PFORTE_DB": "sqlite:" + filepath.Join(dir, "pforte.db")}
	err := Run(context.Background(), []string{"serve", "--redis-prefix="}, envOf(vars), io.Discard, io.Discard)
	if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "--redis-prefix (env PFORTE_REDIS_PREFIX) is empty") {
		t.Fatalf("%v, want a usage error naming --redis-prefix", err)
	}
	assertNoFiles(t, dir, "a refused serve")
}

// readyz returns /readyz's status and body.
func readyz(t *testing.T, base string) (int, string) {
	t.Helper()
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// With --redis-url, the server keeps the client limits in Redis and says
// so; a Redis it cannot reach does not stop it from serving, and it says
// that too, in the log and in /readyz.
func TestServeWithRedis(t *testing.T) {
	url := redistest.URL(t)
	env := func(k string) string {
		return map[string]string{"PFORTE_DB": "sqlite:" + teststore.SQLitePath(t), "PFORTE_ARGON2_MEMORY": "64"}[k]
	}
	t.Run("reachable", func(t *testing.T) {
		base, logs := startServeLogged(t, env, "--redis-url", url, "--redis-prefix", redistest.Prefix(t, url))
		if status, body := readyz(t, base); status != http.StatusOK || !strings.Contains(body, `"client_limits":"shared"`) {
			t.Errorf("readyz: %d %s", status, body)
		}
		if l := logs.String(); !strings.Contains(l, "client limits are shared through Redis") {
			t.Errorf("the log does not say the limits are shared:\n%s", l)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		nobody := "redis://:hunter2@" + ln.Addr().String()
		ln.Close() // connecting is refused from now on
		base, logs := startServeLogged(t, env, "--redis-url", nobody)
		if status, body := readyz(t, base); status != http.StatusOK ||
			!strings.Contains(body, `"client_limits":"per_replica"`) || !strings.Contains(body, "Redis is unreachable") {
			t.Errorf("readyz: %d %s", status, body)
		}
		l := logs.String()
		if !strings.Contains(l, `"level":"WARN","msg":"Redis is unreachable`) {
			t.Errorf("the log does not warn that Redis is unreachable:\n%s", l)
		}
		if strings.Contains(l, "hunter2") {
			t.Errorf("the log shows Redis's password:\n%s", l)
		}
	})
}
