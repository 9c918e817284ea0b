package password

import (
	"context"
	"testing"
)

// BenchmarkHashDefaultParams hashes at the default parameters from as many
// goroutines as GOMAXPROCS through a pool with one slot per CPU, as a
// server under load does. BenchmarkHashDefault is the same one at a time.
func BenchmarkHashDefaultParams(b *testing.B) {
	h := mustHasher(b, DefaultParams())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := h.Hash(context.Background(), "correct horse battery staple"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
