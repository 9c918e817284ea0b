// Package relay is the loop the mail and webhook relays share: claim a
// batch of due work under a lease, handle it one item at a time, hand
// back what a shutdown leaves untried, and wait for the next poll or a
// signal that work was queued.
package relay

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"time"
)

// Loop is one relay's work.
type Loop[T any] struct {
	Claim   func(ctx context.Context, limit int) ([]T, error)
	Handle  func(ctx context.Context, item T)
	Release func(ctx context.Context, untried []T) // items claimed but not handled when ctx ended
	Queued  <-chan struct{}                        // signalled when work was queued; nil: only Poll
	Batch   int                                    // items per claim
	Poll    time.Duration                          // the wait when a claim got less than a batch
	// ClaimFailed hears of a failed claim; the loop tries again after Poll.
	ClaimFailed func(error)
}

// Run works until ctx is done. A claim that filled its batch is followed
// by another at once, since more may be due.
func (l Loop[T]) Run(ctx context.Context) {
	for ctx.Err() == nil {
		items, err := l.Claim(ctx, l.Batch)
		if err != nil && ctx.Err() == nil && l.ClaimFailed != nil {
			l.ClaimFailed(err)
		}
		for i, item := range items {
			if ctx.Err() != nil {
				l.Release(ctx, items[i:])
				break
			}
			l.Handle(ctx, item)
		}
		if err == nil && len(items) >= l.Batch {
			continue
		}
		timer := time.NewTimer(l.Poll)
		select {
		case <-ctx.Done():
		case <-timer.C:
		case <-l.Queued:
		}
		timer.Stop()
	}
}

// NewOwner is a lease owner: what for, the host name, for people
// reading the queue, and random bytes, for uniqueness.
func NewOwner(what string) string {
	b := make([]byte, 6)
	rand.Read(b)
	host, _ := os.Hostname()
	if len(host) > 32 {
		host = host[:32]
	}
	if host == "" {
		host = "relay"
	}
	return what + host + "-" + hex.EncodeToString(b)
}
