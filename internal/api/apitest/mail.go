package apitest

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"pforte/internal/mail/mailtest"
)

// MailWait bounds every wait for mail; a passing run never comes close.
const MailWait = 15 * time.Second

// MustMailsTo waits until n mails to exactly addr have arrived at srv and
// returns them all, oldest first. Each must parse.
func MustMailsTo(t testing.TB, srv *mailtest.Server, addr string, n int) []mailtest.Message {
	t.Helper()
	return mustMails(t, srv, addr, n, false)
}

// MustMailsToAnyCase is MustMailsTo for addr in any case, for a test
// that sends to one address in several.
func MustMailsToAnyCase(t testing.TB, srv *mailtest.Server, addr string, n int) []mailtest.Message {
	t.Helper()
	return mustMails(t, srv, addr, n, true)
}

func mustMails(t testing.TB, srv *mailtest.Server, addr string, n int, anyCase bool) []mailtest.Message {
	t.Helper()
	deadline := time.Now().Add(MailWait)
	for {
		all := srv.Messages()
		to := messagesTo(all, addr, anyCase)
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

// MessagesTo picks the mails to exactly addr out of ms.
func MessagesTo(ms []mailtest.Message, addr string) []mailtest.Message {
	return messagesTo(ms, addr, false)
}

// MessagesToAnyCase picks the mails to addr, in any case, out of ms.
func MessagesToAnyCase(ms []mailtest.Message, addr string) []mailtest.Message {
	return messagesTo(ms, addr, true)
}

func messagesTo(ms []mailtest.Message, addr string, anyCase bool) []mailtest.Message {
	var out []mailtest.Message
	for _, m := range ms {
		if slices.ContainsFunc(m.To, func(a string) bool { return a == addr || anyCase && strings.EqualFold(a, addr) }) {
			out = append(out, m)
		}
	}
	return out
}

var linkPattern = regexp.MustCompile(`https?://[^\s<>"]+`)

// Links returns the links in a mail's text, in order.
func Links(text string) []string { return linkPattern.FindAllString(text, -1) }
