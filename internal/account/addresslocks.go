package account

import (
	"context"
	"sync"
)

// addressLocks lets one login at a time per address check its password in
// this process. Attempts on one address from many callers at once then
// wait for each other here, in memory, instead of finding the free
// attempts taken by each other's reservations and polling the database
// until those end. Other processes' attempts still meet in the database.
type addressLocks struct {
	mu   sync.Mutex
	held map[addressKey]*addressLock
}

type addressKey struct {
	tenantID int64
	emailKey string
}

// addressLock is one address's lock: a channel holding a value while the
// lock is free, and how many callers hold or wait for it.
type addressLock struct {
	free    chan struct{}
	callers int
}

// lock waits until the caller holds the address's lock, or ctx ends. The
// returned function releases it. contended, if not nil, is called before
// waiting for a lock that another caller holds.
func (l *addressLocks) lock(ctx context.Context, tenantID int64, emailKey string, contended func()) (unlock func(), err error) {
	k := addressKey{tenantID, emailKey}
	l.mu.Lock()
	if l.held == nil {
		l.held = map[addressKey]*addressLock{}
	}
	a := l.held[k]
	if a == nil {
		a = &addressLock{free: make(chan struct{}, 1)}
		a.free <- struct{}{}
		l.held[k] = a
	}
	a.callers++
	l.mu.Unlock()

	unlock = func() { a.free <- struct{}{}; l.leave(k, a) }
	select {
	case <-a.free:
		return unlock, nil
	default:
	}
	if contended != nil {
		contended()
	}
	select {
	case <-a.free:
		return unlock, nil
	case <-ctx.Done():
		l.leave(k, a)
		return nil, ctx.Err()
	}
}

// leave forgets the address once no caller holds or waits for its lock,
// so that the map holds only addresses being logged in to.
func (l *addressLocks) leave(k addressKey, a *addressLock) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if a.callers--; a.callers == 0 {
		delete(l.held, k)
	}
}
