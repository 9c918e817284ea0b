package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"pforte/internal/account"
)

// arity is how many positional arguments a subcommand takes: from least
// to most, or any number from least when most is -1.
type arity struct{ least, most int }

func (a arity) allows(n int) bool { return n >= a.least && (a.most < 0 || n <= a.most) }

// subcommand splits "NOUN SUB ARGS..." and prepares SUB's flags; subs are
// the subcommands NOUN has. done is true when there is nothing more to do
// (help, or a usage error). No usage error opens a database (or creates
// one in the working directory): they are found first.
func (e env) subcommand(noun string, args []string, help string, subs map[string]arity) (sub string, fs *flagSet, done bool, err error) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") && !isHelp(args[0]) {
		return "", nil, true, fmt.Errorf("%w: %s", ErrUsage, help)
	}
	if isHelp(args[0]) {
		fmt.Fprintln(e.stdout, help)
		return "", nil, true, nil
	}
	a, ok := subs[args[0]]
	if !ok {
		return "", nil, true, fmt.Errorf("%w: unknown command %q\n%s", ErrUsage, noun+" "+args[0], help)
	}
	fs = e.flags(noun + " " + args[0])
	fs.dsn = fs.db()
	fs.secret = fs.string("secret", "", "the server secret, as given to serve (needed when serve runs with one)")
	fs.env, fs.rawArgs, fs.arity, fs.help = e, args[1:], a, help
	return args[0], fs, false, nil
}

// run parses the flags and checks the positional arguments, their number
// and then with check (if not nil); only then does it open the database
// and call fn with them.
func (f *flagSet) run(check func(rest []string) error, fn func(svc *account.Service, rest []string) error) error {
	if done, err := f.parse(f.rawArgs); done {
		return err
	}
	if !f.arity.allows(len(f.args)) {
		return fmt.Errorf("%w: wrong number of arguments for %s\n%s", ErrUsage, f.Name(), f.help)
	}
	if check != nil {
		if err := check(f.args); err != nil {
			return err
		}
	}
	svc, closeFn, err := f.env.service(*f.dsn, *f.secret, f.configure)
	if err != nil {
		return err
	}
	defer closeFn()
	return fn(svc, f.args)
}

// secret prints the secret the first start generated and stored, so that
// an operator can move it to --secret (and then out of the database's
// reach, which only a given secret is), or forgets it. It reads the
// database only: show needs no secret.
func (e env) secret(args []string) error {
	const help = "usage: pforte secret show | forget --secret SECRET [--db DSN]"
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprintln(e.stdout, help)
		return nil
	}
	if len(args) == 0 || args[0] != "show" && args[0] != "forget" {
		return fmt.Errorf("%w: %s", ErrUsage, help)
	}
	fs := e.flags("secret " + args[0])
	dsn := fs.db()
	secret := fs.string("secret", "", "the server secret (forget: the one the server runs with)")
	if done, err := fs.parse(args[1:]); done {
		return err
	}
	if len(fs.args) > 0 {
		return fmt.Errorf("%w: %s", ErrUsage, help)
	}
	if args[0] == "forget" && *secret == "" {
		return fmt.Errorf("%w: secret forget needs --secret (or PFORTE_SECRET): the secret the server runs with", ErrUsage)
	}
	st, err := e.openStore(*dsn)
	if err != nil {
		return err
	}
	defer st.Close()
	svc := account.NewService(account.Config{Store: st})
	if args[0] == "forget" {
		if err := svc.ForgetStoredSecret(e.ctx, []byte(*secret)); errors.Is(err, account.ErrNotFound) {
			return errors.New("this database keeps no generated secret")
		} else if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, "the generated secret is deleted from the database; every start needs --secret from now on")
		return nil
	}
	v, err := svc.StoredSecret(e.ctx)
	if errors.Is(err, account.ErrNotFound) {
		return errors.New("this database keeps no generated secret: the server runs with the secret given to it (--secret, PFORTE_SECRET), or has never started")
	} else if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, string(v))
	return nil
}

func (e env) migrate(args []string) error {
	fs := e.flags("migrate")
	dsn := fs.db()
	if done, err := fs.parse(args); done {
		return err
	}
	if len(fs.args) > 0 {
		return fmt.Errorf("%w: migrate takes no arguments, not %q", ErrUsage, fs.args[0])
	}
	st, err := e.openStore(*dsn)
	if err != nil {
		return err
	}
	defer st.Close()
	fmt.Fprintln(e.stdout, "migrations applied")
	return nil
}

func (e env) tenant(args []string) error {
	const help = "usage: pforte tenant create SLUG | list | set SLUG KEY=VALUE... [--db DSN]"
	sub, fs, done, err := e.subcommand("tenant", args, help, map[string]arity{
		"create": {1, 1}, "list": {0, 0}, "set": {2, -1},
	})
	if done {
		return err
	}
	check := func(rest []string) error {
		if sub != "set" {
			return nil
		}
		_, err := tenantSettings(rest[1:])
		return err
	}
	return fs.run(check, func(svc *account.Service, rest []string) error {
		return e.tenantDo(svc, sub, rest, help)
	})
}

func (e env) tenantDo(svc *account.Service, sub string, rest []string, help string) error {
	switch {
	case sub == "create" && len(rest) == 1:
		t, err := svc.Tenants.Create(e.ctx, rest[0])
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, t.Slug)
		return nil
	case sub == "list" && len(rest) == 0:
		ts, err := svc.Tenants.List(e.ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SLUG\tCREATED\tSETTINGS")
		for _, t := range ts {
			var settings []string
			for _, spec := range account.SettingSpecs() {
				settings = append(settings, spec.Key+"="+t.Setting(spec.Key))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", t.Slug, t.CreatedAt.Format(time.RFC3339), strings.Join(settings, " "))
		}
		return tw.Flush()
	case sub == "set" && len(rest) >= 2:
		// Check every pair before changing anything.
		settings, err := tenantSettings(rest[1:])
		if err != nil {
			return err
		}
		for key, value := range settings {
			if err := svc.Tenants.Set(e.ctx, rest[0], key, value); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("%w: %s", ErrUsage, help)
}

// tenantSettings reads and checks KEY=VALUE pairs.
func tenantSettings(pairs []string) (map[string]string, error) {
	settings := map[string]string{}
	for _, kv := range pairs {
		key, value, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("%w: %q is not KEY=VALUE", ErrUsage, kv)
		}
		if err := account.ValidateSetting(key, value); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUsage, err)
		}
		settings[key] = value
	}
	return settings, nil
}

func (e env) apikey(args []string) error {
	const help = "usage: pforte apikey create --kind secret|public [--name N] | list | revoke ID  [--tenant SLUG] [--db DSN]"
	sub, fs, done, err := e.subcommand("apikey", args, help, map[string]arity{
		"create": {0, 0}, "list": {0, 0}, "revoke": {1, 1},
	})
	if done {
		return err
	}
	tenant := fs.String("tenant", account.DefaultTenant, "tenant slug")
	kind := fs.String("kind", "", "key kind: secret (servers) or public (browsers, self-service only)")
	name := fs.String("name", "", "a name to recognise the key by")
	check := func(rest []string) error {
		switch {
		case sub == "create" && account.KeyKind(*kind) != account.KeySecret && account.KeyKind(*kind) != account.KeyPublic:
			return fmt.Errorf("%w: apikey create needs --kind secret or --kind public", ErrUsage)
		case sub == "revoke":
			if _, err := strconv.ParseInt(rest[0], 10, 64); err != nil {
				return fmt.Errorf("%w: key id must be a number (see pforte apikey list)", ErrUsage)
			}
		}
		return nil
	}
	return fs.run(check, func(svc *account.Service, rest []string) error {
		return e.apikeyDo(svc, sub, rest, *tenant, *kind, *name, help)
	})
}

func (e env) apikeyDo(svc *account.Service, sub string, rest []string, tenant, kind, name, help string) error {
	switch {
	case sub == "create" && len(rest) == 0:
		raw, _, err := svc.APIKeys.Create(e.ctx, tenant, account.KeyKind(kind), name)
		if err != nil {
			return err
		}
		// Only the key on stdout, so scripts can capture it; it is shown once.
		fmt.Fprintln(e.stdout, raw)
		return nil
	case sub == "list" && len(rest) == 0:
		keys, err := svc.APIKeys.List(e.ctx, tenant)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tKIND\tPREFIX\tNAME\tCREATED\tLAST USED\tREVOKED")
		for _, k := range keys {
			fmt.Fprintf(tw, "%d\t%s\t%s…\t%s\t%s\t%s\t%s\n", k.ID, k.Kind, k.Prefix, k.Name,
				k.CreatedAt.Format(time.RFC3339), formatTime(k.LastUsedAt), formatTime(k.RevokedAt))
		}
		return tw.Flush()
	case sub == "revoke" && len(rest) == 1:
		id, err := strconv.ParseInt(rest[0], 10, 64)
		if err != nil {
			return fmt.Errorf("%w: key id must be a number (see pforte apikey list)", ErrUsage)
		}
		return svc.APIKeys.Revoke(e.ctx, tenant, id)
	}
	return fmt.Errorf("%w: %s", ErrUsage, help)
}

func formatTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format(time.RFC3339)
}
