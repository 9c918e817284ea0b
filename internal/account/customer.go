package account

import (
	"strings"
	"time"
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
// checkTransition.
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

// Transitions returns the states reachable from s, for documentation.
func Transitions(s State) []State { return append([]State(nil), transitions[s]...) }

// ParseState validates a state name.
func ParseState(s string) (State, bool) {
	for _, st := range States {
		if string(st) == s {
			return st, true
		}
	}
	return "", false
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
	// log in before confirming (seed 002), so anyone may have typed them.
	// Mail greets neutrally until the address is confirmed or a back
	// office sets the names.
	NamesUnconfirmed bool

	mailTo string // see reachedAt
}

// Name is the display name: first and last name joined.
func (c Customer) Name() string {
	return strings.TrimSpace(c.FirstName + " " + c.LastName)
}

// HasPassword reports whether the customer can log in with a password.
func (c Customer) HasPassword() bool { return c.PasswordHash != "" }
