package cli

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"pforte/internal/account"
)

func (e env) mail(args []string) error {
	const help = "usage: pforte mail list [--tenant SLUG] [--limit N] [--db DSN]\n" +
		"       pforte mail show ID [--db DSN]   (the text of an unsent mail, with its link)"
	sub, fs, done, err := e.subcommand("mail", args, help, map[string]arity{"list": {0, 0}, "show": {1, 1}})
	if done {
		return err
	}
	tenant := fs.String("tenant", "", "only this tenant's mail (default: every tenant)")
	limit := fs.Int("limit", 20, "how many of the newest mails, at least 1")
	var id int64
	check := func(rest []string) error {
		if *limit < 1 {
			return fmt.Errorf("%w: --limit is %d: it must be at least 1", ErrUsage, *limit)
		}
		if sub == "show" {
			var err error
			if id, err = strconv.ParseInt(rest[0], 10, 64); err != nil || id < 1 {
				return fmt.Errorf("%w: %q is no mail ID; 'pforte mail list' shows them", ErrUsage, rest[0])
			}
		}
		return nil
	}
	return fs.run(check, func(svc *account.Service, rest []string) error {
		if sub == "show" {
			return e.showMail(svc, id)
		}
		mails, err := svc.Outbox.List(e.ctx, *tenant, *limit)
		if err != nil {
			return err
		}
		if len(mails) == 0 {
			fmt.Fprintln(e.stdout, "no mail")
			return nil
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tCREATED\tSTATUS\tKIND\tLOCALE\tATTEMPTS\tTO\tSUBJECT")
		for _, m := range mails {
			to, subject := "(erased after delivery)", ""
			switch {
			case m.Envelope != nil:
				to, subject = m.Envelope.To, m.Envelope.Subject
			case len(m.Sealed) > 0:
				to = "(sealed under another secret: give --secret or PFORTE_SECRET as serve has it)"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", m.ID, m.CreatedAt.Format(time.RFC3339), m.Status, m.Kind,
				m.Locale, m.Attempts, to, subject)
			if m.Envelope != nil {
				for _, link := range m.Envelope.Links {
					fmt.Fprintf(tw, "\t\t\t\t\t\tlink:\t%s\n", link)
				}
			}
			if m.LastError != "" {
				fmt.Fprintf(tw, "\t\t\t\t\t\terror:\t%s\n", strings.ReplaceAll(m.LastError, "\n", " "))
			}
		}
		return tw.Flush()
	})
}

// showMail prints one mail: its headers and, while it is unsent, its text.
func (e env) showMail(svc *account.Service, id int64) error {
	m, err := svc.Outbox.Get(e.ctx, id)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "ID:      %d\nStatus:  %s\nKind:    %s\nCreated: %s\n", m.ID, m.Status, m.Kind, m.CreatedAt.Format(time.RFC3339))
	switch {
	case m.Envelope != nil:
		env := m.Envelope
		fmt.Fprintf(e.stdout, "From:    %s\nTo:      %s\nSubject: %s\n\n%s\n", env.From, env.To, env.Subject, strings.TrimRight(env.Text, "\n"))
	case len(m.Sealed) > 0:
		fmt.Fprintln(e.stdout, "\n(sealed under another secret: give --secret or PFORTE_SECRET as serve has it)")
	default:
		fmt.Fprintln(e.stdout, "\n(the content is erased once a mail is sent or has failed)")
	}
	return nil
}

func (e env) app(args []string) error {
	const help = "usage: pforte app create NAME [--endpoint URL] [--confirm-url U] [--reset-url U] [--invite-url U] [--delivery mail|return|both] [--set KEY=VALUE]...\n" +
		"                         [--oidc confidential|public|none] [--redirect-uri URI]... [--post-logout-uri URI]...\n" +
		"       pforte app update NAME [the same flags, --name NEW, --rotate-secret]\n" +
		"       pforte app list | delete NAME            (all take --tenant SLUG and --db DSN)"
	sub, fs, done, err := e.subcommand("app", args, help, map[string]arity{
		"create": {1, 1}, "update": {1, 1}, "delete": {1, 1}, "list": {0, 0},
	})
	if done {
		return err
	}
	tenant := fs.String("tenant", account.DefaultTenant, "tenant slug")
	var p account.AppPatch
	// Only flags given on the command line change anything.
	optional := func(name, usage string, dst **string) {
		fs.Func(name, usage, func(v string) error { *dst = &v; return nil })
	}
	optional("name", "new name (update)", &p.Name)
	optional("endpoint", "request endpoint: links go to {endpoint}?accountId=..&customerId=..&token=..&action=..", &p.Endpoint)
	optional("confirm-url", "link template for confirmations, with {token}", &p.ConfirmURL)
	optional("reset-url", "link template for password resets, with {token}", &p.ResetURL)
	optional("invite-url", "link template for invitations, with {token}", &p.InviteURL)
	fs.Func("delivery", "mail, return or both (empty: the tenant's)", func(v string) error {
		d := account.Delivery(v)
		p.Delivery = &d
		return nil
	})
	fs.Func("set", "KEY=VALUE: override the tenant's setting KEY for this application (pages.display_name, pages.return_urls, ...); an empty VALUE removes the override; repeatable", func(kv string) error {
		key, value, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("%q is not KEY=VALUE", kv)
		}
		if p.Settings == nil {
			p.Settings = map[string]string{}
		}
		p.Settings[key] = value
		return nil
	})
	client := func() *account.ClientPatch {
		if p.Client == nil {
			p.Client = &account.ClientPatch{}
		}
		return p.Client
	}
	fs.Func("oidc", "make the application an OpenID Connect client: confidential (a server-side site, with a secret) or public (an app, with PKCE); none ends it", func(v string) error {
		t := account.ClientType(v)
		if v == "none" {
			t = account.ClientNone
		}
		client().Type = &t
		return nil
	})
	uriList := func(name, usage string, dst func() **[]string) {
		fs.Func(name, usage, func(v string) error {
			list := dst()
			if *list == nil {
				*list = &[]string{}
			}
			**list = append(**list, v)
			return nil
		})
	}
	uriList("redirect-uri", "an allowed OpenID Connect redirect URI, matched exactly; repeatable, and the list given replaces the old", func() **[]string { return &client().RedirectURIs })
	uriList("post-logout-uri", "an allowed post-logout redirect URI; repeatable, and the list given replaces the old", func() **[]string { return &client().LogoutURIs })
	fs.BoolFunc("rotate-secret", "make a new client secret (update; the old one stops working)", func(string) error {
		client().NewSecret = true
		return nil
	})
	return fs.run(nil, func(svc *account.Service, rest []string) error {
		c, err := svc.Tenants.Caller(e.ctx, *tenant)
		if err != nil {
			return err
		}
		c.Key = account.KeySecret // the operator at the command line may do everything
		switch {
		case sub == "create" && len(rest) == 1:
			p.Name = &rest[0]
			a, err := svc.Apps.Create(e.ctx, c, p)
			if err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, a.Name)
			e.printClient(a)
			return nil
		case sub == "update" && len(rest) == 1:
			a, err := svc.Apps.Update(e.ctx, c, rest[0], p)
			if err == nil {
				e.printClient(a)
			}
			return err
		case sub == "delete" && len(rest) == 1:
			return svc.Apps.Delete(e.ctx, c, rest[0])
		case sub == "list" && len(rest) == 0:
			apps, err := svc.Apps.List(e.ctx, c)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tDELIVERY\tENDPOINT\tCONFIRM URL\tRESET URL\tINVITE URL\tSETTINGS\tOIDC CLIENT")
			for _, a := range apps {
				var settings []string
				for key, value := range a.Settings {
					settings = append(settings, key+"="+value)
				}
				sort.Strings(settings)
				oidc := "-"
				if a.Client.Type != account.ClientNone {
					oidc = string(a.Client.Type) + " " + a.Client.ID + " " + strings.Join(a.Client.RedirectURIs, " ")
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.Name, orDash(string(a.Delivery)), orDash(a.Endpoint),
					orDash(a.ConfirmURL), orDash(a.ResetURL), orDash(a.InviteURL), orDash(strings.Join(settings, " ")), oidc)
			}
			return tw.Flush()
		}
		return fmt.Errorf("%w: %s", ErrUsage, help)
	})
}

// printClient shows an application's client_id, and its secret in the
// one answer that has it.
func (e env) printClient(a account.Application) {
	if a.Client.Type == account.ClientNone {
		return
	}
	fmt.Fprintf(e.stdout, "client_id: %s\n", a.Client.ID)
	if a.NewClientSecret != "" {
		fmt.Fprintf(e.stdout, "client_secret: %s\n(shown once: pforte keeps only its hash)\n", a.NewClientSecret)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
