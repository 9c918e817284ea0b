package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"pforte/internal/account"
	"pforte/internal/mail/mailtest"
	"pforte/internal/store/teststore"
)

func noEnv(string) string { return "" }

// stoppedLog is a server's log, read after stopping the server.
type stoppedLog struct {
	stop func()
	buf  *bytes.Buffer
}

func (l *stoppedLog) String() string {
	l.stop()
	return l.buf.String()
}

// mustRun runs a command to completion and returns its stdout.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if err := Run(context.Background(), args, noEnv, &stdout, &stderr); err != nil {
		t.Fatalf("pforte %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// startServe runs "pforte serve" in the background on a free port and
// returns its base URL; the server stops when the test ends.
func startServe(t *testing.T, getenv func(string) string, args ...string) string {
	base, _ := startServeLogged(t, getenv, args...)
	return base
}

// startServeLogged is startServe that also returns the server's log, whole
// once the server has stopped.
func startServeLogged(t *testing.T, getenv func(string) string, args ...string) (string, *stoppedLog) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0", "--log-format", "json"}, args...), getenv, io.Discard, pw)
		pw.Close()
	}()
	addr := make(chan string, 1)
	logged := new(bytes.Buffer)
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			logged.Write(sc.Bytes())
			logged.WriteByte('\n')
			var line struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "pforte listening" {
				addr <- line.Addr
			}
		}
		io.Copy(io.Discard, pr)
	}()
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve did not shut down cleanly: %v", err)
		}
		<-scanned
	}
	var once sync.Once
	t.Cleanup(func() { once.Do(stop) })
	select {
	case a := <-addr:
		return "http://" + a, &stoppedLog{stop: func() { once.Do(stop) }, buf: logged}
	case err := <-done:
		t.Fatalf("serve ended before listening: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start listening within 30 s")
	}
	return "", nil
}

func TestAPIKeyCommands(t *testing.T) {
	db := "sqlite:" + teststore.SQLitePath(t)
	key := strings.TrimSpace(mustRun(t, "apikey", "create", "--kind", "secret", "--name", "shop", "--db", db))
	if !regexp.MustCompile(`^sk_[A-Za-z0-9_-]{43}$`).MatchString(key) {
		t.Fatalf("apikey create printed %q, want only a secret key", key)
	}
	pub := strings.TrimSpace(mustRun(t, "apikey", "create", "--kind", "public", "--db", db))
	if !strings.HasPrefix(pub, "pk_") {
		t.Fatalf("public key %q", pub)
	}
	list := mustRun(t, "apikey", "list", "--db", db)
	if !strings.Contains(list, key[:11]) || strings.Contains(list, key) || !strings.Contains(list, "shop") {
		t.Fatalf("apikey list must show the prefix and name but never the key:\n%s", list)
	}
	mustRun(t, "apikey", "revoke", "1", "--db", db)
	if list := mustRun(t, "apikey", "list", "--db", db); !regexp.MustCompile(`(?m)^1 .*secret.*\d{4}-\d\d-\d\dT\S+\s*$`).MatchString(list) {
		t.Fatalf("revoked key shows no revocation time:\n%s", list)
	}
	var stderr bytes.Buffer
	if err := Run(context.Background(), []string{"apikey", "revoke", "1", "--db", db}, noEnv, io.Discard, &stderr); err == nil {
		t.Fatal("revoking a revoked key succeeded")
	}
	if err := Run(context.Background(), []string{"apikey", "create", "--db", db}, noEnv, io.Discard, &stderr); !errors.Is(err, ErrUsage) {
		t.Fatalf("apikey create without --kind: %v, want usage error", err)
	}
	if err := Run(context.Background(), []string{"apikey", "create", "--kind", "root", "--db", db}, noEnv, io.Discard, &stderr); err == nil {
		t.Fatal("apikey create --kind root succeeded")
	}
	if err := Run(context.Background(), []string{"apikey", "list", "--tenant", "nope", "--db", db}, noEnv, io.Discard, &stderr); err == nil {
		t.Fatal("listing keys of an unknown tenant succeeded")
	}
}

func TestTenantCommands(t *testing.T) {
	db := "sqlite:" + teststore.SQLitePath(t)
	if got := mustRun(t, "tenant", "create", "shop-2", "--db", db); got != "shop-2\n" {
		t.Fatalf("tenant create printed %q", got)
	}
	mustRun(t, "tenant", "set", "shop-2", "default_locale=en", "--db", db)
	list := mustRun(t, "tenant", "list", "--db", db)
	if !regexp.MustCompile(`(?m)^default .*default_locale=de`).MatchString(list) || !regexp.MustCompile(`(?m)^shop-2 .*default_locale=en`).MatchString(list) {
		t.Fatalf("tenant list:\n%s", list)
	}
	// A bad pair anywhere means nothing is changed.
	if err := Run(context.Background(), []string{"tenant", "set", "shop-2", "default_locale=de", "delivery=pigeon", "--db", db}, noEnv, io.Discard, io.Discard); err == nil {
		t.Fatal("tenant set with a bad value succeeded")
	}
	if list := mustRun(t, "tenant", "list", "--db", db); !regexp.MustCompile(`(?m)^shop-2 .*default_locale=en`).MatchString(list) {
		t.Fatalf("a failed tenant set changed a setting:\n%s", list)
	}
	for _, args := range [][]string{
		{"tenant", "create", "Bad Slug"},
		{"tenant", "create", "shop-2"},
		{"tenant", "set", "shop-2", "delivery=pigeon"},
		{"tenant", "set", "shop-2", "colour=blue"},
		{"tenant", "set", "shop-2", "no-equals-sign"},
		{"tenant", "set", "missing", "default_locale=en"},
		{"tenant"},
		{"tenant", "frobnicate"},
	} {
		if err := Run(context.Background(), append(args, "--db", db), noEnv, io.Discard, io.Discard); err == nil {
			t.Errorf("pforte %s succeeded", strings.Join(args, " "))
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"frobnicate"},
		{"serve", "--no-such-flag"},
		{"migrate", "--db", "mysql://x"},
		{"migrate", "--db", "sqlite:"},
		{"serve", "--db", "sqlite:" + filepath.Join(t.TempDir(), "x.db"), "--log-format", "xml"},
		{"--db", "sqlite:x.db", "tenant", "list"}, // flags before the command: serve would start
		{"serve", "--db", "sqlite:" + filepath.Join(t.TempDir(), "x.db"), "--public-url", "http://accounts.example.org"},
		{"serve", "--db", "sqlite:" + filepath.Join(t.TempDir(), "x.db"), "--public-url", "https://accounts.example.org/?x=1"},
		{"serve", "--db", "sqlite:" + filepath.Join(t.TempDir(), "x.db"), "--trusted-proxies", "10.0.0.0/8,proxy.local"},
		{"serve", "--db", "sqlite:" + filepath.Join(t.TempDir(), "x.db"), "--client-burst", "0"},
		{"serve", "--db", "sqlite:" + filepath.Join(t.TempDir(), "x.db"), "--mail-retention", "1h"},
		{"serve", "--db", "sqlite:" + filepath.Join(t.TempDir(), "x.db"), "--secret", "short"},
	} {
		err := Run(context.Background(), args, noEnv, io.Discard, io.Discard)
		if !errors.Is(err, ErrUsage) {
			t.Errorf("pforte %s: %v, want a usage error", strings.Join(args, " "), err)
		}
	}
	var stderr bytes.Buffer
	if err := Run(context.Background(), []string{"serve", "--help"}, noEnv, io.Discard, &stderr); err != nil {
		t.Fatalf("serve --help: %v", err)
	}
	if !strings.Contains(stderr.String(), "PFORTE_SESSION_IDLE") {
		t.Fatalf("serve --help does not document the environment:\n%s", stderr.String())
	}
	env := func(k string) string { return map[string]string{"PFORTE_SESSION_IDLE": "soon"}[k] }
	if err := Run(context.Background(), []string{"serve"}, env, io.Discard, io.Discard); !errors.Is(err, ErrUsage) {
		t.Fatalf("a malformed PFORTE_SESSION_IDLE: %v, want a usage error", err)
	}
}

func TestRedactDSN(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://app:s3cret@db:5432/pforte":                      "postgres://app:xxxxx@db:5432/pforte",
		"postgres://app@db/pforte":                                  "postgres://app@db/pforte",
		"postgres://app@db/pforte?password=hunter2&sslmode=disable": "postgres://app@db/pforte?password=xxxxx&sslmode=disable",
		"sqlite:pforte.db":                                          "sqlite:pforte.db",
	} {
		if got := redactDSN(in); got != want {
			t.Errorf("redactDSN(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestServeAndShutdown(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		db := "sqlite:" + teststore.SQLitePath(t)
		if t.Name() == "TestServeAndShutdown/postgres" {
			db = teststore.PostgresDSN(t)
		}
		env := func(k string) string { return map[string]string{"PFORTE_DB": db, "PFORTE_ARGON2_MEMORY": "64"}[k] }
		base := startServe(t, env)
		for _, path := range []string{"/healthz", "/readyz"} {
			resp, err := http.Get(base + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: %d", path, resp.StatusCode)
			}
		}
	})
}

// TestReadmeWalkthrough runs the README's walkthrough block, exactly as
// written, against a server on each store.
func TestReadmeWalkthrough(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the walkthrough needs %s (.ci/run installs it)", tool)
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, _ := strings.Cut(string(readme), "## Walkthrough")
	_, block, _ := strings.Cut(after, "```sh\n")
	script, _, ok := strings.Cut(block, "```")
	if !ok || !strings.Contains(script, "apikey create") {
		t.Fatal("no walkthrough block in the README")
	}
	bin := filepath.Join(t.TempDir(), "pforte")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/pforte")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// Only the way the binary is started differs from the README.
	script = strings.ReplaceAll(script, "go run ./cmd/pforte", bin)

	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		dir := t.TempDir()
		env := []string{}
		serveDB := "sqlite:" + filepath.Join(dir, "pforte.db") // the default sqlite:pforte.db, seen from dir
		if strings.HasSuffix(t.Name(), "/postgres") {
			serveDB = teststore.PostgresDSN(t)
			env = append(env, "PFORTE_DB="+serveDB)
		}
		base, serverLog := startServeLogged(t, noEnv, "--db", serveDB)
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
		cmd.Dir = dir
		cmd.Env = append(append(os.Environ(), "PFORTE="+base), env...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("walkthrough failed: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.String())
		}
		want := "\"active\"\n\"foo.bar@example.de\"\n401\n\"active\"\n\"Foo Bar\"\n"
		if string(out) != want {
			t.Fatalf("walkthrough printed\n%s\nwant\n%s", out, want)
		}
		// The server saw keys, passwords, tokens and sessions; its log
		// must hold none of them, nor any email address.
		logText := serverLog.String()
		if !strings.Contains(logText, `"route":"POST /api/v1/password-resets/complete"`) {
			t.Fatalf("the server log lacks the walkthrough's requests:\n%s", logText)
		}
		for _, secret := range []string{"sk_", "correct horse", "better passphrase", "Bearer", "foo.bar@", "token="} {
			if strings.Contains(logText, secret) {
				t.Errorf("server log contains %q:\n%s", secret, logText)
			}
		}
	})
}

func TestAppCommands(t *testing.T) {
	db := "sqlite:" + teststore.SQLitePath(t)
	if got := mustRun(t, "app", "create", "shop", "--endpoint", "https://shop.example/actions/", "--confirm-url", "https://shop.example/confirm/{token}", "--db", db); got != "shop\n" {
		t.Fatalf("app create printed %q", got)
	}
	mustRun(t, "app", "update", "shop", "--delivery", "mail", "--reset-url", "https://shop.example/reset/{token}", "--db", db)
	list := mustRun(t, "app", "list", "--db", db)
	if !regexp.MustCompile(`(?m)^shop\s+mail\s+https://shop.example/actions/\s+https://shop.example/confirm/\{token\}\s+https://shop.example/reset/\{token\}\s+-\s+-\s+-$`).MatchString(list) {
		t.Fatalf("app list:\n%s", list)
	}
	mustRun(t, "app", "update", "shop", "--set", "pages.display_name=Shop am Markt", "--set", "pages.primary_colour=#aa3300", "--db", db)
	if list := mustRun(t, "app", "list", "--db", db); !strings.Contains(list, "pages.display_name=Shop am Markt pages.primary_colour=#aa3300") {
		t.Fatalf("app list after --set:\n%s", list)
	}
	mustRun(t, "app", "update", "shop", "--set", "pages.primary_colour=", "--db", db)
	if list := mustRun(t, "app", "list", "--db", db); strings.Contains(list, "primary_colour") {
		t.Fatalf("an empty --set value did not remove the override:\n%s", list)
	}
	for _, args := range [][]string{
		{"app", "create", "shop", "--endpoint", "https://shop.example/"},       // exists
		{"app", "create", "plain", "--endpoint", "http://shop.example/"},       // http off localhost
		{"app", "create", "notoken", "--confirm-url", "https://shop.example/"}, // no {token}
		{"app", "create", "bad", "--delivery", "pigeon"},
		{"app", "update", "shop", "--set", "hosts=shop.example"},       // no per-application setting
		{"app", "update", "shop", "--set", "pages.primary_colour=red"}, // refused as the tenant setting is
		{"app", "update", "shop", "--set", "no-equals-sign"},
		{"app", "update", "missing", "--endpoint", "https://shop.example/"},
		{"app", "delete", "missing"},
		{"app", "frobnicate"},
		{"app", "update", "shop", "--oidc", "secretive", "--redirect-uri", "https://shop.example/cb"},
		{"app", "update", "shop", "--oidc", "confidential"},                                             // no redirect URI
		{"app", "update", "shop", "--oidc", "confidential", "--redirect-uri", "http://shop.example/cb"}, // http off localhost
		{"app", "update", "shop", "--oidc", "public", "--redirect-uri", "https://shop.example/cb#x"},    // a fragment
		{"app", "update", "shop", "--redirect-uri", "https://shop.example/cb"},                          // no client type
		{"oidc", "rotate-key", "--alg", "HS256"},
		{"oidc", "keys", "--tenant", "missing"},
	} {
		if err := Run(context.Background(), append(args, "--db", db), noEnv, io.Discard, io.Discard); err == nil {
			t.Errorf("pforte %s succeeded", strings.Join(args, " "))
		}
	}
	mustRun(t, "app", "delete", "shop", "--db", db)
	if list := mustRun(t, "app", "list", "--db", db); strings.Contains(list, "shop") {
		t.Fatalf("deleted app still listed:\n%s", list)
	}
}

// TestOIDCCommands: an application becomes a client, its secret shown
// once; a rotated secret replaces it; signing keys rotate with the old
// one still listed.
func TestOIDCCommands(t *testing.T) {
	db := "sqlite:" + teststore.SQLitePath(t)
	created := mustRun(t, "app", "create", "site", "--oidc", "confidential", "--redirect-uri", "https://site.example/cb",
		"--redirect-uri", "http://localhost:3000/cb", "--post-logout-uri", "https://site.example/", "--db", db)
	m := regexp.MustCompile(`(?s)^site\nclient_id: (pfc_\S+)\nclient_secret: (\S+)\n`).FindStringSubmatch(created)
	if m == nil {
		t.Fatalf("app create printed:\n%s", created)
	}
	if list := mustRun(t, "app", "list", "--db", db); !strings.Contains(list, "confidential "+m[1]+" https://site.example/cb http://localhost:3000/cb") || strings.Contains(list, m[2]) {
		t.Fatalf("app list shows no client, or its secret:\n%s", list)
	}
	if out := mustRun(t, "app", "update", "site", "--delivery", "mail", "--db", db); out != "client_id: "+m[1]+"\n" {
		t.Errorf("an update that makes no secret printed %q", out)
	}
	rotated := mustRun(t, "app", "update", "site", "--rotate-secret", "--db", db)
	if !strings.Contains(rotated, "client_secret: ") || strings.Contains(rotated, m[2]) {
		t.Errorf("--rotate-secret printed %q", rotated)
	}
	if out := mustRun(t, "oidc", "keys", "--db", db); strings.Count(out, "\n") != 1 {
		t.Errorf("keys before the first use:\n%s", out)
	}
	// Before any server settled the secret, a key would be sealed under
	// one nobody keeps.
	if err := Run(context.Background(), []string{"oidc", "rotate-key", "--db", db}, noEnv, io.Discard, io.Discard); err == nil {
		t.Fatal("rotate-key before the secret is settled succeeded")
	}
	secret := "--secret=0123456789abcdef0123"
	first := mustRun(t, "oidc", "rotate-key", secret, "--db", db)
	second := mustRun(t, "oidc", "rotate-key", "--alg", "ES256", secret, "--db", db)
	if !strings.Contains(first, "(RS256)") || !strings.Contains(second, "(ES256)") {
		t.Errorf("rotate-key printed %q and %q", first, second)
	}
	keys := mustRun(t, "oidc", "keys", secret, "--db", db)
	if !regexp.MustCompile(`(?m)ES256\s+\S+\s+signing$`).MatchString(keys) || !regexp.MustCompile(`(?m)RS256\s+\S+\s+retired `).MatchString(keys) {
		t.Errorf("keys after two rotations:\n%s", keys)
	}
}

// Without SMTP, mail stays in the outbox and pforte mail list shows it
// with its link, so a first local run can follow the whole flow.
func TestMailListWithoutSMTP(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		db := "sqlite:" + teststore.SQLitePath(t)
		if strings.HasSuffix(t.Name(), "/postgres") {
			db = teststore.PostgresDSN(t)
		}
		if got := mustRun(t, "mail", "list", "--db", db); got != "no mail\n" {
			t.Fatalf("empty outbox: %q", got)
		}
		key := strings.TrimSpace(mustRun(t, "apikey", "create", "--kind", "public", "--db", db))
		mustRun(t, "app", "create", "shop", "--confirm-url", "https://shop.example/confirm/{token}", "--db", db)
		env := func(k string) string { return map[string]string{"PFORTE_ARGON2_MEMORY": "64"}[k] }
		base := startServe(t, env, "--db", db, "--uniform-response", "0s")
		req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/registrations?appName=shop",
			strings.NewReader(`{"email":"new@example.com","password":"correct horse battery","first_name":"Neu"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-KEY", key)
		req.Header.Set("Accept-Language", "de-DE")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusAccepted {
			t.Fatalf("register: %d", res.StatusCode)
		}
		list := mustRun(t, "mail", "list", "--db", db)
		for _, want := range []string{"unsent", "confirm", "new@example.com", "Bitte bestätigen", "link:", "https://shop.example/confirm/"} {
			if !strings.Contains(list, want) {
				t.Errorf("mail list lacks %q:\n%s", want, list)
			}
		}
		if got := mustRun(t, "mail", "list", "--tenant", "default", "--limit", "1", "--db", db); !strings.Contains(got, "new@example.com") {
			t.Errorf("mail list --tenant default:\n%s", got)
		}
	})
}

// serve with SMTP configured stops cleanly, relay included, even when it
// fails after starting the relay.
func TestServeWithSMTPStops(t *testing.T) {
	db := "sqlite:" + teststore.SQLitePath(t)
	smtp := mailtest.Start(t)
	startServe(t, noEnv, "--db", db, "--smtp-url", smtp.URL())
	taken := startServe(t, noEnv, "--db", db)
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), []string{"serve", "--db", db, "--smtp-url", smtp.URL(), "--addr", strings.TrimPrefix(taken, "http://")}, noEnv, io.Discard, io.Discard)
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("serve on a taken address succeeded")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve on a taken address hung instead of failing")
	}
	if err := Run(context.Background(), []string{"serve", "--db", db, "--smtp-url", "smtp://h?tls=maybe"}, noEnv, io.Discard, io.Discard); !errors.Is(err, ErrUsage) {
		t.Fatalf("bad --smtp-url: %v, want a usage error", err)
	}
}

// TestSecretShow: commands store no secret; the server's first start
// generates one, which secret show prints and which works as --secret;
// once a server has run, commands with any other secret are refused.
func TestSecretShow(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "s.db")
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := Run(context.Background(), append(args, "--db", db), noEnv, &out, io.Discard)
		return strings.TrimSpace(out.String()), err
	}
	if _, err := run("tenant", "list"); err != nil {
		t.Fatal(err)
	}
	if _, err := run("secret", "show"); err == nil {
		t.Fatal("a command before any server start stored a secret")
	}
	env := func(k string) string { return map[string]string{"PFORTE_DB": db, "PFORTE_ARGON2_MEMORY": "64"}[k] }
	base := startServe(t, env)
	if resp, err := http.Get(base + "/healthz"); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	secret, err := run("secret", "show")
	if err != nil || len(secret) < 32 {
		t.Fatalf("secret show: %q, %v", secret, err)
	}
	if _, err := run("tenant", "list", "--secret", secret); err != nil {
		t.Fatalf("the generated secret given as --secret: %v", err)
	}
	if _, err := run("tenant", "list"); err != nil {
		t.Fatalf("without a secret, the generated one: %v", err)
	}
	if _, err := run("tenant", "list", "--secret", "something-else-entirely"); !errors.Is(err, account.ErrWrongSecret) {
		t.Fatalf("another secret: %v", err)
	}
	// Moved to --secret, the generated secret can leave the database.
	if _, err := run("secret", "forget", "--secret", "something-else-entirely"); !errors.Is(err, account.ErrWrongSecret) {
		t.Fatalf("secret forget with another secret: %v", err)
	}
	if _, err := run("secret", "forget", "--secret", secret); err != nil {
		t.Fatalf("secret forget: %v", err)
	}
	if _, err := run("secret", "show"); err == nil {
		t.Fatal("secret show after secret forget printed a secret")
	}
	if _, err := run("tenant", "list"); !errors.Is(err, account.ErrWrongSecret) {
		t.Fatalf("a command without the secret after secret forget: %v", err)
	}
	if _, err := run("tenant", "list", "--secret", secret); err != nil {
		t.Fatalf("a command with the secret after secret forget: %v", err)
	}
}

// TestServeMetrics: with --metrics-addr, /metrics on that listener (and
// only there) counts the API's requests.
func TestServeMetrics(t *testing.T) {
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := free.Addr().String()
	free.Close()
	db := "sqlite:" + filepath.Join(t.TempDir(), "m.db")
	env := func(k string) string { return map[string]string{"PFORTE_DB": db, "PFORTE_ARGON2_MEMORY": "64"}[k] }
	base := startServe(t, env, "--metrics-addr", metricsAddr)
	for range 3 {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if resp, err := http.Get(base + "/metrics"); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.StatusCode != http.StatusNotFound {
		t.Errorf("the public listener serves /metrics: %d", resp.StatusCode)
	}
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	want := `pforte_http_requests_total{method="GET",route="GET /healthz",status="200"} 3`
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
		t.Fatalf("GET /metrics: %d, want a line %s in:\n%s", resp.StatusCode, want, body)
	}
}
