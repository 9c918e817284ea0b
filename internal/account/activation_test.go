package account_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"pforte/internal/account"
	"pforte/internal/store/teststore"
)

func secretCaller(t *testing.T, svc *account.Service) account.Caller {
	t.Helper()
	c, err := svc.Tenants.Caller(context.Background(), account.DefaultTenant)
	if err != nil {
		t.Fatal(err)
	}
	c.Key = account.KeySecret
	return c
}

func mustCreate(t *testing.T, svc *account.Service, c account.Caller, n account.NewCustomer) account.CreateResult {
	t.Helper()
	res, err := svc.Customers.Create(context.Background(), c, n)
	if err != nil {
		t.Fatalf("CreateCustomer(%s): %v", n.Email, err)
	}
	return res
}

const (
	uuidA = "11efbcf6-1628-4719-a18b-b3e6f12b1130"
	uuidB = "6e55e861-6d9f-4177-90b8-a0019c58f47e"
)

func TestAdopt(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		svc, _ := mustService(t, open)
		c := secretCaller(t, svc)

		off := mustCreate(t, svc, c, account.NewCustomer{Email: "off@example.com", UUID: uuidA, State: account.StateOffline, Profile: account.Profile{LastName: "Known"}})
		got := mustCreate(t, svc, c, account.NewCustomer{Email: "OFF@example.com", UUID: uuidB, Password: "adopted-Secret-phrase",
			State: account.StateActive, Adopt: true, Profile: account.Profile{FirstName: "New"}})
		if got.Customer.ID != off.Customer.ID || got.Customer.UUID != uuidA || got.Customer.State != account.StateActive ||
			got.Customer.LastName != "Known" || got.Customer.FirstName != "New" {
			t.Fatalf("adopting an offline contact: %+v", got.Customer)
		}
		pend := mustCreate(t, svc, c, account.NewCustomer{Email: "pend@example.com", State: account.StatePending})
		got = mustCreate(t, svc, c, account.NewCustomer{Email: "pend@example.com", UUID: uuidB, State: account.StatePending, Adopt: true})
		if got.Customer.ID != pend.Customer.ID || got.Customer.UUID != uuidB {
			t.Fatalf("adopting a pending customer must take the given uuid: %+v", got.Customer)
		}
		for _, n := range []account.NewCustomer{
			{Email: "off@example.com", Adopt: true},                // now active
			{Email: "pend@example.com"},                            // exists, no adopt
			{Email: "other@example.com", UUID: uuidA, Adopt: true}, // uuid taken
		} {
			if _, err := svc.Customers.Create(ctx, c, n); !account.IsKind(err, account.KindConflict) {
				t.Errorf("CreateCustomer(%+v) = %v, want a conflict", n, err)
			}
		}
	})
}

func TestTemplateUser(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		svc, _ := mustService(t, open)
		c := secretCaller(t, svc)
		tmpl := mustCreate(t, svc, c, account.NewCustomer{Email: "tmpl@example.com", UUID: uuidB, State: account.StateOffline,
			Profile: account.Profile{Locale: "en", PartnerRef: "6"}})
		got := mustCreate(t, svc, c, account.NewCustomer{Email: "copy@example.com", TemplateRef: tmpl.Customer.UUID, State: account.StateOffline})
		if got.Customer.Locale != "en" || got.Customer.PartnerRef != "6" {
			t.Fatalf("template not copied: %+v", got.Customer)
		}
		own := mustCreate(t, svc, c, account.NewCustomer{Email: "own@example.com", TemplateRef: uuidB, State: account.StateOffline,
			Profile: account.Profile{PartnerRef: "7"}})
		if own.Customer.PartnerRef != "7" || own.Customer.Locale != "en" {
			t.Fatalf("given values must win over the template's: %+v", own.Customer)
		}
		_, err := svc.Customers.Create(context.Background(), c, account.NewCustomer{Email: "x@example.com", TemplateRef: uuidA})
		if e := account.AsError(err); e.Code != "template_user_not_found" {
			t.Fatalf("unknown template: %v", err)
		}
	})
}

func TestActivationAndResetCodes(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		svc, _ := mustService(t, open)
		c := secretCaller(t, svc)
		res := mustCreate(t, svc, c, account.NewCustomer{Email: "act@example.com", Password: "act-Secret-phrase",
			State: account.StatePending, Activation: true})
		if res.InviteToken == "" || len(res.ActivationCode) != 8 || res.ConfirmToken != "" {
			t.Fatalf("activation: %+v", res)
		}
		fresh, err := svc.Invitations.Issue(ctx, c, res.Customer)
		if err != nil || len(fresh.Code) != 8 || fresh.Token == "" {
			t.Fatalf("IssueActivation: %+v, %v", fresh, err)
		}
		if _, _, err := svc.Invitations.AcceptCode(ctx, c, "act@example.com", res.ActivationCode, "", nil); err == nil {
			t.Fatal("the code issued before IssueActivation still works")
		}
		cust, sess, err := svc.Invitations.AcceptCode(ctx, c, "act@example.com", fresh.Code, "", nil)
		if err != nil || cust.State != account.StateActive || sess.Token == "" {
			t.Fatalf("activation without a new password: %+v, %v", cust, err)
		}
		if _, _, err := svc.Sessions.Login(ctx, c, "act@example.com", "act-Secret-phrase"); err != nil {
			t.Fatalf("login after activation: %v", err)
		}

		noPw := mustCreate(t, svc, c, account.NewCustomer{Email: "nopw@example.com", State: account.StatePending, Activation: true})
		if _, _, err := svc.Invitations.AcceptCode(ctx, c, "nopw@example.com", noPw.ActivationCode, "", nil); !account.IsKind(err, account.KindInvalid) {
			t.Fatalf("activation of a customer without a password, with none given: %v", err)
		}

		_, code, err := svc.Recovery.IssueCode(ctx, c, "act@example.com")
		if err != nil || len(code) != 8 {
			t.Fatalf("IssueResetCode: %q, %v", code, err)
		}
		if _, _, err := svc.Recovery.CompleteWithCode(ctx, c, "act@example.com", code, "reset-Secret-phrase"); err != nil {
			t.Fatalf("ResetWithCode: %v", err)
		}
		if _, _, err := svc.Recovery.CompleteWithCode(ctx, c, "act@example.com", code, "again-Secret-phrase"); err == nil {
			t.Fatal("a reset code worked twice")
		}
		if _, _, err := svc.Sessions.Login(ctx, c, "act@example.com", "reset-Secret-phrase"); err != nil {
			t.Fatalf("login after reset: %v", err)
		}
	})
}

// A reset token names its customer: used for another one it is refused and
// stays usable for its own.
func TestResetBoundToCustomer(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		svc, _ := mustService(t, open)
		c := secretCaller(t, svc)
		a := mustCreate(t, svc, c, account.NewCustomer{Email: "a@example.com", Password: "a-Secret-phrase"})
		b := mustCreate(t, svc, c, account.NewCustomer{Email: "b@example.com", Password: "b-Secret-phrase"})
		res, err := svc.Recovery.Request(ctx, c, "a@example.com")
		if err != nil || res.Token == "" {
			t.Fatalf("reset request: %+v, %v", res, err)
		}
		if _, _, err := svc.Recovery.CompleteFor(ctx, c, itoa(b.Customer.ID), res.Token, "taken-Secret-phrase"); !account.IsKind(err, account.KindInvalid) {
			t.Fatalf("A's token on B: %v", err)
		}
		if _, _, err := svc.Recovery.CompleteFor(ctx, c, "999999", res.Token, "taken-Secret-phrase"); !account.IsKind(err, account.KindInvalid) {
			t.Fatalf("A's token on an unknown customer: %v", err)
		}
		cust, _, err := svc.Recovery.CompleteFor(ctx, c, itoa(a.Customer.ID), res.Token, "new-a-Secret-phrase")
		if err != nil || cust.ID != a.Customer.ID {
			t.Fatalf("A's token on A: %+v, %v", cust, err)
		}
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// A policy of TokensAlways hands a secret-key caller tokens whatever the
// delivery mode, and never a public one; TokensNever hands none; with
// SessionsNone a login checks the password and opens no session.
func TestPolicyTokensAndSessions(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		svc, _ := mustService(t, open)
		c := secretCaller(t, svc)
		if err := svc.Tenants.Set(ctx, account.DefaultTenant, "delivery", "mail"); err != nil {
			t.Fatal(err)
		}
		c.Tenant, _ = svc.Tenants.BySlug(ctx, account.DefaultTenant)
		reg := account.Registration{Email: "prop@example.com", Password: "prop-Secret-phrase"}
		res, err := svc.Registrations.Register(ctx, c, reg)
		if err != nil || res.ConfirmToken != "" {
			t.Fatalf("delivery mail must return no token: %+v, %v", res, err)
		}
		c.Policy = account.Policy{Tokens: account.TokensAlways, Sessions: account.SessionsNone}
		res, err = svc.Registrations.Register(ctx, c, reg)
		if err != nil || res.ConfirmToken == "" {
			t.Fatalf("TokensAlways must return the token: %+v, %v", res, err)
		}
		public := c
		public.Key = account.KeyPublic
		if res, err := svc.Recovery.Request(ctx, public, "prop@example.com"); err != nil || res.Token != "" {
			t.Fatalf("a public caller got a token: %+v, %v", res, err)
		}
		never := c
		never.Policy.Tokens = account.TokensNever
		if res, err := svc.Recovery.Request(ctx, never, "prop@example.com"); err != nil || res.Token != "" {
			t.Fatalf("a TokensNever caller got a token: %+v, %v", res, err)
		}
		cust, sess, err := svc.Registrations.Confirm(ctx, c, res.ConfirmToken, "")
		if err != nil || sess.Token != "" {
			t.Fatalf("Confirm under SessionsNone: %+v, %v", sess, err)
		}
		got, sess, err := svc.Sessions.Login(ctx, c, "prop@example.com", "prop-Secret-phrase")
		if err != nil || got.ID != cust.ID || sess.Token != "" {
			t.Fatalf("Login under SessionsNone: %+v, %+v, %v", got, sess, err)
		}
		if _, _, err := svc.Sessions.Login(ctx, c, "prop@example.com", "wrong-Secret-phrase"); !account.IsKind(err, account.KindUnauthorized) {
			t.Fatalf("Login with a wrong password: %v", err)
		}
	})
}

// Codes say nothing about the account before a right code: no
// "password required" for a wrong one, and a right code refused for any
// reason stays usable.
func TestCodesRevealNothingAndSurviveRefusals(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		svc, st := mustService(t, open)
		c := secretCaller(t, svc)
		res := mustCreate(t, svc, c, account.NewCustomer{Email: "tom@example.com", State: account.StatePending, Activation: true})
		wrong := "00000000"
		if wrong == res.ActivationCode {
			wrong = "11111111"
		}
		_, _, errKnown := svc.Invitations.AcceptCode(ctx, c, "tom@example.com", wrong, "", nil)
		_, _, errUnknown := svc.Invitations.AcceptCode(ctx, c, "nobody@example.com", wrong, "", nil)
		if account.AsError(errKnown).Code != "token_invalid" || account.AsError(errUnknown).Code != "token_invalid" {
			t.Fatalf("wrong code: known %v, unknown %v; want token_invalid for both", errKnown, errUnknown)
		}
		// The right code without a password, then with the address as
		// password: refused, and the code still works.
		if _, _, err := svc.Invitations.AcceptCode(ctx, c, "tom@example.com", res.ActivationCode, "", nil); !account.IsKind(err, account.KindInvalid) || account.AsError(err).Code == "token_invalid" {
			t.Fatalf("right code without a password: %v", err)
		}
		if _, _, err := svc.Invitations.AcceptCode(ctx, c, "tom@example.com", res.ActivationCode, "tom@example.com", nil); !account.IsKind(err, account.KindInvalid) {
			t.Fatalf("the address as password: %v", err)
		}
		if _, _, err := svc.Invitations.AcceptCode(ctx, c, "tom@example.com", res.ActivationCode, "tom-Secret-phrase", nil); err != nil {
			t.Fatalf("the code after two refusals: %v", err)
		}
		// Codes live 24 hours at most, even beside a 7-day invitation.
		live := mustCreate(t, svc, c, account.NewCustomer{Email: "later@example.com", State: account.StatePending, Activation: true})
		toks, err := st.LiveTokens(ctx, live.Customer.TenantID, live.Customer.ID, account.PurposeInvite, live.Customer.CreatedAt)
		if err != nil {
			t.Fatal(err)
		}
		for _, tok := range toks {
			if life := tok.ExpiresAt.Sub(tok.CreatedAt); tok.Code && life > 24*time.Hour {
				t.Errorf("a code lives %v", life)
			}
		}
	})
}

// Under delivery=mail no code comes back, not even to a secret key.
func TestNoCodesInMailDelivery(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		svc, _ := mustService(t, open)
		c := secretCaller(t, svc)
		res := mustCreate(t, svc, c, account.NewCustomer{Email: "m@example.com", Password: "m-Secret-phrase", State: account.StatePending, Activation: true})
		if err := svc.Tenants.Set(ctx, account.DefaultTenant, "delivery", "mail"); err != nil {
			t.Fatal(err)
		}
		c.Tenant, _ = svc.Tenants.BySlug(ctx, account.DefaultTenant)
		if a, err := svc.Invitations.Issue(ctx, c, res.Customer); err != nil || a.Code != "" || a.Token != "" {
			t.Fatalf("IssueActivation under mail delivery: %+v, %v", a, err)
		}
		if _, code, err := svc.Recovery.IssueCode(ctx, c, "m@example.com"); code != "" || !account.IsKind(err, account.KindForbidden) {
			t.Fatalf("IssueResetCode under mail delivery: %q, %v", code, err)
		}
	})
}

// An unknown customer in a bound reset fails where a wrong one does, after
// the password checks, so ids cannot be probed; adoption ends old tokens.
func TestBoundResetAndAdoptionEndTokens(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		svc, _ := mustService(t, open)
		c := secretCaller(t, svc)
		if _, _, err := svc.Recovery.CompleteFor(ctx, c, "999999", "no-token", "short"); !account.IsKind(err, account.KindInvalid) || account.AsError(err).Code == "token_invalid" {
			t.Fatalf("unknown id with a weak password: %v, want the policy's answer first", err)
		}
		pend := mustCreate(t, svc, c, account.NewCustomer{Email: "p@example.com", Password: "p-Secret-phrase", State: account.StatePending})
		reset, err := svc.Recovery.Request(ctx, c, "p@example.com")
		if err != nil || reset.Token == "" {
			t.Fatalf("reset: %+v, %v", reset, err)
		}
		mustCreate(t, svc, c, account.NewCustomer{Email: "p@example.com", Password: "new-p-Secret-phrase", State: account.StateActive, Adopt: true})
		if _, _, err := svc.Recovery.Complete(ctx, c, reset.Token, "x-Secret-phrase", nil); err == nil {
			t.Fatal("a reset token outlived adoption")
		}
		_ = pend
	})
}
