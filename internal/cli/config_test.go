package cli

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// envOf is a getenv that knows only vars.
func envOf(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// assertNoFiles fails the test if dir holds anything.
func assertNoFiles(t *testing.T, dir, what string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("%s created %s", what, e.Name())
	}
}

// Every value serve cannot run with as meant is a usage error, as a flag
// and as a PFORTE_* variable alike, that names both, and nothing is
// opened or created for it.
func TestServeRefusesBadValues(t *testing.T) {
	for _, tc := range []struct {
		flag, value string
		want        string // in the message besides the flag and its variable
	}{
		{"confirm-ttl", "-1h", "more than 0"},
		{"confirm-ttl", "0s", "more than 0"},
		{"reset-ttl", "-1ns", "more than 0"},
		{"invite-ttl", "0", "more than 0"},
		{"session-idle", "-1h", "more than 0"},
		{"session-idle", "0", "more than 0"},
		{"session-max-age", "-720h", "more than 0"},
		{"uniform-response", "-250ms", "0 (off) or more"},
		{"mail-retention", "23h59m", "at least 24h"},
		{"hash-slots", "-1", "at least 1"},
		{"hash-slots", "0", "at least 1"},
		{"hash-queue", "0", "at least 1"},
		{"hash-queue", "-5", "at least 1"},
		{"argon2-memory", "0", "from 1 to 4294967295"},
		{"argon2-memory", "4294967296", "from 1 to 4294967295"},
		{"argon2-iterations", "-1", "from 1 to 4294967295"},
		{"argon2-parallelism", "0", "from 1 to 255"},
		{"argon2-parallelism", "256", "from 1 to 255"},
		{"client-rate-limit", "-1", "at least 0"},
		{"client-burst", "0", "at least 1"},
		{"addr", "localhost", "missing port"},
		{"metrics-addr", "9464", "missing port"},
		{"log-format", "xml", "text or json"},
		{"log-level", "loud", "unknown name"},
		{"db", "mysql://x", "sqlite:PATH or postgres://"},
		{"db", "sqlite:", "needs a file path"},
		{"public-url", "http://accounts.example.org", "https"},
		{"trusted-proxies", "10.0.0.0/8,proxy.local", "proxy.local"},
		{"mail-from", "not an address", ""},
		{"smtp-url", "smtp://h?tls=maybe", "maybe"},
		{"redis-url", "http://127.0.0.1:6379", "invalid URL scheme"},
		{"redis-url", "redis://127.0.0.1:6379/zero", "invalid database number"},
		{"secret", "short", "at least 16 characters"},
		// Values that do not parse at all.
		{"session-idle", "soon", "soon"},
		{"hash-slots", "many", "many"},
		{"password-blocklist", "perhaps", "perhaps"},
	} {
		for _, via := range []string{"flag", "env"} {
			t.Run(via+"/"+tc.flag+"="+tc.value, func(t *testing.T) {
				dir := t.TempDir()
				vars := map[string]string{"PFORTE_DB": "sqlite:" + filepath.Join(dir, "pforte.db")}
				args := []string{"serve"}
				if via == "flag" {
					args = append(args, "--"+tc.flag+"="+tc.value)
				} else {
					vars[envName(tc.flag)] = tc.value
				}
				err := Run(context.Background(), args, envOf(vars), io.Discard, io.Discard)
				if !errors.Is(err, ErrUsage) {
					t.Fatalf("%v, want a usage error", err)
				}
				msg := err.Error()
				if !strings.Contains(msg, tc.flag) || !strings.Contains(msg, tc.want) {
					t.Errorf("message %q does not name --%s and say %q", msg, tc.flag, tc.want)
				}
				if via == "env" && !strings.Contains(msg, envName(tc.flag)) {
					t.Errorf("message %q does not name %s", msg, envName(tc.flag))
				}
				assertNoFiles(t, dir, "a refused serve")
			})
		}
	}
}

// Messages of values that parse but are out of range name both the flag
// and its variable, however the value was given.
func TestServeConfigErrorNamesFlagAndEnv(t *testing.T) {
	e := env{ctx: context.Background(), getenv: noEnv, stdout: io.Discard, stderr: io.Discard}
	_, _, err := e.parseServeConfig([]string{"--session-idle", "-1h"})
	if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "--session-idle (env PFORTE_SESSION_IDLE)") {
		t.Fatalf("%v, want a usage error naming --session-idle and PFORTE_SESSION_IDLE", err)
	}
}

func TestServeConfigAcceptsValidValues(t *testing.T) {
	for _, tc := range []struct {
		flag, value string
		got         func(serveConfig) any
		want        any
	}{
		{"confirm-ttl", "90s", func(c serveConfig) any { return c.ConfirmTTL }, 90 * time.Second},
		{"reset-ttl", "15m", func(c serveConfig) any { return c.ResetTTL }, 15 * time.Minute},
		{"invite-ttl", "1ns", func(c serveConfig) any { return c.InviteTTL }, time.Nanosecond},
		{"session-idle", "1h30m", func(c serveConfig) any { return c.SessionIdle }, 90 * time.Minute},
		{"session-max-age", "8760h", func(c serveConfig) any { return c.SessionMaxAge }, 8760 * time.Hour},
		{"uniform-response", "0s", func(c serveConfig) any { return c.UniformResponse }, time.Duration(0)},
		{"uniform-response", "1s", func(c serveConfig) any { return c.UniformResponse }, time.Second},
		{"mail-retention", "24h", func(c serveConfig) any { return c.MailRetention }, 24 * time.Hour},
		{"hash-slots", "3", func(c serveConfig) any { return [2]int{c.HashSlots, c.HashQueue} }, [2]int{3, 3 * hashQueuePerSlot}},
		{"hash-queue", "1", func(c serveConfig) any { return c.HashQueue }, 1},
		{"client-rate-limit", "0", func(c serveConfig) any { return c.ClientRateLimit }, 0},
		{"redis-url", "redis://:pw@127.0.0.1:6379/2", func(c serveConfig) any { return c.RedisURL }, "redis://:pw@127.0.0.1:6379/2"},
		{"redis-url", "rediss://cache.example:6380", func(c serveConfig) any { return c.RedisURL }, "rediss://cache.example:6380"},
		{"redis-prefix", "shop:pforte:", func(c serveConfig) any { return c.RedisPrefix }, "shop:pforte:"},
		{"argon2-parallelism", "255", func(c serveConfig) any { return c.Argon2Parallelism }, 255},
		{"password-blocklist", "false", func(c serveConfig) any { return c.PasswordBlocklist }, false},
		{"public-url", "https://accounts.example.org/", func(c serveConfig) any { return c.publicURL }, "https://accounts.example.org"},
		{"addr", "127.0.0.1:9999", func(c serveConfig) any { return c.publicURL }, "http://127.0.0.1:9999"},
	} {
		for _, via := range []string{"flag", "env"} {
			t.Run(via+"/"+tc.flag+"="+tc.value, func(t *testing.T) {
				vars := map[string]string{}
				var args []string
				if via == "flag" {
					args = []string{"--" + tc.flag + "=" + tc.value}
				} else {
					vars[envName(tc.flag)] = tc.value
				}
				e := env{ctx: context.Background(), getenv: envOf(vars), stdout: io.Discard, stderr: io.Discard}
				c, done, err := e.parseServeConfig(args)
				if done || err != nil {
					t.Fatalf("refused: %v", err)
				}
				if got := tc.got(c); got != tc.want {
					t.Errorf("got %v, want %v", got, tc.want)
				}
			})
		}
	}
}

// A flag wins over its variable; without either, the defaults hold.
func TestServeConfigDefaultsAndPrecedence(t *testing.T) {
	e := env{ctx: context.Background(), getenv: envOf(map[string]string{"PFORTE_SESSION_IDLE": "2h"}), stdout: io.Discard, stderr: io.Discard}
	c, _, err := e.parseServeConfig([]string{"--session-idle", "3h"})
	if err != nil || c.SessionIdle != 3*time.Hour {
		t.Fatalf("flag and env: %v, %v; want the flag's 3h", c.SessionIdle, err)
	}
	e.getenv = noEnv
	c, _, err = e.parseServeConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := defaultServeConfig()
	want.HashQueue = hashQueuePerSlot * want.HashSlots
	if c.ConfirmTTL != want.ConfirmTTL || c.SessionIdle != want.SessionIdle || c.UniformResponse != 250*time.Millisecond ||
		c.HashQueue != want.HashQueue || c.MailRetention != want.MailRetention || c.DB != defaultDB ||
		c.RedisURL != "" || c.RedisPrefix != "pforte:" {
		t.Fatalf("defaults: %+v", c)
	}
}
