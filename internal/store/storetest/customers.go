package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"pforte/internal/account"
)

// fullCustomer returns an unsaved customer with every field set, its times
// given in a zone other than UTC.
func fullCustomer(tenantID int64, name string) account.Customer {
	cest := time.FixedZone("CEST", 2*60*60)
	c := newCustomer(tenantID, name)
	c.Email = "Ünïcode." + name + "@Bücher.example"
	c.EmailKey = "ünïcode." + name + "@xn--bcher-kva.example"
	c.Username = name + ".Smith"
	c.Salutation = "Dr."
	c.FirstName = "Zoë"
	c.LastName = "O'Brien-Müller"
	c.Locale = "en"
	c.PartnerRef = "crm:4711/" + name
	c.State = account.StateDisabled
	c.DisabledFrom = account.StatePendingActive
	c.NamesUnconfirmed = true
	c.PasswordHash = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"
	c.EmailConfirmedAt = ptr(at(2*time.Minute + 1*time.Microsecond).In(cest))
	c.CreatedAt = t0.In(cest)
	c.UpdatedAt = at(time.Minute + 999999*time.Microsecond).In(cest)
	return c
}

// wantCustomerReads reads want back by ID, UUID, email key and (if set)
// username and compares every field.
func wantCustomerReads(t *testing.T, s account.Tx, want account.Customer) {
	t.Helper()
	ctx := t.Context()
	reads := []struct {
		name string
		read func() (account.Customer, error)
	}{
		{"CustomerByID", func() (account.Customer, error) { return s.CustomerByID(ctx, want.TenantID, want.ID) }},
		{"CustomerByUUID", func() (account.Customer, error) { return s.CustomerByUUID(ctx, want.TenantID, want.UUID) }},
		{"CustomerByEmailKey", func() (account.Customer, error) { return s.CustomerByEmailKey(ctx, want.TenantID, want.EmailKey) }},
	}
	if want.Username != "" {
		reads = append(reads, struct {
			name string
			read func() (account.Customer, error)
		}{"CustomerByUsername", func() (account.Customer, error) { return s.CustomerByUsername(ctx, want.TenantID, want.Username) }})
	}
	for _, r := range reads {
		got, err := r.read()
		if err != nil {
			t.Errorf("%s(customer %d): %v", r.name, want.ID, err)
			continue
		}
		checkCustomer(t, fmt.Sprintf("%s(customer %d)", r.name, want.ID), got, want)
	}
	for _, r := range []struct {
		name string
		read func() ([]account.Customer, error)
	}{
		{"CustomersByEmailKeys", func() ([]account.Customer, error) {
			return s.CustomersByEmailKeys(ctx, want.TenantID, []string{want.EmailKey})
		}},
		{"CustomersByUUIDs", func() ([]account.Customer, error) { return s.CustomersByUUIDs(ctx, want.TenantID, []string{want.UUID}) }},
	} {
		got, err := r.read()
		if err != nil {
			t.Errorf("%s(customer %d): %v", r.name, want.ID, err)
			continue
		}
		checkCustomers(t, fmt.Sprintf("%s(customer %d)", r.name, want.ID), got, []account.Customer{want})
	}
}

// checkCustomers compares a list of customers, in order, field by field.
func checkCustomers(t *testing.T, what string, got, want []account.Customer) {
	t.Helper()
	if len(got) != len(want) {
		var ids []int64
		for _, c := range got {
			ids = append(ids, c.ID)
		}
		t.Errorf("%s returned IDs %v, want %d customers", what, ids, len(want))
		return
	}
	for i := range got {
		checkCustomer(t, fmt.Sprintf("%s[%d]", what, i), got[i], want[i])
	}
}

func testCustomerRoundTrip(t *testing.T, s account.Store) {
	a := mustTenant(t, s, "acme")
	full := mustCustomer(t, s, fullCustomer(a.ID, "alice"))
	bare := mustCustomer(t, s, newCustomer(a.ID, "bob")) // EmailConfirmedAt nil, optional text empty
	if full.ID == bare.ID {
		t.Fatalf("two customers got one ID %d", full.ID)
	}
	wantCustomerReads(t, s, full)
	wantCustomerReads(t, s, bare)

	for _, st := range account.States {
		c := newCustomer(a.ID, "state-"+string(st))
		c.State = st
		c = mustCustomer(t, s, c)
		got, err := s.CustomerByID(t.Context(), a.ID, c.ID)
		if err != nil {
			t.Fatalf("CustomerByID: %v", err)
		}
		if got.State != st {
			t.Errorf("State = %q, want %q", got.State, st)
		}
	}
}

// testCustomerDisabledFrom round-trips every value of DisabledFrom through
// CreateCustomer and UpdateCustomer; the store stores it as given, whatever
// the state.
func testCustomerDisabledFrom(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")
	values := append([]account.State{""}, account.States...)
	for i, from := range values {
		c := newCustomer(a.ID, fmt.Sprintf("from-%d", i))
		c.State = account.StateDisabled
		c.DisabledFrom = from
		c = mustCustomer(t, s, c)
		wantCustomerReads(t, s, c)

		// Update to the next value (wrapping around to ''), then back.
		for _, v := range []account.State{values[(i+1)%len(values)], from} {
			c.DisabledFrom = v
			if err := s.UpdateCustomer(ctx, &c); err != nil {
				t.Fatalf("UpdateCustomer(DisabledFrom %q): %v", v, err)
			}
			wantCustomerReads(t, s, c)
		}
	}
	got, err := s.ListCustomers(ctx, a.ID, account.CustomerFilter{}, 0, 100)
	if err != nil {
		t.Fatalf("ListCustomers: %v", err)
	}
	if len(got) != len(values) {
		t.Fatalf("ListCustomers returned %d customers, want %d", len(got), len(values))
	}
	for i, c := range got {
		if c.DisabledFrom != values[i] {
			t.Errorf("ListCustomers[%d].DisabledFrom = %q, want %q", i, c.DisabledFrom, values[i])
		}
	}
}

func testCustomerUsername(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")
	c := newCustomer(a.ID, "alice")
	c.Username = "Alice.Smith"
	c = mustCustomer(t, s, c)
	mustCustomer(t, s, newCustomer(a.ID, "nameless")) // username ''

	for _, name := range []string{"Alice.Smith", "alice.smith", "ALICE.SMITH", "aLiCe.sMiTh"} {
		got, err := s.CustomerByUsername(ctx, a.ID, name)
		if err != nil {
			t.Errorf("CustomerByUsername(%q): %v", name, err)
			continue
		}
		checkCustomer(t, fmt.Sprintf("CustomerByUsername(%q)", name), got, c) // stored as given
	}
	for _, name := range []string{"alice", "Alice.Smith ", "bob", ""} {
		got, err := s.CustomerByUsername(ctx, a.ID, name)
		if err == nil {
			t.Errorf("CustomerByUsername(%q) found customer %d (%q), want ErrNotFound", name, got.ID, got.Username)
		} else {
			wantErr(t, fmt.Sprintf("CustomerByUsername(%q)", name), err, account.ErrNotFound)
		}
	}
}

func testCustomerNotFound(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")
	c := mustCustomer(t, s, fullCustomer(a.ID, "alice"))
	_, err := s.CustomerByID(ctx, a.ID, c.ID+1000)
	wantErr(t, "CustomerByID(unknown)", err, account.ErrNotFound)
	_, err = s.CustomerByUUID(ctx, a.ID, uuidFor("nobody"))
	wantErr(t, "CustomerByUUID(unknown)", err, account.ErrNotFound)
	_, err = s.CustomerByEmailKey(ctx, a.ID, "nobody@example.com")
	wantErr(t, "CustomerByEmailKey(unknown)", err, account.ErrNotFound)
	_, err = s.CustomerByEmailKey(ctx, a.ID, c.Email) // the address as given is not the key
	wantErr(t, "CustomerByEmailKey(email, not key)", err, account.ErrNotFound)
	_, err = s.CustomerByUsername(ctx, a.ID, "nobody")
	wantErr(t, "CustomerByUsername(unknown)", err, account.ErrNotFound)
}

func testCustomerDuplicates(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")
	b := mustTenant(t, s, "globex")
	orig := newCustomer(a.ID, "alice")
	orig.Username = "alice"
	orig = mustCustomer(t, s, orig)

	for i, tc := range []struct {
		name   string
		modify func(c *account.Customer)
	}{
		{"email key", func(c *account.Customer) { c.EmailKey = orig.EmailKey }},
		{"uuid", func(c *account.Customer) { c.UUID = orig.UUID }},
		{"username", func(c *account.Customer) { c.Username = orig.Username }},
		{"username in other case", func(c *account.Customer) { c.Username = "ALICE" }},
	} {
		c := newCustomer(a.ID, fmt.Sprintf("dup%d", i))
		tc.modify(&c)
		wantErr(t, "CreateCustomer(duplicate "+tc.name+")", s.CreateCustomer(ctx, &c), account.ErrDuplicate)
	}
	mustCustomerCount(t, s, a.ID, 1)
	wantCustomerReads(t, s, orig)

	// The same email key, UUID and username are free in another tenant.
	other := orig
	other.ID, other.TenantID = 0, b.ID
	other = mustCustomer(t, s, other)
	wantCustomerReads(t, s, other)
	wantCustomerReads(t, s, orig)

	// Customers without a username never collide on it.
	for _, name := range []string{"x", "y", "z"} {
		mustCustomer(t, s, newCustomer(a.ID, name))
	}
	mustCustomerCount(t, s, a.ID, 4)
}

func testCustomerIsolation(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")
	b := mustTenant(t, s, "globex")
	c := mustCustomer(t, s, fullCustomer(a.ID, "alice"))

	_, err := s.CustomerByID(ctx, b.ID, c.ID)
	wantErr(t, "CustomerByID(wrong tenant)", err, account.ErrNotFound)
	_, err = s.CustomerByUUID(ctx, b.ID, c.UUID)
	wantErr(t, "CustomerByUUID(wrong tenant)", err, account.ErrNotFound)
	_, err = s.CustomerByEmailKey(ctx, b.ID, c.EmailKey)
	wantErr(t, "CustomerByEmailKey(wrong tenant)", err, account.ErrNotFound)
	_, err = s.CustomerByUsername(ctx, b.ID, c.Username)
	wantErr(t, "CustomerByUsername(wrong tenant)", err, account.ErrNotFound)
	mustCustomerCount(t, s, b.ID, 0)

	// A namesake in b: each tenant finds its own.
	namesake := c
	namesake.ID, namesake.TenantID = 0, b.ID
	namesake.FirstName = "Other"
	namesake = mustCustomer(t, s, namesake)
	wantCustomerReads(t, s, c)
	wantCustomerReads(t, s, namesake)

	wantErr(t, "DeleteCustomer(wrong tenant)", s.DeleteCustomer(ctx, b.ID, c.ID), account.ErrNotFound)
	wantCustomerReads(t, s, c)
	wantCustomerReads(t, s, namesake)
}

func testCustomerUpdate(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")
	c := mustCustomer(t, s, newCustomer(a.ID, "alice"))
	bystander := mustCustomer(t, s, fullCustomer(a.ID, "bob"))

	// Change every column.
	upd := fullCustomer(a.ID, "carol")
	upd.ID = c.ID
	upd.DisabledFrom = account.StateActive
	upd.CreatedAt = at(-time.Hour) // not a column UpdateCustomer writes
	upd.UpdatedAt = at(time.Hour + time.Microsecond)
	if err := s.UpdateCustomer(ctx, &upd); err != nil {
		t.Fatalf("UpdateCustomer: %v", err)
	}
	want := upd
	want.CreatedAt = c.CreatedAt
	wantCustomerReads(t, s, want)
	wantCustomerReads(t, s, bystander)
	if _, err := s.CustomerByEmailKey(ctx, a.ID, c.EmailKey); err == nil {
		t.Errorf("CustomerByEmailKey(old key %q) still finds the customer", c.EmailKey)
	}

	// Back to no username, no confirmation and no earlier state; an
	// unchanged update is no clash with itself.
	upd.Username, upd.EmailConfirmedAt = "", nil
	upd.State, upd.DisabledFrom = account.StateActive, ""
	for range 2 {
		if err := s.UpdateCustomer(ctx, &upd); err != nil {
			t.Fatalf("UpdateCustomer(clear username, confirmation, disabled_from): %v", err)
		}
	}
	want = upd
	want.CreatedAt = c.CreatedAt
	wantCustomerReads(t, s, want)
}

func testCustomerUpdateRefused(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")
	b := mustTenant(t, s, "globex")
	c := newCustomer(a.ID, "alice")
	c.Username = "alice"
	c = mustCustomer(t, s, c)
	d := newCustomer(a.ID, "dora")
	d.Username = "Dora"
	d = mustCustomer(t, s, d)

	for _, tc := range []struct {
		name   string
		modify func(u *account.Customer)
		want   error
	}{
		{"wrong tenant", func(u *account.Customer) { u.TenantID = b.ID }, account.ErrNotFound},
		{"unknown id", func(u *account.Customer) { u.ID = d.ID + 1000 }, account.ErrNotFound},
		{"username clash", func(u *account.Customer) { u.Username = "DORA" }, account.ErrDuplicate},
		{"email key clash", func(u *account.Customer) { u.EmailKey = d.EmailKey }, account.ErrDuplicate},
		{"uuid clash", func(u *account.Customer) { u.UUID = d.UUID }, account.ErrDuplicate},
	} {
		u := c
		u.FirstName = "Changed"
		tc.modify(&u)
		wantErr(t, "UpdateCustomer("+tc.name+")", s.UpdateCustomer(ctx, &u), tc.want)
	}
	wantCustomerReads(t, s, c)
	wantCustomerReads(t, s, d)
	mustCustomerCount(t, s, b.ID, 0)
}

func testCustomerList(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")
	b := mustTenant(t, s, "globex")
	var as, bs []account.Customer
	for i := range 5 {
		c := fullCustomer(a.ID, fmt.Sprintf("a%d", i))
		c.PartnerRef = fmt.Sprintf("crm:%d", i%2)
		if i >= 3 {
			c.State, c.DisabledFrom, c.CreatedAt = account.StateActive, "", at(time.Hour)
		}
		as = append(as, mustCustomer(t, s, c))
		if i%2 == 0 {
			bs = append(bs, mustCustomer(t, s, newCustomer(b.ID, fmt.Sprintf("b%d", i))))
		}
	}
	active := account.CustomerFilter{State: account.StateActive}
	for _, tc := range []struct {
		name    string
		tenant  int64
		filter  account.CustomerFilter
		afterID int64
		limit   int
		want    []account.Customer
	}{
		{"all of a", a.ID, account.CustomerFilter{}, 0, 100, as},
		{"first page", a.ID, account.CustomerFilter{}, 0, 2, as[:2]},
		{"second page", a.ID, account.CustomerFilter{}, as[1].ID, 2, as[2:4]},
		{"last page", a.ID, account.CustomerFilter{}, as[3].ID, 2, as[4:]},
		{"past the end", a.ID, account.CustomerFilter{}, as[4].ID, 2, nil},
		{"all of b", b.ID, account.CustomerFilter{}, 0, 100, bs},
		{"b after a's id", b.ID, account.CustomerFilter{}, bs[0].ID, 100, bs[1:]},
		{"state", a.ID, active, 0, 100, as[3:]},
		{"state, paged", a.ID, active, as[3].ID, 100, as[4:]},
		{"state of b", b.ID, account.CustomerFilter{State: account.StateDisabled}, 0, 100, nil},
		{"partner ref", a.ID, account.CustomerFilter{PartnerRef: "crm:1"}, 0, 100, []account.Customer{as[1], as[3]}},
		{"created since", a.ID, account.CustomerFilter{CreatedSince: at(time.Hour)}, 0, 100, as[3:]},
		{"created since, exclusive of earlier", a.ID, account.CustomerFilter{CreatedSince: at(time.Hour + time.Microsecond)}, 0, 100, nil},
		{"all three", a.ID, account.CustomerFilter{State: account.StateDisabled, PartnerRef: "crm:0", CreatedSince: t0}, 0, 100,
			[]account.Customer{as[0], as[2]}},
	} {
		got, err := s.ListCustomers(ctx, tc.tenant, tc.filter, tc.afterID, tc.limit)
		if err != nil {
			t.Errorf("ListCustomers(%s): %v", tc.name, err)
			continue
		}
		checkCustomers(t, "ListCustomers("+tc.name+")", got, tc.want)
	}
}

// testCustomersByKeys: a batch of email keys or UUIDs reads the tenant's
// customers with those keys, by ID, whatever the keys' order, repeats or
// characters, outside a transaction and in one.
func testCustomersByKeys(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")
	b := mustTenant(t, s, "globex")
	alice := mustCustomer(t, s, fullCustomer(a.ID, "alice"))
	bob := mustCustomer(t, s, newCustomer(a.ID, "bob"))
	quoted := newCustomer(a.ID, "quoted")
	quoted.EmailKey, quoted.UUID = `"o'neil\\",[]@example.com`, `{"uuid": "\u00fc"}`
	quoted = mustCustomer(t, s, quoted)
	namesake := newCustomer(b.ID, "alice")
	namesake.EmailKey, namesake.UUID = alice.EmailKey, alice.UUID
	namesake = mustCustomer(t, s, namesake)

	reads := []struct {
		name string
		key  func(account.Customer) string
		read func(tx account.Tx, ctx context.Context, tenantID int64, keys []string) ([]account.Customer, error)
	}{
		{"CustomersByEmailKeys", func(c account.Customer) string { return c.EmailKey }, account.Tx.CustomersByEmailKeys},
		{"CustomersByUUIDs", func(c account.Customer) string { return c.UUID }, account.Tx.CustomersByUUIDs},
	}
	for _, r := range reads {
		keys := func(cs ...account.Customer) []string {
			var ks []string
			for _, c := range cs {
				ks = append(ks, r.key(c))
			}
			return ks
		}
		many := keys(quoted)
		for i := range 1000 {
			many = append(many, fmt.Sprintf("nobody%d@example.com", i))
		}
		many = append(many, keys(alice)...)
		for _, tc := range []struct {
			name   string
			tenant int64
			keys   []string
			want   []account.Customer
		}{
			{"by id, not by the keys' order", a.ID, keys(quoted, bob, alice), []account.Customer{alice, bob, quoted}},
			{"repeats and unknown keys", a.ID, append(keys(bob), "nobody@example.com", r.key(bob)), []account.Customer{bob}},
			{"a thousand unknown keys among them", a.ID, many, []account.Customer{alice, quoted}},
			{"none", a.ID, nil, nil},
			{"only unknown keys", a.ID, []string{"nobody@example.com"}, nil},
			{"the other tenant's", b.ID, keys(alice, bob), []account.Customer{namesake}},
		} {
			what := r.name + "(" + tc.name + ")"
			got, err := r.read(s, ctx, tc.tenant, tc.keys)
			if err != nil {
				t.Errorf("%s: %v", what, err)
				continue
			}
			checkCustomers(t, what, got, tc.want)
			err = s.InTx(ctx, func(tx account.Tx) error {
				got, err := r.read(tx, ctx, tc.tenant, tc.keys)
				checkCustomers(t, what+" in a transaction", got, tc.want)
				return err
			})
			if err != nil {
				t.Errorf("%s in a transaction: %v", what, err)
			}
		}
	}
}

func testCustomerDelete(t *testing.T, s account.Store) {
	ctx := t.Context()
	a := mustTenant(t, s, "acme")
	c := mustCustomer(t, s, fullCustomer(a.ID, "alice"))
	d := mustCustomer(t, s, fullCustomer(a.ID, "dora"))
	cTokens := []account.Token{
		mustToken(t, s, newToken(c, account.PurposeConfirm, "c confirm", false)),
		mustToken(t, s, newToken(c, account.PurposePasswordReset, "c reset", true)),
	}
	cSessions := []account.Session{
		mustSession(t, s, newSession(c, "c session 1")),
		mustSession(t, s, newSession(c, "c session 2")),
	}
	dToken := mustToken(t, s, newToken(d, account.PurposeConfirm, "d confirm", false))
	dSession := mustSession(t, s, newSession(d, "d session"))

	wantErr(t, "DeleteCustomer(unknown id)", s.DeleteCustomer(ctx, a.ID, d.ID+1000), account.ErrNotFound)
	if err := s.DeleteCustomer(ctx, a.ID, c.ID); err != nil {
		t.Fatalf("DeleteCustomer: %v", err)
	}
	_, err := s.CustomerByID(ctx, a.ID, c.ID)
	wantErr(t, "CustomerByID(deleted)", err, account.ErrNotFound)
	_, err = s.CustomerByEmailKey(ctx, a.ID, c.EmailKey)
	wantErr(t, "CustomerByEmailKey(deleted)", err, account.ErrNotFound)
	for _, sess := range cSessions {
		wantNoSession(t, s, "session of a deleted customer", sess)
	}
	for _, tok := range cTokens {
		wantNoConsume(t, s, "token of a deleted customer", tok, at(time.Minute), 5)
	}
	wantErr(t, "DeleteCustomer(again)", s.DeleteCustomer(ctx, a.ID, c.ID), account.ErrNotFound)

	// The other customer keeps everything.
	wantCustomerReads(t, s, d)
	wantSession(t, s, "other customer's session", dSession)
	mustConsume(t, s, dToken, at(time.Minute), 5, 0)

	// The email key, UUID and username are free again.
	again := mustCustomer(t, s, fullCustomer(a.ID, "alice"))
	wantCustomerReads(t, s, again)
}

func testUnconfirmedBefore(t *testing.T, s account.Store) {
	a := mustTenant(t, s, "acme")
	b := mustTenant(t, s, "globex")
	old := newCustomer(a.ID, "old")
	old.State, old.CreatedAt = account.StatePending, t0
	old = mustCustomer(t, s, old)
	fresh := newCustomer(a.ID, "fresh")
	fresh.State, fresh.CreatedAt = account.StatePending, at(48*time.Hour)
	mustCustomer(t, s, fresh)
	active := newCustomer(a.ID, "active")
	active.State, active.CreatedAt = account.StateActive, t0
	mustCustomer(t, s, active)
	other := newCustomer(b.ID, "other")
	other.State, other.CreatedAt = account.StatePending, t0
	mustCustomer(t, s, other)
	got, err := s.UnconfirmedBefore(t.Context(), a.ID, at(24*time.Hour), 10)
	if err != nil || len(got) != 1 || got[0].ID != old.ID {
		t.Errorf("UnconfirmedBefore = %+v, %v; want the old pending customer alone", got, err)
	}
}
