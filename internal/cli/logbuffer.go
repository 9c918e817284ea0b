package cli

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Log lines are batched on their way out: the handler writes each line
// under its lock, and a system call per request under that lock made the
// access log a third of a session check's CPU time, the lock's waiters
// included. A warning or worse is written at once, with everything before
// it; other lines within logFlushAfter, or as soon as logBufferSize is
// reached; and all of them when serve ends.
const (
	logFlushAfter = 100 * time.Millisecond
	logBufferSize = 64 << 10
)

// logBuffer collects log lines for w.
type logBuffer struct {
	w     io.Writer
	after func(time.Duration, func()) // time.AfterFunc; tests run it by hand

	mu        sync.Mutex
	buf       []byte
	scheduled bool // a flush is on its way
}

func newLogBuffer(w io.Writer) *logBuffer {
	return &logBuffer{w: w, after: func(d time.Duration, f func()) { time.AfterFunc(d, f) }}
}

// Write takes one line (slog writes each record in one call).
func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) >= logBufferSize {
		return len(p), b.flushLocked()
	}
	if !b.scheduled {
		b.scheduled = true
		b.after(logFlushAfter, func() { b.Flush() })
	}
	return len(p), nil
}

// Flush writes out what has been collected.
func (b *logBuffer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.scheduled = false
	return b.flushLocked()
}

func (b *logBuffer) flushLocked() error {
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.w.Write(b.buf)
	b.buf = b.buf[:0]
	return err
}

// flushOnWarn writes out the buffer after every record of level Warn or
// above, so that trouble is on disk at once.
type flushOnWarn struct {
	slog.Handler
	buf *logBuffer
}

func (h flushOnWarn) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelWarn {
		if ferr := h.buf.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (h flushOnWarn) WithAttrs(attrs []slog.Attr) slog.Handler {
	return flushOnWarn{h.Handler.WithAttrs(attrs), h.buf}
}

func (h flushOnWarn) WithGroup(name string) slog.Handler {
	return flushOnWarn{h.Handler.WithGroup(name), h.buf}
}
