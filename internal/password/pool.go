package password

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
)

// ErrBusy means the hashing queue is full. The API answers 503 with
// Retry-After rather than let memory grow with the number of callers.
var ErrBusy = errors.New("password: hashing queue is full")

// Pool runs at most Slots hashes at once and lets at most Queue more
// callers wait. Each argon2id hash allocates its full memory cost, so the
// slots bound memory; the queue bounds latency and goroutines.
type Pool struct {
	slots   chan struct{}
	limit   int64 // slots + queue
	pending atomic.Int64
	runs    atomic.Uint64
}

// Runs is how many functions the pool has run: the hashes computed.
func (p *Pool) Runs() uint64 { return p.runs.Load() }

// Pending is how many callers are hashing or waiting for a slot now.
func (p *Pool) Pending() int64 { return p.pending.Load() }

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
	return &Pool{slots: make(chan struct{}, slots), limit: int64(slots + queue)}
}

// Do runs fn in a slot, waiting in the queue if all slots are busy. It
// returns ErrBusy at once when the queue is full, and ctx.Err() if the
// caller gives up while waiting.
func (p *Pool) Do(ctx context.Context, fn func()) error {
	if p.pending.Add(1) > p.limit {
		p.pending.Add(-1)
		return ErrBusy
	}
	defer p.pending.Add(-1)
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-p.slots }()
	fn()
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
}

// Take takes a place, or returns ErrBusy at once.
func (p *Pool) Take() (*Place, error) {
	if p.pending.Add(1) > p.limit {
		p.pending.Add(-1)
		return nil, ErrBusy
	}
	return &Place{p: p}, nil
}

// Leave gives the place back; later calls do nothing.
func (pl *Place) Leave() {
	if pl.left.CompareAndSwap(false, true) {
		pl.p.pending.Add(-1)
	}
}

// do runs fn in a slot, waiting for one, on the place already held.
func (pl *Place) do(ctx context.Context, fn func()) error {
	select {
	case pl.p.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-pl.p.slots }()
	fn()
	pl.p.runs.Add(1)
	return nil
}

type placeKey struct{}

// WithPlace returns ctx carrying pl, for the hashes of one request.
func WithPlace(ctx context.Context, pl *Place) context.Context {
	return context.WithValue(ctx, placeKey{}, pl)
}

// run runs fn on the place ctx carries, if it is this pool's and held,
// else on a place of its own.
func (p *Pool) run(ctx context.Context, fn func()) error {
	if pl, ok := ctx.Value(placeKey{}).(*Place); ok && pl.p == p && !pl.left.Load() {
		return pl.do(ctx, fn)
	}
	return p.Do(ctx, fn)
}
