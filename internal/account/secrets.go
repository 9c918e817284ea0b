package account

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
)

// Start makes sure the default tenant and the server secret exist, for a
// server. It is safe for several replicas to start at once. A secret given
// by the operator is used as it is and never stored; without one, the
// first start generates one and keeps it in the database, where it is only
// as safe as the database itself. The first server start also keeps a
// check value of the secret, and every later start with another secret is
// refused (ErrWrongSecret): email keys (email_storage=hmac), codes, sealed
// mail, numeric sessions, signed links and public keys all derive from
// it, and with another one they would silently stop matching.
func (s *Service) Start(ctx context.Context, secret []byte) error {
	return s.start(ctx, secret, true)
}

// Attach is Start for administrative commands: it compares the secret
// with the check a server keeps, but writes neither a check nor a
// generated secret, so that a command cannot decide the secret for the
// server. Before the first server start a command without a secret works
// with a random one it forgets (no command keeps anything derived from
// it).
func (s *Service) Attach(ctx context.Context, secret []byte) error {
	return s.start(ctx, secret, false)
}

func (s *Service) start(ctx context.Context, secret []byte, server bool) error {
	if len(secret) > 0 {
		s.keys.secret = secret
		if server {
			// Short secrets are refused when an installation is set up; one
			// already set up with a shorter secret must keep it.
			if _, err := s.store.ServerState(ctx, secretCheckKey, nil); errors.Is(err, ErrNotFound) && len(secret) < MinSecretLength {
				return ErrShortSecret
			} else if err != nil && !errors.Is(err, ErrNotFound) {
				return Internal(err)
			}
		}
	} else {
		stored, err := s.generatedSecret(ctx, server)
		if err != nil {
			return err
		}
		s.keys.secret = stored
		if !server {
			_, err := s.store.ServerState(ctx, secretKey, nil)
			s.keys.ephemeral = errors.Is(err, ErrNotFound)
		}
	}
	keepCheck := server
	check := secretCheck(s.keys.secret)
	var kept []byte
	var err error
	if keepCheck {
		kept, err = s.store.ServerState(ctx, secretCheckKey, check)
	} else if kept, err = s.store.ServerState(ctx, secretCheckKey, nil); errors.Is(err, ErrNotFound) {
		kept, err = check, nil // no server has started yet
	}
	if err != nil {
		return Internal(err)
	}
	if !hmac.Equal(kept, check) {
		return ErrWrongSecret
	}
	if _, err := s.store.TenantBySlug(ctx, DefaultTenant); errors.Is(err, ErrNotFound) {
		t := Tenant{Slug: DefaultTenant, CreatedAt: s.now()}
		if err := s.store.CreateTenant(ctx, &t); err != nil && !errors.Is(err, ErrDuplicate) {
			return Internal(err)
		}
	} else if err != nil {
		return Internal(err)
	}
	return nil
}

// The server_state rows the service keeps: a generated secret, and the
// check value of whichever secret the installation runs with.
const (
	secretKey      = "secret"
	secretCheckKey = "secret_check"
)

// ErrWrongSecret refuses a start with a secret other than the one the
// database was set up with, or without the one it runs with.
var ErrWrongSecret = errors.New("the server secret (--secret, PFORTE_SECRET) is not the one this database was set up with: " +
	"hashed addresses, codes, queued mail, sessions and links made with it would stop matching. " +
	"Give the secret the server runs with, or, if the first start generated one, the value 'pforte secret show' prints")

// generatedSecret reads the generated secret, or generates and stores one
// on the first start; concurrent first starts agree on one. A check value
// without a generated secret means the installation runs with a given
// secret, and a start without it is refused before anything is stored.
func (s *Service) generatedSecret(ctx context.Context, store bool) ([]byte, error) {
	stored, err := s.store.ServerState(ctx, secretKey, nil)
	if errors.Is(err, ErrNotFound) {
		if _, cerr := s.store.ServerState(ctx, secretCheckKey, nil); cerr == nil {
			// Or another replica is starting for the first time: it
			// stores the secret before the check, so read once more.
			if stored, err = s.store.ServerState(ctx, secretKey, nil); errors.Is(err, ErrNotFound) {
				return nil, ErrWrongSecret
			}
		} else if !errors.Is(cerr, ErrNotFound) {
			return nil, Internal(cerr)
		} else if random, _ := newSecret(); store {
			stored, err = s.store.ServerState(ctx, secretKey, []byte(random))
		} else {
			return []byte(random), nil
		}
	}
	if err != nil {
		return nil, Internal(err)
	}
	return stored, nil
}

// ErrNoSecretYet refuses to keep something sealed under a secret that no
// server has settled yet.
var ErrNoSecretYet = &Error{Kind: KindConflict, Code: CodeNoSecretYet,
	Message: "no server has started on this database yet, so its secret is not settled: start pforte serve once, or give --secret as serve will have it"}

// MinSecretLength bounds a given secret from below when an installation is
// set up: the check value the database keeps would let a dump test
// guesses of a short one.
const MinSecretLength = 16

// ErrShortSecret refuses a first start with a secret under MinSecretLength.
var ErrShortSecret = fmt.Errorf("the server secret must be at least %d characters; 'openssl rand -base64 32' makes a good one", MinSecretLength)

// ErrStaleSecret: the database holds a generated secret, but the server
// runs with another, given one.
var ErrStaleSecret = errors.New("the secret stored in the database is not the one the server runs with (it runs with a given --secret); the stored one is unused")

// StoredSecret is the secret the first start generated and kept in the
// database, for an operator moving it to --secret: ErrNotFound when there
// is none, ErrStaleSecret when the server runs with another one. It needs
// no Start.
func (s *Service) StoredSecret(ctx context.Context) ([]byte, error) {
	v, err := s.store.ServerState(ctx, secretKey, nil)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrNotFound
	} else if err != nil {
		return nil, Internal(err)
	}
	check, err := s.store.ServerState(ctx, secretCheckKey, nil)
	if err == nil && !hmac.Equal(check, secretCheck(v)) {
		return nil, ErrStaleSecret
	} else if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, Internal(err)
	}
	return v, nil
}

// ForgetStoredSecret deletes the generated secret from the database, so
// that a dump no longer holds it: once the server runs with it as
// --secret, or when it is stale. given must be the secret a server started
// with (the check value says so); from then on every start needs it.
func (s *Service) ForgetStoredSecret(ctx context.Context, given []byte) error {
	if _, err := s.store.ServerState(ctx, secretKey, nil); errors.Is(err, ErrNotFound) {
		return ErrNotFound
	} else if err != nil {
		return Internal(err)
	}
	check, err := s.store.ServerState(ctx, secretCheckKey, nil)
	if errors.Is(err, ErrNotFound) {
		return errors.New("no server has started with this database yet: start it with --secret first")
	} else if err != nil {
		return Internal(err)
	}
	if len(given) == 0 || !hmac.Equal(check, secretCheck(given)) {
		return ErrWrongSecret
	}
	if err := s.store.DeleteServerState(ctx, secretKey); err != nil {
		return Internal(err)
	}
	return nil
}
