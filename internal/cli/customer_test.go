package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"pforte/internal/account"
	"pforte/internal/store/teststore"
)

// TestCustomerProofOfErased: under proof_retention, `customer proof
// --email` finds an erased customer by the address it had; without it,
// nothing; a customer and --email together are a usage error.
func TestCustomerProofOfErased(t *testing.T) {
	path := teststore.SQLitePath(t)
	db := "sqlite:" + path
	ctx := context.Background()
	const secret = "ein-langes-geheimnis-fuer-den-test-2030"
	erase := func(email string) int64 {
		t.Helper()
		svc, closeStore, err := env{ctx: ctx}.service(db, secret, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer closeStore()
		c, err := svc.Tenants.Caller(ctx, account.DefaultTenant)
		if err != nil {
			t.Fatal(err)
		}
		c.Key = account.KeySecret
		res, err := svc.Customers.Create(ctx, c, account.NewCustomer{Email: email})
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.Customers.Delete(ctx, c, res.Customer.UUID); err != nil {
			t.Fatal(err)
		}
		return res.Customer.ID
	}
	erase("ohne.aufbewahrung@example.org")
	if out := mustRun(t, "customer", "proof", "--email", "ohne.aufbewahrung@example.org", "--db", db, "--secret", secret); !strings.Contains(out, "No erased customer") {
		t.Errorf("customer proof --email without proof_retention:\n%s", out)
	}
	mustRun(t, "tenant", "set", "default", "proof_retention=26280h", "--db", db)
	id := erase("mit.aufbewahrung@example.org")
	out := mustRun(t, "customer", "proof", "--email", "Mit.Aufbewahrung@Example.org", "--db", db, "--secret", secret)
	if !regexp.MustCompile(`Opt-in proofs of erased customer ` + strconv.FormatInt(id, 10) + `, tenant default, erased \S+, kept until \S+`).MatchString(out) {
		t.Errorf("customer proof --email:\n%s", out)
	}
	err := Run(ctx, []string{"customer", "proof", "1", "--email", "a@example.org", "--db", db}, noEnv, io.Discard, io.Discard)
	if !errors.Is(err, ErrUsage) {
		t.Errorf("a customer and --email: %v; want a usage error", err)
	}
}

// run runs a command and returns its stdout, stderr and error.
func run(args ...string) (string, string, error) {
	var stdout, stderr bytes.Buffer
	err := Run(context.Background(), args, noEnv, &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

// TestCustomerCommands: create, show, list with filters, update, disable,
// enable, import (CSV and JSON Lines, dry run, twice), export with and
// without hashes, and delete, on both stores; the audit log names the
// command line.
func TestCustomerCommands(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		db := "sqlite:" + teststore.SQLitePath(t)
		if strings.HasSuffix(t.Name(), "/postgres") {
			db = teststore.PostgresDSN(t)
		}
		const secret = "ein-langes-geheimnis-fuer-den-test-2030"
		cmd := func(args ...string) []string { return append(args, "--db", db, "--secret", secret) }
		dir := t.TempDir()

		out := mustRun(t, cmd("customer", "create", "--email", "Anna@Example.org", "--first-name", "Anna", "--partner-ref", "crm:1",
			"--state", "offline", "--json")...)
		var anna account.ExportedCustomer
		if err := json.Unmarshal([]byte(out), &anna); err != nil || anna.ID == 0 || anna.State != "offline" || anna.PartnerRef != "crm:1" {
			t.Fatalf("create: %v\n%s", err, out)
		}
		id := strconv.FormatInt(anna.ID, 10)
		if out := mustRun(t, cmd("customer", "show", "anna@example.org")...); !strings.Contains(out, "first name:       Anna") {
			t.Errorf("show:\n%s", out)
		}
		mustRun(t, cmd("customer", "update", id, "--last-name", "Alt", "--partner-ref", "crm:2")...)
		mustRun(t, cmd("customer", "disable", anna.UUID)...)

		csvFile := filepath.Join(dir, "kunden.csv")
		hash, _ := bcrypt.GenerateFromPassword([]byte("bert-Secret-phrase"), bcrypt.MinCost)
		os.WriteFile(csvFile, []byte("email,first_name,password_hash,partner_ref\n"+
			"bert@example.org,Bert,"+string(hash)+",crm:2\n"+
			"nobody,Nobody,,\n"+
			"carla@example.org,Carla,,crm:3\n"), 0o600)
		out, _, err := run(cmd("customer", "import", csvFile, "--dry-run")...)
		if err == nil || !strings.Contains(out, "line 3: email: ") || !strings.Contains(out, "dry run, nothing written: 3 rows: 2 created, 0 updated, 0 unchanged, 1 failed") {
			t.Errorf("dry run: %v\n%s", err, out)
		}
		if out := mustRun(t, cmd("customer", "list")...); strings.Contains(out, "bert@") {
			t.Errorf("the dry run wrote:\n%s", out)
		}
		out, _, _ = run(cmd("customer", "import", csvFile)...)
		if !strings.Contains(out, "3 rows: 2 created, 0 updated, 0 unchanged, 1 failed") {
			t.Errorf("import:\n%s", out)
		}
		out, _, _ = run(cmd("customer", "import", csvFile, "--json")...)
		var sum account.ImportSummary
		if err := json.Unmarshal([]byte(out), &sum); err != nil || sum.Unchanged != 2 || sum.Created != 0 || sum.Failed != 1 || sum.Errors[0].Line != 3 {
			t.Errorf("second import: %v %+v", err, sum)
		}
		jsonl := filepath.Join(dir, "kunden.data")
		os.WriteFile(jsonl, []byte(`{"email":"carla@example.org","last_name":"Clever"}`+"\n"), 0o600)
		if _, _, err := run(cmd("customer", "import", jsonl)...); !errors.Is(err, ErrUsage) {
			t.Errorf("a file of no known extension without --format: %v", err)
		}
		if out := mustRun(t, cmd("customer", "import", jsonl, "--format", "jsonl")...); !strings.Contains(out, "1 rows: 0 created, 1 updated") {
			t.Errorf("jsonl import:\n%s", out)
		}

		out = mustRun(t, cmd("customer", "list", "--partner-ref", "crm:2", "--json")...)
		var list []account.ExportedCustomer
		if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 2 || list[0].Email != "Anna@Example.org" ||
			list[0].State != "disabled" || list[1].Email != "bert@example.org" || list[1].State != "active" {
			t.Errorf("list --partner-ref: %v\n%s", err, out)
		}
		if out := mustRun(t, cmd("customer", "list", "--state", "pending")...); !strings.Contains(out, "carla@example.org") || strings.Contains(out, "bert@") {
			t.Errorf("list --state pending:\n%s", out)
		}
		if out := mustRun(t, cmd("customer", "list", "--created-since", "2999-01-01T00:00:00Z")...); strings.Count(out, "\n") != 1 {
			t.Errorf("list --created-since in the future:\n%s", out)
		}
		mustRun(t, cmd("customer", "enable", id)...)
		if out := mustRun(t, cmd("customer", "show", id, "--json")...); !strings.Contains(out, `"state": "offline"`) {
			t.Errorf("enable restores the state before disabling:\n%s", out)
		}

		out = mustRun(t, cmd("customer", "export", "--format", "jsonl")...)
		if strings.Count(out, "\n") != 3 || strings.Contains(out, "password_hash") || strings.Contains(out, "$2a$") {
			t.Errorf("export without hashes:\n%s", out)
		}
		if _, _, err := run(cmd("customer", "export", "--with-hashes")...); !errors.Is(err, ErrUsage) {
			t.Errorf("export --with-hashes to stdout: %v", err)
		}
		file := filepath.Join(dir, "export.csv")
		if out, _, err := run(cmd("customer", "export", "--with-hashes", "--out", file, "--state", "active")...); err != nil || out != "" {
			t.Fatalf("export --with-hashes --out: %v\n%s", err, out)
		}
		written, _ := os.ReadFile(file)
		if st, err := os.Stat(file); err != nil || st.Mode().Perm() != 0o600 ||
			!strings.HasPrefix(string(written), "id,uuid,email,state,") || !strings.Contains(string(written), string(hash)) || strings.Count(string(written), "\n") != 2 {
			t.Errorf("export file (%v):\n%s", err, written)
		}
		// The export imports again unchanged.
		if out := mustRun(t, cmd("customer", "import", file)...); !strings.Contains(out, "1 rows: 0 created, 0 updated, 1 unchanged, 0 failed") {
			t.Errorf("importing the export:\n%s", out)
		}

		mustRun(t, cmd("customer", "delete", id)...)
		if _, _, err := run(cmd("customer", "show", id)...); err == nil {
			t.Error("show after delete succeeded")
		}
		out = mustRun(t, cmd("audit", "list")...)
		if n := strings.Count(out, " cli "); n < 5 || strings.Contains(out, " customer ") {
			t.Errorf("audit events of the commands (want actor cli):\n%s", out)
		}
		out = mustRun(t, cmd("customer", "export", strconv.FormatInt(list[1].ID, 10))...)
		if !strings.Contains(out, `"email": "bert@example.org"`) || !strings.Contains(out, `"format"`) {
			t.Errorf("export of one customer:\n%s", out)
		}
	})
}
