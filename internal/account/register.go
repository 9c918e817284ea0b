package account

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"
)

// Registration is a customer signing up with email and password.
type Registration struct {
	Email                string
	Password             string
	PasswordConfirmation *string // checked when given
	// AcceptLanguage is the registering request's Accept-Language header;
	// it picks the locale when Profile.Locale is empty.
	AcceptLanguage string
	// LoginBeforeConfirm lets a new customer log in before confirming the
	// address (Gradido, whose users see email_checked false): a new
	// address becomes pending_active with the password and profile at once.
	// An address that already exists is handled as in every registration.
	LoginBeforeConfirm bool
	// Consent is the consent text the registrant accepted, for the
	// opt-in proof; nil: none was shown.
	Consent *Consent
	Profile
}

// RegisterResult is what a registration produced. Accepted alone is set for
// public callers, who learn nothing about whether the email had an account.
type RegisterResult struct {
	Accepted     bool
	Customer     Customer
	ConfirmToken string // only for callers that receive tokens
}

// claim is what a registration asks for: a password and a profile. It
// travels on the confirmation token and reaches the customer only when the
// mailbox owner confirms, so that a registration can never change a
// customer it has not proven to own.
type claim struct {
	PasswordHash string  `json:"password_hash"`
	Profile      Profile `json:"profile"`
}

// maxClaims bounds live registration claims per customer.
const maxClaims = 5

var errTooManyClaims = &Error{Kind: KindRateLimited, Code: CodeTooManyRegistrations, Message: "too many open registrations for this email address; confirm one or try again tomorrow", RetryAfter: time.Hour}

// Register signs a customer up. The password and profile wait on the
// confirmation token as a claim, so registering never changes an existing
// customer: an offline contact or a pending account keeps its data until a
// confirmation link is used, and then takes that registration's password
// and profile. Claims of different registrations coexist until one is
// confirmed, so a second registrant cannot void the owner's link.
//
// Secret-key callers get email_taken for addresses with online access.
// Public callers get the same answer in every case; for an address that
// already has an account the claim still exists, so that logging in with
// the claimed password answers email_not_confirmed either way.
func (s *Registrations) Register(ctx context.Context, c Caller, r Registration) (RegisterResult, error) {
	// A secret key learns whether the address had an account, unless the
	// API takes every registration as the customer's own. Only answers
	// that hide it need the uniform time: a back office waits for none.
	reg := registration{Caller: c, Registration: r, secret: c.IsSecret() && !c.Policy.SelfRegistration}
	if !reg.secret {
		defer s.uniform(ctx, time.Now())
	}
	var fe *FieldError
	reg.key, fe = s.emailKey(c.Tenant, r.Email)
	var fields []FieldError
	if fe != nil {
		fields = append(fields, *fe)
	}
	fields = append(fields, s.checkNewPassword("password", r.Password, r.Email, r.PasswordConfirmation)...)
	fields = append(fields, r.Profile.validate()...)
	if len(fields) > 0 {
		return RegisterResult{}, Invalid(fields...)
	}
	if reg.Locale == "" {
		reg.Locale = matchLocale(r.AcceptLanguage, c.Tenant.Setting("default_locale"))
	}
	if reg.Consent == nil && c.Policy.Channel != "" && c.Policy.Channel != "pages" {
		// A dialect's wire format has no room for the consent its site
		// showed: the proof records the tenant's current text, with the
		// channel.
		ct, ok, err := s.consents.Current(ctx, c, reg.Locale)
		if err != nil {
			return RegisterResult{}, err
		}
		if ok {
			reg.Consent = &Consent{Version: ct.Version, Lang: ct.Lang, Text: ct.Text}
		}
	}
	// Hash before looking anything up: every path costs one hash.
	var err error
	if reg.hash, err = s.hash(ctx, r.Password); err != nil {
		return RegisterResult{}, err
	}
	if reg.payload, err = json.Marshal(claim{PasswordHash: reg.hash, Profile: reg.Profile}); err != nil {
		return RegisterResult{}, Internal(err)
	}
	var res RegisterResult
	err = s.inTx(ctx, func(tx Tx) error {
		var err error
		res, err = s.register(ctx, tx, reg)
		return err
	})
	if err == nil {
		s.mail.notifyQueued()
	}
	if err != nil && !(errors.Is(err, errTooManyClaims) && !reg.secret) {
		return RegisterResult{}, err
	}
	if !reg.secret {
		s.log.InfoContext(ctx, "public registration", "tenant", c.Tenant.Slug)
		return RegisterResult{Accepted: true}, nil
	}
	if !c.receivesTokens() {
		res.ConfirmToken = ""
	}
	s.log.InfoContext(ctx, "customer registered", "tenant", c.Tenant.Slug, "customer_id", res.Customer.ID)
	return res, nil
}

// registration is one Register call, checked and hashed.
type registration struct {
	Caller
	Registration
	secret  bool   // the caller learns whether the address had an account
	key     string // the address's email key
	hash    string // the password's hash
	payload []byte // the claim: hash and profile
}

// register is Register's transaction: a new customer for a new address,
// a confirmation claim for one that is not confirmed yet, and for one
// with an account a claim nobody can confirm and a notice to its owner.
func (s *Registrations) register(ctx context.Context, tx Tx, r registration) (RegisterResult, error) {
	// Only secret callers learn that a username is taken; a public
	// caller's username waits in the claim and is applied at
	// confirmation if it is still free.
	if r.secret && r.Username != "" {
		if err := usernameFree(ctx, tx, r.Tenant.ID, r.Username, r.key); err != nil {
			return RegisterResult{}, err
		}
	}
	cust, err := tx.CustomerByEmailKey(ctx, r.Tenant.ID, r.key)
	cust.reachedAt(r.Email)
	claimed := r.payload
	switch {
	case errors.Is(err, ErrNotFound):
		if cust, err = s.newCustomer(ctx, tx, r); err != nil {
			return RegisterResult{}, err
		}
		if r.LoginBeforeConfirm {
			// Nobody held the address, so the registrant has it now, and
			// its link only confirms: it carries no claim.
			claimed = nil
		}
	case err != nil:
		return RegisterResult{}, err
	case cust.State == StateDisabled || cust.State == StatePendingActive || cust.State == StateActive:
		return RegisterResult{}, s.claimTaken(ctx, tx, r, cust)
	}
	if cust.Locale == "" {
		cust.Locale = r.Locale // for the mail's language; the row takes it at confirmation
	}
	token, issued, err := s.tokens.issueClaim(ctx, tx, cust, PurposeConfirm, claimed)
	if err != nil {
		return RegisterResult{}, err
	}
	res := RegisterResult{Customer: cust, ConfirmToken: token}
	// Registrations count towards the hourly limit of confirmation
	// mails too; past it the claim exists but no further mail goes out.
	var mail *Mail
	if full, err := s.mail.mailLimitReached(ctx, tx, cust, 3, MailConfirm, MailConfirmResend); err != nil {
		return res, err
	} else if !full {
		var queued Mail
		err := s.mail.enqueue(ctx, tx, r.Caller, cust, outgoing{kind: MailConfirm, action: ActionConfirm, token: token,
			validFor: s.cfg.ConfirmTTL, username: r.Username, queued: &queued})
		if err != nil {
			return res, err
		}
		if queued.ID != 0 {
			mail = &queued
		}
	}
	if err := s.resolveConsent(ctx, tx, r.Caller, r.Consent); err != nil {
		return res, err
	}
	return res, s.proveRequest(ctx, tx, r.Caller, ProofRegistration, cust, issued.ID, r.Consent, mail)
}

// newCustomer creates the pending customer of a new address, without a
// password unless the registrant may log in before confirming. A
// registration that raced this one makes the insert fail with
// ErrDuplicate, and inTx runs the transaction again.
func (s *Registrations) newCustomer(ctx context.Context, tx Tx, r registration) (Customer, error) {
	now := s.now()
	cust := Customer{UUID: uuid.NewString(), TenantID: r.Tenant.ID, Email: storedEmail(r.Tenant, r.Email), EmailKey: r.key,
		State: StatePending, CreatedAt: now, UpdatedAt: now}
	// A public caller's profile waits in the claim: names it chose must
	// not greet the owner of an address it does not own.
	p := r.Profile
	if !r.secret && !r.LoginBeforeConfirm {
		p = Profile{Locale: p.Locale}
	}
	cust.setProfile(p)
	if r.LoginBeforeConfirm {
		cust.State, cust.PasswordHash = StatePendingActive, r.hash
		cust.NamesUnconfirmed = !r.secret
	}
	if err := tx.CreateCustomer(ctx, &cust); err != nil {
		return Customer{}, err
	}
	cust.reachedAt(r.Email)
	data := map[string]any{"tenant": r.Tenant.Slug, "customer": customerData(r.Tenant, cust), "channel": channelOf(r.Caller)}
	if err := s.webhooks.emit(ctx, tx, r.Tenant, EventRegistered, cust.ID, data); err != nil {
		return Customer{}, err
	}
	return cust, nil
}

// claimTaken answers a registration of an address that has an account: a
// secret caller learns so; for anyone else a claim is kept that is never
// sent and can never be confirmed, so that a login with its password
// answers as for a new registration, whatever state the account is in,
// and the owner hears of the attempt.
func (s *Registrations) claimTaken(ctx context.Context, tx Tx, r registration, cust Customer) error {
	if r.secret {
		return ErrEmailTaken
	}
	if _, _, err := s.tokens.issueClaim(ctx, tx, cust, PurposeClaim, r.payload); err != nil {
		return err
	}
	if cust.State == StateDisabled {
		return nil // no way back in by mail
	}
	return s.mailRegisterAttempt(ctx, tx, r.Caller, cust)
}

// mailRegisterAttempt tells the owner of an address with an account that
// someone tried to register with it, with a reset link in case it was
// them, instead of creating a second account.
func (s *Registrations) mailRegisterAttempt(ctx context.Context, tx Tx, c Caller, cust Customer) error {
	if !c.sendsMail() {
		return nil
	}
	if full, err := s.mail.mailLimitReached(ctx, tx, cust, 3, MailRegisterAttempt); err != nil || full {
		return err
	}
	token, _, err := s.tokens.issueToken(ctx, tx, cust, PurposePasswordReset)
	if err != nil {
		return err
	}
	return s.mail.enqueue(ctx, tx, c, cust, outgoing{kind: MailRegisterAttempt, action: ActionReset, token: token, validFor: s.cfg.ResetTTL})
}

// usernameFree reports errUsernameTaken if a customer other than the one
// with emailKey holds the username.
func usernameFree(ctx context.Context, tx Tx, tenantID int64, username, emailKey string) error {
	other, err := tx.CustomerByUsername(ctx, tenantID, username)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil
	case err != nil:
		return err
	case other.EmailKey != emailKey:
		return errUsernameTaken
	}
	return nil
}

// ResendConfirmation mails a new confirmation link to a customer who has
// not confirmed yet, at most three confirmation mails an hour. It answers
// the same whether or not the address has an account, and does nothing
// where pforte sends no mail.
func (s *Registrations) ResendConfirmation(ctx context.Context, c Caller, email string) error {
	defer s.uniform(ctx, time.Now())
	key, fe := s.emailKey(c.Tenant, email)
	if fe != nil {
		return Invalid(*fe)
	}
	if !c.sendsMail() {
		return nil
	}
	err := s.inTx(ctx, func(tx Tx) error {
		cust, err := tx.CustomerByEmailKey(ctx, c.Tenant.ID, key)
		cust.reachedAt(email)
		if errors.Is(err, ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		if cust.State != StatePending && cust.State != StatePendingActive {
			return nil
		}
		if full, err := s.mail.mailLimitReached(ctx, tx, cust, 3, MailConfirm, MailConfirmResend); err != nil || full {
			return err
		}
		// The resent link carries no registration's password: anyone can
		// ask for a resend, so it cannot tell whose registration the
		// requester made. It confirms the address; a customer without a
		// password sets one when confirming it. Earlier links stay valid
		// (a resend must not void a registrant's link), up to maxClaims.
		token, _, err := s.tokens.issueClaim(ctx, tx, cust, PurposeConfirm, nil)
		if errors.Is(err, errTooManyClaims) {
			return nil
		} else if err != nil {
			return err
		}
		return s.mail.enqueue(ctx, tx, c, cust, outgoing{kind: MailConfirmResend, action: ActionConfirm, token: token, validFor: s.cfg.ConfirmTTL})
	})
	if err == nil {
		s.mail.notifyQueued()
	}
	return err
}

// Confirm uses a confirmation token: the registration's claim (password and
// profile) applies, the customer becomes active and is logged in. A token
// without a claim (a resent link) needs newPw when the customer has no
// password yet; otherwise newPw must be empty.
func (s *Registrations) Confirm(ctx context.Context, c Caller, token, newPw string) (Customer, NewSession, error) {
	var hash string
	if newPw != "" {
		var err error
		if hash, err = s.hashNew(ctx, newPw, nil); err != nil {
			return Customer{}, NewSession{}, err
		}
	}
	var cust Customer
	var sess NewSession
	err := s.inTx(ctx, func(tx Tx) error {
		t, cu, err := s.tokens.consumeToken(ctx, tx, c.Tenant.ID, token, PurposeConfirm)
		if err != nil {
			return err
		}
		cust = cu
		if cust.State == StateDisabled {
			return errAccountDisabled // rolls back: the token stays usable
		}
		claimed := len(t.Payload) > 0 && (cust.State == StateOffline || cust.State == StatePending)
		switch {
		case claimed && hash != "":
			return Invalid(FieldError{Field: "password", Code: FieldNotAllowed, Message: "this link already sets the password chosen at registration"})
		case claimed:
			if err := applyClaim(ctx, tx, &cust, t.Payload); err != nil {
				return err
			}
		case hash != "" && cust.HasPassword():
			return Invalid(FieldError{Field: "password", Code: FieldNotAllowed, Message: "the account has a password; change it after logging in"})
		case hash != "":
			if fields := s.checkNewPassword("password", newPw, s.addressFor(cust, newPw), nil); len(fields) > 0 {
				return Invalid(fields...) // rolls back: the token stays usable
			}
			cust.PasswordHash = hash
		}
		if !cust.HasPassword() {
			return errPasswordRequired // rolls back: the token stays usable
		}
		cust.PreviousEmail = "" // the current address is confirmed now
		if err := s.creds.markConfirmed(ctx, tx, &cust); err != nil {
			return err
		}
		if err := s.proveConfirmation(ctx, tx, c, cust.TenantID, t.ID); err != nil {
			return err
		}
		if sess, err = s.creds.logIn(ctx, tx, c, cust); err != nil {
			return err
		}
		// Last: the chain's head stays locked until the commit.
		return s.audit.record(ctx, tx, c.Tenant, AuditEvent{Type: AuditConfirmed, Actor: "customer", CustomerID: cust.ID})
	})
	if err != nil {
		return Customer{}, NewSession{}, err
	}
	s.log.InfoContext(ctx, "email confirmed", "tenant", c.Tenant.Slug, "customer_id", cust.ID)
	return cust, sess, nil
}

// LinkHolder is whose a link is, without spending its token: the
// customer a live token of purpose p belongs to, and whether using it
// needs a new password (a confirmation without a registration's claim, or
// an invitation, of a customer without one). Pages show it before the
// button that spends the token, so that nobody confirms someone else's
// address unawares. A token that is not live is ErrTokenInvalid.
func (s *Registrations) LinkHolder(ctx context.Context, c Caller, p Purpose, token string) (Customer, bool, error) {
	t, err := s.tokens.liveToken(ctx, c.Tenant.ID, token, p)
	if err != nil {
		return Customer{}, false, err
	}
	cust, err := s.store.CustomerByID(ctx, t.TenantID, t.CustomerID)
	if errors.Is(err, ErrNotFound) {
		return Customer{}, false, ErrTokenInvalid
	} else if err != nil {
		return Customer{}, false, Internal(err)
	}
	claimed := len(t.Payload) > 0 && (cust.State == StateOffline || cust.State == StatePending)
	return cust, !claimed && !cust.HasPassword(), nil
}

// Enrol adds a customer as the caller may: a secret key creates it as n
// asks (see Customers.Create); any other key registers it as the
// customer's own registration (see Register), which answers the same
// whether or not the address had an account. What only a back office may
// ask for (a state other than pending, a uuid of its choosing, a template
// user, whose existence a refusal would reveal) is refused to other keys,
// not ignored.
func (s *Registrations) Enrol(ctx context.Context, c Caller, n NewCustomer, acceptLanguage string) (CreateResult, error) {
	if c.IsSecret() {
		return s.customers.Create(ctx, c, n)
	}
	if field := n.backOfficeField(); field != "" {
		return CreateResult{}, &Error{Kind: KindForbidden, Code: CodeSecretKeyRequired, Message: field + ": only a secret API key may set it",
			Fields: []FieldError{{Field: field, Code: CodeSecretKeyRequired, Message: "only a secret API key may set it"}}}
	}
	_, err := s.Register(ctx, c, Registration{Email: n.Email, Password: n.Password, AcceptLanguage: acceptLanguage, Profile: n.Profile})
	return CreateResult{}, err
}

// backOfficeField names the first field of n that only a back office may
// set, if any.
func (n NewCustomer) backOfficeField() string {
	switch {
	case n.State != "" && n.State != StatePending:
		return "state"
	case n.UUID != "":
		return "uuid"
	case n.TemplateRef != "":
		return "template_user"
	}
	return ""
}

// ConfirmCustomer is Confirm for a link that names its customer by uuid
// (the subject of a link this server signed; nothing unsigned may name
// it): a customer that is gone is ErrCustomerNotFound, and one whose
// address is confirmed already is ErrAlreadyConfirmed, also when a
// concurrent use of the same link won the race.
func (s *Registrations) ConfirmCustomer(ctx context.Context, c Caller, uuid, token string) (Customer, NewSession, error) {
	confirmed := func() (bool, error) {
		cust, err := s.store.CustomerByUUID(ctx, c.Tenant.ID, uuid)
		if errors.Is(err, ErrNotFound) {
			return false, ErrCustomerNotFound
		} else if err != nil {
			return false, Internal(err)
		}
		return cust.EmailConfirmedAt != nil, nil
	}
	if done, err := confirmed(); err != nil || done {
		if done {
			err = ErrAlreadyConfirmed
		}
		return Customer{}, NewSession{}, err
	}
	cust, sess, err := s.Confirm(ctx, c, token, "")
	if errors.Is(err, ErrTokenInvalid) {
		if done, cerr := confirmed(); cerr == nil && done {
			return Customer{}, NewSession{}, ErrAlreadyConfirmed
		}
	}
	return cust, sess, err
}

var errPasswordRequired = &Error{Kind: KindForbidden, Code: CodePasswordRequired, Message: "this account has no password yet: send one with the token"}

// applyClaim gives the customer a confirmed registration's password and
// profile. A username taken meanwhile by someone else is left out.
func applyClaim(ctx context.Context, tx Tx, cust *Customer, payload []byte) error {
	var cl claim
	if err := json.Unmarshal(payload, &cl); err != nil {
		return err
	}
	if cl.Profile.Username != "" && usernameFree(ctx, tx, cust.TenantID, cl.Profile.Username, cust.EmailKey) != nil {
		cl.Profile.Username = ""
	}
	cust.setProfile(cl.Profile)
	cust.PasswordHash = cl.PasswordHash
	return nil
}
