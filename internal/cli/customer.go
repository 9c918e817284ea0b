package cli

import (
	"encoding/json"
	"fmt"
	"time"

	"pforte/internal/account"
)

func (e env) customer(args []string) error {
	const help = `usage: pforte customer COMMAND  [--tenant SLUG] [--db DSN]
  list [--state S] [--partner-ref R] [--created-since RFC3339] [--json]
  show ID|UUID|EMAIL [--json]
  create --email ADDRESS [--uuid U] [--state S] [--password-hash H] [profile flags] [--json]
  update ID|UUID [--email ADDRESS] [profile flags] [--json]
  disable ID|UUID | enable ID|UUID | delete ID|UUID
  export ID|UUID                 everything pforte holds about one customer (JSON)
  export [--format csv|jsonl] [--out FILE] [--with-hashes] [list filters]
  import FILE [--format csv|jsonl] [--dry-run] [--invite [--invite-rate 10/s]] [--json]
  proof ID|UUID | proof --email ADDRESS
profile flags: --salutation --first-name --last-name --username --locale --partner-ref`
	sub, fs, done, err := e.subcommand("customer", args, help, map[string]arity{
		"list": {0, 0}, "show": {1, 1}, "create": {0, 0}, "update": {1, 1}, "disable": {1, 1}, "enable": {1, 1},
		"delete": {1, 1}, "export": {0, 1}, "import": {1, 1}, "proof": {0, 1},
	})
	if done {
		return err
	}
	o := customerFlags{sub: sub, fs: fs}
	o.define()
	return fs.run(o.check, func(svc *account.Service, rest []string) error {
		c, err := svc.Tenants.CommandLineCaller(e.ctx, *o.tenant)
		if err != nil {
			return err
		}
		switch sub {
		case "list":
			return e.customerList(svc, c, o)
		case "show":
			cust, err := customerByRef(e, svc, c, rest[0])
			if err != nil {
				return err
			}
			return e.printCustomer(cust, *o.json)
		case "create":
			return e.customerCreate(svc, c, o)
		case "update", "disable", "enable":
			p := o.patch()
			if sub != "update" {
				st := map[string]account.State{"disable": account.StateDisabled, "enable": account.StateActive}[sub]
				p = account.CustomerPatch{State: &st}
			}
			cust, err := svc.Customers.Update(e.ctx, c, rest[0], p)
			if err != nil {
				return err
			}
			return e.printCustomer(cust, *o.json)
		case "delete":
			if err := svc.Customers.Delete(e.ctx, c, rest[0]); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "customer %s deleted\n", rest[0])
			return nil
		case "import":
			return e.customerImport(svc, c, o, rest[0])
		case "export":
			if len(rest) == 0 {
				return e.customerExportAll(svc, c, o)
			}
		}
		if *o.email != "" {
			es, err := svc.Customers.Erasures(e.ctx, c, *o.email)
			if err != nil {
				return err
			}
			return e.printErasures(*o.tenant, es)
		}
		x, err := svc.Customers.Export(e.ctx, c, rest[0])
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
			{"confirmation mail", dash(p.MessageID) + ", " + mailAccepted(p.MailAcceptedAt)},
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

func mailAccepted(at *time.Time) string {
	if at == nil {
		return "not (yet) accepted by the mail server"
	}
	return "accepted by the mail server " + at.Format(time.RFC3339)
}
