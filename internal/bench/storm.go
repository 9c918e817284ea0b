package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// stormResult is what a storm of requests sent at once measured.
type stormResult struct {
	statuses     map[int]int
	latencies    map[int][]time.Duration // by status, sorted
	noRetryAfter int                     // 429 and 503 answers without Retry-After
	errs         int                     // connections that got no answer (reset, closed)
	lastErr      error
	peakRSS      int64
	rssKnown     bool
}

// loginRequests are raw HTTP requests logging in with each body.
func loginRequests(host, key string, bodies [][]byte) []string {
	reqs := make([]string, len(bodies))
	for i, body := range bodies {
		reqs[i] = fmt.Sprintf("POST /api/v1/sessions HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nX-API-KEY: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
			host, key, len(body), body)
	}
	return reqs
}

// healthRequests are n raw GET /healthz requests: the floor of a storm,
// what sending, reading and answering a request costs on this machine.
func healthRequests(host string, n int) []string {
	reqs := make([]string, n)
	for i := range reqs {
		reqs[i] = "GET /healthz HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n"
	}
	return reqs
}

// storm opens one connection per request, then sends every request at
// once, each on its own connection, and collects the answers. The
// connections are open before the clock starts, so what is measured is
// the server's answer, not the handshakes.
func storm(ctx context.Context, srv *server, reqs []string) (stormResult, error) {
	host := strings.TrimPrefix(srv.base, "http://")
	conns := make([]net.Conn, len(reqs))
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	var d net.Dialer
	for i := range conns {
		c, err := d.DialContext(ctx, "tcp", host)
		if err != nil {
			return stormResult{}, fmt.Errorf("storm: dial connection %d: %w", i+1, err)
		}
		conns[i] = c
	}
	pid := srv.cmd.Process.Pid
	rssErr := resetPeakRSS(pid)

	r := stormResult{statuses: map[int]int{}, latencies: map[int][]time.Duration{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, c := range conns {
		req := reqs[i]
		wg.Go(func() {
			<-start
			t := time.Now()
			_ = c.SetDeadline(time.Now().Add(2 * time.Minute))
			status, retryAfter, err := roundTrip(c, req)
			lat := time.Since(t)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				r.errs++
				r.lastErr = err
				return
			}
			r.statuses[status]++
			r.latencies[status] = append(r.latencies[status], lat)
			if (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) && retryAfter == "" {
				r.noRetryAfter++
			}
		})
	}
	close(start)
	wg.Wait()
	for _, l := range r.latencies {
		slices.Sort(l)
	}
	if rssErr == nil {
		r.peakRSS, rssErr = peakRSS(pid)
		r.rssKnown = rssErr == nil
	}
	return r, nil
}

// roundTrip writes a raw request and reads the answer's status and
// Retry-After.
func roundTrip(c net.Conn, req string) (status int, retryAfter string, err error) {
	if _, err := io.WriteString(c, req); err != nil {
		return 0, "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, "", err
	}
	return resp.StatusCode, resp.Header.Get("Retry-After"), nil
}

// loginBodies are the bodies of n logins with the right password, to
// emails[i % len(emails)].
func loginBodies(n int, emails []string, pw string) [][]byte {
	bodies := make([][]byte, n)
	for i := range bodies {
		bodies[i], _ = json.Marshal(map[string]string{"email": emails[i%len(emails)], "password": pw})
	}
	return bodies
}

// summary is one line on the storm's answers.
func (r stormResult) summary() string {
	var codes []int
	for code := range r.statuses {
		codes = append(codes, code)
	}
	sort.Ints(codes)
	var parts []string
	for _, code := range codes {
		l := r.latencies[code]
		parts = append(parts, fmt.Sprintf("%d × %d (p50 %s, p99 %s)", r.statuses[code], code, round(percentile(l, 0.5)), round(percentile(l, 0.99))))
	}
	s := strings.Join(parts, ", ")
	if r.noRetryAfter > 0 {
		s += fmt.Sprintf("; %d refusals without Retry-After", r.noRetryAfter)
	}
	if r.errs > 0 {
		s += fmt.Sprintf("; %d without answer (%v)", r.errs, r.lastErr)
	}
	return s
}
