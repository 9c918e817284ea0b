package password

import (
	"context"
	"testing"

	"golang.org/x/sys/unix"
)

// Hashes run on threads of lowered priority, and the request's own
// thread keeps its priority.
func TestHashesRunOnNicerThreads(t *testing.T) {
	pool := NewPool(1, 0)
	niceOf := func() int {
		prio, err := unix.Getpriority(unix.PRIO_PROCESS, unix.Gettid())
		if err != nil {
			t.Fatal(err)
		}
		return 20 - prio
	}
	before := niceOf()
	var inSlot int
	if err := pool.Do(context.Background(), func() { inSlot = niceOf() }); err != nil {
		t.Fatal(err)
	}
	if inSlot < hashNice {
		t.Errorf("a hash ran at nice %d, want at least %d", inSlot, hashNice)
	}
	if after := niceOf(); after != before {
		t.Errorf("the caller's nice went from %d to %d", before, after)
	}
}
