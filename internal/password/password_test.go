package password

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	xargon2 "golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// cheap keeps the suite fast; the defaults users get stay strong.
var cheap = Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

func mustHasher(t testing.TB, p Params) *Hasher {
	t.Helper()
	h, err := NewHasher(p, NewPool(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHashAndVerify(t *testing.T) {
	h := mustHasher(t, cheap)
	ctx := context.Background()
	encoded, err := h.Hash(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(encoded, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("not a PHC argon2id string: %s", encoded)
	}
	again, _ := h.Hash(ctx, "correct horse")
	if again == encoded {
		t.Fatal("two hashes of one password are equal: salt is not random")
	}
	tests := []struct {
		name     string
		password string
		ok       bool
	}{
		{"right", "correct horse", true},
		{"wrong", "correct horsE", false},
		{"trailing space is not trimmed", "correct horse ", false},
		{"prefix is not enough", "correct hors", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := h.Verify(ctx, encoded, tt.password)
			if err != nil || ok != tt.ok || rehash {
				t.Fatalf("Verify = %v, %v, %v; want %v, false, nil", ok, rehash, err, tt.ok)
			}
		})
	}
}

func TestVerifyAsksForRehash(t *testing.T) {
	ctx := context.Background()
	old := mustHasher(t, cheap)
	encoded, _ := old.Hash(ctx, "correct horse")
	stronger := cheap
	stronger.Iterations = 2
	ok, rehash, err := mustHasher(t, stronger).Verify(ctx, encoded, "correct horse")
	if !ok || !rehash || err != nil {
		t.Fatalf("Verify with new params = %v, %v, %v; want true, true, nil", ok, rehash, err)
	}
}

func TestBcrypt(t *testing.T) {
	ctx := context.Background()
	h := mustHasher(t, cheap)
	hash, _ := bcrypt.GenerateFromPassword([]byte("imported password"), bcrypt.MinCost)
	if ok, rehash, err := h.Verify(ctx, string(hash), "imported password"); !ok || !rehash || err != nil {
		t.Fatalf("bcrypt right password = %v, %v, %v; want true, true, nil", ok, rehash, err)
	}
	if ok, _, err := h.Verify(ctx, string(hash), "imported passworD"); ok || err != nil {
		t.Fatalf("bcrypt wrong password = %v, %v", ok, err)
	}
	// A hash made by a system that truncated at 72 bytes verifies with the
	// whole password; the new argon2id hash then covers every byte.
	long := strings.Repeat("a", 72) + "tail"
	truncated, _ := bcrypt.GenerateFromPassword([]byte(long[:72]), bcrypt.MinCost)
	if ok, rehash, err := h.Verify(ctx, string(truncated), long); !ok || !rehash || err != nil {
		t.Fatalf("long password against 72-byte bcrypt = %v, %v, %v", ok, rehash, err)
	}
	argon, _ := h.Hash(ctx, long)
	if ok, _, _ := h.Verify(ctx, argon, long[:72]); ok {
		t.Fatal("argon2id hash of a long password accepts its 72-byte prefix")
	}
}

// TestImportedFormats: argon2i and Django's PBKDF2-SHA256 verify, ask
// for a rehash, refuse a wrong password, and pass CheckImported; hashes
// too costly to verify do not.
func TestImportedFormats(t *testing.T) {
	ctx := context.Background()
	h := mustHasher(t, cheap)
	salt := []byte("0123456789abcdef")
	b64 := base64.RawStdEncoding
	argon2i := fmt.Sprintf("$argon2i$v=19$m=64,t=3,p=1$%s$%s", b64.EncodeToString(salt),
		b64.EncodeToString(xargon2.Key([]byte("imported password"), salt, 3, 64, 1, 32)))
	// Python: hashlib.pbkdf2_hmac('sha256', b'django password', b'seasalt', 1000), base64.
	const django = "pbkdf2_sha256$1000$seasalt$+pNtlMRZhWxhYbjymnsG9sR6jkdu+/KVKy+otBdsX9A="
	for _, encoded := range []string{argon2i, django} {
		if err := CheckImported(encoded); err != nil {
			t.Errorf("CheckImported(%s) = %v", encoded, err)
		}
		pw := "imported password"
		if strings.HasPrefix(encoded, "pbkdf2") {
			pw = "django password"
		}
		if ok, rehash, err := h.Verify(ctx, encoded, pw); !ok || !rehash || err != nil {
			t.Errorf("Verify(%s) = %v, %v, %v; want true, true, nil", encoded, ok, rehash, err)
		}
		if ok, _, err := h.Verify(ctx, encoded, pw+"!"); ok || err != nil {
			t.Errorf("Verify(%s, wrong) = %v, %v", encoded, ok, err)
		}
	}
	for _, bad := range []string{
		"pbkdf2_sha256$99999999$salt$+pNtlMRZhWxhYbjymnsG9sR6jkdu+/KVKy+otBdsX9A=",
		"pbkdf2_sha256$1000$salt$short",
		"pbkdf2_sha256$1000$$+pNtlMRZhWxhYbjymnsG9sR6jkdu+/KVKy+otBdsX9A=",
		"pbkdf2_sha1$1000$salt$+pNtlMRZhWxhYbjymnsG9sR6jkdu+/KVKy+otBdsX9A=",
		"$argon2d$v=19$m=64,t=3,p=1$MDEyMzQ1Njc4OWFiY2RlZg$" + b64.EncodeToString(make([]byte, 32)),
		"$argon2i$v=19$m=8388608,t=3,p=1$MDEyMzQ1Njc4OWFiY2RlZg$" + b64.EncodeToString(make([]byte, 32)),
	} {
		if CheckImported(bad) == nil {
			t.Errorf("CheckImported(%s) accepted", bad)
		}
	}
}

func TestVerifyEmptyAndMalformed(t *testing.T) {
	ctx := context.Background()
	h := mustHasher(t, cheap)
	if ok, _, err := h.Verify(ctx, "", "anything"); ok || err != nil {
		t.Fatalf("empty hash = %v, %v; want false, nil", ok, err)
	}
	for _, bad := range []string{
		"plain", "$argon2id$v=19$m=64,t=1,p=1$c2FsdA", "$argon2id$v=18$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5", "$2b$04$short",
	} {
		if ok, _, err := h.Verify(ctx, bad, "x"); ok || !errors.Is(err, ErrMalformedHash) {
			t.Errorf("Verify(%q) = %v, %v; want false, ErrMalformedHash", bad, ok, err)
		}
	}
}

func TestPolicy(t *testing.T) {
	p := DefaultPolicy()
	tests := []struct {
		name, password, email string
		want                  Violation
	}{
		{"ok", "correct horse battery", "a@example.com", ""},
		{"seven", "abcdefg", "", TooShort},
		{"eight multibyte", "äöüäöüäö", "", ""},
		{"too long", strings.Repeat("x", 257), "", TooLong},
		{"max", strings.Repeat("xy", 128), "", ""},
		{"common", "password123", "", Common},
		{"common any case", "PassWord123", "", Common},
		{"email", "Someone@Example.com", "someone@example.com", EqualsEmail},
		{"not utf8", "abcdefgh\xff", "", NotUTF8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.Check(tt.password, tt.email); got != tt.want {
				t.Fatalf("Check = %q, want %q", got, tt.want)
			}
		})
	}
	p.Blocklist = false
	if got := p.Check("password123", ""); got != "" {
		t.Fatalf("blocklist off: Check = %q", got)
	}
}

func TestPoolBounds(t *testing.T) {
	pool := NewPool(1, 2)
	release := make(chan struct{})
	started := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	wg.Add(3)
	for i := range 3 {
		go func() {
			defer wg.Done()
			errs <- pool.Do(context.Background(), func() {
				if i == 0 {
					close(started)
				}
				<-release
			})
		}()
		if i == 0 {
			<-started // the first holds the only slot
		}
	}
	// One running and (eventually) two waiting fill the pool: a fourth is refused.
	for pool.pending.Load() < 3 {
		// wait until both queue places are taken
	}
	if err := pool.Do(context.Background(), func() {}); !errors.Is(err, ErrBusy) {
		t.Fatalf("fourth caller: %v, want ErrBusy", err)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("queued caller: %v", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	block := NewPool(1, 1)
	hold, holding := make(chan struct{}), make(chan struct{})
	go block.Do(context.Background(), func() { close(holding); <-hold })
	<-holding // the only slot is taken, not merely asked for
	if err := block.Do(ctx, func() {}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter: %v, want context.Canceled", err)
	}
	close(hold)
}

// BenchmarkHashDefault measures one argon2id hash at the default
// parameters: the floor of any login.
func BenchmarkHashDefault(b *testing.B) {
	h := mustHasher(b, DefaultParams())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Hash(context.Background(), "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

// TestPoolPlace: a place taken counts against the pool's capacity until
// it is left, once; hashes run on it take no second place, and a full
// pool refuses a place at once.
func TestPoolPlace(t *testing.T) {
	pool := NewPool(1, 1)
	h, err := NewHasher(Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}, pool)
	if err != nil {
		t.Fatal(err)
	}
	a, err := pool.Take()
	if err != nil {
		t.Fatal(err)
	}
	b, err := pool.Take()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Take(); !errors.Is(err, ErrBusy) {
		t.Fatalf("a third place in a pool of two: %v, want ErrBusy", err)
	}
	if _, err := h.Hash(context.Background(), "no place of its own"); !errors.Is(err, ErrBusy) {
		t.Fatalf("a hash without a place in a full pool: %v, want ErrBusy", err)
	}
	// On a held place, hashes run though the pool is full.
	ctx := WithPlace(context.Background(), a)
	encoded, err := h.Hash(ctx, "on a place")
	if err != nil {
		t.Fatalf("hash on a held place: %v", err)
	}
	if ok, _, err := h.Verify(ctx, encoded, "on a place"); !ok || err != nil {
		t.Fatalf("verify on a held place: %v, %v", ok, err)
	}
	a.Leave()
	a.Leave() // a second Leave gives nothing back twice
	if pool.Pending() != 1 {
		t.Fatalf("pending %d after one place was left twice, want 1", pool.Pending())
	}
	// A left place is not used again: the hash takes a place of its own.
	if _, err := h.Hash(ctx, "after leaving"); err != nil || pool.Pending() != 1 {
		t.Fatalf("hash after leaving: %v, pending %d", err, pool.Pending())
	}
	b.Leave()
	if pool.Pending() != 0 {
		t.Fatalf("pending %d after every place was left", pool.Pending())
	}
}

// A panic in a slot's worker reaches the caller, and the slot works on.
func TestPoolPanicReachesCaller(t *testing.T) {
	pool := NewPool(1, 0)
	func() {
		defer func() {
			if v := recover(); v != "boom" {
				t.Errorf("recovered %v, want boom", v)
			}
		}()
		pool.Do(context.Background(), func() { panic("boom") })
		t.Error("no panic")
	}()
	ran := false
	if err := pool.Do(context.Background(), func() { ran = true }); err != nil || !ran {
		t.Fatalf("after a panic: %v, ran %v", err, ran)
	}
}

// A worker that ends when idle is started again by the next hash.
func TestPoolWorkerEndsWhenIdleAndComesBack(t *testing.T) {
	pool := NewPool(1, 0)
	s := <-pool.slots
	s.idle = time.Millisecond
	pool.slots <- s
	for round := range 3 {
		ran := false
		if err := pool.Do(context.Background(), func() { ran = true }); err != nil || !ran {
			t.Fatalf("round %d: %v, ran %v", round, err, ran)
		}
		s = <-pool.slots
		for working := true; working; {
			s.mu.Lock()
			working = s.working
			s.mu.Unlock()
			runtime.Gosched()
		}
		pool.slots <- s
	}
}

// holdTurn takes a place in h's pool and waits for its turn, as the
// native API does for a request that will hash.
func holdTurn(ctx context.Context, h *Hasher) (context.Context, func(), error) {
	held, release, err := h.Hold(ctx)
	if err != nil {
		return ctx, release, err
	}
	if err := h.AwaitTurn(held); err != nil {
		release()
		return ctx, func() {}, err
	}
	return held, release, nil
}

// TestPoolTurns: a pool gives turnsPerSlot places per slot a turn at
// once; the next waits until one is left or rests, or until its context
// ends. Hold itself takes no turn, and a place holding one waits for
// nothing.
func TestPoolTurns(t *testing.T) {
	pool := NewPool(1, 8)
	h, err := NewHasher(cheap, pool)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	check := func(when string, pending int64, turns int) {
		t.Helper()
		if pool.Pending() != pending || len(pool.turns) != turns {
			t.Fatalf("%s: %d places and %d turns taken, want %d and %d", when, pool.Pending(), len(pool.turns), pending, turns)
		}
	}
	if err := h.AwaitTurn(ctx); err != nil {
		t.Fatalf("AwaitTurn without a place: %v", err)
	}
	check("a turn awaited without a place", 0, 0)
	var releases []func()
	var first context.Context
	for i := range turnsPerSlot {
		held, release, err := holdTurn(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = held
		}
		releases = append(releases, release)
	}
	check("every turn held", turnsPerSlot, turnsPerSlot)
	if err := h.AwaitTurn(first); err != nil {
		t.Fatalf("AwaitTurn holding a turn: %v", err)
	}
	_, releaseNoTurn, err := h.Hold(ctx)
	if err != nil {
		t.Fatalf("Hold with every turn taken: %v", err)
	}
	releaseNoTurn()
	check("a place without a turn taken and left", turnsPerSlot, turnsPerSlot)

	// awaitAsync starts holdTurn, which gives its place back as soon as
	// it has its turn, and returns once it waits for the turn.
	awaitAsync := func(ctx context.Context) chan error {
		waiting := pool.Waiting()
		done := make(chan error, 1)
		go func() {
			_, release, err := holdTurn(ctx, h)
			release()
			done <- err
		}()
		for pool.Waiting() == waiting {
			runtime.Gosched()
		}
		return done
	}
	waiter := awaitAsync(ctx)
	select {
	case err := <-waiter:
		t.Fatalf("a turn past %d returned at once: %v", turnsPerSlot, err)
	default:
	}

	// A wait whose context ends takes no turn.
	cancelled, cancel := context.WithCancel(ctx)
	gone := awaitAsync(cancelled)
	cancel()
	if err := <-gone; !errors.Is(err, context.Canceled) {
		t.Fatalf("a turn whose context ended while waiting: %v, want context.Canceled", err)
	}
	check("a wait cancelled, one waiting", turnsPerSlot+1, turnsPerSlot)

	// Leaving passes the turn on.
	releases[0]()
	if err := <-waiter; err != nil {
		t.Fatalf("a turn after a place was left: %v", err)
	}
	check("the waiter served", turnsPerSlot-1, turnsPerSlot-1)

	// Resting passes the turn on and keeps the place; AwaitTurn takes one
	// again, waiting while every turn is taken.
	resting, restingRelease, err := holdTurn(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	next := awaitAsync(ctx)
	h.Rest(resting)
	if err := <-next; err != nil {
		t.Fatalf("a turn after another rested: %v", err)
	}
	check("one resting", turnsPerSlot, turnsPerSlot-1)
	_, releaseLast, err := holdTurn(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	back := make(chan error, 1)
	go func() { back <- h.AwaitTurn(resting) }()
	for pool.Waiting() == 0 {
		runtime.Gosched()
	}
	releaseLast()
	if err := <-back; err != nil {
		t.Fatalf("AwaitTurn after resting: %v", err)
	}
	check("the rested one back at work", turnsPerSlot, turnsPerSlot)
	restingRelease()
	for _, release := range releases[1:] {
		release()
	}
	check("every place left", 0, 0)
}
