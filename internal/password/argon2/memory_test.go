package argon2

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"runtime"
	"testing"

	xargon2 "golang.org/x/crypto/argon2"
)

// idKeyCase is one set of IDKey arguments.
type idKeyCase struct {
	password, salt []byte
	time, memory   uint32
	threads        uint8
	keyLen         uint32
}

func randomCase(r *rand.Rand, maxMemory uint32) idKeyCase {
	c := idKeyCase{
		password: randomBytes(r, r.IntN(65)),
		salt:     randomBytes(r, 8+r.IntN(25)),
		time:     1 + r.Uint32N(3),
		threads:  uint8(1 + r.IntN(4)),
		keyLen:   4 + r.Uint32N(61),
	}
	// From below argon2's minimum of 8 KiB per lane, which it raises, up
	// to maxMemory, which may not be a multiple of 4 KiB per lane.
	c.memory = 1 + r.Uint32N(maxMemory)
	return c
}

func randomBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// fillGarbage makes m hold random bytes, as memory no derivation wrote.
func fillGarbage(r *rand.Rand, m *Memory) {
	for i := range m.held {
		for j := range m.held[i] {
			m.held[i][j] = r.Uint64()
		}
	}
}

func (c idKeyCase) check(t *testing.T, m *Memory) {
	t.Helper()
	want := xargon2.IDKey(c.password, c.salt, c.time, c.memory, c.threads, c.keyLen)
	if got := m.IDKey(c.password, c.salt, c.time, c.memory, c.threads, c.keyLen); !bytes.Equal(got, want) {
		t.Fatalf("Memory.IDKey(%+v) = %x, x/crypto IDKey = %x", c, got, want)
	}
}

// TestMemoryIDKey: keys derived in one reused Memory equal x/crypto's,
// whatever the Memory held before: blocks of a derivation with more
// memory, with less, with other lanes, or random bytes.
func TestMemoryIDKey(t *testing.T) {
	const size = 512
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 0))
	m := NewMemory(size)
	for i := range 300 {
		if i%3 == 0 {
			fillGarbage(r, m)
		}
		randomCase(r, size).check(t, m)
	}
}

// TestMemoryIDKeyAfterBiggerAndSmaller reuses one Memory after a
// derivation that used all of it and after one that used a corner.
func TestMemoryIDKeyAfterBiggerAndSmaller(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	m := NewMemory(1024)
	fillGarbage(r, m)
	big := idKeyCase{[]byte("big"), []byte("saltsalt"), 2, 1024, 4, 32}
	small := idKeyCase{[]byte("small"), []byte("saltsalt"), 1, 16, 1, 32}
	middle := idKeyCase{[]byte("middle"), []byte("saltsaltsalt"), 3, 200, 2, 16}
	for _, c := range []idKeyCase{big, small, middle, big, middle, small, small, big} {
		c.check(t, m)
	}
}

// TestMemoryTooSmall: a derivation that needs more than the Memory holds
// is right, allocates for itself and leaves the Memory alone.
func TestMemoryTooSmall(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	m := NewMemory(64)
	fillGarbage(r, m)
	before := blockBytes(m.held)
	for _, c := range []idKeyCase{
		{[]byte("more memory"), []byte("saltsalt"), 1, 68, 1, 32},
		{[]byte("much more"), []byte("saltsalt"), 2, 4096, 2, 32},
		{[]byte("raised to 8 KiB a lane"), []byte("saltsalt"), 1, 64, 9, 32},
	} {
		c.check(t, m)
		if m.Size() != 64 || !bytes.Equal(blockBytes(m.held), before) {
			t.Fatalf("a derivation of %d KiB changed a Memory of 64", c.memory)
		}
	}
	// Nil and empty Memory allocate every time.
	c := idKeyCase{[]byte("nil"), []byte("saltsalt"), 1, 32, 1, 32}
	c.check(t, nil)
	c.check(t, &Memory{})
}

func blockBytes(blocks []block) []byte {
	var b []byte
	for i := range blocks {
		for _, v := range blocks[i] {
			b = binary.LittleEndian.AppendUint64(b, v)
		}
	}
	return b
}

// TestMemoryAllocs: a derivation in a Memory big enough allocates only
// small things (hash state, goroutines, the key), not its memory.
func TestMemoryAllocs(t *testing.T) {
	m := NewMemory(1024)
	derive := func() { m.IDKey([]byte("password"), []byte("saltsalt"), 1, 1024, 1, 32) }
	derive()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	derive()
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n >= 64<<10 {
		t.Fatalf("a 1 MiB derivation in reused memory allocated %d bytes", n)
	}
}

// BenchmarkIDKeyDefault compares x/crypto's IDKey with a derivation in
// reused memory at pforte's default parameters: 19 MiB, two passes, one
// lane.
func BenchmarkIDKeyDefault(b *testing.B) {
	const time, memory, threads, keyLen = 2, 19456, 1, 32
	password, salt := []byte("correct horse battery staple"), []byte("0123456789abcdef")
	b.Run("x-crypto", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			xargon2.IDKey(password, salt, time, memory, threads, keyLen)
		}
	})
	b.Run("reused", func(b *testing.B) {
		m := NewMemory(memory)
		b.ReportAllocs()
		for b.Loop() {
			m.IDKey(password, salt, time, memory, threads, keyLen)
		}
	})
}
