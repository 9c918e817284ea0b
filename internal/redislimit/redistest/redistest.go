// Package redistest gives tests a Redis: the one PFORTE_TEST_REDIS_URL
// names, a key prefix of their own in it, and a TCP proxy before it that
// a test can cut off to play Redis going away. It is used only by tests.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// URL is PFORTE_TEST_REDIS_URL; without it the test is skipped, except
// in CI (CI=true), which runs every test against Redis.
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("PFORTE_TEST_REDIS_URL")
	if u == "" && os.Getenv("CI") == "true" {
		t.Fatal("PFORTE_TEST_REDIS_URL is not set, and CI runs the tests against Redis (.ci/run sets it)")
	}
	if u == "" {
		t.Skip("PFORTE_TEST_REDIS_URL is not set (e.g. redis://127.0.0.1:6379): skipping the tests against Redis")
	}
	return u
}

// Client is a client of the Redis at url, closed when the test ends.
func Client(t testing.TB, url string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("PFORTE_TEST_REDIS_URL %q: %v", url, err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return c
}

// Prefix is a key prefix no other test uses. The keys under it are
// deleted when the test ends.
func Prefix(t testing.TB, url string) string {
	t.Helper()
	b := make([]byte, 8)
	rand.Read(b)
	prefix := "pforte-test:" + hex.EncodeToString(b) + ":"
	c := Client(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("Redis at %s does not answer: %v", url, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var keys []string
		iter := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		err := iter.Err()
		if err == nil && len(keys) > 0 {
			err = c.Del(ctx, keys...).Err()
		}
		if err != nil {
			t.Errorf("deleting the keys under %s: %v", prefix, err)
		}
	})
	return prefix
}

// Proxy forwards TCP connections to Redis until it is stopped.
type Proxy struct {
	t      testing.TB
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

// StartProxy starts a proxy before the Redis at url; it stops when the
// test ends.
func StartProxy(t testing.TB, url string) *Proxy {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("PFORTE_TEST_REDIS_URL %q: %v", url, err)
	}
	p := &Proxy{t: t, target: opts.Addr, addr: "127.0.0.1:0", conns: map[net.Conn]bool{}}
	p.Start()
	t.Cleanup(func() {
		p.Stop()
		p.wg.Wait()
	})
	return p
}

// URL is the proxy's Redis URL.
func (p *Proxy) URL() string { return "redis://" + p.addr }

// Stop closes the listener and every connection through it: Redis is out
// of reach for whoever uses the proxy, and connecting is refused.
func (p *Proxy) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		return
	}
	p.ln.Close()
	p.ln = nil
	for c := range p.conns {
		c.Close()
	}
}

// Start listens (again, on the same address): Redis is back.
func (p *Proxy) Start() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		return
	}
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("proxy: %v", err)
	}
	p.ln, p.addr = ln, ln.Addr().String()
	p.wg.Add(1)
	go p.accept(ln)
}

func (p *Proxy) accept(ln net.Listener) {
	defer p.wg.Done()
	for {
		client, err := ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		if !p.track(ln, client, server) {
			continue
		}
		p.wg.Add(2)
		go p.pipe(client, server)
		go p.pipe(server, client)
	}
}

// track keeps a new pair of connections for Stop, unless ln, which
// accepted them, was stopped meanwhile.
func (p *Proxy) track(ln net.Listener, conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != ln {
		for _, c := range conns {
			c.Close()
		}
		return false
	}
	for _, c := range conns {
		p.conns[c] = true
	}
	return true
}

func (p *Proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	io.Copy(dst, src) // until Stop or either end closes
	dst.Close()
	src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}
