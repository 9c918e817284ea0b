package cli

import (
	"encoding/json"

	"pforte/internal/account"
)

func (e env) customer(args []string) error {
	const help = "usage: pforte customer export ID|UUID  [--tenant SLUG] [--db DSN]"
	_, fs, done, err := e.subcommand("customer", args, help, map[string]arity{"export": {1, 1}})
	if done {
		return err
	}
	tenant := fs.String("tenant", account.DefaultTenant, "tenant slug")
	return fs.run(func([]string) error { return nil }, func(svc *account.Service, rest []string) error {
		x, err := svc.Customers.ExportBySlug(e.ctx, *tenant, rest[0])
		if err != nil {
			return err
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(x)
	})
}
