package cli

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"time"

	"pforte/internal/account"
	"pforte/internal/api/wire"
	"pforte/internal/mail"
	"pforte/internal/password"
	"pforte/internal/redislimit"
)

// serveConfig is how pforte serve is configured. Every field is a flag and
// a PFORTE_* environment variable (see README.md, Configuration);
// defaultServeConfig holds the defaults, and they are nowhere else: the
// command hands every value on explicitly.
type serveConfig struct {
	Addr, DB, LogFormat, LogLevel, Secret string

	Argon2Memory, Argon2Iterations, Argon2Parallelism int
	HashSlots, HashQueue                              int
	PasswordBlocklist                                 bool
	WebhookAllowPrivate                               bool

	ConfirmTTL, ResetTTL, InviteTTL             time.Duration
	SessionIdle, SessionMaxAge, UniformResponse time.Duration

	CORSOrigins, PublicURL, TrustedProxies, MetricsAddr string
	ClientRateLimit, ClientBurst                        int
	RedisURL, RedisPrefix                               string

	SMTPURL, MailFrom string
	MailRetention     time.Duration

	// Worked out by check from the fields above.
	params    password.Params
	publicURL string // PublicURL, or this machine's URL when none is given
	proxies   []netip.Prefix
	smtp      *mail.SMTPConfig // nil: mail stays in the outbox
}

// defaultServeConfig is the configuration of a serve given no flags and no
// environment.
func defaultServeConfig() serveConfig {
	argon := password.DefaultParams()
	return serveConfig{
		Addr:      "127.0.0.1:8080",
		DB:        defaultDB,
		LogFormat: "text",
		LogLevel:  "info",

		Argon2Memory:      int(argon.Memory),
		Argon2Iterations:  int(argon.Iterations),
		Argon2Parallelism: int(argon.Parallelism),
		HashSlots:         runtime.NumCPU(),
		HashQueue:         0, // not given: hashQueuePerSlot for each slot
		PasswordBlocklist: true,

		ConfirmTTL:      24 * time.Hour,
		ResetTTL:        time.Hour,
		InviteTTL:       7 * 24 * time.Hour,
		SessionIdle:     30 * time.Minute,
		SessionMaxAge:   12 * time.Hour,
		UniformResponse: 250 * time.Millisecond,

		ClientRateLimit: 120,
		ClientBurst:     30,
		RedisPrefix:     "pforte:",

		MailFrom:      "pforte <noreply@localhost>",
		MailRetention: 30 * 24 * time.Hour,
	}
}

// hashQueuePerSlot is how many hashes may wait for each slot when
// --hash-queue is not given.
const hashQueuePerSlot = 32

// defineServeFlags defines serve's flags on fs, with c's values as their
// defaults and c's fields as their variables.
func defineServeFlags(fs *flagSet, c *serveConfig) {
	fs.stringVar(&c.Addr, "addr", "address to listen on")
	fs.stringVar(&c.DB, "db", "database: sqlite:PATH or postgres://USER@HOST/DB")
	fs.stringVar(&c.LogFormat, "log-format", "log format: text or json")
	fs.stringVar(&c.LogLevel, "log-level", "log level: debug, info, warn or error")
	fs.stringVar(&c.Secret, "secret", "server secret (at least 16 characters) everything keyed derives from; generated and stored in the database when empty")
	fs.intVar(&c.Argon2Memory, "argon2-memory", "argon2id memory in KiB, at least 8 per lane")
	fs.intVar(&c.Argon2Iterations, "argon2-iterations", "argon2id passes, at least 1")
	fs.intVar(&c.Argon2Parallelism, "argon2-parallelism", "argon2id lanes, 1 to 255")
	fs.intVar(&c.HashSlots, "hash-slots", "password hashes run at once, at least 1; the default is the number of CPUs")
	fs.intVar(&c.HashQueue, "hash-queue", fmt.Sprintf("password hashes that may wait for a slot before the API answers 503, at least 1 (default: %d per slot)", hashQueuePerSlot))
	fs.boolVar(&c.PasswordBlocklist, "password-blocklist", "refuse common passwords")
	fs.durationVar(&c.ConfirmTTL, "confirm-ttl", "lifetime of confirmation tokens, more than 0")
	fs.durationVar(&c.ResetTTL, "reset-ttl", "lifetime of password reset tokens, more than 0")
	fs.durationVar(&c.InviteTTL, "invite-ttl", "lifetime of invitation tokens, more than 0")
	fs.durationVar(&c.SessionIdle, "session-idle", "sessions end after this long unused, more than 0")
	fs.durationVar(&c.SessionMaxAge, "session-max-age", "sessions end this long after login, more than 0")
	fs.durationVar(&c.UniformResponse, "uniform-response", "least duration of answers that must not reveal whether an account exists (not of a secret key's registration, which is told); 0: off")
	fs.stringVar(&c.CORSOrigins, "cors-origins", "comma-separated origins allowed to call the API from a browser, or *")
	fs.stringVar(&c.SMTPURL, "smtp-url", "SMTP server for the outbox, e.g. smtp://user:pass@host:587?tls=starttls (tls: none, starttls, tls); empty: mail stays in the outbox")
	fs.durationVar(&c.MailRetention, "mail-retention", "how long the record of a sent or failed mail (recipient and content are erased at once) stays for 'pforte mail list'; at least 24h")
	fs.stringVar(&c.MailFrom, "mail-from", "sender of mail when a tenant sets no mail_from")
	fs.boolVar(&c.WebhookAllowPrivate, "webhook-allow-private", "let webhook endpoints be on loopback, private and link-local addresses (refused by default, so that a tenant cannot aim pforte at the internal network)")
	fs.stringVar(&c.PublicURL, "public-url", "URL pforte is reached at from outside, for links to its own endpoints, e.g. https://accounts.example.org (https except on localhost); empty: http://localhost:PORT")
	fs.intVar(&c.ClientRateLimit, "client-rate-limit", "requests a minute each client address may make without a secret key: to the native API and the dialects with a public key or none, the hosted pages' forms and OpenID Connect authorizations; 0: no limit")
	fs.intVar(&c.ClientBurst, "client-burst", "requests a client address may make at once before --client-rate-limit applies, at least 1")
	fs.stringVar(&c.RedisURL, "redis-url", "Redis that keeps the client limits, shared by the replicas that name it, e.g. redis://:PASS@HOST:6379/0 (rediss:// for TLS); empty: each replica keeps its own in memory")
	fs.stringVar(&c.RedisPrefix, "redis-prefix", "prefix of pforte's keys in --redis-url")
	fs.stringVar(&c.MetricsAddr, "metrics-addr", "address of a separate listener for Prometheus metrics at /metrics, e.g. 127.0.0.1:9464; empty: none")
	fs.stringVar(&c.TrustedProxies, "trusted-proxies", "comma-separated addresses or CIDR prefixes of reverse proxies whose X-Forwarded-For is believed")
}

// parseServeConfig reads serve's configuration from args and the
// environment and checks it; nothing is opened yet. done is true when
// there is nothing more to do (--help, or an error).
func (e env) parseServeConfig(args []string) (c serveConfig, done bool, err error) {
	c = defaultServeConfig()
	fs := e.flags("serve")
	defineServeFlags(fs, &c)
	if done, err := fs.parse(args); done {
		return c, true, err
	}
	if len(fs.args) > 0 {
		return c, true, fmt.Errorf("%w: unexpected argument %q (flags such as --db go after the command: pforte COMMAND --db ...)", ErrUsage, fs.args[0])
	}
	if !fs.given("hash-queue") {
		c.HashQueue = hashQueuePerSlot * c.HashSlots
	}
	if err := c.check(); err != nil {
		return c, true, err
	}
	return c, false, nil
}

// flagRef names a flag and its environment variable in a message.
func flagRef(name string) string {
	return "--" + name + " (env " + envName(name) + ")"
}

// check refuses a configuration the server could not run as meant, as a
// usage error naming the flag and its variable, and works out the values
// that follow from it.
func (c *serveConfig) check() error {
	for _, check := range []func() error{c.checkDurations, c.checkCounts, c.checkArgon2, c.checkText, c.checkAddrs, c.checkRedis, c.checkMail, c.checkSecret} {
		if err := check(); err != nil {
			return fmt.Errorf("%w: %w", ErrUsage, err)
		}
	}
	return nil
}

func (c *serveConfig) checkDurations() error {
	for _, d := range []struct {
		name  string
		value time.Duration
		least time.Duration
	}{
		{"confirm-ttl", c.ConfirmTTL, 1},
		{"reset-ttl", c.ResetTTL, 1},
		{"invite-ttl", c.InviteTTL, 1},
		{"session-idle", c.SessionIdle, 1},
		{"session-max-age", c.SessionMaxAge, 1},
		{"uniform-response", c.UniformResponse, 0},
		{"mail-retention", c.MailRetention, 24 * time.Hour},
	} {
		switch {
		case d.value >= d.least:
		case d.least == 1:
			return fmt.Errorf("%s is %s: it must be more than 0", flagRef(d.name), shortDuration(d.value))
		case d.least == 0:
			return fmt.Errorf("%s is %s: it must be 0 (off) or more", flagRef(d.name), shortDuration(d.value))
		default:
			return fmt.Errorf("%s is %s: it must be at least %s", flagRef(d.name), shortDuration(d.value), shortDuration(d.least))
		}
	}
	return nil
}

// shortDuration writes d as it would be given: 24h rather than 24h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func (c *serveConfig) checkCounts() error {
	for _, n := range []struct {
		name        string
		value       int
		least, most int
	}{
		{"argon2-memory", c.Argon2Memory, 1, math.MaxUint32},
		{"argon2-iterations", c.Argon2Iterations, 1, math.MaxUint32},
		{"argon2-parallelism", c.Argon2Parallelism, 1, math.MaxUint8},
		{"hash-slots", c.HashSlots, 1, math.MaxInt32},
		{"hash-queue", c.HashQueue, 1, math.MaxInt32},
		{"client-rate-limit", c.ClientRateLimit, 0, math.MaxInt32},
		{"client-burst", c.ClientBurst, 1, math.MaxInt32},
	} {
		switch {
		case n.value >= n.least && n.value <= n.most:
		case n.most == math.MaxInt32:
			return fmt.Errorf("%s is %d: it must be at least %d", flagRef(n.name), n.value, n.least)
		default:
			return fmt.Errorf("%s is %d: it must be from %d to %d", flagRef(n.name), n.value, n.least, n.most)
		}
	}
	return nil
}

// checkArgon2 checks what argon2id asks of its parameters together; each
// is already in range.
func (c *serveConfig) checkArgon2() error {
	def := password.DefaultParams()
	c.params = password.Params{Memory: uint32(c.Argon2Memory), Iterations: uint32(c.Argon2Iterations),
		Parallelism: uint8(c.Argon2Parallelism), SaltLength: def.SaltLength, KeyLength: def.KeyLength}
	if err := c.params.Validate(); err != nil {
		return fmt.Errorf("%s, %s and %s: %v", flagRef("argon2-memory"), flagRef("argon2-iterations"), flagRef("argon2-parallelism"), err)
	}
	return nil
}

func (c *serveConfig) checkText() error {
	if _, _, err := newLogger(io.Discard, c.LogFormat, c.LogLevel); err != nil {
		return err
	}
	return checkDSN(c.DB)
}

func (c *serveConfig) checkAddrs() error {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("%s %q: %v", flagRef("addr"), c.Addr, err)
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			return fmt.Errorf("%s %q: %v", flagRef("metrics-addr"), c.MetricsAddr, err)
		}
	}
	proxies, err := wire.ParseProxies(splitList(c.TrustedProxies))
	if err != nil {
		return fmt.Errorf("%s: %v", flagRef("trusted-proxies"), err)
	}
	c.proxies = proxies
	if c.PublicURL == "" {
		// On loopback the listen address is a URL this machine's browser
		// opens; elsewhere localhost is the best guess, and the server
		// warns.
		host, port, _ := net.SplitHostPort(c.Addr)
		c.publicURL = "http://localhost:" + port
		if ip, err := netip.ParseAddr(host); err == nil && ip.IsLoopback() {
			c.publicURL = "http://" + c.Addr
		}
		return nil
	}
	if err := account.CheckPublicURL(c.PublicURL); err != nil {
		return fmt.Errorf("%s: %v", flagRef("public-url"), err)
	}
	c.publicURL = strings.TrimRight(c.PublicURL, "/")
	return nil
}

func (c *serveConfig) checkRedis() error {
	if c.RedisURL != "" {
		if _, err := redislimit.ParseURL(c.RedisURL, 0); err != nil {
			return fmt.Errorf("%s: %v", flagRef("redis-url"), err)
		}
	}
	if c.RedisPrefix == "" {
		return fmt.Errorf("%s is empty: every key of pforte's needs it, so that nothing else in Redis is touched", flagRef("redis-prefix"))
	}
	return nil
}

func (c *serveConfig) checkMail() error {
	if _, err := account.ParseMailFrom(c.MailFrom); err != nil {
		return fmt.Errorf("%s: %v", flagRef("mail-from"), err)
	}
	if c.SMTPURL == "" {
		return nil
	}
	smtp, err := mail.ParseSMTPURL(c.SMTPURL)
	if err != nil {
		return fmt.Errorf("%s: %v", flagRef("smtp-url"), err)
	}
	c.smtp = &smtp
	return nil
}

// checkSecret refuses a short secret for a SQLite database that does not
// exist yet, before it is created; the service refuses it for any other
// installation that is new (see account.ErrShortSecret).
func (c *serveConfig) checkSecret() error {
	if c.Secret == "" || len(c.Secret) >= account.MinSecretLength {
		return nil
	}
	path, ok := strings.CutPrefix(c.DB, "sqlite:")
	if !ok {
		return nil
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s: %v", flagRef("secret"), account.ErrShortSecret)
	}
	return nil
}
