package apitest

import (
	"regexp"
	"slices"
	"testing"
	"time"

	"pforte/internal/mail/mailtest"
)

// MailWait bounds every wait for mail; a passing run never comes close.
const MailWait = 15 * time.Second

// MustMailsTo waits until n mails to exactly addr have arrived at srv and returns them all, oldest first. Each must
// parse.
func MustMailsTo(t *testing.T, srv *mailtest.Server, addr string, n int) []mailtest.Message {
	t.Helper()
	deadline := time.Now().Add(MailWait)
	for {
		all := srv.Messages()
		to := MessagesTo(all, addr)
		if len(to) >= n {
			for _, m := range to {
				if m.ParseErr != nil {
					t.Fatalf("mail to %s does not parse: %v\n%s", addr, m.ParseErr, m.Data)
				}
			}
			return to
		}
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("%d of %d mails to %s arrived within %v", len(to), n, addr, MailWait)
		}
		srv.WaitFor(t, len(all)+1, left)
	}
}

// MessagesTo picks the mails to exactly addr out of ms: a test that
// writes an address in other case than it was sent to finds none.
func MessagesTo(ms []mailtest.Message, addr string) []mailtest.Message {
	var out []mailtest.Message
	for _, m := range ms {
		if slices.Contains(m.To, addr) {
			out = append(out, m)
		}
	}
	return out
}

var linkPattern = regexp.MustCompile(`https?://[^\s<>"]+`)

// Links returns the links in a mail's text, in order.
func Links(text string) []string { return linkPattern.FindAllString(text, -1) }
