package cli

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"pforte/internal/account"
	"pforte/internal/store/teststore"
)

// TestAuditCommands: what the commands change is in the audit log, the
// chain verifies, and a row changed in the database file is found.
func TestAuditCommands(t *testing.T) {
	path := teststore.SQLitePath(t)
	db := "sqlite:" + path
	mustRun(t, "apikey", "create", "--kind", "secret", "--db", db)
	mustRun(t, "tenant", "set", "default", "default_locale=en", "--db", db)
	list := mustRun(t, "audit", "list", "--db", db)
	for _, want := range []string{`(?m)^1 +\S+ +api_key_created +cli +success +- +- +key_id=1 kind=secret prefix=sk_`,
		`(?m)^2 +\S+ +setting_changed +cli +success +- +- +key=default_locale$`} {
		if !regexp.MustCompile(want).MatchString(list) {
			t.Errorf("audit list lacks %s:\n%s", want, list)
		}
	}
	if err := Run(context.Background(), []string{"customer", "export", "1", "--db", db}, noEnv, io.Discard, io.Discard); !errors.Is(err, account.ErrCustomerNotFound) {
		t.Errorf("customer export of nobody: %v", err)
	}
	if only := mustRun(t, "audit", "list", "--type", "setting_changed", "--db", db); strings.Contains(only, "api_key_created") {
		t.Errorf("audit list --type setting_changed:\n%s", only)
	}
	out := mustRun(t, "audit", "verify", "--db", db)
	if !strings.Contains(out, "verifies: 2 events up to event 2") {
		t.Errorf("audit verify: %q", out)
	}
	head := regexp.MustCompile(`head: (2:[0-9a-f]{64})`).FindStringSubmatch(out)
	if head == nil {
		t.Fatalf("audit verify prints no head: %q", out)
	}
	mustRun(t, "audit", "verify", "--anchor", head[1], "--db", db)

	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`UPDATE audit_events SET actor = 'customer' WHERE seq = 1`); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	err = Run(context.Background(), []string{"audit", "verify", "--db", db}, noEnv, io.Discard, &stderr)
	if !errors.Is(err, account.ErrAuditBroken) || !strings.Contains(err.Error(), "at event 1") {
		t.Fatalf("audit verify of a changed row: %v, want the chain broken at event 1", err)
	}
	// A chain written anew verifies, but not against the head kept
	// elsewhere.
	if _, err := raw.Exec(`DELETE FROM audit_events; DELETE FROM audit_heads`); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "tenant", "set", "default", "default_locale=de", "--db", db)
	mustRun(t, "tenant", "set", "default", "default_locale=en", "--db", db)
	mustRun(t, "audit", "verify", "--db", db)
	err = Run(context.Background(), []string{"audit", "verify", "--anchor", head[1], "--db", db}, noEnv, io.Discard, &stderr)
	if !errors.Is(err, account.ErrAuditBroken) || !strings.Contains(err.Error(), "anchored hash") {
		t.Fatalf("audit verify --anchor of a chain written anew: %v, want it refused", err)
	}
	if err := Run(context.Background(), []string{"audit", "list", "--since", "yesterday", "--db", db}, noEnv, io.Discard, &stderr); !errors.Is(err, ErrUsage) {
		t.Errorf("audit list --since yesterday: %v, want a usage error", err)
	}
}

// TestConsentCommands: consent add keeps a text and prints its hash,
// list shows it, and add refuses bad input as a usage error.
func TestConsentCommands(t *testing.T) {
	db := "sqlite:" + teststore.SQLitePath(t)
	file := filepath.Join(t.TempDir(), "consent.txt")
	if err := os.WriteFile(file, []byte("Ich stimme zu."), 0o600); err != nil {
		t.Fatal(err)
	}
	out := mustRun(t, "consent", "add", "--version", "2026-12", "--lang", "de", "--file", file, "--db", db)
	if !strings.Contains(out, "consent 2026-12 (de) kept, sha256 ") {
		t.Errorf("consent add: %q", out)
	}
	if list := mustRun(t, "consent", "list", "--db", db); !regexp.MustCompile(`(?m)^2026-12 +de +- +[0-9a-f]{16}… +\S+ +-$`).MatchString(list) {
		t.Errorf("consent list:\n%s", list)
	}
	var stderr bytes.Buffer
	if err := Run(context.Background(), []string{"consent", "add", "--version", "v", "--db", db}, noEnv, io.Discard, &stderr); !errors.Is(err, ErrUsage) {
		t.Errorf("consent add without --lang and --file: %v, want a usage error", err)
	}
}
