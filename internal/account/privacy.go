package account

import (
	"strings"
)

// Email privacy (tenant setting email_storage=hmac, after /api/2/auth, which
// keeps addresses only as salted hashes): the customer row holds no
// address, and its email key is an HMAC-SHA256 of the normalised address
// under a key derived from the server secret and salted with the tenant.
// Uniqueness and lookups work on that key as on a plain one. Mail goes out
// only in flows whose request carries the address (registration, password
// reset, resend, admin creation, lookups by address); the outbox holds it
// sealed until the mail is sent and then erases it.

// hmacKeyPrefix marks email keys that are HMACs, so that they can never
// collide with a normalised address.
const hmacKeyPrefix = "hmac:"

// keepsAddresses reports whether the tenant stores customers' addresses.
func keepsAddresses(t Tenant) bool { return t.Setting("email_storage") != "hmac" }

// emailKey checks an address and returns the tenant's key for it: the
// normalised address, or its HMAC under email_storage=hmac.
func (s *core) emailKey(t Tenant, email string) (string, *FieldError) {
	key, fe := NormalizeEmail(email)
	if fe != nil || keepsAddresses(t) {
		return key, fe
	}
	return s.keys.hashedEmailKey(t.ID, key), nil
}

// storedEmail is the address as the customer row keeps it: as given, or
// nothing under email_storage=hmac.
func storedEmail(t Tenant, email string) string {
	if keepsAddresses(t) {
		return email
	}
	return ""
}

// reachedAt remembers, for this request only, the address the request
// named, so that mail can go out where the row keeps none. Stores never
// see the field.
func (c *Customer) reachedAt(email string) {
	if c.Email == "" {
		c.mailTo = email
	}
}

// addressFor is the customer's address to hold a new password pw against
// ("not the email address"): the stored one, or, where the row keeps none,
// pw itself when pw is the address whose HMAC the row keeps.
func (s *core) addressFor(cust Customer, pw string) string {
	if cust.Email != "" || !strings.HasPrefix(cust.EmailKey, hmacKeyPrefix) {
		return cust.Email
	}
	if key, fe := NormalizeEmail(pw); fe == nil && s.keys.hashedEmailKey(cust.TenantID, key) == cust.EmailKey {
		return pw
	}
	return ""
}

// mailAddress is where the customer's mail goes; empty when pforte does
// not know the address.
func (c Customer) mailAddress() string {
	if c.Email != "" {
		return c.Email
	}
	return c.mailTo
}
