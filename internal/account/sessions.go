package account

import (
	"context"
	"crypto/rand"
	"errors"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// rehash replaces an imported bcrypt hash, or one made with older
// parameters, now that the password is at hand. A failure only costs the
// upgrade, not the login.
func (s *Sessions) rehash(ctx context.Context, cust Customer, pw string) {
	h, err := s.hash(ctx, pw)
	if err != nil {
		return
	}
	err = s.inTx(ctx, func(tx Tx) error {
		current, err := tx.CustomerByID(ctx, cust.TenantID, cust.ID)
		if err != nil || current.PasswordHash != cust.PasswordHash {
			return err // changed meanwhile: leave it
		}
		current.PasswordHash = h
		return tx.UpdateCustomer(ctx, &current)
	})
	if err != nil {
		s.log.WarnContext(ctx, "rehash failed", "customer_id", cust.ID, "err", err)
	}
}

// Login checks email and password and opens a session, unless the
// caller's API keeps none (its site keeps its own sessions; NewSession is
// then empty). Unknown email and wrong password give the same
// invalid_credentials; the state is revealed only after a correct
// password.
func (s *Sessions) Login(ctx context.Context, c Caller, email, pw string) (Customer, NewSession, error) {
	return s.login(ctx, c, email, pw, false, s.newSession)
}

// LoginOptions are what a login may ask for beyond the credentials.
type LoginOptions struct {
	// Remember: the session lasts the tenant's session.remember_max_age,
	// with no idle limit, unless the tenant set that to 0.
	Remember bool
}

// LoginWith is Login with options.
func (s *Sessions) LoginWith(ctx context.Context, c Caller, email, pw string, o LoginOptions) (Customer, NewSession, error) {
	return s.login(ctx, c, email, pw, o.Remember, s.newSession)
}

// opener opens a session inside a transaction.
type opener func(ctx context.Context, tx Tx, o opening) (NewSession, error)

// login checks email and password and opens a session with open, if the
// caller's policy opens sessions.
func (s *Sessions) login(ctx context.Context, c Caller, email, pw string, remember bool, open opener) (Customer, NewSession, error) {
	key, fe := s.emailKey(c.Tenant, email)
	if fe != nil {
		return Customer{}, NewSession{}, Invalid(*fe)
	}
	if err := s.checkLoginPassword("password", pw); err != nil {
		return Customer{}, NewSession{}, err
	}
	// A login that cannot hash is refused before it reads or writes
	// anything: under overload, refusals cost microseconds. An API that
	// held the place before looking up its key passes it on in ctx.
	ctx, release, err := s.cfg.Hasher.Hold(ctx)
	if err != nil {
		return Customer{}, NewSession{}, hashError(err)
	}
	defer release()
	var found *Customer
	cust, err := s.store.CustomerByEmailKey(ctx, c.Tenant.ID, key)
	switch {
	case err == nil:
		found = &cust
	case !errors.Is(err, ErrNotFound):
		return Customer{}, NewSession{}, Internal(err)
	}
	rehash, err := s.guard.checkPassword(ctx, c.Tenant.ID, key, found, pw)
	if err != nil {
		if IsKind(err, KindUnauthorized) {
			s.log.InfoContext(ctx, "login failed", "tenant", c.Tenant.Slug)
		}
		return Customer{}, NewSession{}, err
	}
	// The session is created only if the password that was checked is
	// still the customer's: a reset or disable that committed meanwhile
	// must not be outlived by this login. The right password clears the
	// address's failures in the same transaction: a successful login
	// writes once after its hash. A power cut may take the write back
	// (the customer then logs in again), so it does not wait for the disk.
	var sess NewSession
	err = s.inTxWithoutSync(ctx, func(tx Tx) error {
		current, err := tx.CustomerByID(ctx, cust.TenantID, cust.ID)
		if errors.Is(err, ErrNotFound) || (err == nil && current.PasswordHash != cust.PasswordHash) {
			return ErrInvalidCredentials
		} else if err != nil {
			return err
		}
		if err := loginAllowed(current.State); err != nil {
			return err
		}
		if err := tx.ClearLoginFailures(ctx, c.Tenant.ID, key); err != nil {
			return err
		}
		cust = current
		detail := map[string]string{"device": DeviceLabel(RequesterFrom(ctx).UserAgent)}
		if c.opensSession() {
			if sess, err = open(ctx, tx, opening{tenant: c.Tenant, customer: current, remember: remember}); err != nil {
				return err
			}
			if err := s.signInAlerts.see(ctx, tx, c, current, sess.Session); err != nil {
				return err
			}
			detail["session_id"] = strconv.FormatInt(sess.ID, 10)
		}
		// Last: the chain's head stays locked until the commit.
		return s.audit.record(ctx, tx, c.Tenant, AuditEvent{Type: AuditLogin, Actor: "customer", CustomerID: current.ID, Detail: detail})
	})
	if err != nil {
		// The password was right when it was checked: its attempt ends as
		// a success even though no session came of it.
		if cerr := s.guard.clearFailures(ctx, c.Tenant.ID, key); cerr != nil {
			s.log.WarnContext(ctx, "clearing login failures failed", "err", cerr)
		}
		return Customer{}, NewSession{}, err
	}
	if rehash {
		s.rehash(ctx, cust, pw)
	}
	s.log.InfoContext(ctx, "login", "tenant", c.Tenant.Slug, "customer_id", cust.ID)
	return cust, sess, nil
}

func loginAllowed(st State) error {
	switch st {
	case StatePending:
		return errEmailNotConfirmed
	case StateDisabled:
		return errAccountDisabled
	case StateOffline:
		return errAccountOffline
	}
	return nil
}

// Lookup returns the customer and session for a session token. tenantID
// limits the lookup to one tenant (0: any). A session is extended on use,
// at most once a minute, until its absolute end.
func (s *Sessions) Lookup(ctx context.Context, tenantID int64, token string) (Customer, Session, error) {
	if token == "" || len(token) > 256 {
		return Customer{}, Session{}, errSessionInvalid
	}
	// One query reads the session and its customer.
	sess, cust, err := s.store.SessionWithCustomer(ctx, HashSecret(token))
	if errors.Is(err, ErrNotFound) || (err == nil && tenantID != 0 && sess.TenantID != tenantID) {
		return Customer{}, Session{}, errSessionInvalid
	} else if err != nil {
		return Customer{}, Session{}, Internal(err)
	}
	now := s.now()
	if !now.Before(sess.EndsAt()) {
		_ = s.store.DeleteSession(ctx, sess.TenantID, sess.ID)
		return Customer{}, Session{}, errSessionInvalid
	}
	if !cust.State.canLogIn() {
		return Customer{}, Session{}, errSessionInvalid
	}
	if now.Sub(sess.LastSeenAt) > time.Minute {
		// Ended meanwhile (logout, reset): the session is gone.
		if err := s.store.TouchSession(ctx, sess.ID, now); errors.Is(err, ErrNotFound) {
			return Customer{}, Session{}, errSessionInvalid
		} else if err != nil {
			return Customer{}, Session{}, Internal(err)
		}
		sess.LastSeenAt = now
	}
	return cust, sess, nil
}

// liveSession finds the session with this hash, of tenantID (0: any); one
// that has ended is deleted and, like an unknown one, session_invalid.
func (s *Sessions) liveSession(ctx context.Context, tenantID int64, hash []byte) (Session, error) {
	sess, err := s.store.SessionByHash(ctx, hash)
	if errors.Is(err, ErrNotFound) || (err == nil && tenantID != 0 && sess.TenantID != tenantID) {
		return Session{}, errSessionInvalid
	} else if err != nil {
		return Session{}, Internal(err)
	}
	if !s.now().Before(sess.EndsAt()) {
		_ = s.store.DeleteSession(ctx, sess.TenantID, sess.ID)
		return Session{}, errSessionInvalid
	}
	return sess, nil
}

// Logout ends a session.
func (s *Sessions) Logout(ctx context.Context, tenantID int64, token string) error {
	_, sess, err := s.Lookup(ctx, tenantID, token)
	if err != nil {
		return err
	}
	if err := s.store.DeleteSession(ctx, sess.TenantID, sess.ID); err != nil && !errors.Is(err, ErrNotFound) {
		return Internal(err)
	}
	s.audit.recordAlone(ctx, sess.TenantID, AuditEvent{Type: AuditLogout, Actor: "customer", CustomerID: sess.CustomerID,
		Detail: map[string]string{"session_id": strconv.FormatInt(sess.ID, 10)}})
	return nil
}

// PasswordChange is a logged-in customer's change of password.
type PasswordChange struct {
	Current      string
	New          string
	Confirmation *string // checked when given
	// Customer, when set, names (by id or uuid) whom the request means to
	// change; the session of anyone else is refused with ErrWrongUser.
	Customer string
}

// ChangePassword sets a new password for a logged-in customer who knows
// the current one. A wrong current password counts as a failed login.
// Every other session ends, and so do pending reset and invite tokens.
func (s *Sessions) ChangePassword(ctx context.Context, tenantID int64, token string, ch PasswordChange) error {
	current, newPw, confirmation := ch.Current, ch.New, ch.Confirmation
	cust, sess, err := s.Lookup(ctx, tenantID, token)
	if err != nil {
		return err
	}
	if ch.Customer != "" && ch.Customer != strconv.FormatInt(cust.ID, 10) && !strings.EqualFold(ch.Customer, cust.UUID) {
		return ErrWrongUser
	}
	if fields := s.checkNewPassword("password", newPw, s.addressFor(cust, newPw), confirmation); len(fields) > 0 {
		return Invalid(fields...)
	}
	if err := s.checkLoginPassword("current_password", current); err != nil {
		return err
	}
	if _, err := s.guard.checkPassword(ctx, cust.TenantID, cust.EmailKey, &cust, current); err != nil {
		if IsKind(err, KindForbidden) {
			return ErrInvalidCredentials // a claim's password is not the current one
		}
		return err
	}
	if err := s.guard.clearFailures(ctx, cust.TenantID, cust.EmailKey); err != nil {
		return err
	}
	hash, err := s.hash(ctx, newPw)
	if err != nil {
		return err
	}
	tenant, err := s.tenants.byID(ctx, sess.TenantID)
	if err != nil {
		return err
	}
	err = s.inTx(ctx, func(tx Tx) error {
		// A reset or another change that committed meanwhile wins: the
		// password checked above is no longer current, or this session ended.
		if _, err := tx.SessionByHash(ctx, sess.Hash); errors.Is(err, ErrNotFound) {
			return errSessionInvalid
		} else if err != nil {
			return err
		}
		now, err := tx.CustomerByID(ctx, sess.TenantID, sess.CustomerID)
		if err != nil {
			return err
		}
		if now.PasswordHash != cust.PasswordHash {
			return ErrInvalidCredentials
		}
		if err := s.creds.setPassword(ctx, tx, &now, hash, sess.ID); err != nil {
			return err
		}
		if err := s.audit.record(ctx, tx, tenant, AuditEvent{Type: AuditPasswordChanged, Actor: "customer", CustomerID: now.ID,
			Detail: map[string]string{"how": "changed"}}); err != nil {
			return err
		}
		return s.mail.mailPasswordChanged(ctx, tx, Caller{Tenant: tenant}, now)
	})
	if err == nil {
		s.mail.notifyQueued()
		s.log.InfoContext(ctx, "password changed", "tenant_id", cust.TenantID, "customer_id", cust.ID)
	}
	return err
}

// Numeric sessions serve Gradido, whose clients hold a session as a
// JSON number. JavaScript holds integers exactly only within ±(2^53-1), so
// the identifier is drawn uniformly from that range without zero: 2^54-2
// values, about 54 bits of entropy. That is too few to store a plain hash
// (an offline search of 2^54 SHA-256 values is feasible), so only an HMAC
// under a key derived from the server secret is stored, in the Hash of an
// ordinary session: idle and absolute expiry, logout and revocation work
// as for any other session. Guessing online is hopeless: a random guess
// hits one of a million live sessions with probability below 10^-10.
const maxSafeInteger = 1<<53 - 1

// newNumericSession opens a session whose token is a numeric id.
func (s *Sessions) newNumericSession(ctx context.Context, tx Tx, o opening) (NewSession, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(2*maxSafeInteger))
	if err != nil {
		return NewSession{}, err
	}
	// [0, 2^54-2) onto [-(2^53-1), -1] and [1, 2^53-1].
	id := n.Int64() - maxSafeInteger
	if id >= 0 {
		id++
	}
	sess := s.session(ctx, o, s.keys.numericSessionHash(o.customer.TenantID, id))
	// A collision makes the insert fail with ErrDuplicate, and inTx runs
	// the login's transaction again with a new id.
	if err := tx.CreateSession(ctx, &sess); err != nil {
		return NewSession{}, err
	}
	return NewSession{Session: sess, Token: strconv.FormatInt(id, 10)}, nil
}

// LoginNumeric is Login for clients that hold their session as a number
// (Gradido): the session's token is an integer within ±(2^53-1).
func (s *Sessions) LoginNumeric(ctx context.Context, c Caller, email, pw string) (Customer, int64, error) {
	cust, sess, err := s.login(ctx, c, email, pw, false, s.newNumericSession)
	if err != nil {
		return Customer{}, 0, err
	}
	id, err := strconv.ParseInt(sess.Token, 10, 64)
	if err != nil {
		return Customer{}, 0, Internal(err)
	}
	return cust, id, nil
}

// LogoutNumeric ends a session opened by LoginNumeric. An unknown, ended or
// other tenant's id is session_invalid.
func (s *Sessions) LogoutNumeric(ctx context.Context, tenantID, id int64) error {
	if id == 0 || id > maxSafeInteger || id < -maxSafeInteger {
		return errSessionInvalid
	}
	sess, err := s.liveSession(ctx, tenantID, s.keys.numericSessionHash(tenantID, id))
	if err != nil {
		return err
	}
	if err := s.store.DeleteSession(ctx, sess.TenantID, sess.ID); errors.Is(err, ErrNotFound) {
		return errSessionInvalid
	} else if err != nil {
		return Internal(err)
	}
	return nil
}

// NewSession is a session together with its token, which exists only in
// this value and in the response that carries it.
type NewSession struct {
	Session
	Token string
}

func (s *Sessions) newSession(ctx context.Context, tx Tx, o opening) (NewSession, error) {
	raw, hash := newSecret()
	sess := s.session(ctx, o, hash)
	if err := tx.CreateSession(ctx, &sess); err != nil {
		return NewSession{}, err
	}
	return NewSession{Session: sess, Token: raw}, nil
}

// opening is what a new session is made of: whose it is, and whether the
// login asked to be remembered.
type opening struct {
	tenant   Tenant
	customer Customer
	remember bool
}

// session is a new session with this token hash: its lifetimes, and what
// the tenant keeps of the client ctx carries.
func (s *Sessions) session(ctx context.Context, o opening, hash []byte) Session {
	now := s.now()
	maxAge, idle := s.cfg.SessionMaxAge, s.cfg.SessionIdle
	remembered := false
	if d := o.tenant.RememberMaxAge(); o.remember && d > 0 {
		maxAge, idle, remembered = d, d, true
	}
	return Session{TenantID: o.customer.TenantID, CustomerID: o.customer.ID, Hash: hash, CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(maxAge), IdleExpiry: idle, Remembered: remembered,
		ClientAddress: clientAddress(ctx, o.tenant),
		Device:        DeviceLabel(RequesterFrom(ctx).UserAgent)}
}

// Session is a logged-in customer. Only the hash of its token is stored.
type Session struct {
	ID         int64
	TenantID   int64
	CustomerID int64
	Hash       []byte
	CreatedAt  time.Time
	LastSeenAt time.Time // written at most once a minute
	ExpiresAt  time.Time // absolute end
	IdleExpiry time.Duration
	// Remembered: the login asked to be remembered, and the tenant let it
	// (session.remember_max_age).
	Remembered bool
	// ClientAddress is the login's client address as the tenant keeps it
	// (session.client_address): the address, its network, or empty.
	ClientAddress string
	Device        string // see DeviceLabel
}

// IdleExpiresAt is when the session ends if it is not used again.
func (s Session) IdleExpiresAt() time.Time { return s.LastSeenAt.Add(s.IdleExpiry) }

// EndsAt is the earlier of the idle and the absolute expiry.
func (s Session) EndsAt() time.Time {
	if idle := s.IdleExpiresAt(); idle.Before(s.ExpiresAt) {
		return idle
	}
	return s.ExpiresAt
}

// Sessions logs customers in and out, resolves session tokens, and
// changes the password of a logged-in customer.
type Sessions struct{ *core }

// ProfileChange is what logged-in customers may change of their own
// profile; nil fields stay.
type ProfileChange struct {
	Salutation *string
	FirstName  *string
	LastName   *string
	Locale     *string
}

// UpdateProfile changes the profile of the session's customer.
func (s *Sessions) UpdateProfile(ctx context.Context, tenantID int64, token string, ch ProfileChange) (Customer, error) {
	cust, _, err := s.Lookup(ctx, tenantID, token)
	if err != nil {
		return Customer{}, err
	}
	err = s.inTx(ctx, func(tx Tx) error {
		current, err := tx.CustomerByID(ctx, cust.TenantID, cust.ID)
		if err != nil {
			return err
		}
		// Names a customer types before confirming the address are no
		// more the address owner's than a registrant's (see
		// Customer.NamesUnconfirmed).
		unconfirmed := current.NamesUnconfirmed
		patch := CustomerPatch{Salutation: ch.Salutation, FirstName: ch.FirstName, LastName: ch.LastName, Locale: ch.Locale}
		if err := patch.apply(&current); err != nil {
			return err
		}
		current.NamesUnconfirmed = unconfirmed
		current.UpdatedAt = s.now()
		cust = current
		return tx.UpdateCustomer(ctx, &current)
	})
	if err != nil {
		return Customer{}, err
	}
	s.log.InfoContext(ctx, "profile updated by the customer", "tenant_id", cust.TenantID, "customer_id", cust.ID)
	return cust, nil
}
