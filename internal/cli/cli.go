// Package cli is the pforte command: it parses flags and environment,
// wires the store, the service and the server together, and runs the
// subcommands. cmd/pforte only calls Run.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"pforte/internal/account"
	"pforte/internal/api/wire"
	"pforte/internal/mail"
	"pforte/internal/password"
	"pforte/internal/store/postgres"
	"pforte/internal/store/sqlite"
)

// Run runs the pforte command with args (without the program name).
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && (isHelp(args[0]) || !strings.HasPrefix(args[0], "-")) {
		cmd, args = args[0], args[1:]
	}
	if isHelp(cmd) {
		fmt.Fprint(stdout, usage())
		return nil
	}
	e := env{ctx: ctx, getenv: getenv, stdout: stdout, stderr: stderr}
	for _, c := range commands {
		if c.name == cmd {
			return c.run(e, args)
		}
	}
	return fmt.Errorf("%w: unknown command %q\n\n%s", ErrUsage, cmd, usage())
}

// commands are pforte's commands, in the order help lists them.
var commands = []struct {
	name, summary string
	run           func(env, []string) error
}{
	{"serve", "run the HTTP server (the default)", env.serve},
	{"migrate", "apply database migrations", env.migrate},
	{"tenant", "create, list and configure tenants", env.tenant},
	{"apikey", "create, list and revoke API keys", env.apikey},
	{"app", "create, list, update and delete applications (the URLs mail links lead to)", env.app},
	{"oidc", "list and rotate the keys that sign a tenant's OpenID Connect tokens", env.oidcKeys},
	{"mail", "list recent mail in the outbox, with its links while it is unsent", env.mail},
	{"audit", "list a tenant's audit events, and verify their chain", env.audit},
	{"customer", "list, show, create, change and delete customers; import and export them in bulk (CSV, JSON Lines)", env.customer},
	{"consent", "add and list the versioned consent texts registrations show", env.consent},
	{"webhook", "create, list, show, enable, disable, delete and test a tenant's webhook endpoints", env.webhookCmd},
	{"bench", "measure a scratch server: hash, login, registration, session check, overload", env.bench},
	{"healthcheck", "GET a running server's /healthz: exit 0 if it answers 200, else 1", env.healthcheck},
	{"secret", "show the server secret the first start generated, to move it to --secret", env.secret},
}

// isHelp reports whether arg asks for help rather than naming a command.
func isHelp(arg string) bool {
	return arg == "help" || arg == "-h" || arg == "--help" || arg == "-help"
}

// usage lists every command, one line each.
func usage() string {
	var b strings.Builder
	b.WriteString("Usage: pforte [COMMAND] [FLAGS]\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-11s  %s\n", c.name, c.summary)
	}
	fmt.Fprintf(&b, "  %-11s  %s\n", "help", "show this list (also -h, --help)")
	b.WriteString("\nRun \"pforte serve --help\" for the server's flags (each can also be set as a\n" +
		"PFORTE_* environment variable, see README.md) and \"pforte COMMAND --help\"\n" +
		"for those of any other command.\n")
	return b.String()
}

// ErrUsage marks an error in how the command was called; main exits with 2.
var ErrUsage = errors.New("usage error")

type env struct {
	ctx            context.Context
	getenv         func(string) string
	stdout, stderr io.Writer
}

// flags returns a flag set whose defaults come from PFORTE_* variables.
func (e env) flags(name string) *flagSet {
	fs := flag.NewFlagSet("pforte "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	return &flagSet{FlagSet: fs, getenv: e.getenv}
}

type flagSet struct {
	*flag.FlagSet
	getenv func(string) string
	errs   []error
	args   []string // positional arguments, wherever they stood among the flags

	// For subcommands: see env.subcommand and flagSet.run.
	env     env
	dsn     *string
	secret  *string
	rawArgs []string
	arity   arity
	help    string
	// configure, when set, adjusts the service's configuration.
	configure func(*account.Config)
}

// envName is PFORTE_ and the flag name in upper case with underscores.
func envName(name string) string {
	return "PFORTE_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// stringVar defines a flag; like the other ...Var methods it takes as its
// default the value *p holds, unless the flag's PFORTE_* variable is set:
// then it is that.
func (f *flagSet) stringVar(p *string, name, usage string) {
	if v := f.getenv(envName(name)); v != "" {
		*p = v
	}
	f.StringVar(p, name, *p, usage+" (env "+envName(name)+")")
}

func (f *flagSet) durationVar(p *time.Duration, name, usage string) {
	if v := f.getenv(envName(name)); v != "" {
		if d, err := time.ParseDuration(v); err != nil {
			f.envError(name, v, "a duration such as 90s, 15m or 24h")
		} else {
			*p = d
		}
	}
	f.DurationVar(p, name, *p, usage+" (env "+envName(name)+")")
}

func (f *flagSet) intVar(p *int, name, usage string) {
	if v := f.getenv(envName(name)); v != "" {
		if n, err := strconv.Atoi(v); err != nil {
			f.envError(name, v, "a whole number")
		} else {
			*p = n
		}
	}
	f.IntVar(p, name, *p, usage+" (env "+envName(name)+")")
}

func (f *flagSet) boolVar(p *bool, name, usage string) {
	if v := f.getenv(envName(name)); v != "" {
		if b, err := strconv.ParseBool(v); err != nil {
			f.envError(name, v, "true or false")
		} else {
			*p = b
		}
	}
	f.BoolVar(p, name, *p, usage+" (env "+envName(name)+")")
}

func (f *flagSet) string(name, def, usage string) *string {
	f.stringVar(&def, name, usage)
	return &def
}

// given reports whether the flag was set on the command line or in the
// environment.
func (f *flagSet) given(name string) bool {
	set := f.getenv(envName(name)) != ""
	f.Visit(func(fl *flag.Flag) { set = set || fl.Name == name })
	return set
}

// envError records a PFORTE_* variable that does not parse: a usage error
// like the same value given as a flag.
func (f *flagSet) envError(name, value, want string) {
	f.errs = append(f.errs, fmt.Errorf("env %s=%q (--%s) is not %s", envName(name), value, name, want))
}

// parse parses args, allowing flags after positional arguments ("apikey
// revoke 3 --db ..."); --help prints the flags and ends the command cleanly.
func (f *flagSet) parse(args []string) (done bool, err error) {
	for {
		if err := f.Parse(args); errors.Is(err, flag.ErrHelp) {
			return true, nil
		} else if err != nil {
			return true, fmt.Errorf("%w: %v", ErrUsage, err)
		}
		if f.NArg() == 0 {
			break
		}
		f.args = append(f.args, f.Arg(0))
		args = f.Args()[1:]
	}
	if len(f.errs) > 0 {
		return true, fmt.Errorf("%w: %w", ErrUsage, errors.Join(f.errs...))
	}
	return false, nil
}

const defaultDB = "sqlite:pforte.db"

func (f *flagSet) db() *string {
	return f.string("db", defaultDB, "database: sqlite:PATH or postgres://USER@HOST/DB")
}

// checkDSN refuses a --db value that names no database pforte can open
// (a usage error), before anything is opened.
func checkDSN(dsn string) error {
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		path := strings.TrimPrefix(dsn, "sqlite:")
		if path == "" || strings.HasPrefix(path, ":memory:") || strings.HasPrefix(path, "file:") {
			return errors.New("--db (env PFORTE_DB) sqlite: needs a file path, e.g. sqlite:pforte.db")
		}
		return nil
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return nil
	}
	return fmt.Errorf("--db (env PFORTE_DB) must be sqlite:PATH or postgres://..., not %q", redactDSN(dsn))
}

// openStore opens and migrates the database named by dsn.
func (e env) openStore(dsn string) (account.Store, error) {
	if err := checkDSN(dsn); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUsage, err)
	}
	var (
		st  account.Store
		err error
	)
	if path, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
		st, err = sqlite.Open(e.ctx, path)
	} else {
		st, err = postgres.Open(e.ctx, dsn)
	}
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", redactDSN(dsn), err)
	}
	if err := st.Migrate(e.ctx); err != nil {
		st.Close()
		return nil, fmt.Errorf("migrating %s: %w", redactDSN(dsn), err)
	}
	return st, nil
}

// redactDSN hides the password of a database URL, in its user part or its
// query, before it is printed.
func redactDSN(dsn string) string {
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return dsn
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres://(unparsable DSN)"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// service opens the store and starts a service for the admin commands,
// which never hash passwords.
func (e env) service(dsn, secret string, configure func(*account.Config)) (*account.Service, func(), error) {
	st, err := e.openStore(dsn)
	if err != nil {
		return nil, nil, err
	}
	templates, err := mail.NewTemplates()
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	cfg := account.Config{Store: st, Policy: password.DefaultPolicy(), Renderer: templates}
	if configure != nil {
		configure(&cfg)
	}
	svc := account.NewService(cfg)
	if err := svc.Attach(e.ctx, []byte(secret)); err != nil {
		st.Close()
		return nil, nil, err
	}
	return svc, func() { st.Close() }, nil
}

// newLogger makes serve's logger, whose lines are batched (see
// logBuffer) until flush; an error is a usage error, which the caller
// marks.
func newLogger(w io.Writer, format, level string) (log *slog.Logger, flush func() error, err error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, nil, fmt.Errorf("%s: %v", flagRef("log-level"), err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	buf := newLogBuffer(w)
	var h slog.Handler
	switch format {
	case "text":
		h = slog.NewTextHandler(buf, opts)
	case "json":
		h = slog.NewJSONHandler(buf, opts)
	default:
		return nil, nil, fmt.Errorf("%s must be text or json, not %q", flagRef("log-format"), format)
	}
	return slog.New(wire.LogRequestID(flushOnWarn{h, buf})), buf.Flush, nil
}
