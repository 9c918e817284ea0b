package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// client calls one server's API with a secret key, over kept-alive
// loopback connections.
type client struct {
	base, key string
	http      *http.Client
}

func newClient(base, key string, conns int) *client {
	t := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, DisableCompression: true, IdleConnTimeout: time.Minute}
	return &client{base: base, key: key, http: &http.Client{Transport: t, Timeout: time.Minute}}
}

// do sends a request and returns the status and, if out is not nil, the
// answer decoded into it when the status is want.
func (c *client) do(ctx context.Context, method, path, bearer string, body any, want int, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-KEY", c.key)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == want && out != nil {
		return resp.StatusCode, json.NewDecoder(resp.Body).Decode(out)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}

// errNoMoreWork ends a worker whose work ran out before the time did.
var errNoMoreWork = errors.New("no more work")

// op is one request of a load: the worker's number and its nth request.
// It returns the status it got and whether that is the one it wanted.
type op func(ctx context.Context, worker, n int) (ok bool, err error)

// sample is what one load measured.
type sample struct {
	ok        int
	failed    int // answered, but not as wanted
	errs      int // no answer
	lastErr   error
	elapsed   time.Duration
	latencies []time.Duration // of the ok requests
	cpu       time.Duration   // the measured process's CPU time meanwhile
	cpuKnown  bool
}

// closedLoop runs workers that each send one request after another,
// starting new ones for d or until their work runs out, and measures the
// CPU time cpu reports. Requests under way at the end are waited for, so
// that the CPU time is theirs too.
func closedLoop(ctx context.Context, workers int, d time.Duration, cpu func() (time.Duration, error), do op) sample {
	var (
		mu sync.Mutex
		s  sample
		wg sync.WaitGroup
	)
	cpu0, cpuErr := cpu()
	start := time.Now()
	deadline := start.Add(d)
	for w := range workers {
		wg.Go(func() {
			var lat []time.Duration
			var failed, errs int
			var lastErr error
			for n := 0; ctx.Err() == nil && time.Now().Before(deadline); n++ {
				t := time.Now()
				ok, err := do(ctx, w, n)
				switch {
				case errors.Is(err, errNoMoreWork):
				case err != nil && ctx.Err() != nil:
					// the run was cancelled: not counted
				case err != nil:
					errs++
					lastErr = err
				case ok:
					lat = append(lat, time.Since(t))
				default:
					failed++
				}
				if errors.Is(err, errNoMoreWork) {
					break
				}
			}
			mu.Lock()
			s.latencies = append(s.latencies, lat...)
			s.failed += failed
			s.errs += errs
			if lastErr != nil {
				s.lastErr = lastErr
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	s.elapsed = time.Since(start)
	if cpu1, err := cpu(); err == nil && cpuErr == nil {
		s.cpu, s.cpuKnown = cpu1-cpu0, true
	}
	s.ok = len(s.latencies)
	slices.Sort(s.latencies)
	return s
}

// plus is s and t measured as one: their requests, time and CPU added up.
// The latencies are appended, not sorted again.
func (s sample) plus(t sample) sample {
	s.ok += t.ok
	s.failed += t.failed
	s.errs += t.errs
	if t.lastErr != nil {
		s.lastErr = t.lastErr
	}
	s.elapsed += t.elapsed
	s.latencies = append(s.latencies, t.latencies...)
	s.cpu += t.cpu
	s.cpuKnown = s.cpuKnown && t.cpuKnown
	return s
}

func (s sample) rate() float64 { return float64(s.ok) / s.elapsed.Seconds() }

// percentile of the ok latencies, p in [0, 1].
func (s sample) percentile(p float64) time.Duration {
	return percentile(s.latencies, p)
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

// cpuPerOp is the CPU time per ok request.
func (s sample) cpuPerOp() (time.Duration, bool) {
	if !s.cpuKnown || s.ok == 0 {
		return 0, false
	}
	return s.cpu / time.Duration(s.ok), true
}

// problem describes what went wrong in the sample, or is "".
func (s sample) problem() string {
	switch {
	case s.errs > 0:
		return fmt.Sprintf("%d without answer (%v)", s.errs, s.lastErr)
	case s.failed > 0:
		return fmt.Sprintf("%d unexpected answers", s.failed)
	case s.ok == 0:
		return "nothing succeeded"
	}
	return ""
}
