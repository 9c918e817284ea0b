package password

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeProcs stands in for runtime.GOMAXPROCS and time.AfterFunc: it
// records each GOMAXPROCS set and keeps the take-backs for the test to
// fire.
type fakeProcs struct {
	mu      sync.Mutex
	current int
	sets    []int
	timers  []*fakeTimer
}

type fakeTimer struct {
	d       time.Duration
	f       func()
	stopped bool
}

func (t *fakeTimer) Stop() bool {
	was := !t.stopped
	t.stopped = true
	return was
}

func (fp *fakeProcs) set(n int) int {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	old := fp.current
	if n > 0 {
		fp.current = n
		fp.sets = append(fp.sets, n)
	}
	return old
}

func (fp *fakeProcs) after(d time.Duration, f func()) stopper {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	t := &fakeTimer{d: d, f: f}
	fp.timers = append(fp.timers, t)
	return t
}

// last is the newest take-back and whether one exists.
func (fp *fakeProcs) last() (*fakeTimer, bool) {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	if len(fp.timers) == 0 {
		return nil, false
	}
	return fp.timers[len(fp.timers)-1], true
}

func (fp *fakeProcs) history() []int {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	return slices.Clone(fp.sets)
}

// TestProcessorsLentWhileHashing: the slots' processors are added when a
// hash begins, kept while hashes follow each other, and taken back once
// none has run for processorsKept, not earlier.
func TestProcessorsLentWhileHashing(t *testing.T) {
	fp := &fakeProcs{current: 2}
	pr := newProcessors(2, processorsKept, fp.set, fp.after)

	pr.busy()
	pr.busy()
	if got := fp.history(); !slices.Equal(got, []int{4}) {
		t.Fatalf("two hashes begun: GOMAXPROCS set to %v, want [4]", got)
	}
	pr.idle()
	if _, ok := fp.last(); ok {
		t.Fatal("a take-back was scheduled while a hash still runs")
	}
	pr.idle()
	first, ok := fp.last()
	if !ok || first.d != processorsKept {
		t.Fatalf("no take-back of %v after the last hash ended", processorsKept)
	}

	// A hash begins before the take-back fires: the processors stay.
	pr.busy()
	if !first.stopped {
		t.Error("a hash began, but the take-back was not stopped")
	}
	first.f() // as if it had fired just before being stopped
	if got := fp.history(); !slices.Equal(got, []int{4}) {
		t.Fatalf("a stale take-back changed GOMAXPROCS: %v", got)
	}
	pr.idle()
	second, _ := fp.last()
	if second == first {
		t.Fatal("no new take-back after the hash ended")
	}
	second.f()
	if got := fp.history(); !slices.Equal(got, []int{4, 2}) {
		t.Fatalf("after a quiet period GOMAXPROCS went %v, want [4 2]", got)
	}

	// The next hash lends them again.
	pr.busy()
	pr.idle()
	if got := fp.history(); !slices.Equal(got, []int{4, 2, 4}) {
		t.Fatalf("GOMAXPROCS went %v, want [4 2 4]", got)
	}
}

// TestPoolLendsProcessors: a pool's hash runs with the processors added,
// and concurrent hashes share one lending.
func TestPoolLendsProcessors(t *testing.T) {
	fp := &fakeProcs{current: 3}
	p := NewPool(2, 0)
	p.procs = newProcessors(p.Slots(), processorsKept, fp.set, fp.after)
	var wg sync.WaitGroup
	seen := make(chan int, 8)
	for range 8 {
		wg.Go(func() {
			err := p.Do(context.Background(), func() {
				fp.mu.Lock()
				seen <- fp.current
				fp.mu.Unlock()
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	close(seen)
	for n := range seen {
		if n != 5 {
			t.Errorf("a hash ran with GOMAXPROCS %d, want 5", n)
		}
	}
	sets := fp.history()
	if len(sets) == 0 || sets[0] != 5 {
		t.Fatalf("GOMAXPROCS went %v, want 5 first", sets)
	}
	last, ok := fp.last()
	if !ok {
		t.Fatal("no take-back scheduled after the hashes")
	}
	last.f()
	if got := fp.history(); got[len(got)-1] != 3 {
		t.Fatalf("GOMAXPROCS went %v, want back to 3 at the end", got)
	}
}
