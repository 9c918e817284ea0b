package password

import (
	"context"
	"runtime"
	"testing"
)

// BenchmarkHashDefaultParams hashes at the default parameters from as many
// goroutines as GOMAXPROCS through a pool with one slot per CPU, as a
// server under load does. BenchmarkHashDefault is the same one at a time.
func BenchmarkHashDefaultParams(b *testing.B) {
	h := mustHasher(b, DefaultParams())
	// One hash per slot first (a channel is a FIFO queue, so they take
	// every slot in turn): the timed hashes are those of a warm server.
	for range runtime.NumCPU() {
		if _, err := h.Hash(context.Background(), "warm up"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := h.Hash(context.Background(), "correct horse battery staple"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
