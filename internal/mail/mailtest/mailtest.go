// Package mailtest is an SMTP server for tests. It listens on 127.0.0.1,
// keeps what it receives, and can be switched at runtime to refuse
// connections, to answer 4xx or 5xx, to be slow, or to drop the connection
// in the middle of DATA, so that tests can show how a sender and the
// outbox behave when SMTP misbehaves. It is built on
// github.com/emersion/go-smtp and is safe for concurrent use.
package mailtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// mode is how the server answers.
type mode int

const (
	modeAccept mode = iota
	modeTemp        // 451 on DATA
	modePerm        // 550 on RCPT
	modeSlow        // pause before answering DATA, then accept
	modeDrop        // drop the connection in the middle of DATA
	modeSender      // 553 5.7.1 on MAIL FROM: the sender is refused
	modeRelay       // 554 5.7.1 on RCPT: relaying denied, a policy refusal
)

// Server is a running test SMTP server.
type Server struct {
	t          testing.TB
	srv        *smtp.Server
	addr       string
	implicit   bool        // TLS from the first byte
	clientTLS  *tls.Config // trusts the server's certificate
	user, pass string      // AUTH PLAIN credentials; empty: no AUTH

	done chan struct{} // closed when the server stops

	mu      sync.Mutex
	ln      net.Listener // nil while refusing
	stopped bool
	mode    mode
	slow    time.Duration
	reject  map[string]bool // recipients refused with 550
	msgs    []Message
	conns   int
	arrived chan struct{} // closed and replaced when a message arrives
}

// Option configures a Server.
type Option func(*Server)

// WithAuth makes the server offer AUTH PLAIN and require it,
// with these credentials, before MAIL FROM.
func WithAuth(user, pass string) Option {
	return func(s *Server) { s.user, s.pass = user, pass }
}

// WithStartTLS makes the server offer STARTTLS with a self-signed
// certificate for 127.0.0.1 and localhost; ClientTLSConfig trusts it.
func WithStartTLS() Option {
	return func(s *Server) { s.srv.TLSConfig = s.serverTLS() }
}

// WithImplicitTLS makes the server speak TLS from the first byte (port
// 465 style), with the certificate of WithStartTLS.
func WithImplicitTLS() Option {
	return func(s *Server) { s.implicit = true; s.serverTLS() }
}

// Start starts a server on 127.0.0.1 and a free port. It stops when the
// test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{t: t, done: make(chan struct{}), arrived: make(chan struct{}), reject: map[string]bool{}}
	s.srv = smtp.NewServer(smtp.BackendFunc(s.newSession))
	s.srv.Domain = "mailtest.localhost"
	s.srv.AllowInsecureAuth = true
	s.srv.MaxMessageBytes = 10 << 20
	s.srv.ReadTimeout = 30 * time.Second
	s.srv.WriteTimeout = 30 * time.Second
	s.srv.ErrorLog = log.New(io.Discard, "", 0)
	for _, o := range opts {
		o(s)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mailtest: listen: %v", err)
	}
	s.addr = ln.Addr().String()
	s.serve(ln)
	t.Cleanup(s.stop)
	return s
}

// serve accepts connections on ln until it is closed.
func (s *Server) serve(ln net.Listener) {
	ln = &countingListener{Listener: ln, s: s}
	if s.implicit {
		ln = tls.NewListener(ln, s.srv.TLSConfig)
	}
	s.ln = ln
	go s.srv.Serve(ln) // returns an error once ln is closed: by Refuse, or at the end
}

func (s *Server) stop() {
	s.mu.Lock()
	s.stopped = true
	if s.ln != nil {
		// Closed here too: Serve may not have registered it with srv yet.
		s.ln.Close()
		s.ln = nil
	}
	s.mu.Unlock()
	close(s.done)
	s.srv.Close()
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.addr }

// URL is the server as pforte's SMTP URL, e.g. smtp://127.0.0.1:2525?tls=none
// (with credentials for WithAuth, and tls=starttls or tls=tls for the TLS
// options).
func (s *Server) URL() string {
	tlsMode := "none"
	switch {
	case s.implicit:
		tlsMode = "tls"
	case s.srv.TLSConfig != nil:
		tlsMode = "starttls"
	}
	u := url.URL{Scheme: "smtp", Host: s.addr, RawQuery: "tls=" + tlsMode}
	if s.user != "" {
		u.User = url.UserPassword(s.user, s.pass)
	}
	return u.String()
}

// ClientTLSConfig is a client TLS configuration that trusts the server's
// certificate; nil without WithStartTLS or WithImplicitTLS.
func (s *Server) ClientTLSConfig() *tls.Config {
	if s.clientTLS == nil {
		return nil
	}
	return s.clientTLS.Clone()
}

// Accept makes the server accept mail again (the default), and reopens
// the listener if Refuse closed it.
func (s *Server) Accept() {
	s.setMode(modeAccept, 0)
	s.Resume()
}

// Refuse closes the listener, so that connections are refused, as when
// the SMTP server is down. Resume (or Accept) reopens it on the same port.
func (s *Server) Refuse() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		s.ln.Close()
		s.ln = nil
	}
}

// Resume reopens the listener on the same port after Refuse.
func (s *Server) Resume() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil || s.stopped {
		return
	}
	var err error
	for range 50 { // the port is ours, but give the kernel a moment
		var ln net.Listener
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			s.serve(ln)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Errorf("mailtest: reopening %s: %v", s.addr, err)
}

// ReplyTemp makes the server answer DATA with 451, a temporary failure.
func (s *Server) ReplyTemp() { s.setMode(modeTemp, 0) }

// ReplyPerm makes the server refuse every recipient with 550, a permanent
// failure.
func (s *Server) ReplyPerm() { s.setMode(modePerm, 0) }

// RejectRecipient makes the server refuse this recipient (as given in
// RCPT TO) with 550, whatever the mode.
func (s *Server) RejectRecipient(addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reject[addr] = true
}

// Slow makes the server pause for d before it answers DATA. It then
// accepts and keeps the message, as a real server would, even if the
// client gave up waiting: that is how a timeout turns into a duplicate.
func (s *Server) Slow(d time.Duration) { s.setMode(modeSlow, d) }

// RefuseSender makes the server refuse every sender with 553 5.7.1, as a
// server does whose domain or authentication pforte is not set up for.
func (s *Server) RefuseSender() { s.setMode(modeSender, 0) }

// DenyRelay makes the server refuse every recipient with 554 5.7.1
// (relaying denied), a policy refusal rather than a bad address.
func (s *Server) DenyRelay() { s.setMode(modeRelay, 0) }

// DropInData makes the server close the connection in the middle of
// DATA, without a reply. The message is not kept.
func (s *Server) DropInData() { s.setMode(modeDrop, 0) }

func (s *Server) setMode(m mode, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mode, s.slow = m, d
}

// Connections is the number of TCP connections the server accepted.
// Connections refused while the listener is closed are not counted.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// Accepted is the number of messages the server accepted.
func (s *Server) Accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.msgs)
}

// Messages returns the messages accepted so far, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Reset forgets the messages received so far and the counters.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs, s.conns = nil, 0
}

// WaitFor waits until at least n messages have arrived and returns all of
// them. It fails the test if they do not arrive within timeout.
func (s *Server) WaitFor(t testing.TB, n int, timeout time.Duration) []Message {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		got, arrived := len(s.msgs), s.arrived
		s.mu.Unlock()
		if got >= n {
			return s.Messages()
		}
		select {
		case <-arrived:
		case <-deadline.C:
			t.Fatalf("mailtest: %d of %d messages arrived within %v", got, n, timeout)
			return nil
		}
	}
}

func (s *Server) keep(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, m)
	close(s.arrived)
	s.arrived = make(chan struct{})
}

func (s *Server) current() (mode, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mode, s.slow
}

// serverTLS makes the self-signed certificate on first use.
func (s *Server) serverTLS() *tls.Config {
	if s.srv.TLSConfig != nil {
		return s.srv.TLSConfig
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		s.t.Fatalf("mailtest: key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "mailtest"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		s.t.Fatalf("mailtest: certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		s.t.Fatalf("mailtest: certificate: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	s.clientTLS = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	s.srv.TLSConfig = &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}},
		MinVersion:   tls.VersionTLS12,
	}
	return s.srv.TLSConfig
}

// countingListener counts the connections it accepts.
type countingListener struct {
	net.Listener
	s *Server
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.s.mu.Lock()
		l.s.conns++
		l.s.mu.Unlock()
	}
	return c, err
}

// session is one SMTP connection's transaction state.
type session struct {
	s      *Server
	conn   *smtp.Conn
	authed string // the user that authenticated
	from   string
	to     []string
}

func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{s: s, conn: c}, nil
}

var (
	errTemp   = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "mailtest: try again later"}
	errPerm   = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "mailtest: no such user"}
	errSender = &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "mailtest: sender refused"}
	errRelay  = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "mailtest: relaying denied"}
	errDrop   = errors.New("mailtest: connection dropped in DATA")
)

func (ss *session) AuthMechanisms() []string {
	if ss.s.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != ss.s.user || pass != ss.s.pass {
			return smtp.ErrAuthFailed
		}
		ss.authed = user
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.user != "" && ss.authed == "" {
		return smtp.ErrAuthRequired
	}
	if m, _ := ss.s.current(); m == modeSender {
		return errSender
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	m, _ := ss.s.current()
	ss.s.mu.Lock()
	rejected := ss.s.reject[to]
	ss.s.mu.Unlock()
	if m == modeRelay {
		return errRelay
	}
	if m == modePerm || rejected {
		return errPerm
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	m, d := ss.s.current()
	switch m {
	case modeTemp:
		io.Copy(io.Discard, r)
		return errTemp
	case modeDrop:
		// Read a little, then hang up without a word.
		io.CopyN(io.Discard, r, 64)
		ss.conn.Conn().Close()
		return errDrop
	case modeSlow:
		select {
		case <-time.After(d):
		case <-ss.s.done:
			return errTemp
		}
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	msg := parse(data)
	msg.From, msg.To, msg.AuthUser = ss.from, append([]string(nil), ss.to...), ss.authed
	ss.s.keep(msg)
	return nil
}

func (ss *session) Reset() { ss.from, ss.to = "", nil }

func (ss *session) Logout() error { return nil }
