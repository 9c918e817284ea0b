package account

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
)

// Keyring derives every key pforte needs from the server secret, so that
// every replica derives the same keys and none is stored. Each use has a
// label of its own, named below; dialects get keys only through
// DialectKey, whose labels live in a namespace of their own, so that no
// dialect can ask for a key the service uses.
type Keyring struct {
	secret []byte // set by Service.Start
	// ephemeral: an administrative command runs before any server
	// settled the secret, with a random one it must not keep anything
	// under (see Service.Attach).
	ephemeral bool
}

// label names one use of a derived key. Changing a label changes its key
// and voids what was made with it (stored email keys, sessions, checks).
type label string

const (
	labelSecretCheck    label = "secret check"          // the check value the database keeps
	labelEmailKey       label = "email key"             // email keys under email_storage=hmac
	labelNumericSession label = "numeric session"       // hashes of numeric session ids
	labelCustomerSeed   label = "customer ed25519 seed" // per-customer key pairs, followed by the uuid
	labelDialect        label = "dialect"               // DialectKey's namespace, followed by the dialect's label
	labelSigningKey     label = "oidc signing key"      // seals tenants' token signing keys
	labelChangeClaim    label = "email change claim"    // seals the addresses an address change's tokens carry
	labelSignInPlace    label = "sign-in place"         // HMACs of device and network, per tenant
	labelWebhook        label = "webhook"               // seals endpoints' signing keys and queued payloads
)

// derive returns the 256-bit key of a label, with parts appended after a
// NUL (a customer's uuid, a dialect's label).
func (k *Keyring) derive(l label, parts ...string) []byte {
	return deriveKey(k.secret, l, parts...)
}

func deriveKey(secret []byte, l label, parts ...string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("pforte derived key\x00" + string(l)))
	for _, p := range parts {
		m.Write([]byte("\x00" + p))
	}
	return m.Sum(nil)
}

// DialectKey returns a key for one use of a dialect (its JWTs, say). name
// should name the dialect and the use; distinct names give independent
// keys, none of which is a key the service itself uses.
func (k *Keyring) DialectKey(name string) []byte { return k.derive(labelDialect, name) }

// tenantHMAC is an HMAC-SHA256, under the key of l, of data salted with
// the tenant: the same data in two tenants gives unrelated values.
func (k *Keyring) tenantHMAC(l label, tenantID int64, data []byte) []byte {
	m := hmac.New(sha256.New, k.derive(l))
	var id [8]byte
	binary.BigEndian.PutUint64(id[:], uint64(tenantID))
	m.Write(id[:])
	m.Write(data)
	return m.Sum(nil)
}

// CustomerKey is the customer's Ed25519 public key (the Gradido login
// server's public_hex). The key pair is derived from the server secret
// and the customer's uuid, which never changes: the customer has it from
// creation on, and pforte stores no private key. It changes only if the
// server secret does.
func (k *Keyring) CustomerKey(cust Customer) ed25519.PublicKey {
	seed := k.derive(labelCustomerSeed, cust.UUID)
	return ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
}

// numericSessionHash is what the sessions table holds for a numeric id.
func (k *Keyring) numericSessionHash(tenantID, id int64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(id))
	return k.tenantHMAC(labelNumericSession, tenantID, b[:])
}

// hashedEmailKey is the email key of a normalised address under
// email_storage=hmac.
func (k *Keyring) hashedEmailKey(tenantID int64, normalised string) string {
	return hmacKeyPrefix + hex.EncodeToString(k.tenantHMAC(labelEmailKey, tenantID, []byte(normalised)))
}

// secretCheck is the value the database keeps to recognise its secret.
func secretCheck(secret []byte) []byte { return deriveKey(secret, labelSecretCheck) }

// codeHash keys a code's hash with the server secret and binds it to its
// customer and purpose: 10^8 codes are too few to resist an offline
// search of a plain hash.
func (k *Keyring) codeHash(customerID int64, purpose Purpose, code string) []byte {
	m := hmac.New(sha256.New, k.secret)
	fmt.Fprintf(m, "%d\x00%s\x00%s", customerID, purpose, code)
	return m.Sum(nil)
}

// aead is AES-256-GCM under the key of label l.
func (k *Keyring) aead(l label) (cipher.AEAD, error) {
	block, err := aes.NewCipher(k.derive(l))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// sealUnder encrypts plain with AES-256-GCM under the key of label l,
// bound to aad; the nonce goes first.
func (k *Keyring) sealUnder(l label, plain, aad []byte) ([]byte, error) {
	gcm, err := k.aead(l)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	rand.Read(nonce)
	return gcm.Seal(nonce, nonce, plain, aad), nil
}

// errSealChanged: what was sealed cannot be opened, most likely because
// the server secret has changed since.
var errSealChanged = errors.New("cannot open: the server secret has changed since it was sealed")

// openUnder decrypts what sealUnder sealed under the same label and aad.
func (k *Keyring) openUnder(l label, sealed, aad []byte) ([]byte, error) {
	gcm, err := k.aead(l)
	if err != nil {
		return nil, err
	}
	if len(sealed) < gcm.NonceSize() {
		return nil, errors.New("nothing sealed")
	}
	plain, err := gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], aad)
	if err != nil {
		return nil, errSealChanged
	}
	return plain, nil
}

// mailCipher is the AEAD that seals queued mail, so that a copy of the
// database alone does not reveal the tokens in it. Its key predates the
// labels above and keeps its own derivation, so that queued mail stays
// readable.
func (k *Keyring) mailCipher() (cipher.AEAD, error) {
	m := hmac.New(sha256.New, k.secret)
	m.Write([]byte("pforte outbox v1"))
	block, err := aes.NewCipher(m.Sum(nil))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// seal encrypts a mail's envelope, bound to its Message-ID.
func (k *Keyring) seal(env Envelope, messageID string) ([]byte, error) {
	plain, err := json.Marshal(env)
	if err != nil {
		return nil, err
	}
	gcm, err := k.mailCipher()
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	rand.Read(nonce)
	return gcm.Seal(nonce, nonce, plain, []byte(messageID)), nil
}

// open decrypts what seal sealed.
func (k *Keyring) open(m Mail) (Envelope, error) {
	gcm, err := k.mailCipher()
	if err != nil {
		return Envelope{}, err
	}
	if len(m.Sealed) < gcm.NonceSize() {
		return Envelope{}, errors.New("no sealed content")
	}
	plain, err := gcm.Open(nil, m.Sealed[:gcm.NonceSize()], m.Sealed[gcm.NonceSize():], []byte(m.MessageID))
	if err != nil {
		return Envelope{}, errors.New("cannot open: the server secret has changed since the mail was queued")
	}
	var env Envelope
	return env, json.Unmarshal(plain, &env)
}
