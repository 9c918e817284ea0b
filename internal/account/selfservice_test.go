package account_test

import (
	"context"
	"errors"
	"testing"

	"pforte/internal/account"
	"pforte/internal/store/teststore"
)

// TestUpdateProfile: a logged-in customer changes their own profile; bad
// values are refused, and names typed before the address is confirmed
// stay unconfirmed.
func TestUpdateProfile(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		svc, _ := mustService(t, open)
		pub := publicCaller(t, svc, account.DefaultTenant)
		if _, err := svc.Registrations.Register(ctx, pub, account.Registration{Email: "self@example.com", Password: dialectPassword,
			LoginBeforeConfirm: true}); err != nil {
			t.Fatal(err)
		}
		_, sess, err := svc.Sessions.Login(ctx, pub, "self@example.com", dialectPassword)
		if err != nil {
			t.Fatal(err)
		}
		first, last, salutation, locale := "Erika", "Muster", "ms", "en"
		cust, err := svc.Sessions.UpdateProfile(ctx, pub.Tenant.ID, sess.Token,
			account.ProfileChange{FirstName: &first, LastName: &last, Salutation: &salutation, Locale: &locale})
		if err != nil || cust.FirstName != "Erika" || cust.Salutation != "ms" || cust.Locale != "en" || !cust.NamesUnconfirmed {
			t.Fatalf("UpdateProfile = %+v, %v", cust, err)
		}
		bad := "sir"
		if _, err := svc.Sessions.UpdateProfile(ctx, pub.Tenant.ID, sess.Token, account.ProfileChange{Salutation: &bad}); !account.IsKind(err, account.KindInvalid) {
			t.Fatalf("a bad salutation: %v", err)
		}
		if _, err := svc.Sessions.UpdateProfile(ctx, pub.Tenant.ID, "no-such-session", account.ProfileChange{FirstName: &first}); !account.IsKind(err, account.KindUnauthorized) {
			t.Fatalf("without a session: %v", err)
		}
	})
}

// TestEnrol: a secret key creates the customer as asked; any other key
// registers, answers the same whatever the address, and may not set what
// only a back office may.
func TestEnrol(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		svc, _ := mustService(t, open)
		secret, pub := secretCaller(t, svc), publicCaller(t, svc, account.DefaultTenant)
		res, err := svc.Registrations.Enrol(ctx, secret, account.NewCustomer{Email: "office@example.com", State: account.StatePending, Activation: true}, "de")
		if err != nil || res.Customer.ID == 0 || res.InviteToken == "" {
			t.Fatalf("Enrol with a secret key = %+v, %v", res, err)
		}
		for _, n := range []account.NewCustomer{
			{Email: "p@example.com", State: account.StateActive},
			{Email: "p@example.com", UUID: "11efbcf6-1628-4719-a18b-b3e6f12b1130"},
			{Email: "p@example.com", TemplateRef: "1"},
		} {
			_, err := svc.Registrations.Enrol(ctx, pub, n, "")
			var e *account.Error
			if !errors.As(err, &e) || e.Code != account.CodeSecretKeyRequired || len(e.Fields) != 1 {
				t.Errorf("Enrol %+v with a public key: %v", n, err)
			}
		}
		for _, email := range []string{"office@example.com", "new@example.com"} {
			res, err := svc.Registrations.Enrol(ctx, pub, account.NewCustomer{Email: email, Password: dialectPassword}, "en")
			if err != nil || res.Customer.ID != 0 {
				t.Errorf("Enrol %s with a public key = %+v, %v; want an answer that tells nothing", email, res, err)
			}
		}
	})
}

// TestConfirmCustomer: a link that names its customer confirms once; then
// it is already confirmed, and a customer that is gone is not found.
func TestConfirmCustomer(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		svc, _ := mustService(t, open)
		c := secretCaller(t, svc)
		res, err := svc.Registrations.Register(ctx, c, account.Registration{Email: "named@example.com", Password: dialectPassword})
		if err != nil {
			t.Fatal(err)
		}
		quiet := c
		quiet.Policy.Sessions = account.SessionsNone
		if cust, _, err := svc.Registrations.ConfirmCustomer(ctx, quiet, res.Customer.UUID, res.ConfirmToken); err != nil || cust.State != account.StateActive {
			t.Fatalf("ConfirmCustomer = %+v, %v", cust, err)
		}
		if _, _, err := svc.Registrations.ConfirmCustomer(ctx, quiet, res.Customer.UUID, res.ConfirmToken); !errors.Is(err, account.ErrAlreadyConfirmed) {
			t.Fatalf("the same link again: %v, want ErrAlreadyConfirmed", err)
		}
		if _, _, err := svc.Registrations.ConfirmCustomer(ctx, quiet, "6e55e861-6d9f-4177-90b8-a0019c58f47e", "x"); !errors.Is(err, account.ErrCustomerNotFound) {
			t.Fatalf("an unknown customer: %v, want ErrCustomerNotFound", err)
		}
	})
}

// TestCodeAnswersAlike: activation by code refuses a weak password before
// it looks the address up, so known and unknown addresses answer alike.
func TestCodeAnswersAlike(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		svc, _ := mustService(t, open)
		secret := secretCaller(t, svc)
		if _, err := svc.Customers.Create(ctx, secret, account.NewCustomer{Email: "invited@example.com", Activation: true}); err != nil {
			t.Fatal(err)
		}
		pub := publicCaller(t, svc, account.DefaultTenant)
		var answers []string
		for _, email := range []string{"invited@example.com", "nobody@example.com"} {
			for _, pw := range []string{"a", dialectPassword} {
				confirmation := pw + "x"
				_, _, err := svc.Invitations.AcceptCode(ctx, pub, email, "12345678", pw, &confirmation)
				answers = append(answers, account.AsError(err).Error())
			}
		}
		if answers[0] != answers[2] || answers[1] != answers[3] {
			t.Fatalf("known and unknown addresses answer differently:\n%q", answers)
		}
	})
}
