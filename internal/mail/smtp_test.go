package mail

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"pforte/internal/account"
	"pforte/internal/mail/mailtest"
)

func testEnvelope() account.Envelope {
	return account.Envelope{
		To: "joerg@example.org", ToName: `Jörg "der Pförtner" Müller`,
		From: "noreply@shop.example", FromName: "Shop Grüße",
		Subject: "Bestätigen Sie Ihre Registrierung – jetzt",
		Text:    "Hallo Jörg,\nbitte bestätigen: https://shop.example/confirm?token=abc=def&x=1\n",
		HTML:    `<p>Hallo Jörg,</p><p><a href="https://shop.example/confirm?token=abc=def&amp;x=1">bestätigen</a></p>`,
	}
}

// mustSender returns a sender for srv with the given step timeout.
func mustSender(t *testing.T, srv *mailtest.Server, timeout time.Duration) *SMTPSender {
	t.Helper()
	cfg, err := ParseSMTPURL(srv.URL())
	if err != nil {
		t.Fatalf("ParseSMTPURL(%q): %v", srv.URL(), err)
	}
	cfg.TLSConfig = srv.ClientTLSConfig()
	return NewSMTPSender(cfg, timeout)
}

func TestSMTPSenderDelivers(t *testing.T) {
	srv := mailtest.Start(t)
	s := mustSender(t, srv, 5*time.Second)
	e := testEnvelope()
	if err := s.Send(context.Background(), "<0123abcd@shop.example>", e); err != nil {
		t.Fatalf("Send: %v", err)
	}
	// Without angle brackets, the same header.
	if err := s.Send(context.Background(), "0123abcd@shop.example", e); err != nil {
		t.Fatalf("Send: %v", err)
	}
	ms := srv.WaitFor(t, 2, 5*time.Second)
	for _, m := range ms {
		if m.ParseErr != nil {
			t.Fatalf("parse: %v\n%s", m.ParseErr, m.Data)
		}
		if m.From != e.From || len(m.To) != 1 || m.To[0] != e.To {
			t.Errorf("envelope: MAIL FROM %q, RCPT TO %q", m.From, m.To)
		}
		if m.Subject != e.Subject {
			t.Errorf("Subject = %q, want %q", m.Subject, e.Subject)
		}
		if raw := m.Header.Get("Subject"); !strings.HasPrefix(raw, "=?") {
			t.Errorf("raw Subject %q is not RFC 2047 encoded", raw)
		}
		if m.MessageID != "<0123abcd@shop.example>" {
			t.Errorf("Message-Id = %q", m.MessageID)
		}
		if m.Text != strings.ReplaceAll(e.Text, "\n", "\r\n") || m.HTML != e.HTML {
			t.Errorf("parts:\ntext %q\nhtml %q", m.Text, m.HTML)
		}
		to, err := m.Header.AddressList("To")
		if err != nil || len(to) != 1 || to[0].Name != e.ToName || to[0].Address != e.To {
			t.Errorf("To header %q: %v %v", m.Header.Get("To"), to, err)
		}
		from, err := m.Header.AddressList("From")
		if err != nil || len(from) != 1 || from[0].Name != e.FromName || from[0].Address != e.From {
			t.Errorf("From header %q: %v %v", m.Header.Get("From"), from, err)
		}
		if _, err := m.Header.Date(); err != nil {
			t.Errorf("Date: %v", err)
		}
		if m.Header.Get("Auto-Submitted") != "auto-generated" {
			t.Errorf("Auto-Submitted = %q", m.Header.Get("Auto-Submitted"))
		}
		if ua := m.Header.Get("User-Agent") + m.Header.Get("X-Mailer"); ua != "" {
			t.Errorf("the mailer announces itself: %q", ua)
		}
	}
}

func TestSMTPSenderWithoutNames(t *testing.T) {
	srv := mailtest.Start(t)
	s := mustSender(t, srv, 5*time.Second)
	e := account.Envelope{To: "a@example.org", From: "b@example.org", Subject: "Hello", Text: "text", HTML: "<p>html</p>"}
	if err := s.Send(context.Background(), "<x@y>", e); err != nil {
		t.Fatalf("Send: %v", err)
	}
	m := srv.WaitFor(t, 1, 5*time.Second)[0]
	if got := m.Header.Get("To"); got != "<a@example.org>" {
		t.Errorf("To = %q", got)
	}
	if m.Subject != "Hello" || m.Text != "text" || m.HTML != "<p>html</p>" {
		t.Errorf("got %q %q %q", m.Subject, m.Text, m.HTML)
	}
}

// Header injection: a line break anywhere in a header field, or a second
// recipient, is refused for good, before any connection.
func TestSMTPSenderRefusesInjection(t *testing.T) {
	srv := mailtest.Start(t)
	s := mustSender(t, srv, 5*time.Second)
	tests := []struct {
		name  string
		edit  func(*account.Envelope)
		msgID string
	}{
		{"CRLF in recipient name", func(e *account.Envelope) { e.ToName = "Eve\r\nBcc: victim@example.org" }, ""},
		{"LF in recipient name", func(e *account.Envelope) { e.ToName = "Eve\nBcc: victim@example.org" }, ""},
		{"CR in sender name", func(e *account.Envelope) { e.FromName = "Shop\rX-Evil: 1" }, ""},
		{"CRLF in recipient", func(e *account.Envelope) { e.To = "eve@example.org\r\nRCPT TO:<victim@example.org>" }, ""},
		{"CRLF in sender", func(e *account.Envelope) { e.From = "a@example.org\r\n" }, ""},
		{"CRLF in subject", func(e *account.Envelope) { e.Subject = "Hi\r\nBcc: victim@example.org" }, ""},
		{"two recipients", func(e *account.Envelope) { e.To = "eve@example.org, victim@example.org" }, ""},
		{"invalid recipient", func(e *account.Envelope) { e.To = "not an address" }, ""},
		{"CRLF in message id", func(*account.Envelope) {}, "<a@b>\r\nBcc: victim@example.org"},
		{"message id without @", func(*account.Envelope) {}, "<nothing>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := testEnvelope()
			tt.edit(&e)
			id := tt.msgID
			if id == "" {
				id = "<1@shop.example>"
			}
			err := s.Send(context.Background(), id, e)
			if err == nil || !IsPermanent(err) {
				t.Fatalf("Send = %v, want a permanent error", err)
			}
		})
	}
	if n := srv.Connections(); n != 0 {
		t.Errorf("%d connections; refused mail must not reach the server", n)
	}
}

// Only a 5xx reply is permanent; every other failure is retried.
func TestSMTPSenderClassifiesFailures(t *testing.T) {
	tests := []struct {
		name      string
		opts      []mailtest.Option
		url       func(srv *mailtest.Server) string // default srv.URL()
		set       func(srv *mailtest.Server)
		permanent bool
		code      int
	}{
		{name: "4xx on DATA", set: (*mailtest.Server).ReplyTemp, code: 451},
		{name: "5xx on RCPT", set: (*mailtest.Server).ReplyPerm, permanent: true, code: 550},
		{name: "sender refused", set: (*mailtest.Server).RefuseSender, code: 553},
		{name: "relaying denied (5.7.1)", set: (*mailtest.Server).DenyRelay, code: 554},
		{name: "recipient rejected", set: func(s *mailtest.Server) { s.RejectRecipient("joerg@example.org") }, permanent: true, code: 550},
		{name: "connection refused", set: (*mailtest.Server).Refuse},
		{name: "dropped in DATA", set: (*mailtest.Server).DropInData},
		{name: "slower than the timeout", set: func(s *mailtest.Server) { s.Slow(3 * time.Second) }},
		{name: "STARTTLS not offered", url: func(s *mailtest.Server) string { return "smtp://" + s.Addr() + "?tls=starttls" }},
		{name: "TLS to a plain server", url: func(s *mailtest.Server) string { return "smtp://" + s.Addr() + "?tls=tls" }},
		{name: "wrong password", opts: []mailtest.Option{mailtest.WithAuth("shop", "right")},
			url: func(s *mailtest.Server) string { return "smtp://shop:wrong@" + s.Addr() + "?tls=none" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := mailtest.Start(t, tt.opts...)
			u := srv.URL()
			if tt.url != nil {
				u = tt.url(srv)
			}
			cfg, err := ParseSMTPURL(u)
			if err != nil {
				t.Fatal(err)
			}
			s := NewSMTPSender(cfg, 500*time.Millisecond)
			if tt.set != nil {
				tt.set(srv)
			}
			start := time.Now()
			err = s.Send(context.Background(), "<1@shop.example>", testEnvelope())
			t.Logf("Send: %v", err)
			var se *SendError
			if !errors.As(err, &se) {
				t.Fatalf("Send = %v (%T), want a *SendError", err, err)
			}
			if se.Permanent != tt.permanent || IsPermanent(err) != tt.permanent || se.Code != tt.code {
				t.Errorf("Send = %v: permanent %v code %d, want %v %d", err, se.Permanent, se.Code, tt.permanent, tt.code)
			}
			if strings.Contains(strings.ToLower(err.Error()), "joerg@example.org") {
				t.Errorf("error names the recipient: %v", err)
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("took %v; the timeout is 500ms", took)
			}
			if srv.Accepted() != 0 && tt.name != "slower than the timeout" {
				t.Errorf("the server accepted %d messages", srv.Accepted())
			}
		})
	}
}

// Cancelling the context closes the connection at once, in the middle of
// the conversation.
func TestSMTPSenderCancel(t *testing.T) {
	srv := mailtest.Start(t)
	srv.Slow(10 * time.Second)
	s := mustSender(t, srv, 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Send(ctx, "<1@shop.example>", testEnvelope())
	if err == nil || IsPermanent(err) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send = %v, want a temporary error with the deadline", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("took %v after a 200ms deadline", took)
	}
}

// The server comes back: the next Send succeeds.
func TestSMTPSenderAfterOutage(t *testing.T) {
	srv := mailtest.Start(t)
	s := mustSender(t, srv, 2*time.Second)
	srv.Refuse()
	if err := s.Send(context.Background(), "<1@x>", testEnvelope()); err == nil || IsPermanent(err) {
		t.Fatalf("Send while refused = %v, want a temporary error", err)
	}
	srv.Resume()
	if err := s.Send(context.Background(), "<1@x>", testEnvelope()); err != nil {
		t.Fatalf("Send after Resume: %v", err)
	}
	if n := len(srv.WaitFor(t, 1, 5*time.Second)); n != 1 {
		t.Errorf("%d messages", n)
	}
}

func TestSMTPSenderAuthAndTLS(t *testing.T) {
	tests := []struct {
		name string
		opts []mailtest.Option
	}{
		{"AUTH over plain localhost", []mailtest.Option{mailtest.WithAuth("shop", "s3cret:/@")}},
		{"STARTTLS", []mailtest.Option{mailtest.WithStartTLS()}},
		{"STARTTLS and AUTH", []mailtest.Option{mailtest.WithStartTLS(), mailtest.WithAuth("shop", "s3cret")}},
		{"implicit TLS and AUTH", []mailtest.Option{mailtest.WithImplicitTLS(), mailtest.WithAuth("shop", "s3cret")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := mailtest.Start(t, tt.opts...)
			s := mustSender(t, srv, 5*time.Second)
			if err := s.Send(context.Background(), "<1@shop.example>", testEnvelope()); err != nil {
				t.Fatalf("Send via %s: %v", s.cfg, err)
			}
			m := srv.WaitFor(t, 1, 5*time.Second)[0]
			if m.AuthUser != s.cfg.Username {
				t.Errorf("authenticated as %q, want %q", m.AuthUser, s.cfg.Username)
			}
		})
	}
}

// Without the server's certificate among the roots, TLS fails, and that is
// temporary: a certificate can be fixed.
func TestSMTPSenderUntrustedCertificate(t *testing.T) {
	srv := mailtest.Start(t, mailtest.WithStartTLS())
	cfg, err := ParseSMTPURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	err = NewSMTPSender(cfg, 2*time.Second).Send(context.Background(), "<1@x>", testEnvelope())
	if err == nil || IsPermanent(err) {
		t.Fatalf("Send = %v, want a temporary error", err)
	}
	if srv.Accepted() != 0 {
		t.Error("a message went over an unverified connection")
	}
}

func TestParseSMTPURL(t *testing.T) {
	tests := []struct {
		raw     string
		want    SMTPConfig
		wantErr string
	}{
		{raw: "smtp://user:pass@mail.example.org:587?tls=starttls",
			want: SMTPConfig{Host: "mail.example.org", Port: 587, Username: "user", Password: "pass", TLS: TLSStartTLS}},
		{raw: "smtp://mail.example.org", want: SMTPConfig{Host: "mail.example.org", Port: 587, TLS: TLSStartTLS}},
		{raw: "smtp://mail.example.org?tls=tls", want: SMTPConfig{Host: "mail.example.org", Port: 465, TLS: TLSImplicit}},
		{raw: "smtp://mail.example.org?tls=none", want: SMTPConfig{Host: "mail.example.org", Port: 25, TLS: TLSNone}},
		{raw: "smtp://mail.example.org:2525?tls=NONE", want: SMTPConfig{Host: "mail.example.org", Port: 2525, TLS: TLSNone}},
		{raw: "smtp://u%40x.de:p%3Aw%2Fd@[::1]:1025?tls=none",
			want: SMTPConfig{Host: "::1", Port: 1025, Username: "u@x.de", Password: "p:w/d", TLS: TLSNone}},
		{raw: "smtp://apikey@localhost:25?tls=none", want: SMTPConfig{Host: "localhost", Port: 25, Username: "apikey", TLS: TLSNone}},
		{raw: "smtp://mail.example.org/", want: SMTPConfig{Host: "mail.example.org", Port: 587, TLS: TLSStartTLS}},

		{raw: "", wantErr: "scheme"},
		{raw: "mail.example.org:587", wantErr: "scheme"},
		{raw: "smtps://mail.example.org", wantErr: "scheme"},
		{raw: "http://mail.example.org", wantErr: "scheme"},
		{raw: "smtp://", wantErr: "no host"},
		{raw: "smtp://:25", wantErr: "no host"},
		{raw: "smtp://mail.example.org?tls=ssl", wantErr: "want none, starttls or tls"},
		{raw: "smtp://mail.example.org?tls=", wantErr: "want none, starttls or tls"},
		{raw: "smtp://mail.example.org?tls=none&tls=tls", wantErr: "more than once"},
		{raw: "smtp://mail.example.org?tsl=none", wantErr: "unknown parameter"},
		{raw: "smtp://mail.example.org:0", wantErr: "port"},
		{raw: "smtp://mail.example.org:70000", wantErr: "port"},
		{raw: "smtp://mail.example.org:x", wantErr: "not a URL"},
		{raw: "smtp://mail.example.org/path", wantErr: "path"},
		{raw: "smtp://:secret@mail.example.org", wantErr: "needs a user"},
		{raw: "smtp://user:secret@mail.example.org?tls=none", wantErr: "plain text"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			got, err := ParseSMTPURL(tt.raw)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseSMTPURL = %+v, %v; want an error with %q", got, err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("error shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSMTPURL: %v", err)
			}
			if got.Host != tt.want.Host || got.Port != tt.want.Port || got.Username != tt.want.Username ||
				got.Password != tt.want.Password || got.TLS != tt.want.TLS {
				t.Errorf("ParseSMTPURL = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestSMTPConfigStringRedacts(t *testing.T) {
	cfg, err := ParseSMTPURL("smtp://user:hunter2@mail.example.org?tls=tls")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.String(), "smtp://user:xxxxx@mail.example.org:465?tls=tls"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	// The redacted form parses back to the same place.
	back, err := ParseSMTPURL(cfg.String())
	if err != nil || back.Host != cfg.Host || back.Port != cfg.Port || back.TLS != cfg.TLS {
		t.Errorf("String() does not parse back: %+v, %v", back, err)
	}
	if got := NewSMTPSender(cfg, 0).String(); strings.Contains(got, "hunter2") {
		t.Errorf("SMTPSender.String() = %q shows the password", got)
	}
	if got := (SMTPConfig{Host: "::1", Port: 25, TLS: TLSNone}).String(); got != "smtp://[::1]:25?tls=none" {
		t.Errorf("String() = %q", got)
	}
}
