package sqlite

import (
	"fmt"
	"strings"
	"testing"

	"pforte/internal/account"
)

// TestCustomersByEmailKeysPlan: an import's batch read looks each email
// key up in the (tenant_id, email_key) index, before and after ANALYZE.
// A plan that walks the tenant's customers instead reads all of them for
// every batch.
func TestCustomersByEmailKeysPlan(t *testing.T) {
	ctx := t.Context()
	s := mustOpen(t)
	tn := account.Tenant{Slug: "acme"}
	if err := s.CreateTenant(ctx, &tn); err != nil {
		t.Fatal(err)
	}
	plan := func() string {
		t.Helper()
		rows, err := s.write.QueryContext(ctx, `EXPLAIN QUERY PLAN `+customersByEmailKeys, tn.ID, `["a@example.com"]`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var lines []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, detail)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return strings.Join(lines, "\n")
	}
	check := func(when string) {
		t.Helper()
		if p := plan(); !strings.Contains(p, "SEARCH customers USING INDEX") || !strings.Contains(p, "(tenant_id=? AND email_key=?)") {
			t.Errorf("%s, the plan does not look the keys up by email key:\n%s", when, p)
		}
	}
	check("on an empty table")
	for i := range 300 {
		mustCustomer(t, s, tn.ID, fmt.Sprintf("kunde%d", i))
	}
	if _, err := s.write.ExecContext(ctx, `ANALYZE`); err != nil {
		t.Fatal(err)
	}
	check("after ANALYZE")
}
