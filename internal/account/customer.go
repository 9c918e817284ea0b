package account

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// State is where a customer stands in the account lifecycle.
type State string

const (
	// StateOffline is a known contact without online access, e.g. imported
	// or created by a back office. Registering with its email attaches an
	// account to it.
	StateOffline State = "offline"
	// StatePending is registered but not yet confirmed; it cannot log in.
	StatePending State = "pending"
	// StatePendingActive may log in but must still confirm its email.
	StatePendingActive State = "pending_active"
	// StateActive is a confirmed account.
	StateActive State = "active"
	// StateDisabled cannot log in; disabling revokes every session.
	StateDisabled State = "disabled"
)

// States lists every state in lifecycle order.
var States = []State{StateOffline, StatePending, StatePendingActive, StateActive, StateDisabled}

// transitions is the one table of allowed state changes. The README
// reproduces it; every state change in the service goes through
// setState.
var transitions = map[State][]State{
	StateOffline:       {StatePending, StatePendingActive, StateActive, StateDisabled},
	StatePending:       {StatePending, StatePendingActive, StateActive, StateDisabled},
	StatePendingActive: {StateActive, StateDisabled},
	StateActive:        {StateDisabled},
	// Re-enabling restores the state the customer was disabled from.
	StateDisabled: {StateOffline, StatePending, StatePendingActive, StateActive},
}

// CanTransition reports whether a customer may move from one state to another.
// Staying in the same state is always allowed.
func CanTransition(from, to State) bool {
	if from == to {
		return true
	}
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

func (s State) canLogIn() bool { return s == StatePendingActive || s == StateActive }

// Customer is an end user of a tenant's website.
type Customer struct {
	ID               int64
	UUID             string
	TenantID         int64
	Email            string // as given
	EmailKey         string // normalised, unique per tenant
	Username         string // optional, unique per tenant
	Salutation       string
	FirstName        string
	LastName         string
	Locale           string
	PartnerRef       string
	State            State
	DisabledFrom     State  // the state before disabling, restored on re-enabling; else empty
	PasswordHash     string // PHC string; empty until a password is set
	EmailConfirmedAt *time.Time
	CreatedAt        time.Time
	UpdatedAt        time.Time
	// NamesUnconfirmed: the names came from a public registration that may
	// log in before confirming (Gradido), so anyone may have typed them.
	// Mail greets neutrally until the address is confirmed or a back
	// office sets the names.
	NamesUnconfirmed bool
	// PreviousEmail is the address the customer last confirmed, kept
	// while a back office's change of address is unconfirmed: password
	// mail goes there too. Empty otherwise, and under email_storage=hmac.
	PreviousEmail string

	mailTo string // see reachedAt
}

// Name is the display name: first and last name joined.
func (c Customer) Name() string {
	return strings.TrimSpace(c.FirstName + " " + c.LastName)
}

// HasPassword reports whether the customer can log in with a password.
func (c Customer) HasPassword() bool { return c.PasswordHash != "" }

// setEnabled disables a customer, remembering its state, or re-enables it
// into the state it was disabled from. Enabling a customer that is not
// disabled makes it active.
func setEnabled(c *Customer, enable bool) error {
	switch {
	case !enable && c.State != StateDisabled:
		from := c.State
		if err := setState(c, StateDisabled); err != nil {
			return err
		}
		c.DisabledFrom = from
	case enable && c.State == StateDisabled:
		to := c.DisabledFrom
		if to == "" {
			to = StateActive
		}
		if err := setState(c, to); err != nil {
			return err
		}
		c.DisabledFrom = ""
	case enable:
		return setState(c, StateActive)
	}
	return nil
}

// setState moves a customer through the transition table.
func setState(c *Customer, to State) error {
	if !CanTransition(c.State, to) {
		return Errorf(KindConflict, CodeInvalidTransition, "a %s customer cannot become %s", c.State, to)
	}
	c.State = to
	return nil
}

// customerByRef finds a customer by numeric id or by uuid.
func customerByRef(ctx context.Context, tx Tx, tenantID int64, ref string) (Customer, error) {
	var c Customer
	var err error
	if id, perr := strconv.ParseInt(ref, 10, 64); perr == nil {
		c, err = tx.CustomerByID(ctx, tenantID, id)
	} else if u, perr := uuid.Parse(ref); perr == nil && len(ref) == 36 {
		c, err = tx.CustomerByUUID(ctx, tenantID, u.String())
	} else {
		return Customer{}, ErrCustomerNotFound // neither an id nor a uuid
	}
	if errors.Is(err, ErrNotFound) {
		return Customer{}, ErrCustomerNotFound
	}
	return c, err
}

var (
	errUUIDTaken     = &Error{Kind: KindConflict, Code: CodeUUIDTaken, Message: "a customer with this uuid already exists"}
	errUsernameTaken = &Error{Kind: KindConflict, Code: CodeUsernameTaken, Message: "this username is taken"}
)

// checkUnique reports the first of a customer's unique fields that another
// customer of the tenant already holds. Inside a transaction this gives a
// precise error; the unique indexes stay the final guard.
func checkUnique(ctx context.Context, tx Tx, c Customer) error {
	type lookup struct {
		find  func() (Customer, error)
		taken *Error
	}
	lookups := []lookup{
		{func() (Customer, error) { return tx.CustomerByEmailKey(ctx, c.TenantID, c.EmailKey) }, ErrEmailTaken},
		{func() (Customer, error) { return tx.CustomerByUUID(ctx, c.TenantID, c.UUID) }, errUUIDTaken},
	}
	if c.Username != "" {
		lookups = append(lookups, lookup{func() (Customer, error) { return tx.CustomerByUsername(ctx, c.TenantID, c.Username) }, errUsernameTaken})
	}
	for _, l := range lookups {
		other, err := l.find()
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return err
		case other.ID != c.ID:
			return l.taken
		}
	}
	return nil
}
