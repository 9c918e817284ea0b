package cli

import (
	"bytes"
	"context"
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
