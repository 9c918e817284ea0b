package native

import (
	"net/http"
	"strconv"
	"time"

	"pforte/internal/account"
	"pforte/internal/api/wire"
)

// deviceJSON is one session in a list of where a customer is logged in.
type deviceJSON struct {
	ID            int64     `json:"id"`
	Current       bool      `json:"current"`
	Device        string    `json:"device"`
	ClientAddress string    `json:"client_address"`
	Remembered    bool      `json:"remembered"`
	CreatedAt     time.Time `json:"created_at"`
	LastSeenAt    time.Time `json:"last_seen_at"`
	ExpiresAt     time.Time `json:"expires_at"`
	IdleExpiresAt time.Time `json:"idle_expires_at"`
}

type deviceList struct {
	Sessions []deviceJSON `json:"sessions"`
}

func toDevices(all []account.Session, currentID int64) deviceList {
	out := deviceList{Sessions: make([]deviceJSON, 0, len(all))}
	for _, s := range all {
		out.Sessions = append(out.Sessions, deviceJSON{ID: s.ID, Current: s.ID == currentID, Device: s.Device,
			ClientAddress: s.ClientAddress, Remembered: s.Remembered, CreatedAt: s.CreatedAt, LastSeenAt: s.LastSeenAt,
			ExpiresAt: s.EndsAt(), IdleExpiresAt: s.IdleExpiresAt()})
	}
	return out
}

// sessionID is the {id} of a session's path; one that is no number names
// no session.
func sessionID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, account.ErrSessionNotFound
	}
	return id, nil
}

// MySessions serves GET /api/v1/sessions: where the bearer's customer is
// logged in.
func (a *API) MySessions() http.Handler {
	return a.keyed(optionalKey, func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		current, all, err := a.svc.Devices.Mine(r.Context(), c.Tenant.ID, wire.BearerToken(r))
		if err != nil {
			return err
		}
		return wire.WriteJSON(w, http.StatusOK, toDevices(all, current.ID))
	})
}

// EndMySession serves DELETE /api/v1/sessions/{id}.
func (a *API) EndMySession() http.Handler {
	return a.keyed(optionalKey, func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		id, err := sessionID(r)
		if err == nil {
			err = a.svc.Devices.EndMine(r.Context(), c.Tenant.ID, wire.BearerToken(r), id)
		}
		if err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// EndMyOtherSessions serves DELETE /api/v1/session/others: every session
// of the bearer's customer but the bearer's ends.
func (a *API) EndMyOtherSessions() http.Handler {
	return a.keyed(optionalKey, func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		if err := a.svc.Devices.EndOthers(r.Context(), c.Tenant.ID, wire.BearerToken(r)); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// CustomerSessions serves GET /api/v1/customers/{ref}/sessions.
func (a *API) CustomerSessions() http.Handler {
	return a.keyed(secretKey, func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		all, err := a.svc.Devices.Of(r.Context(), c, r.PathValue("ref"))
		if err != nil {
			return err
		}
		return wire.WriteJSON(w, http.StatusOK, toDevices(all, 0))
	})
}

// EndCustomerSession serves DELETE /api/v1/customers/{ref}/sessions/{id}.
func (a *API) EndCustomerSession() http.Handler {
	return a.keyed(secretKey, func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		id, err := sessionID(r)
		if err == nil {
			err = a.svc.Devices.End(r.Context(), c, r.PathValue("ref"), id)
		}
		if err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// EndCustomerSessions serves DELETE /api/v1/customers/{ref}/sessions.
func (a *API) EndCustomerSessions() http.Handler {
	return a.keyed(secretKey, func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		if err := a.svc.Devices.EndAll(r.Context(), c, r.PathValue("ref")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}
