package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// pforte --help, -h and help list every command, one line each, and say
// where the server's flags are; they print the list, not serve's flags.
func TestHelpListsEveryCommand(t *testing.T) {
	want := []string{"serve", "migrate", "tenant", "apikey", "app", "mail", "secret", "help"}
	for _, args := range [][]string{{"--help"}, {"-h"}, {"-help"}, {"help"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if err := Run(context.Background(), args, noEnv, &stdout, &stderr); err != nil {
				t.Fatalf("exit with %v, want success", err)
			}
			out := stdout.String()
			for _, name := range want {
				if !regexp.MustCompile(`(?m)^  ` + name + ` +\S.*$`).MatchString(out) {
					t.Errorf("no line for %s:\n%s", name, out)
				}
			}
			for _, c := range commands {
				if !strings.Contains(out, "  "+c.name+" ") {
					t.Errorf("command %s is not listed:\n%s", c.name, out)
				}
			}
			if !strings.Contains(out, "pforte serve --help") {
				t.Errorf("help does not say how to see serve's flags:\n%s", out)
			}
			if strings.Contains(out+stderr.String(), "-session-idle") {
				t.Errorf("help printed serve's flags instead of the commands:\n%s", out)
			}
		})
	}
}

// A usage error opens no database, so it creates none: neither the
// default ./pforte.db nor the one PFORTE_DB names.
func TestUsageErrorsCreateNoDatabase(t *testing.T) {
	for _, args := range [][]string{
		{"frobnicate"},
		{"--db", "sqlite:x.db", "tenant", "list"},
		{"serve", "unexpected"},
		{"serve", "--session-idle", "0"},
		{"serve", "--secret", "short"},
		{"migrate", "extra"},
		{"migrate", "--no-such-flag"},
		{"tenant"},
		{"tenant", "--limit", "3"},
		{"tenant", "frobnicate"},
		{"tenant", "create"},
		{"tenant", "create", "a", "b"},
		{"tenant", "list", "--no-such-flag"},
		{"tenant", "set", "shop"},
		{"tenant", "set", "shop", "no-equals-sign"},
		{"tenant", "set", "shop", "colour=blue"},
		{"tenant", "set", "shop", "delivery=pigeon"},
		{"apikey", "create"},
		{"apikey", "create", "--kind", "root"},
		{"apikey", "list", "extra"},
		{"apikey", "revoke"},
		{"apikey", "revoke", "three"},
		{"app", "create"},
		{"app", "frobnicate"},
		{"app", "list", "--delivery"},
		{"mail"},
		{"mail", "send"},
		{"mail", "list", "extra"},
		{"mail", "list", "--limit", "0"},
		{"secret", "forget"},
		{"healthcheck", "extra"},
		{"healthcheck", "--addr", "nope"},
		{"secret", "show", "extra"},
		{"secret", "frobnicate"},
	} {
		for _, db := range []string{"default", "env"} {
			t.Run(db+"/"+strings.Join(args, " "), func(t *testing.T) {
				dir := t.TempDir()
				t.Chdir(dir)
				vars := map[string]string{}
				if db == "env" {
					vars["PFORTE_DB"] = "sqlite:" + filepath.Join(dir, "env.db")
				}
				err := Run(context.Background(), args, envOf(vars), io.Discard, io.Discard)
				if !errors.Is(err, ErrUsage) {
					t.Errorf("%v, want a usage error", err)
				}
				assertNoFiles(t, dir, "a usage error")
			})
		}
	}
}
