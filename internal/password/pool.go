package password

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"pforte/internal/password/argon2"
)

// ErrBusy means the hashing queue is full. The API answers 503 with
// Retry-After rather than let memory grow with the number of callers.
var ErrBusy = errors.New("password: hashing queue is full")

// Pool runs at most Slots hashes at once and lets at most Queue more
// callers wait. Each slot keeps the memory of its argon2id hashes, so the
// slots bound memory; the queue bounds latency and goroutines.
type Pool struct {
	slots   chan *slot    // the free ones
	turns   chan struct{} // one per place at work; see Place.awaitTurn
	waiting atomic.Int64  // places waiting for a turn
	limit   int64         // slots + queue
	pending atomic.Int64
	runs    atomic.Uint64
	procs   *processors // nil unless AddProcessors was called
}

// Runs is how many functions the pool has run: the hashes computed.
func (p *Pool) Runs() uint64 { return p.runs.Load() }

// Slots is how many hashes the pool runs at once.
func (p *Pool) Slots() int { return cap(p.slots) }

// Pending is how many callers hold a place now: hashing, at work, waiting
// for a slot or for their turn, or resting (see Place).
func (p *Pool) Pending() int64 { return p.pending.Load() }

// Waiting is how many places wait for their turn now.
func (p *Pool) Waiting() int64 { return p.waiting.Load() }

// Capacity is how many callers may hash or wait at once; one more is busy.
func (p *Pool) Capacity() int64 { return p.limit }

// NewPool returns a pool with the given number of slots (0: one per CPU)
// and queue length (0: 32 per slot).
func NewPool(slots, queue int) *Pool {
	if slots <= 0 {
		slots = runtime.NumCPU()
	}
	if queue <= 0 {
		queue = 32 * slots
	}
	p := &Pool{slots: make(chan *slot, slots), turns: make(chan struct{}, turnsPerSlot*slots), limit: int64(slots + queue)}
	for range slots {
		p.slots <- &slot{idle: workerIdle}
	}
	return p
}

// A slot is the right to run one hash, with memory for its argon2id
// hashes to reuse: memory allocated for each would be zeroed and faulted
// in every time, and keep the garbage collector busy.
//
// The memory keeps the blocks of the slot's last hash until the next one
// overwrites them. They derive from a password and its salt and may make
// guessing that password cheaper. Zeroing them after each hash would cost
// much of what reuse saves, and gain little: whoever can read this
// process's memory can read the passwords in requests as well, and before
// reuse each hash's memory also stayed in the heap until allocated again.
//
// A slot's hashes run on a worker goroutine of its own, locked to an OS
// thread of lower priority (see lowerPriority): hashing takes whatever
// processor time is left, and the database, the answers that cost
// microseconds and the rest of the machine are not made to wait behind
// it. A worker idle for workerIdle ends, and its thread with it.
type slot struct {
	mem  *argon2.Memory // nil until the slot's first argon2id hash
	idle time.Duration  // workerIdle; shorter in tests

	mu      sync.Mutex
	working bool             // a worker is running
	jobs    chan func(*slot) // to the worker; holds one
	done    chan any         // from the worker: nil, or what fn panicked with
}

// workerIdle is how long a slot's worker waits for work before it ends.
const workerIdle = 30 * time.Second

// run runs fn on the slot's worker, starting one if there is none, and
// waits for it. Only the slot's holder calls it.
func (s *slot) run(fn func(*slot)) {
	s.mu.Lock()
	if !s.working {
		s.working = true
		if s.jobs == nil {
			s.jobs, s.done = make(chan func(*slot), 1), make(chan any)
		}
		go s.work()
	}
	// Sent under the lock, so that a worker about to end sees it.
	s.jobs <- fn
	s.mu.Unlock()
	if v := <-s.done; v != nil {
		panic(v)
	}
}

// work runs the slot's jobs on a thread of its own until it has been
// idle for workerIdle. Returning while locked to the thread ends the
// thread, so its lowered priority goes with it.
func (s *slot) work() {
	runtime.LockOSThread()
	lowerPriority()
	idle := time.NewTimer(s.idle)
	for {
		select {
		case fn := <-s.jobs:
			s.done <- runJob(s, fn)
			idle.Reset(s.idle)
		case <-idle.C:
			s.mu.Lock()
			if len(s.jobs) > 0 {
				s.mu.Unlock()
				continue
			}
			s.working = false
			s.mu.Unlock()
			return
		}
	}
}

// runJob runs fn, returning what it panicked with, if anything, for the
// caller to panic with in its own goroutine.
func runJob(s *slot, fn func(*slot)) (panicked any) {
	defer func() { panicked = recover() }()
	fn(s)
	return nil
}

// memory returns the slot's memory, allocated for p if it holds less.
// Only configured parameters size it, never a stored hash's: those may
// be far bigger, and the slot would keep their memory for good.
func (s *slot) memory(p Params) *argon2.Memory {
	if s.mem.Size() < p.Memory {
		s.mem = argon2.NewMemory(p.Memory)
	}
	return s.mem
}

// Do runs fn in a slot, waiting in the queue if all slots are busy. It
// returns ErrBusy at once when the queue is full, and ctx.Err() if the
// caller gives up while waiting.
func (p *Pool) Do(ctx context.Context, fn func()) error {
	return p.do(ctx, func(*slot) { fn() })
}

// do is Do for a hash, which uses the slot's memory.
func (p *Pool) do(ctx context.Context, fn func(*slot)) error {
	if p.pending.Add(1) > p.limit {
		p.pending.Add(-1)
		return ErrBusy
	}
	defer p.pending.Add(-1)
	return p.inSlot(ctx, fn)
}

// inSlot runs fn in a free slot, waiting for one unless ctx ends first.
func (p *Pool) inSlot(ctx context.Context, fn func(*slot)) error {
	var s *slot
	select {
	case s = <-p.slots:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { p.slots <- s }()
	if p.procs != nil {
		p.procs.busy()
		defer p.procs.idle()
	}
	s.run(fn)
	p.runs.Add(1)
	return nil
}

// Place is a caller's place among the pool's callers, taken before the
// rest of a request's work: a full pool then refuses at once, before the
// request has read or written anything. Hashes run with a context that
// carries it (WithPlace) use it instead of taking another.
type Place struct {
	p    *Pool
	left atomic.Bool
	turn atomic.Bool // holds one of the pool's turns
}

// turnsPerSlot is how many places per slot may do their work at once (see
// awaitTurn): one hashing, one readying its hash or finishing after it.
const turnsPerSlot = 2

// awaitTurn waits, in the order of arrival, until fewer than
// turnsPerSlot places per slot are at work, and counts this one among
// them until it is left or rests (Hasher.Rest). The queue's other places
// wait here, before a login's customer and attempt are read and written:
// under a storm the refusals, which need the processors for
// microseconds each, do not wait behind the work of logins whose hash
// is a hundred hashes away; and the waiting logins hold no reservation
// that could count against their address in the meantime.
func (pl *Place) awaitTurn(ctx context.Context) error {
	pl.p.waiting.Add(1)
	defer pl.p.waiting.Add(-1)
	select {
	case pl.p.turns <- struct{}{}:
		pl.turn.Store(true)
		if pl.left.Load() {
			pl.endTurn() // left meanwhile, by another goroutine
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Take takes a place, or returns ErrBusy at once.
func (p *Pool) Take() (*Place, error) {
	if p.pending.Add(1) > p.limit {
		p.pending.Add(-1)
		return nil, ErrBusy
	}
	return &Place{p: p}, nil
}

// endTurn gives back the place's turn, if it holds one.
func (pl *Place) endTurn() {
	if pl.turn.CompareAndSwap(true, false) {
		<-pl.p.turns
	}
}

// Leave gives the place back; later calls do nothing.
func (pl *Place) Leave() {
	if pl.left.CompareAndSwap(false, true) {
		pl.endTurn()
		pl.p.pending.Add(-1)
	}
}

type placeKey struct{}

// WithPlace returns ctx carrying pl, for the hashes of one request.
func WithPlace(ctx context.Context, pl *Place) context.Context {
	return context.WithValue(ctx, placeKey{}, pl)
}

// placeIn returns the place ctx carries if it is this pool's and held,
// else nil.
func (p *Pool) placeIn(ctx context.Context) *Place {
	if pl, ok := ctx.Value(placeKey{}).(*Place); ok && pl.p == p && !pl.left.Load() {
		return pl
	}
	return nil
}

// run runs fn on the place ctx carries, if it is this pool's and held,
// else on a place of its own.
func (p *Pool) run(ctx context.Context, fn func(*slot)) error {
	if p.placeIn(ctx) != nil {
		return p.inSlot(ctx, fn)
	}
	return p.do(ctx, fn)
}

// AddProcessors lets the Go scheduler run one goroutine more at once for
// each of the pool's slots while the pool hashes. A hash holds its
// processor (a P) for tens of milliseconds and cannot be preempted
// cheaply; without a processor of its own, a slot would take one from the
// requests that answer in microseconds. The operating system still shares
// the cores, and favours the rest: hashes run on threads of lowered
// priority (lowerPriority). When no hash has run for processorsKept the
// processors are taken back: idle processors are not free, the scheduler
// wakes threads to look for work for them at every request.
// Call it once, before the pool hashes, in the process that serves.
func AddProcessors(p *Pool) {
	p.procs = newProcessors(p.Slots(), processorsKept, runtime.GOMAXPROCS, afterFunc)
}

// processorsKept is how long the pool's processors outlive its last hash:
// long enough that back-to-back hashes keep them, short enough that a
// lone login does not leave every request paying for them for long.
// Taking them back and lending them again stops the world twice, about
// 65 µs here.
const processorsKept = 100 * time.Millisecond

// processors adds extra to GOMAXPROCS while hashes run, and takes them
// back once none has run for kept. Each change stops the world for a
// moment, so they come and go at most about once per kept.
type processors struct {
	extra int
	kept  time.Duration
	set   func(int) int // runtime.GOMAXPROCS
	after func(time.Duration, func()) stopper

	mu       sync.Mutex
	base     int // GOMAXPROCS without the extra ones
	added    bool
	running  int     // hashes
	started  uint64  // hashes ever begun: a take-back sees if one has
	takeBack stopper // pending, or nil
}

// A stopper is a timer that can be stopped: *time.Timer, or a test's.
type stopper interface{ Stop() bool }

func afterFunc(d time.Duration, f func()) stopper { return time.AfterFunc(d, f) }

func newProcessors(extra int, kept time.Duration, set func(int) int, after func(time.Duration, func()) stopper) *processors {
	return &processors{extra: extra, kept: kept, set: set, after: after, base: set(0)}
}

// busy is called as a hash begins.
func (pr *processors) busy() {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.running++
	pr.started++
	if pr.takeBack != nil {
		pr.takeBack.Stop()
		pr.takeBack = nil
	}
	if !pr.added {
		pr.set(pr.base + pr.extra)
		pr.added = true
	}
}

// idle is called as a hash ends.
func (pr *processors) idle() {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.running--
	if pr.running > 0 || !pr.added || pr.takeBack != nil {
		return
	}
	started := pr.started
	pr.takeBack = pr.after(pr.kept, func() {
		pr.mu.Lock()
		defer pr.mu.Unlock()
		if pr.running > 0 || pr.started != started || !pr.added {
			return // a hash began meanwhile; its end schedules the next
		}
		pr.set(pr.base)
		pr.added = false
		pr.takeBack = nil
	})
}
