package account

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"pforte/internal/password"
)

// Login throttling, per email key whether or not it has an account: the
// first throttleFree consecutive failures are free; after that each one
// locks the address for 30 s, doubling up to an hour; at throttleHardLimit
// (NIST SP 800-63B's 100) the address stays locked until a password reset,
// or until its record is purged after failureMemory without attempts.
const (
	throttleFree      = 5
	throttleHardLimit = 100
	throttleMaxLock   = time.Hour
	failureMemory     = 30 * 24 * time.Hour
)

// lockedFor is how much longer logins for an address are refused.
func lockedFor(f LoginFailures, now time.Time) time.Duration {
	if f.Count >= throttleHardLimit {
		return throttleMaxLock
	}
	if f.Count < throttleFree {
		return 0
	}
	lock := throttleMaxLock
	if shift := f.Count - throttleFree; shift < 7 {
		lock = min(30*time.Second<<shift, throttleMaxLock)
	}
	if left := f.Last.Add(lock).Sub(now); left > 0 {
		return left
	}
	return 0
}

func errThrottled(wait time.Duration) *Error {
	return &Error{Kind: KindRateLimited, Code: "too_many_attempts", Message: "too many failed attempts; try again later", RetryAfter: wait}
}

// checkPassword verifies a customer's password with throttling. The
// attempt is counted before the hash runs, so parallel guesses cannot slip
// past the limit; a success clears the count. Unknown customers (cust nil)
// cost the same hash and count the same way, so neither the answer nor its
// timing says whether an account exists. rehash reports that the stored
// hash should be upgraded.
//
// A wrong password that matches the newest registration claim on the
// customer answers email_not_confirmed: registering and then logging in
// must look the same whether or not the address had an account.
func (s *Service) checkPassword(ctx context.Context, tenantID int64, emailKey string, cust *Customer, pw string) (rehash bool, err error) {
	prior, err := s.store.LoginFailures(ctx, tenantID, emailKey)
	if err != nil {
		return false, Internal(err)
	}
	now := s.now()
	if wait := lockedFor(prior, now); wait > 0 {
		return false, errThrottled(wait)
	}
	reserved, err := s.store.RecordLoginFailure(ctx, tenantID, emailKey, now)
	if err != nil {
		return false, Internal(err)
	}
	// Attempts counted since our read are concurrent ones: they happened now.
	before := LoginFailures{Count: reserved.Count - 1, Last: prior.Last}
	if before.Count > prior.Count {
		before.Last = now
	}
	if wait := lockedFor(before, now); wait > 0 {
		// Refused without a check: the attempt must not count, or a burst
		// of right passwords under load would lock the address.
		s.releaseAttempt(ctx, tenantID, emailKey)
		return false, errThrottled(wait)
	}
	encoded := ""
	if cust != nil {
		encoded = cust.PasswordHash
	}
	ok, rehash, err := s.cfg.Hasher.Verify(ctx, encoded, pw)
	if err != nil {
		// The password was never checked (the pool was full, or the caller
		// gave up): the attempt must not count, or load would lock people out.
		s.releaseAttempt(ctx, tenantID, emailKey)
		return false, hashError(err)
	}
	if !ok {
		// The attempt stays counted even when it matches a claim: anyone
		// may register a claim, and a claim must not reset the throttle
		// of the account it was registered against.
		if claimed, err := s.matchesClaim(ctx, tenantID, cust, pw); err != nil {
			return false, err
		} else if claimed {
			return false, errEmailNotConfirmed
		}
		return false, errInvalidCredentials
	}
	return rehash, s.clearFailures(ctx, tenantID, emailKey)
}

// releaseAttempt takes back an attempt that was counted but never checked.
func (s *Service) releaseAttempt(ctx context.Context, tenantID int64, emailKey string) {
	if err := s.store.ReleaseLoginFailure(ctx, tenantID, emailKey); err != nil {
		s.log.Warn("releasing a login attempt failed", "err", err)
	}
}

func (s *Service) clearFailures(ctx context.Context, tenantID int64, emailKey string) error {
	if err := s.store.ClearLoginFailures(ctx, tenantID, emailKey); err != nil {
		return Internal(err)
	}
	return nil
}

// matchesClaim checks pw against the newest open registration claim of
// cust (nil: an unknown address). It hashes once whether or not there is
// a claim, so that every wrong password costs two hashes and the time of
// a failed login does not tell which addresses have registrations waiting.
func (s *Service) matchesClaim(ctx context.Context, tenantID int64, cust *Customer, pw string) (bool, error) {
	newest, err := s.newestClaim(ctx, tenantID, cust)
	if err != nil {
		return false, err
	}
	encoded := "" // Verify checks a dummy hash and fails
	if newest != nil {
		var cl claim
		if err := json.Unmarshal(newest.Payload, &cl); err != nil {
			return false, Internal(err)
		}
		encoded = cl.PasswordHash
	}
	ok, _, err := s.cfg.Hasher.Verify(ctx, encoded, pw)
	if err != nil {
		return false, hashError(err)
	}
	return ok && newest != nil, nil
}

// newestClaim is the customer's newest open registration claim, if any.
// For an unknown address (nil) it runs the same queries, for no customer,
// so that they take the same time.
func (s *Service) newestClaim(ctx context.Context, tenantID int64, cust *Customer) (*Token, error) {
	var customerID int64 // none has id 0
	if cust != nil {
		customerID = cust.ID
	}
	now := s.now()
	var newest *Token
	for _, p := range []Purpose{PurposeConfirm, PurposeClaim} {
		live, err := s.store.LiveTokens(ctx, tenantID, customerID, p, now)
		if err != nil {
			return nil, Internal(err)
		}
		for i := range live {
			if len(live[i].Payload) > 0 && (newest == nil || live[i].CreatedAt.After(newest.CreatedAt)) {
				newest = &live[i]
			}
		}
	}
	return newest, nil
}

// rehash replaces an imported bcrypt hash, or one made with older
// parameters, now that the password is at hand. A failure only costs the
// upgrade, not the login.
func (s *Service) rehash(ctx context.Context, cust Customer, pw string) {
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
		s.log.Warn("rehash failed", "customer_id", cust.ID, "err", err)
	}
}

func (s *Service) checkLoginPassword(field, pw string) error {
	if pw == "" {
		return Invalid(FieldError{Field: field, Code: "required", Message: "is required"})
	}
	// Too long is refused before any hashing; too short is not, so that
	// imported customers with older, shorter passwords can still log in.
	if v := s.cfg.Policy.CheckLength(pw); v == password.TooLong || v == password.NotUTF8 {
		return Invalid(FieldError{Field: field, Code: string(v), Message: v.Message(s.cfg.Policy)})
	}
	return nil
}

// Authenticate checks email and password like Login, without opening a
// session, for APIs whose vendor answers a login with the customer alone
// (seed 000): the site keeps its own session.
func (s *Service) Authenticate(ctx context.Context, c Caller, email, pw string) (Customer, error) {
	cust, _, err := s.login(ctx, c, email, pw, nil)
	return cust, err
}

// Login checks email and password and opens a session. Unknown email and
// wrong password give the same invalid_credentials; the state is revealed
// only after a correct password.
func (s *Service) Login(ctx context.Context, c Caller, email, pw string) (Customer, NewSession, error) {
	return s.login(ctx, c, email, pw, s.newSession)
}

// opener opens a session for a customer inside a transaction.
type opener func(ctx context.Context, tx Tx, c Customer) (NewSession, error)

// login checks email and password and, unless open is nil, opens a session.
func (s *Service) login(ctx context.Context, c Caller, email, pw string, open opener) (Customer, NewSession, error) {
	key, fe := s.emailKey(c.Tenant, email)
	if fe != nil {
		return Customer{}, NewSession{}, Invalid(*fe)
	}
	if err := s.checkLoginPassword("password", pw); err != nil {
		return Customer{}, NewSession{}, err
	}
	var found *Customer
	cust, err := s.store.CustomerByEmailKey(ctx, c.Tenant.ID, key)
	switch {
	case err == nil:
		found = &cust
	case !errors.Is(err, ErrNotFound):
		return Customer{}, NewSession{}, Internal(err)
	}
	rehash, err := s.checkPassword(ctx, c.Tenant.ID, key, found, pw)
	if err != nil {
		if IsKind(err, KindUnauthorized) {
			s.log.Info("login failed", "tenant", c.Tenant.Slug)
		}
		return Customer{}, NewSession{}, err
	}
	// The session is created only if the password that was checked is
	// still the customer's: a reset or disable that committed meanwhile
	// must not be outlived by this login.
	var sess NewSession
	err = s.inTx(ctx, func(tx Tx) error {
		current, err := tx.CustomerByID(ctx, cust.TenantID, cust.ID)
		if errors.Is(err, ErrNotFound) || (err == nil && current.PasswordHash != cust.PasswordHash) {
			return errInvalidCredentials
		} else if err != nil {
			return err
		}
		if err := loginAllowed(current.State); err != nil {
			return err
		}
		cust = current
		if open == nil {
			return nil
		}
		sess, err = open(ctx, tx, current)
		return err
	})
	if err != nil {
		return Customer{}, NewSession{}, err
	}
	if rehash {
		s.rehash(ctx, cust, pw)
	}
	s.log.Info("login", "tenant", c.Tenant.Slug, "customer_id", cust.ID)
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

// Session returns the customer and session for a session token. tenantID
// limits the lookup to one tenant (0: any). A session is extended on use,
// at most once a minute, until its absolute end.
func (s *Service) Session(ctx context.Context, tenantID int64, token string) (Customer, Session, error) {
	if token == "" || len(token) > 256 {
		return Customer{}, Session{}, errSessionInvalid
	}
	sess, err := s.liveSession(ctx, tenantID, HashSecret(token))
	if err != nil {
		return Customer{}, Session{}, err
	}
	now := s.now()
	cust, err := s.store.CustomerByID(ctx, sess.TenantID, sess.CustomerID)
	if errors.Is(err, ErrNotFound) || (err == nil && !cust.State.canLogIn()) {
		return Customer{}, Session{}, errSessionInvalid
	} else if err != nil {
		return Customer{}, Session{}, Internal(err)
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
func (s *Service) liveSession(ctx context.Context, tenantID int64, hash []byte) (Session, error) {
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
func (s *Service) Logout(ctx context.Context, tenantID int64, token string) error {
	_, sess, err := s.Session(ctx, tenantID, token)
	if err != nil {
		return err
	}
	if err := s.store.DeleteSession(ctx, sess.TenantID, sess.ID); err != nil && !errors.Is(err, ErrNotFound) {
		return Internal(err)
	}
	return nil
}

// ChangePassword sets a new password for a logged-in customer who knows
// the current one. A wrong current password counts as a failed login.
// Every other session ends, and so do pending reset and invite tokens.
func (s *Service) ChangePassword(ctx context.Context, tenantID int64, token, current, newPw string, confirmation *string) error {
	cust, sess, err := s.Session(ctx, tenantID, token)
	if err != nil {
		return err
	}
	if fields := s.checkNewPassword("password", newPw, s.addressFor(cust, newPw), confirmation); len(fields) > 0 {
		return Invalid(fields...)
	}
	if err := s.checkLoginPassword("current_password", current); err != nil {
		return err
	}
	if _, err := s.checkPassword(ctx, cust.TenantID, cust.EmailKey, &cust, current); err != nil {
		if IsKind(err, KindForbidden) {
			return errInvalidCredentials // a claim's password is not the current one
		}
		return err
	}
	hash, err := s.hash(ctx, newPw)
	if err != nil {
		return err
	}
	tenant, err := s.tenant(ctx, sess.TenantID)
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
			return errInvalidCredentials
		}
		if err := s.setPassword(ctx, tx, &now, hash, sess.ID); err != nil {
			return err
		}
		return s.mailPasswordChanged(ctx, tx, Caller{Tenant: tenant}, now)
	})
	if err == nil {
		s.notifyQueued()
		s.log.Info("password changed", "tenant_id", cust.TenantID, "customer_id", cust.ID)
	}
	return err
}
