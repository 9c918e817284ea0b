package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// server is a pforte process on a scratch store, started for one run.
type server struct {
	bin, db, base string
	schema        string // the scratch schema, on PostgreSQL
	cmd           *exec.Cmd
	log           *os.File // the server's output
	cleanup       []func()
}

// startServer starts bin serve on a free loopback port and a scratch
// store, and waits until it is ready.
func startServer(ctx context.Context, cfg Config) (s *server, err error) {
	s = &server{bin: cfg.Server}
	defer func() {
		if err != nil {
			s.stop()
		}
	}()
	if s.db, err = s.scratchStore(ctx, cfg.DB); err != nil {
		return s, err
	}
	port, err := freePort()
	if err != nil {
		return s, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	s.base = "http://" + addr
	// The server logs as it would in production, at info, to a file: what
	// it costs is part of what is measured.
	logFile, err := os.CreateTemp("", "pforte-bench-*.log")
	if err != nil {
		return s, err
	}
	s.cleanup = append(s.cleanup, func() { logFile.Close(); os.Remove(logFile.Name()) })
	s.log = logFile
	// The session checks all come from this address with a bearer token
	// alone, which the limit per client address counts: it counts them,
	// as in production, but is set too high to refuse any.
	s.cmd = exec.Command(s.bin, "serve", "--addr", addr, "--db", s.db,
		"--client-rate-limit", "1000000000",
		"--argon2-memory", strconv.Itoa(int(cfg.Params.Memory)),
		"--argon2-iterations", strconv.Itoa(int(cfg.Params.Iterations)),
		"--argon2-parallelism", strconv.Itoa(int(cfg.Params.Parallelism)))
	s.cmd.Env = serverEnv()
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	if err := s.cmd.Start(); err != nil {
		return s, fmt.Errorf("start %s: %w", s.bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- s.cmd.Wait() }()
	s.cleanup = append(s.cleanup, func() {
		_ = s.cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
			<-exited
		}
	})
	// Readiness is polled: the server says nothing on stdout that could be
	// waited for, and this is a benchmark, not a test.
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			return s, fmt.Errorf("%s serve exited: %v\n%s", s.bin, err, s.logTail())
		case <-ctx.Done():
			return s, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if resp, err := http.Get(s.base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			return s, fmt.Errorf("%s serve was not ready within 30s\n%s", s.bin, s.logTail())
		}
	}
}

// scratchStore returns the --db of a store nobody else uses: a SQLite
// file in a new directory, or a new schema in the PostgreSQL database of
// dsn. Both are removed by stop.
func (s *server) scratchStore(ctx context.Context, dsn string) (string, error) {
	if dsn == "" || dsn == "sqlite" {
		dir, err := os.MkdirTemp("", "pforte-bench-")
		if err != nil {
			return "", err
		}
		s.cleanup = append(s.cleanup, func() { os.RemoveAll(dir) })
		return "sqlite:" + filepath.Join(dir, "pforte.db"), nil
	}
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("--db %q: want sqlite or a postgres:// URL", dsn)
	}
	schema := "pforte_bench_" + hex.EncodeToString(randomBytes(6))
	if err := execPostgres(ctx, dsn, "CREATE SCHEMA "+schema); err != nil {
		return "", fmt.Errorf("create schema: %w", err)
	}
	s.schema = schema
	s.cleanup = append(s.cleanup, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = execPostgres(ctx, dsn, "DROP SCHEMA "+schema+" CASCADE")
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// analyze gathers PostgreSQL's statistics of the scratch schema's tables,
// as autovacuum does within a minute or so of a table's growth. Without
// them the server plans the lookup by email address with the (tenant_id,
// id) index, which reads every customer of the tenant, and keeps that
// plan as long as no statistics come (autovacuum may be off where the
// benchmark runs). A SQLite store needs nothing.
func (s *server) analyze(ctx context.Context) error {
	if s.schema == "" {
		return nil
	}
	return execPostgres(ctx, s.db, `DO $$ DECLARE t record; BEGIN
		FOR t IN SELECT schemaname, tablename FROM pg_tables WHERE schemaname = current_schema() LOOP
			EXECUTE format('ANALYZE %I.%I', t.schemaname, t.tablename);
		END LOOP; END $$`)
}

func execPostgres(ctx context.Context, dsn, sql string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// stop ends the server and removes its store, in reverse order of making.
func (s *server) stop() {
	for i := len(s.cleanup) - 1; i >= 0; i-- {
		s.cleanup[i]()
	}
	s.cleanup = nil
}

// secretKey makes a secret API key for the default tenant with the
// server's own command.
func (s *server) secretKey(ctx context.Context) (string, error) {
	cmd := exec.CommandContext(ctx, s.bin, "apikey", "create", "--db", s.db, "--kind", "secret", "--name", "bench")
	cmd.Env = serverEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("apikey create: %v: %s", err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}

// serverEnv is this process's environment without PFORTE_* variables,
// which would configure the server in ways the benchmark does not know.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PFORTE_") {
			env = append(env, kv)
		}
	}
	return env
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// logTail is the end of the server's output, for error messages.
func (s *server) logTail() string {
	b, _ := os.ReadFile(s.log.Name())
	return string(b[max(0, len(b)-4096):])
}

// The process figures below come from Linux's /proc; elsewhere they are
// not available and the table says so.

// errNoProc means this system has no /proc to read a process's figures.
var errNoProc = errors.New("no /proc")

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// cpuTime is the user and system CPU time process pid has used.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, errNoProc
	}
	// The command name, in parentheses, may hold spaces: count fields from
	// after it. utime and stime are fields 14 and 15 of the line.
	rest := string(b[bytes.LastIndexByte(b, ')')+2:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0, errNoProc
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errNoProc
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// peakRSS is the most resident memory process pid has had since it
// started or since resetPeakRSS, in bytes.
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, errNoProc
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, errNoProc
			}
			return kib << 10, nil
		}
	}
	return 0, errNoProc
}

// resetPeakRSS starts peakRSS over from the current RSS.
func resetPeakRSS(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}
