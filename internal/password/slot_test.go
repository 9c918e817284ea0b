package password

import (
	"context"
	"encoding/base64"
	"fmt"
	"sync"
	"testing"

	xargon2 "golang.org/x/crypto/argon2"
)

// xcryptoKey recomputes an argon2id PHC string's key with x/crypto.
func xcryptoKey(t *testing.T, encoded, password string) (got, want []byte) {
	t.Helper()
	p, salt, key, err := decodeArgon2id(encoded)
	if err != nil {
		t.Fatalf("decode %s: %v", encoded, err)
	}
	return key, xargon2.IDKey([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, uint32(len(key)))
}

// TestConcurrentHashVerify: callers sharing two slots, and so their
// memory, each get their own right answers, also when verifying hashes
// with more or less memory than the slots hold.
func TestConcurrentHashVerify(t *testing.T) {
	ctx := context.Background()
	pool := NewPool(2, 0)
	h, err := NewHasher(cheap, pool)
	if err != nil {
		t.Fatal(err)
	}
	bigger, smaller := cheap, cheap
	bigger.Memory, bigger.Parallelism = 256, 2
	smaller.Memory, smaller.Iterations = 32, 2
	biggerHash, _ := mustHasher(t, bigger).Hash(ctx, "bigger")
	smallerHash, _ := mustHasher(t, smaller).Hash(ctx, "smaller")

	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 10 {
				password := fmt.Sprintf("password %d/%d", g, i)
				encoded, err := h.Hash(ctx, password)
				if err != nil {
					t.Error(err)
					return
				}
				if got, want := xcryptoKey(t, encoded, password); string(got) != string(want) {
					t.Errorf("hash of %q = %x, x/crypto %x", password, got, want)
				}
				checks := []struct {
					encoded, password string
					ok, rehash        bool
				}{
					{encoded, password, true, false},
					{encoded, password + "!", false, false},
					{biggerHash, "bigger", true, true},
					{biggerHash, "smaller", false, false},
					{smallerHash, "smaller", true, true},
					{"", password, false, false},
				}
				for _, c := range checks {
					ok, rehash, err := h.Verify(ctx, c.encoded, c.password)
					if ok != c.ok || rehash != c.rehash || err != nil {
						t.Errorf("Verify(%s, %q) = %v, %v, %v; want %v, %v, nil", c.encoded, c.password, ok, rehash, err, c.ok, c.rehash)
					}
				}
			}
		})
	}
	wg.Wait()
	for range 2 {
		if s := <-pool.slots; s.mem.Size() > cheap.Memory {
			t.Errorf("a slot holds %d KiB after verifying bigger hashes; configured %d", s.mem.Size(), cheap.Memory)
		}
	}
}

// TestHashInReusedMemory: at the default parameters, a hash in a slot's
// memory, reused after hashes with the same, more and less memory, is the
// PHC string x/crypto gives for the same salt; and the slot keeps the
// memory it got for the configured parameters.
func TestHashInReusedMemory(t *testing.T) {
	ctx := context.Background()
	pool := NewPool(1, 0)
	h, err := NewHasher(DefaultParams(), pool)
	if err != nil {
		t.Fatal(err)
	}
	bigger, smaller := DefaultParams(), DefaultParams()
	bigger.Memory = 20480
	smaller.Memory = 64
	biggerHash, _ := mustHasher(t, bigger).Hash(ctx, "bigger")
	smallerHash, _ := mustHasher(t, smaller).Hash(ctx, "smaller")

	salt := []byte("0123456789abcdef")
	b64 := base64.RawStdEncoding
	want := "$argon2id$v=19$m=19456,t=2,p=1$" + b64.EncodeToString(salt) + "$" +
		b64.EncodeToString(xargon2.IDKey([]byte("correct horse"), salt, 2, 19456, 1, 32))

	if _, err := h.Hash(ctx, "an earlier password"); err != nil {
		t.Fatal(err)
	}
	s := <-pool.slots
	mem := s.mem
	pool.slots <- s
	if mem.Size() != 19456 {
		t.Fatalf("slot memory after a hash: %d KiB, want 19456", mem.Size())
	}
	for _, before := range []struct{ encoded, password string }{
		{"", "after a hash"}, {biggerHash, "bigger"}, {smallerHash, "smaller"},
	} {
		if before.encoded != "" {
			if ok, _, err := h.Verify(ctx, before.encoded, before.password); !ok || err != nil {
				t.Fatalf("verify %q: %v, %v", before.password, ok, err)
			}
		}
		var got string
		if err := pool.run(ctx, func(s *slot) {
			if s.mem != mem {
				t.Errorf("%s: the slot's memory was replaced", before.password)
			}
			got = h.hashSalted(s.memory(h.params), "correct horse", salt)
		}); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("%s: hash in reused memory\n%s\nx/crypto\n%s", before.password, got, want)
		}
	}
}
