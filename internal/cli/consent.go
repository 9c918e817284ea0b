package cli

import (
	"encoding/hex"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"pforte/internal/account"
)

func (e env) consent(args []string) error {
	const help = "usage: pforte consent add --version V --lang de|en --file F [--app NAME] | list  [--tenant SLUG] [--db DSN]"
	sub, fs, done, err := e.subcommand("consent", args, help, map[string]arity{"add": {0, 0}, "list": {0, 0}})
	if done {
		return err
	}
	tenant := fs.String("tenant", account.DefaultTenant, "tenant slug")
	version := fs.String("version", "", "the version's name, such as 2026-12")
	lang := fs.String("lang", "", "the text's language: de or en")
	file := fs.String("file", "", "a file holding the text, as the register page shows it")
	app := fs.String("app", "", "an application of the tenant whose text this is (default: the tenant's)")
	var text []byte
	check := func([]string) error {
		if sub != "add" {
			return nil
		}
		if *version == "" || *lang == "" || *file == "" {
			return fmt.Errorf("%w: consent add needs --version, --lang and --file", ErrUsage)
		}
		var err error
		if text, err = os.ReadFile(*file); err != nil {
			return fmt.Errorf("%w: %v", ErrUsage, err)
		}
		return nil
	}
	return fs.run(check, func(svc *account.Service, _ []string) error {
		if sub == "add" {
			ct, err := svc.Consents.Add(e.ctx, *tenant, *app, *version, *lang, string(text))
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "consent %s (%s) kept, sha256 %s\n", ct.Version, ct.Lang, hex.EncodeToString(ct.Hash))
			return nil
		}
		list, err := svc.Consents.List(e.ctx, *tenant)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "VERSION\tLANG\tAPP\tSHA256\tCREATED\tSHOWN")
		for _, ct := range list {
			app := "-"
			if ct.AppID != 0 {
				app = fmt.Sprint(ct.AppID)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", ct.Version, ct.Lang, app, hex.EncodeToString(ct.Hash)[:16]+"…",
				ct.CreatedAt.Format(time.RFC3339), formatTime(ct.ShownAt))
		}
		return tw.Flush()
	})
}
