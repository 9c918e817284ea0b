package account

import (
	"context"
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
