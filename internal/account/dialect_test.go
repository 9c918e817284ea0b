package account_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"pforte/internal/account"
	"pforte/internal/password"
	"pforte/internal/store/teststore"
)

const dialectPassword = "Kundenbereich-Passwort-2030"

func publicCaller(t *testing.T, svc *account.Service, slug string) account.Caller {
	t.Helper()
	c, err := svc.Tenants.Caller(context.Background(), slug)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestTenantForHost(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		svc, _ := mustService(t, open)
		if _, err := svc.Tenants.Create(ctx, "shop"); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Tenants.Create(ctx, "news"); err != nil {
			t.Fatal(err)
		}
		if err := svc.Tenants.Set(ctx, "shop", "hosts", "shop.example, www.shop.example"); err != nil {
			t.Fatal(err)
		}
		// Once a tenant claims a host, a host nobody claims belongs to
		// nobody: it does not fall silently to default.
		for _, host := range []string{"news.example", "", "evil.example"} {
			if c, err := svc.Tenants.ForHost(ctx, host); !errors.Is(err, account.ErrUnknownHost) {
				t.Errorf("TenantForHost(%q) = %s, %v; want ErrUnknownHost", host, c.Tenant.Slug, err)
			}
		}
		// Until default claims the others explicitly.
		if err := svc.Tenants.Set(ctx, account.DefaultTenant, "hosts", "*"); err != nil {
			t.Fatal(err)
		}
		for host, want := range map[string]string{
			"shop.example":     "shop",
			"WWW.Shop.Example": "shop",
			"shop.example.":    "shop",
			"news.example":     account.DefaultTenant,
			"":                 account.DefaultTenant,
			"evil.example":     account.DefaultTenant,
		} {
			c, err := svc.Tenants.ForHost(ctx, host)
			if err != nil {
				t.Fatalf("TenantForHost(%q): %v", host, err)
			}
			if c.Tenant.Slug != want || c.Key != "" {
				t.Errorf("TenantForHost(%q) = %s (key %q), want %s without a key", host, c.Tenant.Slug, c.Key, want)
			}
		}
		// A host leads to one tenant only.
		if err := svc.Tenants.Set(ctx, "news", "hosts", "news.example,shop.example"); !account.IsKind(err, account.KindConflict) {
			t.Fatalf("a second tenant took shop.example: %v", err)
		}
		if err := svc.Tenants.Set(ctx, "news", "hosts", "*"); !account.IsKind(err, account.KindConflict) {
			t.Fatalf("a second tenant took * from default: %v", err)
		}
		for _, bad := range []string{"shop.example:8080", "Shop.example", "https://shop.example", "a b"} {
			if err := svc.Tenants.Set(ctx, "news", "hosts", bad); !account.IsKind(err, account.KindInvalid) {
				t.Errorf("hosts=%q accepted: %v", bad, err)
			}
		}
		// Moving a host takes effect without a restart.
		if err := svc.Tenants.Set(ctx, "shop", "hosts", ""); err != nil {
			t.Fatal(err)
		}
		if err := svc.Tenants.Set(ctx, "news", "hosts", "shop.example"); err != nil {
			t.Fatal(err)
		}
		if c, err := svc.Tenants.ForHost(ctx, "shop.example"); err != nil || c.Tenant.Slug != "news" {
			t.Fatalf("after moving the host: %s, %v", c.Tenant.Slug, err)
		}
	})
}

func TestNumericSessions(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		svc, st := mustService(t, open)
		c := secretCaller(t, svc)
		mustCreate(t, svc, c, account.NewCustomer{Email: "num@example.com", Password: dialectPassword})
		if _, err := svc.Tenants.Create(ctx, "other"); err != nil {
			t.Fatal(err)
		}
		other := publicCaller(t, svc, "other")

		seen := map[int64]bool{}
		var negative bool
		for range 20 {
			_, id, err := svc.Sessions.LoginNumeric(ctx, c, "num@example.com", dialectPassword)
			if err != nil {
				t.Fatal(err)
			}
			if id == 0 || id > 1<<53-1 || id < -(1<<53-1) || seen[id] {
				t.Fatalf("session id %d is zero, repeated or beyond JavaScript's safe integers", id)
			}
			seen[id] = true
			negative = negative || id < 0
		}
		if !negative {
			t.Error("20 session ids, none negative: the range is not symmetric")
		}
		_, id, err := svc.Sessions.LoginNumeric(ctx, c, "num@example.com", dialectPassword)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := svc.Sessions.LoginNumeric(ctx, c, "num@example.com", "wrong-password-123"); !account.IsKind(err, account.KindUnauthorized) {
			t.Fatalf("wrong password: %v", err)
		}
		// The id is a session like any other: its plain hash is not what
		// the store keeps, and other tenants cannot end it.
		if _, err := st.SessionByHash(ctx, account.HashSecret(formatInt(id))); err == nil {
			t.Fatal("the store keeps the plain SHA-256 of a 54-bit session id")
		}
		if err := svc.Sessions.LogoutNumeric(ctx, other.Tenant.ID, id); !account.IsKind(err, account.KindUnauthorized) {
			t.Fatalf("another tenant ended the session: %v", err)
		}
		if err := svc.Sessions.LogoutNumeric(ctx, c.Tenant.ID, id); err != nil {
			t.Fatalf("logout: %v", err)
		}
		if err := svc.Sessions.LogoutNumeric(ctx, c.Tenant.ID, id); !account.IsKind(err, account.KindUnauthorized) {
			t.Fatalf("second logout of one session: %v", err)
		}
		for _, bad := range []int64{0, 1 << 53, -(1 << 53)} {
			if err := svc.Sessions.LogoutNumeric(ctx, c.Tenant.ID, bad); !account.IsKind(err, account.KindUnauthorized) {
				t.Errorf("LogoutNumeric(%d): %v", bad, err)
			}
		}
	})
}

func formatInt(n int64) string { return strconv.FormatInt(n, 10) }

func TestNumericSessionExpires(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		clk := &clock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
		svc, _ := mustServiceAt(t, open, clk.Now)
		c := secretCaller(t, svc)
		mustCreate(t, svc, c, account.NewCustomer{Email: "idle@example.com", Password: dialectPassword})
		_, id, err := svc.Sessions.LoginNumeric(ctx, c, "idle@example.com", dialectPassword)
		if err != nil {
			t.Fatal(err)
		}
		clk.advance(25 * time.Hour)
		if err := svc.Sessions.LogoutNumeric(ctx, c.Tenant.ID, id); !account.IsKind(err, account.KindUnauthorized) {
			t.Fatalf("logout of a session idle for 25 h: %v", err)
		}
	})
}

func TestPublicKey(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		svc, _ := mustService(t, open)
		c := secretCaller(t, svc)
		a := mustCreate(t, svc, c, account.NewCustomer{Email: "a@example.com", State: account.StateOffline}).Customer
		b := mustCreate(t, svc, c, account.NewCustomer{Email: "b@example.com", State: account.StateOffline}).Customer
		ka, kb := svc.Keyring.CustomerKey(a), svc.Keyring.CustomerKey(b)
		if len(ka) != 32 || bytes.Equal(ka, kb) {
			t.Fatalf("public keys %x and %x", ka, kb)
		}
		if !bytes.Equal(ka, svc.Keyring.CustomerKey(a)) {
			t.Fatal("a customer's public key changed")
		}
	})
}

func TestLoginBeforeConfirm(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		svc, _ := mustService(t, open)
		pub := publicCaller(t, svc, account.DefaultTenant)
		reg := account.Registration{Email: "early@example.com", Password: dialectPassword, LoginBeforeConfirm: true,
			Profile: account.Profile{FirstName: "Max"}}
		if _, err := svc.Registrations.Register(ctx, pub, reg); err != nil {
			t.Fatal(err)
		}
		cust, _, err := svc.Sessions.Login(ctx, pub, "early@example.com", dialectPassword)
		if err != nil {
			t.Fatalf("login before confirming: %v", err)
		}
		if cust.State != account.StatePendingActive || cust.EmailConfirmedAt != nil || cust.FirstName != "Max" {
			t.Fatalf("registered as %+v", cust)
		}
		// The registrant's names are not the address owner's yet: the
		// mail greets neutrally.
		ms, err := svc.Outbox.Claim(ctx, "test", 10)
		if err != nil || len(ms) != 1 || ms[0].ToName != "" || strings.Contains(ms[0].Text, "Max") {
			t.Fatalf("confirmation mail of a registration that logs in first: %+v, %v", ms, err)
		}
		// A second registration of the address changes nothing and gives
		// the stranger no way in.
		reg.Password, reg.FirstName = "Fremdes-Passwort-2030", "Eve"
		if _, err := svc.Registrations.Register(ctx, pub, reg); err != nil {
			t.Fatal(err)
		}
		if _, _, err := svc.Sessions.Login(ctx, pub, "early@example.com", "Fremdes-Passwort-2030"); err == nil {
			t.Fatal("a second registrant logged in to the account")
		}
		again, _, err := svc.Sessions.Login(ctx, pub, "early@example.com", dialectPassword)
		if err != nil || again.FirstName != "Max" {
			t.Fatalf("the first registrant after a second registration: %+v, %v", again, err)
		}
	})
}

func TestEmailStorageHMAC(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		svc, st := mustService(t, open)
		if _, err := svc.Tenants.Create(ctx, "private"); err != nil {
			t.Fatal(err)
		}
		if err := svc.Tenants.Set(ctx, "private", "email_storage", "hmac"); err != nil {
			t.Fatal(err)
		}
		pub := publicCaller(t, svc, "private")
		sec := pub
		sec.Key = account.KeySecret

		const addr = "Privat.Person@Example.com"
		if _, err := svc.Registrations.Register(ctx, pub, account.Registration{Email: addr, Password: dialectPassword}); err != nil {
			t.Fatal(err)
		}
		list, err := st.ListCustomers(ctx, pub.Tenant.ID, account.CustomerFilter{}, 0, 10)
		if err != nil || len(list) != 1 {
			t.Fatalf("customers: %v %v", list, err)
		}
		cust := list[0]
		if cust.Email != "" || !strings.HasPrefix(cust.EmailKey, "hmac:") || strings.Contains(strings.ToLower(cust.EmailKey), "example") {
			t.Fatalf("the row keeps the address: email %q, key %q", cust.Email, cust.EmailKey)
		}
		// Lookups by address still work, whatever its case.
		if got, err := svc.Customers.ByEmail(ctx, sec, "privat.person@example.COM"); err != nil || got.ID != cust.ID {
			t.Fatalf("CustomerByEmail: %+v %v", got, err)
		}
		if _, err := svc.Customers.Create(ctx, sec, account.NewCustomer{Email: "PRIVAT.PERSON@example.com"}); !account.IsKind(err, account.KindConflict) {
			t.Fatalf("a second customer for the address: %v", err)
		}
		// The key is tenant-salted: the same address elsewhere is another key.
		other := publicCaller(t, svc, account.DefaultTenant)
		other.Key = account.KeySecret
		plain := mustCreate(t, svc, other, account.NewCustomer{Email: addr, State: account.StateOffline}).Customer
		if plain.Email != addr {
			t.Fatalf("a plain tenant lost the address: %q", plain.Email)
		}

		// The confirmation mail went to the address the request carried.
		mails, err := svc.Outbox.Claim(ctx, "test", 10)
		if err != nil || len(mails) != 1 || mails[0].To != addr {
			t.Fatalf("queued mail: %+v, %v", mails, err)
		}
		// The row keeps no address, and still a password may not be it.
		if _, err := svc.Customers.SetPassword(ctx, sec, formatInt(cust.ID), "PRIVAT.person@example.com"); !account.IsKind(err, account.KindInvalid) {
			t.Fatalf("the address as password under hmac: %v", err)
		}
		// A flow without an address in the request sends nothing.
		if _, err := svc.Customers.SetPassword(ctx, sec, formatInt(cust.ID), "Neues-Passwort-2031"); err != nil {
			t.Fatal(err)
		}
		if ms, err := svc.Outbox.Claim(ctx, "test", 10); err != nil || len(ms) != 0 {
			t.Fatalf("mail without a known address: %+v, %v", ms, err)
		}
		// A reset request names the address, so its mail goes out.
		if _, err := svc.Recovery.Request(ctx, pub, "privat.person@example.com"); err != nil {
			t.Fatal(err)
		}
		if ms, err := svc.Outbox.Claim(ctx, "test", 10); err != nil || len(ms) != 1 || ms[0].To != "privat.person@example.com" {
			t.Fatalf("reset mail: %+v, %v", ms, err)
		}

		// The mode cannot change under existing customers.
		if err := svc.Tenants.Set(ctx, "private", "email_storage", "plain"); !account.IsKind(err, account.KindConflict) {
			t.Fatalf("email_storage changed under a customer: %v", err)
		}
		if err := svc.Tenants.Set(ctx, account.DefaultTenant, "email_storage", "hmac"); !account.IsKind(err, account.KindConflict) {
			t.Fatalf("email_storage changed under a customer: %v", err)
		}
	})
}

func TestRevealUnknownEmail(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		svc, _ := mustService(t, open)
		pub := publicCaller(t, svc, account.DefaultTenant)
		if _, err := svc.Recovery.Request(ctx, pub, "nobody@example.com"); err != nil {
			t.Fatalf("by default an unknown address is answered like a known one: %v", err)
		}
		pub.Policy.RevealsUnknownEmail = func(t account.Tenant) bool { return t.Slug == account.DefaultTenant }
		_, err := svc.Recovery.Request(ctx, pub, "nobody@example.com")
		if e, ok := err.(*account.Error); !ok || e.Kind != account.KindNotFound || e.Code != "email_unknown" {
			t.Fatalf("with RevealsUnknownEmail: %v", err)
		}
		other, err := svc.Tenants.Create(ctx, "keeps-quiet")
		if err != nil {
			t.Fatal(err)
		}
		pub.Tenant = other
		if _, err := svc.Recovery.Request(ctx, pub, "nobody@example.com"); err != nil {
			t.Fatalf("a tenant the policy does not reveal for: %v", err)
		}
	})
}

func TestSessionsNone(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		svc, _ := mustService(t, open)
		c := secretCaller(t, svc)
		res, err := svc.Registrations.Register(ctx, c, account.Registration{Email: "quiet@example.com", Password: dialectPassword})
		if err != nil || res.ConfirmToken == "" {
			t.Fatalf("Register: %+v, %v", res, err)
		}
		quiet := c
		quiet.Policy.Sessions = account.SessionsNone
		cust, sess, err := svc.Registrations.Confirm(ctx, quiet, res.ConfirmToken, "")
		if err != nil || cust.State != account.StateActive {
			t.Fatalf("Confirm: %+v, %v", cust, err)
		}
		if sess.Token != "" || sess.ID != 0 {
			t.Fatalf("a caller that keeps no session got one: %+v", sess)
		}
		reset, err := svc.Recovery.Request(ctx, c, "quiet@example.com")
		if err != nil || reset.Token == "" {
			t.Fatalf("RequestPasswordReset: %+v, %v", reset, err)
		}
		if _, sess, err = svc.Recovery.Complete(ctx, quiet, reset.Token, "Neues-Passwort-2031", nil); err != nil || sess.Token != "" {
			t.Fatalf("CompletePasswordReset: %+v, %v", sess, err)
		}
		// Others still get theirs.
		reset, _ = svc.Recovery.Request(ctx, c, "quiet@example.com")
		if _, sess, err = svc.Recovery.Complete(ctx, c, reset.Token, "Drittes-Passwort-2032", nil); err != nil || sess.Token == "" {
			t.Fatalf("CompletePasswordReset under SessionsOpened: %+v, %v", sess, err)
		}
		if _, _, err := svc.Sessions.Lookup(ctx, c.Tenant.ID, sess.Token); err != nil {
			t.Fatalf("the session of a normal reset: %v", err)
		}
	})
}

// TestFailedLoginsCostTheSame: a wrong password costs two hashes whatever
// the address: unknown, an account, a registration waiting for its link,
// one that may log in before confirming, or an account someone registered
// against. Login answers only tell "wrong" from "not confirmed", so time
// must not tell more.
func TestFailedLoginsCostTheSame(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		pool := password.NewPool(1, 0)
		svc := startService(t, open(t), pool, nil)
		sec := secretCaller(t, svc)
		pub := publicCaller(t, svc, account.DefaultTenant)
		mustCreate(t, svc, sec, account.NewCustomer{Email: "active@example.com", Password: dialectPassword})
		mustCreate(t, svc, sec, account.NewCustomer{Email: "claimed@example.com", Password: dialectPassword})
		for _, r := range []account.Registration{
			{Email: "pending@example.com", Password: dialectPassword},
			{Email: "early@example.com", Password: dialectPassword, LoginBeforeConfirm: true},
			{Email: "claimed@example.com", Password: "Fremdes-Passwort-2030"},
		} {
			if _, err := svc.Registrations.Register(ctx, pub, r); err != nil {
				t.Fatal(err)
			}
		}
		for _, email := range []string{"nobody@example.com", "active@example.com", "pending@example.com", "early@example.com", "claimed@example.com"} {
			before := pool.Runs()
			_, _, err := svc.Sessions.Login(ctx, pub, email, "Falsches-Passwort-2030")
			if !account.IsKind(err, account.KindUnauthorized) {
				t.Fatalf("%s: %v", email, err)
			}
			if n := pool.Runs() - before; n != 2 {
				t.Errorf("a wrong password for %s cost %d hashes, want 2", email, n)
			}
		}
	})
}

// TestPurgeMailRecords: the record of a sent mail goes after the retention
// (30 days by default); unsent mail stays whatever its age.
func TestPurgeMailRecords(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		clk := &clock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
		svc, _ := mustServiceAt(t, open, clk.Now)
		pub := publicCaller(t, svc, account.DefaultTenant)
		if _, err := svc.Registrations.Register(ctx, pub, account.Registration{Email: "sent@example.com", Password: dialectPassword}); err != nil {
			t.Fatal(err)
		}
		ms, err := svc.Outbox.Claim(ctx, "relay", 10)
		if err != nil || len(ms) != 1 {
			t.Fatalf("ClaimMail: %v, %v", ms, err)
		}
		if err := svc.Outbox.Sent(ctx, ms[0].ID); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Registrations.Register(ctx, pub, account.Registration{Email: "unsent@example.com", Password: dialectPassword}); err != nil {
			t.Fatal(err)
		}
		count := func() int {
			views, err := svc.Outbox.List(ctx, account.DefaultTenant, 10)
			if err != nil {
				t.Fatal(err)
			}
			return len(views)
		}
		clk.advance(29 * 24 * time.Hour)
		if err := svc.Purge(ctx); err != nil || count() != 2 {
			t.Fatalf("after 29 days: %d mails, %v", count(), err)
		}
		clk.advance(2 * 24 * time.Hour)
		if err := svc.Purge(ctx); err != nil || count() != 1 {
			t.Fatalf("after 31 days: %d mails, %v; want the unsent one", count(), err)
		}
	})
}

// TestMailGreetings: names greet the address's owner unless anyone may
// have typed them (a public registration that logs in before confirming),
// whoever triggers the mail; confirming, or a back office setting the
// names, makes them the customer's.
func TestMailGreetings(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		svc, _ := mustService(t, open)
		sec := secretCaller(t, svc)
		pub := publicCaller(t, svc, account.DefaultTenant)
		nextMail := func(what string) account.OutgoingMail {
			t.Helper()
			ms, err := svc.Outbox.Claim(ctx, "test", 10)
			if err != nil || len(ms) != 1 {
				t.Fatalf("%s: %d mails, %v", what, len(ms), err)
			}
			return ms[0]
		}
		// A back office's names greet, even in mail a public caller asks for.
		mustCreate(t, svc, sec, account.NewCustomer{Email: "office@example.com", Password: dialectPassword,
			Profile: account.Profile{FirstName: "Erika", LastName: "Muster"}})
		if _, err := svc.Recovery.Request(ctx, pub, "office@example.com"); err != nil {
			t.Fatal(err)
		}
		if m := nextMail("public reset of a back office's customer"); m.ToName != "Erika Muster" || !strings.Contains(m.Text, "Erika") {
			t.Errorf("public reset of a back office's customer greets %q:\n%s", m.ToName, m.Text)
		}
		// A stranger's names greet nobody, even in mail a secret key asks for.
		if _, err := svc.Registrations.Register(ctx, pub, account.Registration{Email: "early@example.com", Password: dialectPassword,
			LoginBeforeConfirm: true, Profile: account.Profile{FirstName: "Call", LastName: "+1-555-0100"}}); err != nil {
			t.Fatal(err)
		}
		if m := nextMail("registration"); m.ToName != "" || strings.Contains(m.Text, "555") {
			t.Errorf("the registration's mail greets %q", m.ToName)
		}
		res, err := svc.Recovery.Request(ctx, sec, "early@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if m := nextMail("secret-key reset"); m.ToName != "" || strings.Contains(m.Text, "555") {
			t.Errorf("a secret key's reset greets with a stranger's names: %q", m.ToName)
		}
		// A back office setting only the salutation vouches for nothing.
		early, err := svc.Customers.ByEmail(ctx, sec, "early@example.com")
		if err != nil {
			t.Fatal(err)
		}
		ms := "ms"
		if _, err := svc.Customers.Update(ctx, sec, formatInt(early.ID), account.CustomerPatch{Salutation: &ms}); err != nil {
			t.Fatal(err)
		}
		if !mustLoad(t, svc, sec, early.ID).NamesUnconfirmed {
			t.Error("a salutation patch vouched for a stranger's names")
		}
		// Once the owner resets (or confirms), the names are the account's.
		if _, _, err := svc.Recovery.Complete(ctx, pub, res.Token, "Neues-Passwort-2031", nil); err != nil {
			t.Fatal(err)
		}
		if m := nextMail("password changed"); m.ToName != "Call +1-555-0100" {
			t.Errorf("after the owner's reset the mail greets %q", m.ToName)
		}
	})
}

func mustLoad(t *testing.T, svc *account.Service, c account.Caller, id int64) account.Customer {
	t.Helper()
	cust, err := svc.Customers.Get(context.Background(), c, formatInt(id))
	if err != nil {
		t.Fatal(err)
	}
	return cust
}

// TestClaimsAndPasswordSets: an admin's password set ends the registrations
// waiting on a pending customer (they would replace it when confirmed),
// and a resend adds a link without voiding the registrant's.
func TestClaimsAndPasswordSets(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		svc, _ := mustService(t, open)
		sec := secretCaller(t, svc)
		pub := publicCaller(t, svc, account.DefaultTenant)

		res, err := svc.Registrations.Register(ctx, sec, account.Registration{Email: "claimed@example.com", Password: dialectPassword})
		if err != nil || res.ConfirmToken == "" {
			t.Fatalf("Register: %+v, %v", res, err)
		}
		if _, err := svc.Customers.SetPassword(ctx, sec, formatInt(res.Customer.ID), "Admin-Passwort-2031"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := svc.Registrations.Confirm(ctx, pub, res.ConfirmToken, ""); !account.IsKind(err, account.KindUnauthorized) && !account.IsKind(err, account.KindInvalid) {
			t.Fatalf("a registration confirmed after an admin set the password: %v", err)
		}
		if _, _, err := svc.Sessions.Login(ctx, pub, "claimed@example.com", dialectPassword); err == nil {
			t.Fatal("the registration's password replaced the admin's")
		}

		first, err := svc.Registrations.Register(ctx, sec, account.Registration{Email: "resent@example.com", Password: dialectPassword})
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.Registrations.ResendConfirmation(ctx, pub, "resent@example.com"); err != nil {
			t.Fatal(err)
		}
		cust, _, err := svc.Registrations.Confirm(ctx, pub, first.ConfirmToken, "")
		if err != nil || cust.State != account.StateActive {
			t.Fatalf("the registrant's link after a resend: %+v, %v", cust, err)
		}
		if _, _, err := svc.Sessions.Login(ctx, pub, "resent@example.com", dialectPassword); err != nil {
			t.Fatalf("the registration's password after confirming: %v", err)
		}
	})
}

// TestFullPoolRefusesBeforeAnyWrite: a login that cannot get a place in
// the hashing pool is refused busy before it reads or writes anything,
// so an overload's refusals cost no database work and count nothing
// against the address.
func TestFullPoolRefusesBeforeAnyWrite(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		pool := password.NewPool(1, 1)
		st := open(t)
		svc := startService(t, st, pool, nil)
		sec := secretCaller(t, svc)
		mustCreate(t, svc, sec, account.NewCustomer{Email: "busy@example.com", Password: dialectPassword})
		pub := publicCaller(t, svc, account.DefaultTenant)
		var held []*password.Place
		for range pool.Capacity() {
			pl, err := pool.Take()
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, pl)
		}
		runs := pool.Runs()
		_, _, err := svc.Sessions.Login(ctx, pub, "busy@example.com", "Falsches-Passwort-2030")
		if e := account.AsError(err); e == nil || e.Kind != account.KindUnavailable || e.Code != account.CodeBusy || e.RetryAfter <= 0 {
			t.Fatalf("login with a full pool: %v, want busy with a Retry-After", err)
		}
		if f, err := st.LoginFailures(ctx, sec.Tenant.ID, "busy@example.com"); err != nil || f != (account.LoginFailures{}) {
			t.Errorf("the refused login left %+v, %v: want nothing written", f, err)
		}
		if pool.Runs() != runs {
			t.Errorf("the refused login hashed")
		}
		for _, pl := range held {
			pl.Leave()
		}
		// With room, the same wrong password is checked and counted there:
		// the record above was looked for under the right key.
		if _, _, err := svc.Sessions.Login(ctx, pub, "busy@example.com", "Falsches-Passwort-2030"); !account.IsKind(err, account.KindUnauthorized) {
			t.Fatalf("a wrong password with room: %v", err)
		}
		if f, err := st.LoginFailures(ctx, sec.Tenant.ID, "busy@example.com"); err != nil || f.Count != 1 {
			t.Fatalf("after a checked failure: %+v, %v; want a count of 1", f, err)
		}
		if _, _, err := svc.Sessions.Login(ctx, pub, "busy@example.com", dialectPassword); err != nil {
			t.Errorf("login once the pool has room: %v", err)
		}
		if pool.Pending() != 0 {
			t.Errorf("%d places still held after the logins", pool.Pending())
		}
	})
}

// TestUniformResponseOnlyWhereItHides: a public registration takes the
// uniform response time, which hides whether the address had an account;
// a secret key, which is told (email_taken), does not wait for it. The
// uniform time here is an hour: the public call ends when its context
// does, the secret one long before.
func TestUniformResponseOnlyWhereItHides(t *testing.T) {
	svc := startService(t, teststore.SQLite(t), password.NewPool(0, 0), func(c *account.Config) { c.UniformResponse = time.Hour })
	secret, public := secretCaller(t, svc), publicCaller(t, svc, account.DefaultTenant)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := svc.Registrations.Register(ctx, secret, account.Registration{Email: "office@example.com", Password: dialectPassword}); err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatalf("a secret key's registration waited for the uniform response time")
	}

	short, cancelShort := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancelShort()
	if _, err := svc.Registrations.Register(short, public, account.Registration{Email: "visitor@example.com", Password: dialectPassword}); err != nil {
		t.Fatal(err)
	}
	if short.Err() == nil {
		t.Fatalf("a public registration answered before the uniform response time")
	}
}

// TestUniformWaitPassesTheTurn: a public registration that holds its
// place in the hashing pool and its turn, as the native API's do, gives
// the turn to the next in line while it waits out the uniform response
// time, so that more registrations than the pool has turns are written
// while all of them wait.
func TestUniformWaitPassesTheTurn(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		st := open(t)
		svc := startService(t, st, password.NewPool(1, 8), func(c *account.Config) { c.UniformResponse = time.Hour })
		public := publicCaller(t, svc, account.DefaultTenant)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		defer wg.Wait()
		defer cancel()
		const n = 6 // a pool of one slot has two turns
		for i := range n {
			wg.Go(func() {
				held, release, err := svc.HoldHashing(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				defer release()
				if err := svc.AwaitHashingTurn(held); err != nil {
					t.Error(err)
					return
				}
				_, err = svc.Registrations.Register(held, public, account.Registration{Email: fmt.Sprintf("waiting-%d@example.com", i), Password: dialectPassword})
				// The test cancels once every customer can be read, which on
				// PostgreSQL may be before the commit's answer reaches pgx.
				if err != nil && !(ctx.Err() != nil && errors.Is(err, context.Canceled)) {
					t.Error(err)
				}
			})
		}
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
			written := 0
			for i := range n {
				if _, err := st.CustomerByEmailKey(context.Background(), public.Tenant.ID, fmt.Sprintf("waiting-%d@example.com", i)); err == nil {
					written++
				}
			}
			if written == n {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d registrations written while all wait out the uniform time", written, n)
			}
		}
	})
}
