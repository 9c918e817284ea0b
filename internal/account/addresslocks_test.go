package account

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"pforte/internal/password"
)

func TestAddressLocks(t *testing.T) {
	var l addressLocks
	contended := 0
	unlockA, err := l.lock(t.Context(), 1, "a@example.com", func() { contended++ })
	if err != nil {
		t.Fatal(err)
	}
	if contended != 0 {
		t.Error("a free lock was reported contended")
	}
	// Held: a caller that will not wait gets its context's error, and is
	// told before it waits.
	gone, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := l.lock(gone, 1, "a@example.com", func() { contended++ }); err == nil {
		t.Error("a second lock of a held address succeeded")
	}
	if contended != 1 {
		t.Errorf("a held lock was reported contended %d times, want once", contended)
	}
	// Another address, or the same one in another tenant, is not held.
	unlockB, err := l.lock(t.Context(), 1, "b@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	unlockOther, err := l.lock(t.Context(), 2, "a@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	unlockB()
	unlockOther()

	// Waiters take the lock one after the other, once it is released.
	const waiters = 20
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		holding int
	)
	for range waiters {
		wg.Go(func() {
			unlock, err := l.lock(t.Context(), 1, "a@example.com", nil)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			holding++
			if holding > 1 {
				t.Error("two callers hold one address's lock")
			}
			mu.Unlock()
			mu.Lock()
			holding--
			mu.Unlock()
			unlock()
		})
	}
	unlockA()
	wg.Wait()
	if n := len(l.held); n != 0 {
		t.Errorf("%d addresses left in the map after every lock was released, want 0", n)
	}
}

// guardWithPool is a login guard without a store, whose hasher uses pool.
func guardWithPool(t *testing.T, pool *password.Pool) (*loginGuard, *password.Hasher) {
	t.Helper()
	h, err := password.NewHasher(password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}, pool)
	if err != nil {
		t.Fatal(err)
	}
	return &loginGuard{core: &core{cfg: Config{Hasher: h}}}, h
}

// A login that waits for the address longer than a contended reservation
// would is busy (503), and one whose caller gives up gets that back.
func TestLockAddressBounded(t *testing.T) {
	g, _ := guardWithPool(t, password.NewPool(1, 1))
	unlock, err := g.checking.lock(t.Context(), 1, "a@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if _, err := g.lockAddress(t.Context(), 1, "a@example.com"); !IsKind(err, KindUnavailable) {
		t.Errorf("lockAddress of a held address = %v, want busy", err)
	}
	gone, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := g.lockAddress(gone, 1, "a@example.com"); !errors.Is(err, context.Canceled) {
		t.Errorf("lockAddress for a caller that gave up = %v, want its context's end", err)
	}
	if n := len(g.checking.held); n != 1 {
		t.Errorf("%d addresses in the map, want only the held one", n)
	}
}

// holdTurn takes a place in h's pool and its turn, as the native API does
// for a request that will hash.
func holdTurn(t *testing.T, h *password.Hasher) (context.Context, func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	held, release, err := h.Hold(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.AwaitTurn(held); err != nil {
		t.Fatalf("no turn within a minute: %v", err)
	}
	return held, release
}

// waitForWaiting returns once n places of pool wait for their turn.
func waitForWaiting(t *testing.T, pool *password.Pool, n int64) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); pool.Waiting() != n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d places wait for their turn, want %d", pool.Waiting(), n)
		}
	}
}

// A login that waits for its address's lock gives its hashing turn to the
// next in line meanwhile, so that logins crowding one address do not hold
// back those to other addresses, and takes a turn again, in line, before
// it goes on.
func TestLockAddressWaitsWithoutTurn(t *testing.T) {
	pool := password.NewPool(1, 4)
	g, h := guardWithPool(t, pool)
	unlock, err := g.checking.lock(t.Context(), 1, "a@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	// A pool of one slot has two turns: both taken.
	waiting, releaseWaiting := holdTurn(t, h)
	defer releaseWaiting()
	_, releaseOther := holdTurn(t, h)
	done := make(chan error, 1)
	go func() {
		u, err := g.lockAddress(waiting, 1, "a@example.com")
		if err == nil {
			u()
		}
		done <- err
	}()
	// The waiting login rests: another place gets its turn.
	_, releaseNext := holdTurn(t, h)
	defer releaseNext()
	// With the lock, it waits in line for a turn again.
	unlock()
	waitForWaiting(t, pool, 1)
	releaseOther()
	if err := <-done; err != nil {
		t.Fatalf("the waiting login: %v", err)
	}
}

// pause gives the request's hashing turn back while it waits (as a login
// does between looks at an address whose attempts other servers are
// checking), and takes one again, in line, before it returns.
func TestPauseWithoutTurn(t *testing.T) {
	pool := password.NewPool(1, 4)
	g, h := guardWithPool(t, pool)
	pausing, releasePausing := holdTurn(t, h)
	defer releasePausing()
	_, releaseOther := holdTurn(t, h)
	wake := make(chan time.Time)
	done := make(chan error, 1)
	go func() { done <- g.pause(pausing, wake) }()
	_, releaseNext := holdTurn(t, h) // the turn pause gave back
	defer releaseNext()
	close(wake)
	waitForWaiting(t, pool, 1)
	select {
	case err := <-done:
		t.Fatalf("pause returned with every turn taken: %v", err)
	default:
	}
	releaseOther()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	gone, cancel := context.WithCancel(pausing)
	cancel()
	if err := g.pause(gone, nil); !IsKind(err, KindUnavailable) {
		t.Fatalf("pause for a caller that gave up: %v, want busy", err)
	}
}
