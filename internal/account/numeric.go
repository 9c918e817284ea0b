package account

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"math/big"
	"strconv"
)

// Numeric sessions serve seed 002, whose clients hold a session as a
// JSON number. JavaScript holds integers exactly only within ±(2^53-1), so
// the identifier is drawn uniformly from that range without zero: 2^54-2
// values, about 54 bits of entropy. That is too few to store a plain hash
// (an offline search of 2^54 SHA-256 values is feasible), so only an HMAC
// under a key derived from the server secret is stored, in the Hash of an
// ordinary session: idle and absolute expiry, logout and revocation work
// as for any other session. Guessing online is hopeless: a random guess
// hits one of a million live sessions with probability below 10^-10.
const maxSafeInteger = 1<<53 - 1

// numericSessionHash is what the sessions table holds for a numeric id.
func (s *Service) numericSessionHash(tenantID, id int64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(id))
	return s.tenantHMAC("numeric session", tenantID, b[:])
}

// newNumericSession opens a session whose token is a numeric id.
func (s *Service) newNumericSession(ctx context.Context, tx Tx, c Customer) (NewSession, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(2*maxSafeInteger))
	if err != nil {
		return NewSession{}, err
	}
	// [0, 2^54-2) onto [-(2^53-1), -1] and [1, 2^53-1].
	id := n.Int64() - maxSafeInteger
	if id >= 0 {
		id++
	}
	now := s.now()
	sess := Session{TenantID: c.TenantID, CustomerID: c.ID, Hash: s.numericSessionHash(c.TenantID, id),
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(s.cfg.SessionMaxAge), IdleExpiry: s.cfg.SessionIdle}
	// A collision makes the insert fail with ErrDuplicate, and inTx runs
	// the login's transaction again with a new id.
	if err := tx.CreateSession(ctx, &sess); err != nil {
		return NewSession{}, err
	}
	return NewSession{Session: sess, Token: strconv.FormatInt(id, 10)}, nil
}

// LoginNumeric is Login for clients that hold their session as a number
// (seed 002): the session's token is an integer within ±(2^53-1).
func (s *Service) LoginNumeric(ctx context.Context, c Caller, email, pw string) (Customer, int64, error) {
	cust, sess, err := s.login(ctx, c, email, pw, s.newNumericSession)
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
func (s *Service) LogoutNumeric(ctx context.Context, tenantID, id int64) error {
	if id == 0 || id > maxSafeInteger || id < -maxSafeInteger {
		return errSessionInvalid
	}
	sess, err := s.liveSession(ctx, tenantID, s.numericSessionHash(tenantID, id))
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
