package sqlite

import (
	"fmt"
	"strings"
	"testing"

	"pforte/internal/account"
)

// TestCustomersInPlan: an import's batch reads look each email key or
// UUID up in the (tenant_id, email_key) or (tenant_id, uuid) index,
// before and after ANALYZE. A plan that walks the tenant's customers
// instead reads all of them for every batch.
func TestCustomersInPlan(t *testing.T) {
	ctx := t.Context()
	s := mustOpen(t)
	tn := account.Tenant{Slug: "acme"}
	if err := s.CreateTenant(ctx, &tn); err != nil {
		t.Fatal(err)
	}
	plan := func(column string) string {
		t.Helper()
		rows, err := s.write.QueryContext(ctx, `EXPLAIN QUERY PLAN `+customersIn(column), tn.ID, `["a@example.com"]`)
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
		for _, column := range []string{"email_key", "uuid"} {
			p := plan(column)
			if !strings.Contains(p, "SEARCH customers USING INDEX") || !strings.Contains(p, "(tenant_id=? AND "+column+"=?)") {
				t.Errorf("%s, the plan does not look each value up by %s:\n%s", when, column, p)
			}
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
