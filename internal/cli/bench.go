package cli

import (
	"fmt"
	"os"
	"time"

	"pforte/internal/bench"
)

// bench runs pforte bench. Its flags are not read from PFORTE_*
// variables: a benchmark starts its own server on a scratch store, and
// must not pick up the database of the one that runs here.
func (e env) bench(args []string) error {
	cfg := bench.DefaultConfig()
	fs := e.flags("bench")
	fs.StringVar(&cfg.DB, "db", cfg.DB, "store to measure: sqlite (a scratch file) or a postgres:// URL, in whose database a scratch schema is made and dropped")
	fs.StringVar(&cfg.Server, "server", "", "pforte binary to run as the server, e.g. an older build to compare with (default: this one)")
	fs.StringVar(&cfg.Against, "against", "", "another pforte binary, e.g. an older build, run as a second server on a scratch store of its own and measured in turns with --server; × AGAINST is --server's rate over its")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "how long each timed measurement runs, at most 1m")
	fs.IntVar(&cfg.Rounds, "rounds", cfg.Rounds, "rounds, 1 to 10: each measures everything once, the bare hash next to what it is compared with")
	fs.IntVar(&cfg.Customers, "customers", cfg.Customers, "customers created before measuring")
	fs.IntVar(&cfg.Confirmations, "confirmations", cfg.Confirmations, "confirmation tokens spent in each round")
	fs.IntVar(&cfg.Storm, "storm", cfg.Storm, "logins sent at once in each storm, 0 for none")
	memory, iterations, parallelism := int(cfg.Params.Memory), int(cfg.Params.Iterations), int(cfg.Params.Parallelism)
	fs.IntVar(&memory, "argon2-memory", memory, "the server's argon2id memory in KiB")
	fs.IntVar(&iterations, "argon2-iterations", iterations, "the server's argon2id passes")
	fs.IntVar(&parallelism, "argon2-parallelism", parallelism, "the server's argon2id lanes")
	quiet := fs.Bool("quiet", false, "no progress lines on stderr")
	if done, err := fs.parse(args); done {
		return err
	}
	if len(fs.args) > 0 {
		return fmt.Errorf("%w: unexpected argument %q", ErrUsage, fs.args[0])
	}
	if memory < 1 || iterations < 1 || parallelism < 1 || parallelism > 255 {
		return fmt.Errorf("%w: --argon2-memory, --argon2-iterations and --argon2-parallelism must be at least 1 (lanes at most 255)", ErrUsage)
	}
	cfg.Params.Memory, cfg.Params.Iterations, cfg.Params.Parallelism = uint32(memory), uint32(iterations), uint8(parallelism)
	if cfg.Server == "" {
		self, err := os.Executable()
		if err != nil {
			return fmt.Errorf("bench: find this binary: %w", err)
		}
		cfg.Server = self
	}
	if !*quiet {
		cfg.Progress = e.stderr
	}
	start := time.Now()
	if err := bench.Run(e.ctx, cfg, e.stdout); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if !*quiet {
		fmt.Fprintf(e.stderr, "bench: done in %s\n", time.Since(start).Round(time.Second))
	}
	return nil
}
