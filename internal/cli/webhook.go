package cli

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"pforte/internal/account"
	"pforte/internal/webhook"
)

func (e env) webhookCmd(args []string) error {
	const help = "usage: pforte webhook create --url URL --events TYPE,... [--description TEXT] | list | show ID | enable ID | disable ID | delete ID | test ID  [--tenant SLUG] [--db DSN]"
	sub, fs, done, err := e.subcommand("webhook", args, help, map[string]arity{"create": {0, 0}, "list": {0, 0},
		"show": {1, 1}, "enable": {1, 1}, "disable": {1, 1}, "delete": {1, 1}, "test": {1, 1}})
	if done {
		return err
	}
	tenant := fs.String("tenant", account.DefaultTenant, "tenant slug")
	url := fs.String("url", "", "create: the endpoint's URL (https; http only on loopback)")
	events := fs.String("events", "", "create: comma-separated event types, or * for all: "+strings.Join(account.WebhookEvents, ", "))
	description := fs.String("description", "", "create: a note for people")
	var allowPrivate bool
	fs.boolVar(&allowPrivate, "webhook-allow-private", "allow endpoints on loopback, private and link-local addresses, as serve's flag of that name")
	fs.configure = func(c *account.Config) { c.WebhookAllowPrivate = allowPrivate }
	var id int64
	check := func(rest []string) error {
		if len(rest) == 1 {
			var err error
			if id, err = strconv.ParseInt(rest[0], 10, 64); err != nil || id <= 0 {
				return fmt.Errorf("%w: %q is not a webhook id", ErrUsage, rest[0])
			}
		}
		if sub == "create" && (*url == "" || *events == "") {
			return fmt.Errorf("%w: webhook create needs --url and --events", ErrUsage)
		}
		return nil
	}
	return fs.run(check, func(svc *account.Service, _ []string) error {
		c, err := svc.Tenants.CommandLineCaller(e.ctx, *tenant)
		if err != nil {
			return err
		}
		hooks := svc.Webhooks
		switch sub {
		case "create":
			ep, secret, err := hooks.Create(e.ctx, c, account.WebhookInput{URL: url, Events: strings.Split(*events, ","), Description: description})
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "webhook %d created for %s\nsigning secret (shown only now): %s\n", ep.ID, ep.URL, secret)
			return nil
		case "list":
			list, err := hooks.List(e.ctx, c)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tURL\tEVENTS\tENABLED\tFAILING SINCE")
			for _, ep := range list {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%v\t%s\n", ep.ID, ep.URL, strings.Join(ep.Events, ","), ep.Enabled, formatTime(ep.FailingSince))
			}
			return tw.Flush()
		case "show":
			ep, ds, err := hooks.Get(e.ctx, c, id)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "webhook %d %s\nevents: %s\nenabled: %v %s\n\n", ep.ID, ep.URL, strings.Join(ep.Events, ","), ep.Enabled, ep.DisabledWhy)
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "DELIVERY\tEVENT\tTYPE\tSTATUS\tATTEMPTS\tANSWER\tCREATED\tLAST ERROR")
			for _, d := range ds {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", d.ID, d.EventID, d.Type, d.Status, d.Attempts, d.ResponseStatus,
					d.CreatedAt.Format(time.RFC3339), d.LastError)
			}
			return tw.Flush()
		case "enable", "disable":
			on := sub == "enable"
			ep, err := hooks.Update(e.ctx, c, id, account.WebhookInput{Enabled: &on})
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "webhook %d %sd\n", ep.ID, sub)
			return nil
		case "delete":
			if err := hooks.Delete(e.ctx, c, id); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "webhook %d deleted with its deliveries\n", id)
			return nil
		}
		msg, err := hooks.Probe(e.ctx, c, id)
		if err != nil {
			return err
		}
		status, err := webhook.NewSender(allowPrivate, 20*time.Second).Send(e.ctx, msg)
		if err != nil {
			return fmt.Errorf("webhook %d: %s not delivered: %w", id, msg.EventID, err)
		}
		fmt.Fprintf(e.stdout, "webhook %d: %s delivered, the endpoint answered %d\n", id, msg.EventID, status)
		return nil
	})
}
