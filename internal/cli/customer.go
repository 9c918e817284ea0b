package cli

import (
	"encoding/json"
	"fmt"
	"time"

	"pforte/internal/account"
)

func (e env) customer(args []string) error {
	const help = "usage: pforte customer export ID|UUID | proof ID|UUID | proof --email ADDRESS  [--tenant SLUG] [--db DSN]"
	sub, fs, done, err := e.subcommand("customer", args, help, map[string]arity{"export": {1, 1}, "proof": {0, 1}})
	if done {
		return err
	}
	tenant := fs.String("tenant", account.DefaultTenant, "tenant slug")
	email := fs.String("email", "", "proof: the address of erased customers whose proofs are kept (proof_retention)")
	check := func(rest []string) error {
		if (len(rest) == 1) == (*email != "") || sub == "export" && *email != "" {
			return fmt.Errorf("%w: name a customer, or for proof an erased customer's --email\n%s", ErrUsage, help)
		}
		return nil
	}
	return fs.run(check, func(svc *account.Service, rest []string) error {
		if *email != "" {
			es, err := svc.Customers.ErasuresBySlug(e.ctx, *tenant, *email)
			if err != nil {
				return err
			}
			return e.printErasures(*tenant, es)
		}
		x, err := svc.Customers.ExportBySlug(e.ctx, *tenant, rest[0])
		if err != nil {
			return err
		}
		if sub == "proof" {
			fmt.Fprintf(e.stdout, "Opt-in proofs of customer %d (%s), tenant %s, as of %s\n", x.Customer.ID, x.Customer.UUID, x.Tenant,
				x.ExportedAt.Format(time.RFC3339))
			e.printProofs(x.Proofs)
			return nil
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(x)
	})
}

// printErasures prints the proofs kept of erased customers.
func (e env) printErasures(tenant string, es []account.ErasedProofs) error {
	if len(es) == 0 {
		fmt.Fprintf(e.stdout, "No erased customer of tenant %s with this address has proofs kept.\n", tenant)
	}
	for i, x := range es {
		if i > 0 {
			fmt.Fprintln(e.stdout)
		}
		fmt.Fprintf(e.stdout, "Opt-in proofs of erased customer %d, tenant %s, erased %s, kept until %s\n", x.CustomerID, tenant,
			x.ErasedAt.Format(time.RFC3339), x.KeepUntil.Format(time.RFC3339))
		proofs := make([]account.ExportedProof, 0, len(x.Proofs))
		for _, p := range x.Proofs {
			proofs = append(proofs, p.Exported())
		}
		e.printProofs(proofs)
	}
	return nil
}

// printProofs prints opt-in proofs for a person to read and print.
func (e env) printProofs(proofs []account.ExportedProof) {
	if len(proofs) == 0 {
		fmt.Fprintln(e.stdout, "\nnone recorded")
	}
	for i, p := range proofs {
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
}

func optionalTime(t *time.Time) string {
	if t == nil {
		return "not (yet)"
	}
	return t.Format(time.RFC3339)
}
