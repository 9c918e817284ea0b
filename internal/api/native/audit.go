package native

import (
	"encoding/hex"
	"net/http"
	"time"

	"pforte/internal/account"
	"pforte/internal/api/wire"
)

// auditJSON is an audit event on the wire.
type auditJSON struct {
	Seq           int64             `json:"seq"`
	At            time.Time         `json:"at"`
	Type          string            `json:"type"`
	Actor         string            `json:"actor"`
	Outcome       string            `json:"outcome"`
	CustomerID    int64             `json:"customer_id,omitempty"`
	ClientAddress string            `json:"client_address,omitempty"`
	Detail        map[string]string `json:"detail,omitempty"`
	Erased        bool              `json:"erased,omitempty"`
	Hash          string            `json:"hash"`
}

// auditPageSize is the page of GET /api/v1/audit without a limit.
const auditPageSize = 100

// ListAudit serves GET /api/v1/audit?customer=&type=&since=&after=&limit=.
func (a *API) ListAudit() http.Handler {
	type response struct {
		Events []auditJSON `json:"events"`
		Next   *int64      `json:"next_after,omitempty"`
	}
	return a.keyed(secretKey, func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		q := r.URL.Query()
		customer, fields := parseInt(q.Get("customer"), "customer")
		after, more := parseInt(q.Get("after"), "after")
		fields = append(fields, more...)
		limit, more := parseInt(q.Get("limit"), "limit")
		fields = append(fields, more...)
		var since time.Time
		if s := q.Get("since"); s != "" {
			var err error
			if since, err = time.Parse(time.RFC3339, s); err != nil {
				fields = append(fields, account.FieldError{Field: "since", Code: account.FieldInvalid, Message: "must be an RFC 3339 time"})
			}
		}
		if len(fields) > 0 {
			return account.Invalid(fields...)
		}
		if limit == 0 {
			limit = auditPageSize
		}
		limit = min(limit, 1000)
		events, err := a.svc.Audit.List(r.Context(), c, account.AuditQuery{CustomerID: customer, Type: account.AuditType(q.Get("type")),
			Since: since, AfterSeq: after, Limit: int(limit)})
		if err != nil {
			return err
		}
		res := response{Events: make([]auditJSON, 0, len(events))}
		for _, e := range events {
			res.Events = append(res.Events, auditJSON{Seq: e.Seq, At: e.At, Type: string(e.Type), Actor: e.Actor,
				Outcome: e.Outcome, CustomerID: e.CustomerID, ClientAddress: e.ClientAddress, Detail: e.Detail,
				Erased: e.Erased, Hash: hex.EncodeToString(e.Hash)})
		}
		if len(events) == int(limit) {
			res.Next = &events[len(events)-1].Seq // there may be more
		}
		return wire.WriteJSON(w, http.StatusOK, res)
	})
}

// ExportCustomer serves GET /api/v1/customers/{ref}/export: everything
// pforte holds about the customer, as docs/export.md describes.
func (a *API) ExportCustomer() http.Handler {
	return a.keyed(secretKey, func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		x, err := a.svc.Customers.Export(r.Context(), c, r.PathValue("ref"))
		if err != nil {
			return err
		}
		return wire.WriteJSON(w, http.StatusOK, x)
	})
}

// CustomerProofs serves GET /api/v1/customers/{ref}/consents: the
// customer's opt-in proofs.
func (a *API) CustomerProofs() http.Handler {
	type response struct {
		Proofs []account.ExportedProof `json:"proofs"`
	}
	return a.keyed(secretKey, func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		proofs, err := a.svc.Customers.Proofs(r.Context(), c, r.PathValue("ref"))
		if err != nil {
			return err
		}
		res := response{Proofs: make([]account.ExportedProof, 0, len(proofs))}
		for _, p := range proofs {
			res.Proofs = append(res.Proofs, p.Exported())
		}
		return wire.WriteJSON(w, http.StatusOK, res)
	})
}

// erasureJSON is an erased customer's kept proofs on the wire.
type erasureJSON struct {
	CustomerID int64                   `json:"customer_id"`
	ErasedAt   time.Time               `json:"erased_at"`
	KeptUntil  time.Time               `json:"kept_until"`
	Proofs     []account.ExportedProof `json:"proofs"`
}

// Erasures serves GET /api/v1/erasures?email=: the opt-in proofs kept,
// under the tenant's proof_retention, of erased customers who had the
// address.
func (a *API) Erasures() http.Handler {
	type response struct {
		Erasures []erasureJSON `json:"erasures"`
	}
	return a.keyed(secretKey, func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		es, err := a.svc.Customers.Erasures(r.Context(), c, r.URL.Query().Get("email"))
		if err != nil {
			return err
		}
		res := response{Erasures: make([]erasureJSON, 0, len(es))}
		for _, e := range es {
			x := erasureJSON{CustomerID: e.CustomerID, ErasedAt: e.ErasedAt, KeptUntil: e.KeepUntil,
				Proofs: make([]account.ExportedProof, 0, len(e.Proofs))}
			for _, p := range e.Proofs {
				x.Proofs = append(x.Proofs, p.Exported())
			}
			res.Erasures = append(res.Erasures, x)
		}
		return wire.WriteJSON(w, http.StatusOK, res)
	})
}
