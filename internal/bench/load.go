package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// client calls one server's API with a secret key, over kept-alive
// loopback connections. Each request is written and its answer read on
// the caller's goroutine (http.Request.Write, http.ReadResponse), as a
// load generator such as wrk does: the client shares the machine's CPUs
// with the server it measures, and http.Client's two goroutines per
// connection would cost it a thread switch or two more per request.
type client struct {
	base, addr, key string
	idle            chan *keptConn
}

// keptConn is a connection between requests.
type keptConn struct {
	conn net.Conn
	br   *bufio.Reader
	bw   *bufio.Writer
}

// requestTimeout bounds each request, as http.Client.Timeout did.
const requestTimeout = time.Minute

func newClient(base, key string, conns int) *client {
	return &client{base: base, addr: strings.TrimPrefix(base, "http://"), key: key, idle: make(chan *keptConn, conns)}
}

// do sends a request and returns the status and, if out is not nil, the
// answer decoded into it when the status is want.
func (c *client) do(ctx context.Context, method, path, bearer string, body any, want int, out any) (int, error) {
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return 0, err
		}
	}
	newRequest := func() (*http.Request, error) {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(b)
		}
		req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
		if err != nil {
			return nil, err
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-API-KEY", c.key)
		}
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		return req, nil
	}
	kc, reused, err := c.take(ctx)
	if err != nil {
		return 0, err
	}
	req, err := newRequest()
	if err != nil {
		c.put(kc)
		return 0, err
	}
	status, keep, err := kc.roundTrip(ctx, req, want, out)
	if err != nil && reused && nothingAnswered(err) && ctx.Err() == nil {
		// The server closed a connection that waited between rounds;
		// the request never reached it.
		kc.conn.Close()
		if kc, err = c.dial(ctx); err != nil {
			return 0, err
		}
		if req, err = newRequest(); err != nil {
			kc.conn.Close()
			return 0, err
		}
		status, keep, err = kc.roundTrip(ctx, req, want, out)
	}
	if keep {
		c.put(kc)
	} else {
		kc.conn.Close()
	}
	return status, err
}

// nothingAnswered reports whether err means the connection was closed
// before any answer came.
func nothingAnswered(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// take returns an idle connection, or a new one.
func (c *client) take(ctx context.Context) (kc *keptConn, reused bool, err error) {
	select {
	case kc := <-c.idle:
		return kc, true, nil
	default:
	}
	kc, err = c.dial(ctx)
	return kc, false, err
}

func (c *client) dial(ctx context.Context) (*keptConn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return nil, err
	}
	return &keptConn{conn: conn, br: bufio.NewReader(conn), bw: bufio.NewWriter(conn)}, nil
}

// put keeps kc for the next request, or closes it if enough are kept.
func (c *client) put(kc *keptConn) {
	select {
	case c.idle <- kc:
	default:
		kc.conn.Close()
	}
}

// close closes the kept connections.
func (c *client) close() {
	for {
		select {
		case kc := <-c.idle:
			kc.conn.Close()
		default:
			return
		}
	}
}

// roundTrip writes req and reads its answer. keep reports whether the
// connection may carry another request.
func (kc *keptConn) roundTrip(ctx context.Context, req *http.Request, want int, out any) (status int, keep bool, err error) {
	deadline := time.Now().Add(requestTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := kc.conn.SetDeadline(deadline); err != nil {
		return 0, false, err
	}
	stop := context.AfterFunc(ctx, func() { _ = kc.conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := req.Write(kc.bw); err != nil {
		return 0, false, err
	}
	if err := kc.bw.Flush(); err != nil {
		return 0, false, err
	}
	resp, err := http.ReadResponse(kc.br, req)
	if err != nil {
		return 0, false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == want && out != nil {
		err = json.NewDecoder(resp.Body).Decode(out)
	}
	if _, cerr := io.Copy(io.Discard, resp.Body); err == nil {
		err = cerr
	}
	return resp.StatusCode, err == nil && !resp.Close, err
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
