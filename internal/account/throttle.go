package account

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"time"
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
	return &Error{Kind: KindRateLimited, Code: CodeTooManyAttempts, Message: "too many failed attempts; try again later", RetryAfter: wait}
}

// checkPassword verifies a customer's password with throttling. The
// attempt is counted before the hash runs, so parallel guesses cannot slip
// past the limit. A success leaves the attempt reserved: the caller clears
// the address's failures, in the transaction its success writes if it
// has one (ClearLoginFailures), else with clearFailures. Unknown customers (cust nil)
// cost the same hash and count the same way, so neither the answer nor its
// timing says whether an account exists. rehash reports that the stored
// hash should be upgraded.
//
// A wrong password that matches the newest registration claim on the
// customer answers email_not_confirmed: registering and then logging in
// must look the same whether or not the address had an account.
func (s *loginGuard) checkPassword(ctx context.Context, tenantID int64, emailKey string, cust *Customer, pw string) (rehash bool, err error) {
	unlock, err := s.lockAddress(ctx, tenantID, emailKey)
	if err != nil {
		return false, err
	}
	defer unlock()
	before, err := s.reserveAttempt(ctx, tenantID, emailKey)
	if err != nil {
		return false, err
	}
	encoded := ""
	if cust != nil {
		encoded = cust.PasswordHash
	}
	ok, rehash, err := s.cfg.Hasher.Verify(ctx, encoded, pw)
	if err != nil {
		// The password was never checked (the pool was full, or the caller
		// gave up): the attempt must not count, or load would lock people out.
		s.endAttempt(ctx, tenantID, emailKey, false)
		return false, hashError(err)
	}
	if !ok {
		s.endAttempt(ctx, tenantID, emailKey, true)
		s.auditFailure(ctx, tenantID, cust, before)
		// The attempt stays counted even when it matches a claim: anyone
		// may register a claim, and a claim must not reset the throttle
		// of the account it was registered against.
		if claimed, err := s.matchesClaim(ctx, tenantID, cust, pw); err != nil {
			return false, err
		} else if claimed {
			return false, errEmailNotConfirmed
		}
		return false, ErrInvalidCredentials
	}
	return rehash, nil
}

// Concurrent attempts on one address. In one process they are checked one
// at a time (addressLocks); across processes each counts before its
// check, so parallel guesses cannot slip past the limit; but attempts
// still being checked are no failures yet. One that finds the free
// attempts taken by others' checks waits for their outcome (a success
// clears the count), looking again every contendedWait or so, up to
// contendedTries times; then it is busy (503), never "too many attempts".
// A reservation older than staleReservation was left by a checker that
// died.
const (
	contendedWait    = 20 * time.Millisecond
	contendedTries   = 50
	staleReservation = time.Minute
)

func errAddressBusy() *Error {
	return &Error{Kind: KindUnavailable, Code: CodeBusy, Message: "too many logins to this address at once; try again shortly", RetryAfter: time.Second}
}

// lockAddress waits for this process's other checks of the address, as
// long as a contended reservation would (about a second); then it is busy.
// It returns holding a hashing turn if the request has a place (see
// AwaitHashingTurn), and waits for the lock without one: else a crowd of
// logins to one address, each holding a turn while it waits for the
// next, would hold back the logins to every other address.
func (s *loginGuard) lockAddress(ctx context.Context, tenantID int64, emailKey string) (unlock func(), err error) {
	wait, cancel := context.WithTimeout(ctx, contendedTries*contendedWait)
	defer cancel()
	unlock, err = s.checking.lock(wait, tenantID, emailKey, func() { s.cfg.Hasher.Rest(ctx) })
	if err == nil {
		if err = s.cfg.Hasher.AwaitTurn(ctx); err != nil {
			unlock()
		}
	}
	switch {
	case err == nil:
		return unlock, nil
	case ctx.Err() != nil:
		return nil, hashError(ctx.Err())
	default:
		return nil, errAddressBusy()
	}
}

// reserveAttempt counts an attempt about to be checked. It refuses with
// the lock really in force, which Retry-After states exactly.
func (s *loginGuard) reserveAttempt(ctx context.Context, tenantID int64, emailKey string) (LoginFailures, error) {
	for try := 1; ; try++ {
		now := s.now()
		// A reservation only needs to be seen by the attempts checked
		// alongside it: one that a power cut takes back was never answered.
		var reserved LoginFailures
		err := s.inTxWithoutSync(ctx, func(tx Tx) error {
			var err error
			reserved, err = tx.ReserveLoginAttempt(ctx, tenantID, emailKey, now, now.Add(-staleReservation))
			return err
		})
		if err != nil {
			return LoginFailures{}, err
		}
		failures := LoginFailures{Count: reserved.Count, Last: reserved.Last}
		// The others' attempts being checked may all fail, now.
		worst := failures
		if others := reserved.Pending - 1; others > 0 {
			worst = LoginFailures{Count: failures.Count + others, Last: now}
		}
		if lockedFor(worst, now) == 0 {
			return failures, nil
		}
		s.endAttempt(ctx, tenantID, emailKey, false) // refused unchecked: it does not count
		if wait := lockedFor(failures, now); wait > 0 {
			return LoginFailures{}, errThrottled(wait)
		}
		if try == contendedTries {
			return LoginFailures{}, errAddressBusy()
		}
		t := time.NewTimer(contendedWait/2 + rand.N(contendedWait))
		err = s.pause(ctx, t.C)
		t.Stop()
		if err != nil {
			return LoginFailures{}, err
		}
	}
}

// auditFailure records a wrong password, and the lock it starts, if it
// does. A refused attempt is not recorded: a flood of guesses must not
// become a flood of writes.
func (s *loginGuard) auditFailure(ctx context.Context, tenantID int64, cust *Customer, before LoginFailures) {
	var id int64
	if cust != nil {
		id = cust.ID
	}
	s.audit.recordAlone(ctx, tenantID, AuditEvent{Type: AuditLogin, Actor: "customer", Outcome: OutcomeFailure, CustomerID: id})
	now := s.now()
	if lock := lockedFor(LoginFailures{Count: before.Count + 1, Last: now}, now); lock > 0 {
		s.audit.recordAlone(ctx, tenantID, AuditEvent{Type: AuditLoginLocked, Actor: ActorSystem, CustomerID: id,
			Detail: map[string]string{"failures": strconv.Itoa(before.Count + 1), "locked_for": lock.String()}})
	}
}

// endAttempt ends a reserved attempt: a failure, or one that was never
// checked and does not count.
func (s *loginGuard) endAttempt(ctx context.Context, tenantID int64, emailKey string, failed bool) {
	var at *time.Time
	if failed {
		now := s.now()
		at = &now
	}
	if err := s.store.EndLoginAttempt(ctx, tenantID, emailKey, at); err != nil {
		s.log.WarnContext(ctx, "ending a login attempt failed", "err", err)
	}
}

func (s *loginGuard) clearFailures(ctx context.Context, tenantID int64, emailKey string) error {
	if err := s.store.ClearLoginFailures(ctx, tenantID, emailKey); err != nil {
		return Internal(err)
	}
	return nil
}

// matchesClaim checks pw against the newest open registration claim of
// cust (nil: an unknown address). It hashes once whether or not there is
// a claim, so that every wrong password costs two hashes and the time of
// a failed login does not tell which addresses have registrations waiting.
func (s *loginGuard) matchesClaim(ctx context.Context, tenantID int64, cust *Customer, pw string) (bool, error) {
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
func (s *loginGuard) newestClaim(ctx context.Context, tenantID int64, cust *Customer) (*Token, error) {
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

// loginGuard checks passwords under the per-address throttle.
type loginGuard struct {
	*core
	checking addressLocks // one check per address at a time in this process
}
