package cli

import (
	"fmt"
	"text/tabwriter"
	"time"

	"pforte/internal/account"
	"pforte/internal/oidc"
)

// oidc lists and rotates a tenant's token signing keys. A rotated key
// stays published for account.KeyOverlap, so that tokens it signed still
// verify, and is purged a day after that.
func (e env) oidcKeys(args []string) error {
	const help = "usage: pforte oidc keys | rotate-key [--alg RS256|ES256|EdDSA]   (both take --tenant SLUG, --db DSN and --secret)"
	sub, fs, done, err := e.subcommand("oidc", args, help, map[string]arity{"keys": {0, 0}, "rotate-key": {0, 0}})
	if done {
		return err
	}
	tenant := fs.String("tenant", account.DefaultTenant, "tenant slug")
	alg := fs.String("alg", "", "the new key's algorithm (rotate-key); default: the tenant's oidc.signing_alg")
	return fs.run(nil, func(svc *account.Service, _ []string) error {
		c, err := svc.Tenants.Caller(e.ctx, *tenant)
		if err != nil {
			return err
		}
		if sub == "rotate-key" {
			a := *alg
			if a == "" {
				a = c.Tenant.Setting(oidc.SettingSigningAlg)
			}
			k, err := svc.SigningKeys.Rotate(e.ctx, c.Tenant, a)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "new signing key %s (%s); the old ones stay published for %s\n", k.ID, k.Algorithm, account.KeyOverlap)
			return nil
		}
		keys, err := svc.SigningKeys.Published(e.ctx, c.Tenant.ID)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KID\tALG\tCREATED\tSTATE")
		for _, k := range keys {
			state := "signing"
			if k.RetiredAt != nil {
				state = "retired " + k.RetiredAt.Format(time.RFC3339) + ", published until " + k.RetiredAt.Add(account.KeyOverlap).Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.ID, k.Algorithm, k.CreatedAt.Format(time.RFC3339), state)
		}
		return tw.Flush()
	})
}
