package bench_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"pforte/internal/bench"
	"pforte/internal/cli"
	"pforte/internal/password"
	"pforte/internal/store/teststore"
)

// asPforte makes this test binary act as the pforte command, so that the
// benchmark can start it as its server without building one.
const asPforte = "BENCH_TEST_AS_PFORTE"

func TestMain(m *testing.M) {
	if os.Getenv(asPforte) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := cli.Run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "pforte:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// tiny is a run of a second or two: cheap hashes, few customers.
func tiny(t *testing.T, db string) bench.Config {
	t.Setenv(asPforte, "1")
	cfg := bench.DefaultConfig()
	cfg.Server = os.Args[0]
	cfg.DB = db
	cfg.Duration, cfg.Rounds = 200*time.Millisecond, 2
	cfg.Customers, cfg.Confirmations, cfg.Storm = 20, 10, 60
	cfg.Params = password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	return cfg
}

// TestRun runs the whole benchmark against a real server on each store
// and checks that every measurement is in the report, without problems.
func TestRun(t *testing.T) {
	stores := map[string]func(t *testing.T) string{
		"sqlite":   func(*testing.T) string { return "sqlite" },
		"postgres": func(t *testing.T) string { return teststore.PostgresServer(t) },
	}
	for name, db := range stores {
		t.Run(name, func(t *testing.T) {
			cfg := tiny(t, db(t))
			var out bytes.Buffer
			if err := bench.Run(t.Context(), cfg, &out); err != nil {
				t.Fatalf("bench: %v\n%s", err, out.String())
			}
			report := out.String()
			t.Log("\n" + report)
			for _, row := range []string{`bare hash +2 `, `login +2 `, `bare hash +4 `, `login +4 `, `bare hash +16 `,
				`registration +16 `, `GET /healthz \(the floor\) +4 `, `session check +4 `, `confirmation +4 `} {
				if !regexp.MustCompile(`(?m)^` + row).MatchString(report) {
					t.Errorf("no row %q in the report", row)
				}
			}
			if strings.Contains(report, "round 1:") || strings.Contains(report, "round 2:") {
				t.Errorf("a measurement had problems")
			}
			for _, storm := range []string{"60 logins at once, 20 addresses: ", "60 logins at once, one address: "} {
				i := strings.Index(report, storm)
				if i < 0 {
					t.Errorf("no storm %q in the report", storm)
					continue
				}
				line, _, _ := strings.Cut(report[i:], "\n")
				if !strings.Contains(line, "× 201") || strings.Contains(line, "× 429") || strings.Contains(line, "without") {
					t.Errorf("storm: %s: want logins, perhaps 503 busy with Retry-After, and nothing else", line)
				}
			}
		})
	}
}

// TestRunAgainst measures two servers in turns: each measurement and
// storm appears for both, with the ratio of one's rate to the other's.
func TestRunAgainst(t *testing.T) {
	cfg := tiny(t, "sqlite")
	cfg.Against = cfg.Server
	cfg.Rounds = 1
	var out bytes.Buffer
	if err := bench.Run(t.Context(), cfg, &out); err != nil {
		t.Fatalf("bench: %v\n%s", err, out.String())
	}
	report := out.String()
	t.Log("\n" + report)
	if !regexp.MustCompile(`(?m)^MEASUREMENT .* × AGAINST +PROBLEMS$`).MatchString(report) {
		t.Error("no × AGAINST column")
	}
	for _, row := range []string{`login +2 `, `login, against +2 `, `login +4 `, `login, against +4 `,
		`registration +16 `, `registration, against +16 `, `session check +4 `, `session check, against +4 `,
		`confirmation +4 `, `confirmation, against +4 `} {
		line := regexp.MustCompile(`(?m)^` + row + `.*$`).FindString(report)
		if line == "" {
			t.Errorf("no row %q in the report", row)
			continue
		}
		// The measured rows carry the ratio to the other server's.
		if !strings.Contains(row, "against") && !regexp.MustCompile(`\d\.\d\d(?: \([\d.–]+\))? +$`).MatchString(line) {
			t.Errorf("row %q has no ratio to the other server: %s", row, line)
		}
	}
	if strings.Contains(report, "round 1:") {
		t.Errorf("a measurement had problems")
	}
	for _, storm := range []string{"60 logins at once, 20 addresses: ", "60 logins at once, 20 addresses, against: "} {
		if !strings.Contains(report, storm) {
			t.Errorf("no storm %q in the report", storm)
		}
	}
}

// TestRunRefusesBadConfig: what would not finish, or not mean anything,
// is refused before a server starts.
func TestRunRefusesBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*bench.Config)
	}{
		{"no server", func(c *bench.Config) { c.Server = "" }},
		{"no time", func(c *bench.Config) { c.Duration = 0 }},
		{"too long", func(c *bench.Config) { c.Duration = time.Hour }},
		{"no rounds", func(c *bench.Config) { c.Rounds = 0 }},
		{"no customers", func(c *bench.Config) { c.Customers = 0 }},
		{"huge storm", func(c *bench.Config) { c.Storm = 1 << 20 }},
		{"bad hash", func(c *bench.Config) { c.Params.Iterations = 0 }},
		{"not a database", func(c *bench.Config) { c.DB = "mysql://x" }},
		{"no such binary", func(c *bench.Config) { c.Server = "/nonexistent/pforte" }},
		{"not pforte", func(c *bench.Config) { c.Server = "/bin/false" }},
		{"against no such binary", func(c *bench.Config) { c.Against = "/nonexistent/pforte" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tiny(t, "sqlite")
			tc.edit(&cfg)
			if err := bench.Run(t.Context(), cfg, &bytes.Buffer{}); err == nil {
				t.Error("ran")
			}
		})
	}
}
