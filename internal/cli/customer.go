package cli

import (
	"encoding/json"
	"fmt"
	"time"

	"pforte/internal/account"
)

func (e env) customer(args []string) error {
	const help = "usage: pforte customer export ID|UUID | proof ID|UUID  [--tenant SLUG] [--db DSN]"
	sub, fs, done, err := e.subcommand("customer", args, help, map[string]arity{"export": {1, 1}, "proof": {1, 1}})
	if done {
		return err
	}
	tenant := fs.String("tenant", account.DefaultTenant, "tenant slug")
	return fs.run(func([]string) error { return nil }, func(svc *account.Service, rest []string) error {
		x, err := svc.Customers.ExportBySlug(e.ctx, *tenant, rest[0])
		if err != nil {
			return err
		}
		if sub == "proof" {
			return e.printProofs(x)
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(x)
	})
}

// printProofs prints a customer's opt-in proofs for a person to read and
// print.
func (e env) printProofs(x account.CustomerExport) error {
	fmt.Fprintf(e.stdout, "Opt-in proofs of customer %d (%s), tenant %s, as of %s\n", x.Customer.ID, x.Customer.UUID, x.Tenant,
		x.ExportedAt.Format(time.RFC3339))
	if len(x.Proofs) == 0 {
		fmt.Fprintln(e.stdout, "\nnone recorded")
	}
	for i, p := range x.Proofs {
		fmt.Fprintf(e.stdout, "\n%d. %s through %s\n", i+1, p.Kind, p.Channel)
		rows := [][2]string{
			{"requested", p.RequestedAt.Format(time.RFC3339)},
			{"from", dash(p.RequestAddress) + ", " + dash(p.RequestAgent)},
			{"consent", dash(p.ConsentVersion) + " " + p.ConsentLang + " sha256:" + dash(p.ConsentSHA256)},
			{"confirmation mail", dash(p.MessageID) + ", accepted by the mail server " + optionalTime(p.MailAcceptedAt)},
			{"confirmed", optionalTime(p.ConfirmedAt) + " from " + dash(p.ConfirmAddress) + ", " + dash(p.ConfirmAgent)},
		}
		for _, r := range rows {
			fmt.Fprintf(e.stdout, "   %-18s %s\n", r[0]+":", r[1])
		}
	}
	return nil
}

func optionalTime(t *time.Time) string {
	if t == nil {
		return "not (yet)"
	}
	return t.Format(time.RFC3339)
}
