package cli

import (
	"context"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"

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
