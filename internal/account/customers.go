package account

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"pforte/internal/password"
)

// NewCustomer is a customer created by an admin or a back office.
type NewCustomer struct {
	Email    string
	UUID     string // optional; generated when empty
	Password string // optional; without one the customer sets it through an invite
	// PasswordHash imports a hash from another system (argon2id, argon2i,
	// bcrypt, Django's pbkdf2_sha256) instead of Password; it is upgraded
	// to argon2id at the first login.
	PasswordHash string
	State        State // optional; active with a password, pending without
	Profile

	// TemplateRef names a customer (id or uuid) whose locale and partner
	// reference the new one takes where it gives none.
	TemplateRef string
	// Adopt lets the address of an offline contact or a pending customer
	// be created again: the offline contact keeps its identifiers, the
	// pending customer takes the given uuid; both take the given password,
	// profile and state. Other existing addresses still conflict. Only a
	// secret key can ask for it, so only a trusted back office can change
	// a customer it has not proven to own.
	Adopt bool
	// Activation gives pending customers an activation link and an 8-digit
	// code (an invitation), with or without a password, instead of a
	// confirmation token.
	Activation bool
}

// CreateResult is a created customer and the token it needs next, if any,
// for callers that receive tokens.
type CreateResult struct {
	Customer       Customer
	ConfirmToken   string // pending customers with a password confirm their email
	InviteToken    string // customers without a password, or asked for Activation, set one
	ActivationCode string // the 8-digit code that goes with InviteToken
}

// Create adds a customer on behalf of the tenant (secret key only).
func (s *Customers) Create(ctx context.Context, c Caller, n NewCustomer) (CreateResult, error) {
	if err := c.requireSecret(); err != nil {
		return CreateResult{}, err
	}
	key, id, fields := s.checkNew(c.Tenant, &n)
	if len(fields) > 0 {
		return CreateResult{}, Invalid(fields...)
	}
	hash := n.PasswordHash
	if n.Password != "" {
		var err error
		if hash, err = s.hash(ctx, n.Password); err != nil {
			return CreateResult{}, err
		}
	}
	var res CreateResult
	err := s.inTx(ctx, func(tx Tx) error {
		res = CreateResult{}
		if err := s.applyTemplate(ctx, tx, c, &n); err != nil {
			return err
		}
		now := s.now()
		cust := Customer{UUID: id, TenantID: c.Tenant.ID, Email: storedEmail(c.Tenant, n.Email), EmailKey: key, State: n.State,
			PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
		cust.setProfile(n.Profile)
		adopted, err := s.adopt(ctx, tx, n, &cust)
		if err != nil {
			return err
		}
		if !adopted {
			if err := checkUnique(ctx, tx, cust); err != nil {
				return err
			}
			if err := tx.CreateCustomer(ctx, &cust); err != nil {
				return err
			}
		}
		cust.reachedAt(n.Email)
		res.Customer = cust
		return s.issueNext(ctx, tx, c, n, &res)
	})
	if err != nil {
		return CreateResult{}, err
	}
	s.mail.notifyQueued()
	if !c.receivesTokens() {
		res.ConfirmToken, res.InviteToken, res.ActivationCode = "", "", ""
	}
	s.log.InfoContext(ctx, "customer created", "tenant", c.Tenant.Slug, "customer_id", res.Customer.ID, "adopt", n.Adopt)
	return res, nil
}

// checkNew validates a new customer and fills in its default state. It
// returns the email key, the uuid to create the customer with, and what
// is wrong.
func (s *Customers) checkNew(t Tenant, n *NewCustomer) (key, id string, fields []FieldError) {
	key, fe := s.emailKey(t, n.Email)
	if fe != nil {
		fields = append(fields, *fe)
	}
	fields = append(fields, n.Profile.validate()...)
	if n.Password != "" {
		fields = append(fields, s.checkNewPassword("password", n.Password, n.Email, nil)...)
	}
	if fe := checkImportedHash(*n); fe != nil {
		fields = append(fields, *fe)
	}
	id = uuid.NewString()
	if n.UUID != "" {
		u, err := uuid.Parse(n.UUID)
		if err != nil || len(n.UUID) != 36 {
			fields = append(fields, FieldError{Field: "uuid", Code: FieldInvalid, Message: "must be a UUID such as 11efbcf6-1628-4719-a18b-b3e6f12b1130"})
		}
		id = u.String()
	}
	switch n.State {
	case "":
		n.State = StatePending
		if n.Password != "" || n.PasswordHash != "" {
			n.State = StateActive
		}
	case StateOffline, StatePending, StatePendingActive, StateActive:
	default:
		fields = append(fields, FieldError{Field: "state", Code: FieldInvalid, Message: "must be offline, pending, pending_active or active"})
	}
	return key, id, fields
}

const importedHashMessage = "must be an argon2id or argon2i PHC string, a bcrypt hash of cost 14 or less, or pbkdf2_sha256$ITER$SALT$HASH"

// checkImportedHash checks a hash imported from another system.
func checkImportedHash(n NewCustomer) *FieldError {
	switch {
	case n.PasswordHash == "":
		return nil
	case n.Password != "":
		return &FieldError{Field: "password_hash", Code: FieldInvalid, Message: "give either password or password_hash, not both"}
	case password.CheckImported(n.PasswordHash) != nil:
		return &FieldError{Field: "password_hash", Code: FieldInvalid, Message: importedHashMessage}
	}
	return nil
}

// applyTemplate gives n the locale and partner reference of its template
// customer where it gives none.
func (s *Customers) applyTemplate(ctx context.Context, tx Tx, c Caller, n *NewCustomer) error {
	if n.TemplateRef == "" {
		return nil
	}
	tmpl, err := customerByRef(ctx, tx, c.Tenant.ID, n.TemplateRef)
	if errors.Is(err, ErrCustomerNotFound) {
		return ErrTemplateNotFound
	} else if err != nil {
		return err
	}
	n.Profile.setDefaults(Profile{Locale: tmpl.Locale, PartnerRef: tmpl.PartnerRef})
	return nil
}

// issueNext gives a created customer what it needs next, and mails it:
// an invitation (link and code) to one without a password or asked to
// activate, a confirmation to a pending one with a password, nothing to
// an offline contact or an active customer with a password.
func (s *Customers) issueNext(ctx context.Context, tx Tx, c Caller, n NewCustomer, res *CreateResult) error {
	cust := res.Customer
	var err error
	switch {
	case cust.State == StateOffline || cust.State == StateActive && cust.HasPassword():
	case !cust.HasPassword() || n.Activation:
		res.InviteToken, res.ActivationCode, _, err = s.invite(ctx, tx, c, cust, time.Time{})
		return err
	case cust.State == StatePending || cust.State == StatePendingActive:
		if res.ConfirmToken, _, err = s.tokens.issueToken(ctx, tx, cust, PurposeConfirm); err != nil {
			return err
		}
		return s.mail.enqueue(ctx, tx, c, cust, outgoing{kind: MailConfirm, action: ActionConfirm, token: res.ConfirmToken, validFor: s.cfg.ConfirmTTL})
	}
	return nil
}

// invite issues an invitation (link and code), mails it no earlier than
// notBefore (zero: at once), and records its opt-in proof. queued reports
// whether a mail went to the outbox.
func (s *Customers) invite(ctx context.Context, tx Tx, c Caller, cust Customer, notBefore time.Time) (token, code string, queued bool, err error) {
	token, issued, err := s.tokens.issueToken(ctx, tx, cust, PurposeInvite)
	if err != nil {
		return "", "", false, err
	}
	// The link comes with a code, for those who type it.
	if code, err = s.tokens.newCode(ctx, tx, cust, PurposeInvite); err != nil {
		return "", "", false, err
	}
	var m Mail
	if err := s.mail.enqueue(ctx, tx, c, cust, outgoing{kind: MailInvite, action: ActionActivate,
		token: token, code: code, validFor: s.cfg.InviteTTL, queued: &m, notBefore: notBefore}); err != nil {
		return "", "", false, err
	}
	var mail *Mail
	if m.ID != 0 {
		mail = &m
	}
	return token, code, mail != nil, s.proveRequest(ctx, tx, c, ProofInvitation, cust, issued.ID, nil, mail)
}

// adopt applies n to an existing offline or pending customer of the same
// address, when n asks for it; see NewCustomer.Adopt. It reports whether
// it did; cust is then the updated customer.
func (s *Customers) adopt(ctx context.Context, tx Tx, n NewCustomer, cust *Customer) (bool, error) {
	if !n.Adopt {
		return false, nil
	}
	existing, err := tx.CustomerByEmailKey(ctx, cust.TenantID, cust.EmailKey)
	switch {
	case errors.Is(err, ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	case existing.State != StateOffline && existing.State != StatePending:
		return false, ErrEmailTaken
	}
	if existing.State == StatePending && n.UUID != "" {
		existing.UUID = cust.UUID
	}
	if cust.PasswordHash != "" {
		existing.PasswordHash = cust.PasswordHash
	}
	existing.Email = cust.Email
	existing.setProfile(cust.profile())
	existing.NamesUnconfirmed = false
	if err := setState(&existing, cust.State); err != nil {
		return false, err
	}
	existing.UpdatedAt = s.now()
	if err := checkUnique(ctx, tx, existing); err != nil {
		return false, err
	}
	if err := tx.UpdateCustomer(ctx, &existing); err != nil {
		return false, err
	}
	// The back office re-creates the customer: nothing issued before
	// (reset links, invitations, strangers' registration claims) may
	// apply to the new one. Create issues what it needs next.
	if err := tx.DeleteAllTokens(ctx, existing.TenantID, existing.ID); err != nil {
		return false, err
	}
	*cust = existing
	return true, nil
}

// Get finds a customer by numeric id or uuid (secret key only).
func (s *Customers) Get(ctx context.Context, c Caller, ref string) (Customer, error) {
	if err := c.requireSecret(); err != nil {
		return Customer{}, err
	}
	cust, err := customerByRef(ctx, s.store, c.Tenant.ID, ref)
	if err != nil && !errors.Is(err, ErrCustomerNotFound) {
		return Customer{}, Internal(err)
	}
	return cust, err
}

// ByEmail finds a customer by email address (secret key only).
func (s *Customers) ByEmail(ctx context.Context, c Caller, email string) (Customer, error) {
	if err := c.requireSecret(); err != nil {
		return Customer{}, err
	}
	key, fe := s.emailKey(c.Tenant, email)
	if fe != nil {
		return Customer{}, Invalid(*fe)
	}
	cust, err := s.store.CustomerByEmailKey(ctx, c.Tenant.ID, key)
	if errors.Is(err, ErrNotFound) {
		return Customer{}, ErrCustomerNotFound
	} else if err != nil {
		return Customer{}, Internal(err)
	}
	cust.reachedAt(email)
	return cust, nil
}

// MaxPageSize bounds Customers.List.
const MaxPageSize = 200

// List pages through a tenant's customers that f selects, by id (secret
// key only).
func (s *Customers) List(ctx context.Context, c Caller, f CustomerFilter, afterID int64, limit int) ([]Customer, error) {
	if err := c.requireSecret(); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > MaxPageSize {
		limit = MaxPageSize
	}
	if f.State != "" && !slices.Contains(States, f.State) {
		return nil, Invalid(FieldError{Field: "state", Code: FieldInvalid, Message: "must be offline, pending, pending_active, active or disabled"})
	}
	cs, err := s.store.ListCustomers(ctx, c.Tenant.ID, f, afterID, limit)
	if err != nil {
		return nil, Internal(err)
	}
	return cs, nil
}

// CustomerPatch changes some fields of a customer; nil fields stay.
type CustomerPatch struct {
	Email      *string
	Salutation *string
	FirstName  *string
	LastName   *string
	Username   *string
	Locale     *string
	PartnerRef *string
	State      *State // active or disabled
}

// Update applies a patch (secret key only). Disabling ends every
// session. A new email address is unconfirmed until the customer confirms
// it again.
func (s *Customers) Update(ctx context.Context, c Caller, ref string, p CustomerPatch) (Customer, error) {
	if err := c.requireSecret(); err != nil {
		return Customer{}, err
	}
	var fields []FieldError
	var newKey string
	if p.Email != nil {
		var fe *FieldError
		if newKey, fe = s.emailKey(c.Tenant, *p.Email); fe != nil {
			fields = append(fields, *fe)
		}
	}
	if p.State != nil && *p.State != StateActive && *p.State != StateDisabled {
		fields = append(fields, FieldError{Field: "state", Code: FieldInvalid, Message: "must be active or disabled"})
	}
	if len(fields) > 0 {
		return Customer{}, Invalid(fields...)
	}
	var cust Customer
	err := s.inTx(ctx, func(tx Tx) error {
		var err error
		if cust, err = customerByRef(ctx, tx, c.Tenant.ID, ref); err != nil {
			return err
		}
		var notify *Customer // the customer at the confirmed address it had
		if p.Email != nil && newKey != cust.EmailKey {
			// Tokens were issued for the old address; none may confirm or
			// reset the new one.
			if cust.EmailConfirmedAt != nil && cust.Email != "" {
				old := cust
				notify = &old
				if cust.PreviousEmail == "" {
					cust.PreviousEmail = cust.Email
				}
			}
			cust.EmailConfirmedAt = nil
			if err := s.revokeIssued(ctx, tx, cust, "the customer's email address changed"); err != nil {
				return err
			}
		}
		if p.Email != nil {
			cust.Email, cust.EmailKey = storedEmail(c.Tenant, *p.Email), newKey
		}
		if err := p.apply(&cust); err != nil {
			return err
		}
		cust.UpdatedAt = s.now()
		if err := checkUnique(ctx, tx, cust); err != nil {
			return err
		}
		if err := tx.UpdateCustomer(ctx, &cust); err != nil {
			return err
		}
		if notify != nil {
			// Changing the address and then resetting the password must not
			// take the account over unseen: the old address hears of it.
			if err := s.mail.enqueue(ctx, tx, c, *notify, outgoing{kind: MailEmailChangedBy, newEmail: cust.Email}); err != nil {
				return err
			}
		}
		if err := s.audit.record(ctx, tx, c.Tenant, AuditEvent{Type: AuditCustomerUpdated, Actor: actorOf(c), CustomerID: cust.ID,
			Detail: p.audited(cust)}); err != nil {
			return err
		}
		if cust.State != StateDisabled {
			return nil
		}
		// Nothing issued before disabling may work after re-enabling.
		if err := s.revokeIssued(ctx, tx, cust, "the customer was disabled"); err != nil {
			return err
		}
		return tx.DeleteSessions(ctx, cust.TenantID, cust.ID, 0)
	})
	if err != nil {
		return Customer{}, err
	}
	s.mail.notifyQueued()
	s.log.InfoContext(ctx, "customer updated", "tenant", c.Tenant.Slug, "customer_id", cust.ID, "state", cust.State,
		"email_changed", p.Email != nil)
	return cust, nil
}

// audited is what the audit log says of a patch: the fields it names,
// and the state it leaves, never the values of personal fields.
func (p CustomerPatch) audited(cust Customer) map[string]string {
	var names []string
	for _, f := range []struct {
		name string
		set  bool
	}{{"email", p.Email != nil}, {"salutation", p.Salutation != nil}, {"first_name", p.FirstName != nil},
		{"last_name", p.LastName != nil}, {"username", p.Username != nil}, {"locale", p.Locale != nil},
		{"partner_ref", p.PartnerRef != nil}, {"state", p.State != nil}} {
		if f.set {
			names = append(names, f.name)
		}
	}
	return map[string]string{"fields": strings.Join(names, ","), "state": string(cust.State)}
}

// apply sets the patch's profile fields and state on cust.
func (p CustomerPatch) apply(cust *Customer) error {
	for _, f := range []struct {
		dst *string
		src *string
	}{{&cust.Salutation, p.Salutation}, {&cust.FirstName, p.FirstName}, {&cust.LastName, p.LastName},
		{&cust.Username, p.Username}, {&cust.Locale, p.Locale}, {&cust.PartnerRef, p.PartnerRef}} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
	if fields := cust.profile().validate(); len(fields) > 0 {
		return Invalid(fields...)
	}
	if p.FirstName != nil && p.LastName != nil {
		cust.NamesUnconfirmed = false // the back office set the greeted names
	}
	if p.State != nil {
		return setEnabled(cust, *p.State == StateActive)
	}
	return nil
}

// revokeIssued ends every unused token of the customer and fails its
// unsent mail, for reason.
func (s *Customers) revokeIssued(ctx context.Context, tx Tx, cust Customer, reason string) error {
	if err := tx.DeleteAllTokens(ctx, cust.TenantID, cust.ID); err != nil {
		return err
	}
	return s.mail.cancelMail(ctx, tx, cust, reason)
}

// Delete erases a customer with its tokens and sessions (secret key only).
func (s *Customers) Delete(ctx context.Context, c Caller, ref string) error {
	if err := c.requireSecret(); err != nil {
		return err
	}
	var id int64
	err := s.inTx(ctx, func(tx Tx) error {
		cust, err := customerByRef(ctx, tx, c.Tenant.ID, ref)
		if err != nil {
			return err
		}
		id = cust.ID
		return s.erase(ctx, tx, c.Tenant, cust, actorOf(c), "the customer was erased", false)
	})
	if err == nil {
		s.log.InfoContext(ctx, "customer deleted", "tenant", c.Tenant.Slug, "customer_id", id)
	}
	return err
}

// purgeUnconfirmed erases, per tenant, the pending customers created
// longer than its pending_retention ago, with their opt-in proofs:
// registrations nobody confirmed are not kept for good.
func (s *Customers) purgeUnconfirmed(ctx context.Context) error {
	tenants, err := s.store.ListTenants(ctx)
	if err != nil {
		return err
	}
	now := s.now()
	for _, t := range tenants {
		keep := t.duration("pending_retention")
		if keep <= 0 {
			continue
		}
		stale, err := s.store.UnconfirmedBefore(ctx, t.ID, now.Add(-keep), 500)
		if err != nil {
			return err
		}
		for _, cust := range stale {
			err := s.inTx(ctx, func(tx Tx) error {
				current, err := tx.CustomerByID(ctx, t.ID, cust.ID)
				if errors.Is(err, ErrNotFound) || err == nil && current.State != StatePending {
					return nil // confirmed or erased meanwhile
				} else if err != nil {
					return err
				}
				return s.erase(ctx, tx, t, current, ActorSystem, "the registration was never confirmed", true)
			})
			if err != nil {
				return err
			}
		}
		if len(stale) > 0 {
			s.log.InfoContext(ctx, "unconfirmed registrations erased", "tenant", t.Slug, "count", len(stale))
		}
		// An opt-in never confirmed (a claim on a taken address, a change
		// of address) proves nothing, and goes as its registration would.
		err = s.store.InTx(ctx, func(tx Tx) error { return tx.DeleteUnconfirmedProofs(ctx, t.ID, now.Add(-keep)) })
		if err != nil {
			return err
		}
	}
	return nil
}

// DeleteSelf erases the customer of a session, who gave the current
// password, as Delete does: with every token, session and unsent mail.
// Whatever was pending (registrations, resets, mail) the answer is the
// same.
func (s *Customers) DeleteSelf(ctx context.Context, tenantID int64, token, pw string) error {
	cust, sess, err := s.sessions.Lookup(ctx, tenantID, token)
	if err != nil {
		return err
	}
	if err := s.emailChanges.checkPassword(ctx, cust, pw); err != nil {
		return err
	}
	err = s.inTx(ctx, func(tx Tx) error {
		current, err := tx.CustomerByID(ctx, sess.TenantID, sess.CustomerID)
		if errors.Is(err, ErrNotFound) {
			return errSessionInvalid // erased meanwhile
		} else if err != nil {
			return err
		}
		if current.PasswordHash != cust.PasswordHash {
			return ErrInvalidCredentials // the password checked is no longer the customer's
		}
		t, err := s.tenants.byID(ctx, current.TenantID)
		if err != nil {
			return err
		}
		return s.erase(ctx, tx, t, current, "customer", "the customer deleted the account", false)
	})
	if err == nil {
		s.log.InfoContext(ctx, "customer deleted the account", "tenant_id", cust.TenantID, "customer_id", cust.ID)
	}
	return err
}

// SetPassword sets a password on the tenant's behalf (secret key
// only). Every session ends.
func (s *Customers) SetPassword(ctx context.Context, c Caller, ref, pw string) (Customer, error) {
	if err := c.requireSecret(); err != nil {
		return Customer{}, err
	}
	hash, err := s.hashNew(ctx, pw, nil)
	if err != nil {
		return Customer{}, err
	}
	var cust Customer
	err = s.inTx(ctx, func(tx Tx) error {
		var err error
		if cust, err = customerByRef(ctx, tx, c.Tenant.ID, ref); err != nil {
			return err
		}
		if strings.EqualFold(pw, s.addressFor(cust, pw)) {
			return Invalid(FieldError{Field: "password", Code: FieldEqualsEmail, Message: "must not be the email address"})
		}
		if err := s.creds.setPassword(ctx, tx, &cust, hash, 0); err != nil {
			return err
		}
		if err := s.audit.record(ctx, tx, c.Tenant, AuditEvent{Type: AuditPasswordChanged, Actor: actorOf(c), CustomerID: cust.ID,
			Detail: map[string]string{"how": "set by a back office"}}); err != nil {
			return err
		}
		return s.mail.mailPasswordChanged(ctx, tx, c, cust)
	})
	if err == nil {
		s.mail.notifyQueued()
		s.log.InfoContext(ctx, "password set by admin", "tenant", c.Tenant.Slug, "customer_id", cust.ID)
	}
	return cust, err
}
