package account

import (
	"context"
	"errors"
	"sync"
	"testing"
)

func TestAddressLocks(t *testing.T) {
	var l addressLocks
	unlockA, err := l.lock(t.Context(), 1, "a@example.com")
	if err != nil {
		t.Fatal(err)
	}
	// Held: a caller that will not wait gets its context's error.
	gone, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := l.lock(gone, 1, "a@example.com"); err == nil {
		t.Error("a second lock of a held address succeeded")
	}
	// Another address, or the same one in another tenant, is not held.
	unlockB, err := l.lock(t.Context(), 1, "b@example.com")
	if err != nil {
		t.Fatal(err)
	}
	unlockOther, err := l.lock(t.Context(), 2, "a@example.com")
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
			unlock, err := l.lock(t.Context(), 1, "a@example.com")
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

// A login that waits for the address longer than a contended reservation
// would is busy (503), and one whose caller gives up gets that back.
func TestLockAddressBounded(t *testing.T) {
	g := &loginGuard{core: &core{}}
	unlock, err := g.checking.lock(t.Context(), 1, "a@example.com")
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
