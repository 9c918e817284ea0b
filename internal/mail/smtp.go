package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"pforte/internal/account"
)

// TLSMode is how the SMTP connection is secured.
type TLSMode string

const (
	TLSNone     TLSMode = "none"     // plain text; only for a relay on localhost or a trusted network
	TLSStartTLS TLSMode = "starttls" // STARTTLS, mandatory: no fallback to plain text
	TLSImplicit TLSMode = "tls"      // TLS from the first byte (port 465)
)

// defaultPorts are the submission ports of each mode.
var defaultPorts = map[TLSMode]int{TLSNone: 25, TLSStartTLS: 587, TLSImplicit: 465}

// SMTPConfig is where and how mail is submitted.
type SMTPConfig struct {
	Host     string
	Port     int
	Username string // empty: no AUTH
	Password string
	TLS      TLSMode
	// TLSConfig, if set, replaces the default client TLS configuration
	// (system roots, server name Host); tests use it to trust their own
	// certificate.
	TLSConfig *tls.Config
}

// ParseSMTPURL reads an SMTP URL such as
// smtp://user:pass@host:587?tls=starttls, where tls is none, starttls
// (the default) or tls, and the port defaults to 25, 587 or 465 by mode.
func ParseSMTPURL(raw string) (SMTPConfig, error) {
	var cfg SMTPConfig
	u, err := url.Parse(raw)
	if err != nil {
		// url's errors quote the whole URL, password included.
		return cfg, errors.New("smtp url: not a URL; expected smtp://[user:pass@]host[:port][?tls=none|starttls|tls]")
	}
	if u.Scheme != "smtp" {
		return cfg, fmt.Errorf("smtp url: scheme %q, want smtp (e.g. smtp://user:pass@host:587?tls=starttls)", u.Scheme)
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return cfg, errors.New("smtp url: no host; expected smtp://[user:pass@]host[:port][?tls=none|starttls|tls]")
	}
	if (u.Path != "" && u.Path != "/") || u.Fragment != "" {
		return cfg, errors.New("smtp url: a path or fragment means nothing here")
	}
	if cfg.TLS, err = tlsMode(u.RawQuery); err != nil {
		return cfg, err
	}
	cfg.Host = u.Hostname()
	cfg.Port = defaultPorts[cfg.TLS]
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return cfg, fmt.Errorf("smtp url: port %q, want 1 to 65535", p)
		}
		cfg.Port = n
	}
	if u.User != nil {
		cfg.Username = u.User.Username()
		cfg.Password, _ = u.User.Password()
		if cfg.Username == "" {
			return cfg, errors.New("smtp url: a password needs a user name")
		}
		// Credentials never cross a network in plain text; go-mail would
		// refuse too, but only at the first send.
		if cfg.TLS == TLSNone && !isLoopback(cfg.Host) {
			return cfg, errors.New("smtp url: credentials with tls=none would go over the network in plain text; use starttls or tls")
		}
	}
	return cfg, nil
}

// tlsMode reads the query of an SMTP URL: at most one tls parameter,
// starttls when there is none.
func tlsMode(rawQuery string) (TLSMode, error) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "", fmt.Errorf("smtp url: query: %w", err)
	}
	mode := TLSStartTLS
	for k, vs := range q {
		if k != "tls" {
			return "", fmt.Errorf("smtp url: unknown parameter %q; only tls=none|starttls|tls", k)
		}
		if len(vs) != 1 {
			return "", errors.New("smtp url: tls given more than once")
		}
		switch m := TLSMode(strings.ToLower(vs[0])); m {
		case TLSNone, TLSStartTLS, TLSImplicit:
			mode = m
		default:
			return "", fmt.Errorf("smtp url: tls=%q, want none, starttls or tls", vs[0])
		}
	}
	return mode, nil
}

// isLoopback tells the hosts go-mail's PLAIN and LOGIN accept without TLS.
func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// String is the configuration as a URL, with the password redacted, for
// logs and error messages.
func (c SMTPConfig) String() string {
	u := url.URL{Scheme: "smtp", Host: net.JoinHostPort(c.Host, strconv.Itoa(c.Port)), RawQuery: "tls=" + string(c.TLS)}
	switch {
	case c.Username != "" && c.Password != "":
		u.User = url.UserPassword(c.Username, "xxxxx")
	case c.Username != "":
		u.User = url.User(c.Username)
	}
	return u.String()
}

// SendError is a failed delivery. It is Permanent only when the SMTP
// server refused the mail with a 5xx reply; a refused connection, a
// timeout, a dropped connection, a TLS failure or a 4xx reply is
// temporary, and the outbox tries again.
type SendError struct {
	Permanent bool
	Code      int // the SMTP reply code; 0 when the server gave none
	msg       string
	Err       error
}

// Error says what failed, with the recipient's address redacted, so that
// it may be logged and kept with the outbox row.
func (e *SendError) Error() string { return e.msg }

func (e *SendError) Unwrap() error { return e.Err }

// IsPermanent reports whether err is a permanent delivery failure: a
// retry would be refused the same way.
func IsPermanent(err error) bool {
	var se *SendError
	return errors.As(err, &se) && se.Permanent
}

// SMTPSender submits mail to an SMTP server, one connection per mail.
type SMTPSender struct {
	cfg     SMTPConfig
	timeout time.Duration
}

// NewSMTPSender makes a sender. timeout bounds each step of the SMTP
// conversation (connecting, each command, the DATA reply); 0 means 30 s.
func NewSMTPSender(cfg SMTPConfig, timeout time.Duration) *SMTPSender {
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	return &SMTPSender{cfg: cfg, timeout: timeout}
}

// String is the server the sender submits to, password redacted.
func (s *SMTPSender) String() string { return s.cfg.String() }

// Send submits e with the given Message-ID (with or without its angle
// brackets), which stays the same across retries. Cancelling ctx closes
// the connection at once, wherever the conversation is. Every error is a
// *SendError.
func (s *SMTPSender) Send(ctx context.Context, messageID string, e account.Envelope) error {
	msg, err := buildMessage(messageID, e)
	if err != nil {
		return &SendError{Permanent: true, msg: "invalid mail: " + redact(err.Error(), e.To), Err: err}
	}
	// The conversation happens on a connection dialled here, so that a
	// cancelled ctx can close it: go-mail honours ctx only while dialling.
	var stop func() bool
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	dial := func(dctx context.Context, network, addr string) (net.Conn, error) {
		var conn net.Conn
		var err error
		if s.cfg.TLS == TLSImplicit {
			conn, err = (&tls.Dialer{Config: s.tlsConfig()}).DialContext(dctx, network, addr)
		} else {
			conn, err = (&net.Dialer{}).DialContext(dctx, network, addr)
		}
		if err != nil {
			return nil, err
		}
		stop = context.AfterFunc(ctx, func() { conn.Close() })
		return conn, nil
	}
	client, err := gomail.NewClient(s.cfg.Host, s.clientOptions(dial)...)
	if err != nil {
		return &SendError{msg: "smtp client: " + err.Error(), Err: err}
	}
	err = client.DialAndSendWithContext(ctx, msg)
	if err == nil || msg.IsDelivered() {
		// Accepted. A failure after the server's 250 (RSET, QUIT) does
		// not make it unsent, and sending it again would duplicate it.
		return nil
	}
	return classify(ctx, err, e.To)
}

func (s *SMTPSender) tlsConfig() *tls.Config {
	if s.cfg.TLSConfig != nil {
		c := s.cfg.TLSConfig.Clone()
		if c.ServerName == "" {
			c.ServerName = s.cfg.Host
		}
		return c
	}
	return &tls.Config{ServerName: s.cfg.Host, MinVersion: tls.VersionTLS12}
}

func (s *SMTPSender) clientOptions(dial gomail.DialContextFunc) []gomail.Option {
	opts := []gomail.Option{
		gomail.WithPort(s.cfg.Port),
		gomail.WithTimeout(s.timeout),
		gomail.WithTLSConfig(s.tlsConfig()),
		gomail.WithDialContextFunc(dial),
	}
	switch s.cfg.TLS {
	case TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	default: // none, or implicit TLS that dial already set up
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if s.cfg.Username != "" {
		// PLAIN or LOGIN, whichever the server offers, and go-mail's
		// discovery of the others otherwise. Both refuse to send the
		// password over a connection without TLS, except to localhost.
		opts = append(opts,
			gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthPlain, gomail.SMTPAuthLogin),
			gomail.WithUsername(s.cfg.Username), gomail.WithPassword(s.cfg.Password))
	}
	return opts
}

// buildMessage makes the message for e: one recipient, text and HTML.
func buildMessage(messageID string, e account.Envelope) (*gomail.Msg, error) {
	// Header injection: go-mail encodes names, and refuses malformed
	// addresses, but CR or LF has no business in any of these, so it is
	// refused outright rather than trusted to encoding.
	for _, f := range []struct{ name, v string }{
		{"recipient name", e.ToName}, {"recipient", e.To}, {"sender name", e.FromName},
		{"sender", e.From}, {"subject", e.Subject}, {"message id", messageID},
	} {
		if strings.ContainsAny(f.v, "\r\n\x00") {
			return nil, fmt.Errorf("%s contains a line break", f.name)
		}
	}
	id := strings.TrimSuffix(strings.TrimPrefix(messageID, "<"), ">")
	if !validMessageID.MatchString(id) {
		return nil, fmt.Errorf("message id %q is not of the form local@domain", messageID)
	}
	// A single address, never a list: a comma or semicolon in To is not
	// a second recipient.
	if strings.ContainsAny(e.To, ",;") {
		return nil, errors.New("recipient is not a single address")
	}
	m := gomail.NewMsg(gomail.WithNoDefaultUserAgent()) // no software version for the world
	if err := setAddr(m.FromFormat, m.From, e.FromName, e.From); err != nil {
		return nil, fmt.Errorf("sender: %w", err)
	}
	if err := setAddr(m.AddToFormat, m.AddTo, e.ToName, e.To); err != nil {
		return nil, fmt.Errorf("recipient: %w", err)
	}
	if rcpts, err := m.GetRecipients(); err != nil || len(rcpts) != 1 {
		return nil, errors.New("not exactly one recipient")
	}
	m.Subject(e.Subject)
	m.SetMessageIDWithValue(id)
	m.SetDate()
	// RFC 3834: automatic mail; out-of-office replies stay away.
	m.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated")
	m.SetBodyString(gomail.TypeTextPlain, e.Text)
	if e.HTML != "" {
		m.AddAlternativeString(gomail.TypeTextHTML, e.HTML)
	}
	return m, nil
}

// setAddr sets an address with its display name, if it has one. The name
// is quoted for go-mail's "name" <addr> form, so that a quote in a name
// neither breaks the address nor ends the name early.
func setAddr(withName func(name, addr string) error, bare func(addr string) error, name, addr string) error {
	if strings.TrimSpace(name) == "" {
		return bare(addr)
	}
	return withName(nameQuoter.Replace(name), addr)
}

var nameQuoter = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

// validMessageID is a msg-id's content without its angle brackets:
// printable ASCII without spaces or brackets, one @.
var validMessageID = regexp.MustCompile(`^[!-;=?A-~]+@[!-;=?A-~]+$`)

// classify turns go-mail's error into a SendError. Only a 5xx reply in
// the mail transaction (MAIL FROM, RCPT TO, DATA) is permanent: go-mail
// reports those as a *gomail.SendError with the reply code. go-mail's own
// IsTemp is not used, as it calls anything not starting with 4 permanent,
// a dropped connection included. A 5xx while setting up the connection
// (greeting, EHLO, STARTTLS, AUTH) is about the server or our
// configuration, not this mail, so it is retried like an outage rather
// than failing every mail. So is a 5xx to MAIL FROM (the sender was
// refused: every mail would be) and any 5.7.x status (authentication or
// policy: "relay denied", "authentication required"), which an operator
// fixes while the mail waits.
func classify(ctx context.Context, err error, to string) *SendError {
	se := &SendError{Err: err}
	var gse *gomail.SendError
	if errors.As(err, &gse) {
		se.Code = gse.ErrorCode()
		se.Permanent = se.Code >= 500 && se.Code < 600 &&
			gse.Reason != gomail.ErrSMTPMailFrom && !strings.HasPrefix(gse.EnhancedStatusCode(), "5.7.")
	}
	msg := err.Error()
	if ctx.Err() != nil && se.Code == 0 {
		// The connection was closed under go-mail: say why.
		msg = fmt.Sprintf("%v (%v)", ctx.Err(), msg)
		se.Err = errors.Join(ctx.Err(), err)
	}
	se.msg = "smtp: " + redact(strings.ReplaceAll(msg, "\n", "; "), to)
	return se
}

// redact removes the recipient's address from an error message: servers
// and go-mail repeat it, and it must not reach logs or the outbox row.
func redact(msg, addr string) string {
	if addr == "" {
		return msg
	}
	re := regexp.MustCompile(`(?i)` + regexp.QuoteMeta(addr))
	return re.ReplaceAllString(msg, "[recipient]")
}
