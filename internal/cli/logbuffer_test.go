package cli

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// bufferedLogger is a logger over a logBuffer whose delayed flush the test
// runs by hand.
func bufferedLogger(t *testing.T) (*slog.Logger, *logBuffer, *bytes.Buffer, *[]func()) {
	t.Helper()
	var out bytes.Buffer
	var due []func()
	buf := newLogBuffer(&out)
	buf.after = func(d time.Duration, f func()) {
		if d != logFlushAfter {
			t.Errorf("flush scheduled after %s, want %s", d, logFlushAfter)
		}
		due = append(due, f)
	}
	return slog.New(flushOnWarn{slog.NewTextHandler(buf, nil), buf}), buf, &out, &due
}

func TestLogBufferBatchesInfoLines(t *testing.T) {
	log, _, out, due := bufferedLogger(t)
	log.Info("one")
	log.Info("two")
	if out.Len() != 0 {
		t.Fatalf("info lines written before their flush: %q", out)
	}
	if len(*due) != 1 {
		t.Fatalf("%d flushes scheduled for two lines, want 1", len(*due))
	}
	(*due)[0]()
	if got := out.String(); !strings.Contains(got, "msg=one") || !strings.Contains(got, "msg=two") {
		t.Fatalf("after the flush: %q", got)
	}
	log.Info("three")
	if len(*due) != 2 {
		t.Errorf("a line after a flush scheduled %d flushes in all, want 2", len(*due))
	}
}

func TestLogBufferWritesWarningsAtOnce(t *testing.T) {
	log, _, out, _ := bufferedLogger(t)
	log.Info("before")
	log.With("k", "v").WithGroup("g").Warn("trouble")
	got := out.String()
	if !strings.Contains(got, "msg=before") || !strings.Contains(got, "msg=trouble") {
		t.Fatalf("a warning did not write out the buffer: %q", got)
	}
	if strings.Index(got, "before") > strings.Index(got, "trouble") {
		t.Errorf("lines out of order: %q", got)
	}
}

func TestLogBufferWritesWhenFull(t *testing.T) {
	log, _, out, _ := bufferedLogger(t)
	long := strings.Repeat("x", 1024)
	for i := 0; out.Len() == 0; i++ {
		if i > 2*logBufferSize/len(long) {
			t.Fatal("a full buffer was not written")
		}
		log.Info(long)
	}
	if out.Len() < logBufferSize || !strings.HasSuffix(out.String(), "\n") {
		t.Errorf("wrote %d bytes, ending %q: want whole lines, once the buffer was full", out.Len(), out.String()[out.Len()-1:])
	}
}

func TestLogBufferFlushAtServeEnd(t *testing.T) {
	var out bytes.Buffer
	log, flush, err := newLogger(&out, "json", "info")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("last words")
	if err := flush(); err != nil || !strings.Contains(out.String(), `"msg":"last words"`) {
		t.Fatalf("flush: %v, %q", err, out.String())
	}
}
