package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"pforte/internal/account"
)

// txRunner picks one of a store's ways to run a transaction; the
// transaction tests hold each to the same contract.
type txRunner func(s account.Store) func(ctx context.Context, fn func(tx account.Tx) error) error

func inTx(s account.Store) func(context.Context, func(account.Tx) error) error { return s.InTx }

func inTxWithoutSync(s account.Store) func(context.Context, func(account.Tx) error) error {
	return s.InTxWithoutSync
}

func inBulkTx(s account.Store) func(context.Context, func(account.Tx) error) error { return s.InBulkTx }

// markerError is what fn returns to make InTx roll back; the test checks
// that InTx hands back this very value, wrapped or not.
type markerError struct{ n int }

func (e *markerError) Error() string { return fmt.Sprintf("marker %d", e.n) }

// txWrites are what the commit and rollback tests write in one
// transaction: a customer with a token and a session, a tenant setting,
// a failed login and a tenant.
type txWrites struct {
	customer account.Customer
	token    account.Token
	session  account.Session
	tenant   account.Tenant
}

func (w *txWrites) write(ctx context.Context, tx account.Tx, tenantID int64) error {
	w.customer = newCustomer(tenantID, "alice")
	if err := tx.CreateCustomer(ctx, &w.customer); err != nil {
		return fmt.Errorf("CreateCustomer: %w", err)
	}
	w.token = newToken(w.customer, account.PurposeConfirm, "token", false)
	if err := tx.CreateToken(ctx, &w.token); err != nil {
		return fmt.Errorf("CreateToken: %w", err)
	}
	w.session = newSession(w.customer, "session")
	if err := tx.CreateSession(ctx, &w.session); err != nil {
		return fmt.Errorf("CreateSession: %w", err)
	}
	if err := tx.SetTenantSetting(ctx, tenantID, "default_locale", "en"); err != nil {
		return fmt.Errorf("SetTenantSetting: %w", err)
	}
	if err := tx.EndLoginAttempt(ctx, tenantID, w.customer.EmailKey, ptr(t0)); err != nil {
		return fmt.Errorf("EndLoginAttempt: %w", err)
	}
	w.tenant = account.Tenant{Slug: "inner"}
	if err := tx.CreateTenant(ctx, &w.tenant); err != nil {
		return fmt.Errorf("CreateTenant: %w", err)
	}
	return nil
}

func testTxCommit(inTx txRunner) func(t *testing.T, s account.Store) {
	return func(t *testing.T, s account.Store) {
		ctx := t.Context()
		a := mustTenant(t, s, "acme")
		var w txWrites
		err := inTx(s)(ctx, func(tx account.Tx) error {
			if err := w.write(ctx, tx, a.ID); err != nil {
				return err
			}
			got, err := tx.CustomerByEmailKey(ctx, a.ID, w.customer.EmailKey) // a transaction reads its own writes
			if err != nil {
				return fmt.Errorf("CustomerByEmailKey inside the transaction: %w", err)
			}
			if got.ID != w.customer.ID {
				return fmt.Errorf("CustomerByEmailKey inside the transaction found customer %d, want %d", got.ID, w.customer.ID)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("InTx: %v", err)
		}
		c, tok, sess, inner := w.customer, w.token, w.session, w.tenant
		wantCustomerReads(t, s, c)
		wantSession(t, s, "committed session", sess)
		wantLoginFailures(t, s, a.ID, c.EmailKey, account.LoginFailures{Count: 1, Last: t0})
		got, err := s.TenantByID(ctx, a.ID)
		if err != nil {
			t.Fatalf("TenantByID: %v", err)
		}
		a.Settings = map[string]string{"default_locale": "en"}
		checkTenant(t, "tenant with a committed setting", got, a)
		if _, err := s.TenantBySlug(ctx, inner.Slug); err != nil {
			t.Errorf("TenantBySlug(committed tenant): %v", err)
		}
		mustConsume(t, s, tok, at(time.Minute), 5, 0)
	}
}

func testTxRollback(inTx txRunner) func(t *testing.T, s account.Store) {
	return func(t *testing.T, s account.Store) {
		ctx := t.Context()
		a := mustTenant(t, s, "acme")
		e := mustCustomer(t, s, newCustomer(a.ID, "existing"))
		eTok := mustToken(t, s, newToken(e, account.PurposeConfirm, "existing token", false))
		eSess := mustSession(t, s, newSession(e, "existing session"))

		var w txWrites
		marker := &markerError{42}
		err := inTx(s)(ctx, func(tx account.Tx) error {
			if err := w.write(ctx, tx, a.ID); err != nil {
				return err
			}
			changed := e
			changed.FirstName = "Changed"
			if err := tx.UpdateCustomer(ctx, &changed); err != nil {
				return fmt.Errorf("UpdateCustomer: %w", err)
			}
			if _, err := tx.ConsumeToken(ctx, a.ID, eTok.Hash, eTok.Purpose, at(time.Minute), 5); err != nil {
				return fmt.Errorf("ConsumeToken: %w", err)
			}
			if err := tx.DeleteSession(ctx, a.ID, eSess.ID); err != nil {
				return fmt.Errorf("DeleteSession: %w", err)
			}
			return fmt.Errorf("after all writes: %w", marker)
		})
		if !errors.Is(err, marker) {
			t.Fatalf("InTx = %v, want the error fn returned", err)
		}
		var me *markerError
		if !errors.As(err, &me) || me != marker {
			t.Errorf("errors.As(InTx error) = %v, want the very *markerError fn returned", me)
		}

		// Nothing of fn's writes remains.
		c, sess := w.customer, w.session
		_, err = s.CustomerByEmailKey(ctx, a.ID, c.EmailKey)
		wantErr(t, "CustomerByEmailKey(rolled back)", err, account.ErrNotFound)
		_, err = s.CustomerByID(ctx, a.ID, c.ID)
		wantErr(t, "CustomerByID(rolled back)", err, account.ErrNotFound)
		mustCustomerCount(t, s, a.ID, 1)
		wantNoSession(t, s, "rolled-back session", sess)
		wantLoginFailures(t, s, a.ID, c.EmailKey, account.LoginFailures{})
		got, err := s.TenantByID(ctx, a.ID)
		if err != nil {
			t.Fatalf("TenantByID: %v", err)
		}
		a.Settings = map[string]string{}
		checkTenant(t, "tenant after a rolled-back setting", got, a)
		_, err = s.TenantBySlug(ctx, "inner")
		wantErr(t, "TenantBySlug(rolled back)", err, account.ErrNotFound)
		wantCustomerReads(t, s, e)
		wantSession(t, s, "session deleted in a rolled-back transaction", eSess)
		mustConsume(t, s, eTok, at(time.Minute), 5, 0)
	}
}

func testTxPanic(inTx txRunner) func(t *testing.T, s account.Store) {
	return func(t *testing.T, s account.Store) {
		a := mustTenant(t, s, "acme")
		var c account.Customer
		boom := &markerError{7} // panic with a unique value
		func() {
			defer func() {
				if r := recover(); r != boom {
					t.Errorf("recovered %v from InTx, want the panic value of fn", r)
				}
			}()
			err := inTx(s)(t.Context(), func(tx account.Tx) error {
				c = newCustomer(a.ID, "alice")
				if err := tx.CreateCustomer(t.Context(), &c); err != nil {
					return err
				}
				panic(boom)
			})
			t.Errorf("InTx returned %v, want the panic of fn to propagate", err)
		}()

		// The store is still usable: a transaction left open would block here,
		// so bound the wait.
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		_, err := s.CustomerByEmailKey(ctx, a.ID, c.EmailKey)
		wantErr(t, "CustomerByEmailKey(rolled back by panic)", err, account.ErrNotFound)
		err = inTx(s)(ctx, func(tx account.Tx) error {
			d := newCustomer(a.ID, "dora")
			return tx.CreateCustomer(ctx, &d)
		})
		if err != nil {
			t.Fatalf("InTx after a panic: %v", err)
		}
		if _, err := s.CustomerByEmailKey(ctx, a.ID, "dora@example.com"); err != nil {
			t.Errorf("CustomerByEmailKey(committed after a panic): %v", err)
		}
	}
}

func testTxErrorsInside(inTx txRunner) func(t *testing.T, s account.Store) {
	return func(t *testing.T, s account.Store) {
		ctx := t.Context()
		a := mustTenant(t, s, "acme")
		e := mustCustomer(t, s, newCustomer(a.ID, "existing"))

		err := inTx(s)(ctx, func(tx account.Tx) error {
			_, err := tx.CustomerByEmailKey(ctx, a.ID, "nobody@example.com")
			if !errors.Is(err, account.ErrNotFound) {
				return fmt.Errorf("CustomerByEmailKey(unknown) inside a transaction = %v, want ErrNotFound", err)
			}
			return nil
		})
		if err != nil {
			t.Errorf("InTx: %v", err)
		}

		err = inTx(s)(ctx, func(tx account.Tx) error {
			dup := newCustomer(a.ID, "other")
			dup.EmailKey = e.EmailKey
			return tx.CreateCustomer(ctx, &dup)
		})
		wantErr(t, "InTx(CreateCustomer(duplicate))", err, account.ErrDuplicate)
		mustCustomerCount(t, s, a.ID, 1)

		// After ErrDuplicate the transaction is still usable: fn may fall back
		// to the existing row and go on writing (PostgreSQL's store skips the
		// row, ON CONFLICT DO NOTHING; SQLite's transaction goes on anyway).
		var other account.Customer
		err = inTx(s)(ctx, func(tx account.Tx) error {
			dup := newCustomer(a.ID, "other")
			dup.EmailKey = e.EmailKey
			if err := tx.CreateCustomer(ctx, &dup); !errors.Is(err, account.ErrDuplicate) {
				return fmt.Errorf("CreateCustomer(duplicate) = %v, want ErrDuplicate", err)
			}
			if _, err := tx.CustomerByEmailKey(ctx, a.ID, e.EmailKey); err != nil {
				return fmt.Errorf("CustomerByEmailKey after ErrDuplicate: %w", err)
			}
			other = newCustomer(a.ID, "other")
			return tx.CreateCustomer(ctx, &other)
		})
		if err != nil {
			t.Fatalf("InTx(go on after ErrDuplicate): %v", err)
		}
		wantCustomerReads(t, s, other)
		mustCustomerCount(t, s, a.ID, 2)
	}
}

// ---- concurrency ----

func testConcurrentConsume(t *testing.T, s account.Store) {
	const n = 16
	a := mustTenant(t, s, "acme")
	c := mustCustomer(t, s, newCustomer(a.ID, "alice"))
	tok := mustToken(t, s, newToken(c, account.PurposeConfirm, "contested", false))
	errs := make([]error, n)
	got := make([]account.Token, n)
	concurrently(n, func(i int) {
		got[i], errs[i] = s.ConsumeToken(t.Context(), a.ID, tok.Hash, tok.Purpose, at(time.Minute), 5)
	})
	wins, losses := 0, 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
			if got[i].ID != tok.ID || got[i].UsedAt == nil {
				t.Errorf("winner got %+v, want token %d marked used", got[i], tok.ID)
			}
		case errors.Is(err, account.ErrNotFound):
			losses++
		default:
			t.Errorf("goroutine %d: ConsumeToken: %v, want nil or ErrNotFound", i, err)
		}
	}
	if wins != 1 || losses != n-1 {
		t.Errorf("%d concurrent ConsumeToken calls: %d succeeded, %d got ErrNotFound; want 1 and %d", n, wins, losses, n-1)
	}
}

func testConcurrentCreateCustomer(inTx txRunner) func(t *testing.T, s account.Store) {
	return func(t *testing.T, s account.Store) {
		const n = 50
		ctx := t.Context()
		a := mustTenant(t, s, "acme")
		const key = "racer@example.com"
		errs := make([]error, n)
		created := make([]bool, n)
		uuids := make([]string, n)
		concurrently(n, func(i int) {
			var made bool
			errs[i] = inTx(s)(ctx, func(tx account.Tx) error {
				made = false // fn may run again after a serialisation conflict
				_, err := tx.CustomerByEmailKey(ctx, a.ID, key)
				if err == nil {
					return nil
				}
				if !errors.Is(err, account.ErrNotFound) {
					return err
				}
				c := newCustomer(a.ID, "racer")
				c.UUID = uuidFor(fmt.Sprintf("racer %d", i))
				if err := tx.CreateCustomer(ctx, &c); err != nil {
					return err
				}
				made, uuids[i] = true, c.UUID
				return nil
			})
			created[i] = made && errs[i] == nil
		})
		creator, creators := -1, 0
		for i, err := range errs {
			if err != nil && !errors.Is(err, account.ErrDuplicate) {
				t.Errorf("goroutine %d: InTx: %v, want nil or ErrDuplicate", i, err)
			}
			if created[i] {
				creator, creators = i, creators+1
			}
		}
		if creators != 1 {
			t.Errorf("%d transactions committed a new customer, want 1", creators)
		}
		mustCustomerCount(t, s, a.ID, 1)
		got, err := s.CustomerByEmailKey(ctx, a.ID, key)
		if err != nil {
			t.Fatalf("CustomerByEmailKey: %v", err)
		}
		if creator >= 0 && got.UUID != uuids[creator] {
			t.Errorf("the stored customer has UUID %s, want %s of the transaction that reported creating it", got.UUID, uuids[creator])
		}
	}
}

// testConcurrentReadModifyWrite checks InTx's isolation for the service's
// pattern of reading a customer, deciding, and writing it back: concurrent
// transactions on one customer must not lose each other's updates.
func testConcurrentReadModifyWrite(inTx txRunner) func(t *testing.T, s account.Store) {
	return func(t *testing.T, s account.Store) {
		const n = 10
		ctx := t.Context()
		a := mustTenant(t, s, "acme")
		c := newCustomer(a.ID, "alice")
		c.PartnerRef = "0"
		c = mustCustomer(t, s, c)
		errs := make([]error, n)
		concurrently(n, func(i int) {
			errs[i] = inTx(s)(ctx, func(tx account.Tx) error {
				cur, err := tx.CustomerByID(ctx, a.ID, c.ID)
				if err != nil {
					return err
				}
				v, err := strconv.Atoi(cur.PartnerRef)
				if err != nil {
					return err
				}
				cur.PartnerRef = strconv.Itoa(v + 1)
				return tx.UpdateCustomer(ctx, &cur)
			})
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("goroutine %d: InTx: %v", i, err)
			}
		}
		got, err := s.CustomerByID(ctx, a.ID, c.ID)
		if err != nil {
			t.Fatalf("CustomerByID: %v", err)
		}
		if want := strconv.Itoa(n); got.PartnerRef != want {
			t.Errorf("after %d concurrent increments the counter is %s, want %s: updates were lost", n, got.PartnerRef, want)
		}
	}
}

func testConcurrentLoginFailures(t *testing.T, s account.Store) {
	const n = 20
	a := mustTenant(t, s, "acme")
	const key = "alice@example.com"
	pending := make([]int, n)
	errs := make([]error, n)
	concurrently(n, func(i int) {
		var lf account.LoginFailures
		lf, errs[i] = s.ReserveLoginAttempt(t.Context(), a.ID, key, at(time.Minute), t0)
		pending[i] = lf.Pending
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("goroutine %d: ReserveLoginAttempt: %v", i, err)
		}
	}
	// Each call saw its own increment: the counts are 1…n, each once.
	slices.Sort(pending)
	for i, got := range pending {
		if got != i+1 {
			t.Errorf("the %d concurrent calls returned pending %v, want each of 1…%d once", n, pending, n)
			break
		}
	}
	// Ended concurrently, half as failures: every one is counted.
	concurrently(n, func(i int) {
		var failed *time.Time
		if i%2 == 0 {
			failed = ptr(at(2 * time.Minute))
		}
		errs[i] = s.EndLoginAttempt(t.Context(), a.ID, key, failed)
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("goroutine %d: EndLoginAttempt: %v", i, err)
		}
	}
	wantLoginFailures(t, s, a.ID, key, account.LoginFailures{Count: n / 2, Last: at(2 * time.Minute)})
}
