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

// A login that waits for its address's lock gives its hashing turn to the
// next in line meanwhile: logins crowding one address do not hold back
// those to other addresses.
func TestLockAddressWaitsWithoutTurn(t *testing.T) {
	g, h := guardWithPool(t, password.NewPool(1, 4))
	unlock, err := g.checking.lock(t.Context(), 1, "a@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	// A pool of one slot has two turns: both taken.
	waiting, releaseWaiting, err := h.Hold(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer releaseWaiting()
	_, releaseOther, err := h.Hold(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer releaseOther()
	done := make(chan error, 1)
	go func() {
		u, err := g.lockAddress(waiting, 1, "a@example.com")
		if err == nil {
			u()
		}
		done <- err
	}()
	next, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	_, releaseNext, err := h.Hold(next)
	if err != nil {
		t.Fatalf("no turn for another login while one waits for its address: %v", err)
	}
	releaseNext()
	unlock()
	if err := <-done; err != nil && !IsKind(err, KindUnavailable) {
		t.Fatalf("the waiting login: %v", err)
	}
}
