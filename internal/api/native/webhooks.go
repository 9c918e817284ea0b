package native

import (
	"net/http"
	"strconv"
	"time"

	"pforte/internal/account"
	"pforte/internal/api/wire"
)

// webhookJSON is an endpoint on the wire; its secret appears only in
// the answer that created it.
type webhookJSON struct {
	ID           int64      `json:"id"`
	URL          string     `json:"url"`
	Events       []string   `json:"events"`
	Description  string     `json:"description"`
	Enabled      bool       `json:"enabled"`
	FailingSince *time.Time `json:"failing_since"`
	DisabledWhy  string     `json:"disabled_reason,omitempty"`
	Secret       string     `json:"secret,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
}

func toWebhook(e account.WebhookEndpoint) webhookJSON {
	return webhookJSON{ID: e.ID, URL: e.URL, Events: e.Events, Description: e.Description, Enabled: e.Enabled,
		FailingSince: e.FailingSince, DisabledWhy: e.DisabledWhy, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt}
}

// deliveryJSON is one entry of an endpoint's delivery log: never its
// payload.
type deliveryJSON struct {
	ID             int64      `json:"id"`
	EventID        string     `json:"event_id"`
	Type           string     `json:"type"`
	CustomerID     int64      `json:"customer_id,omitempty"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	ResponseStatus int        `json:"response_status,omitempty"`
	LastError      string     `json:"last_error,omitempty"`
	NextAttemptAt  *time.Time `json:"next_attempt_at,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	FinishedAt     *time.Time `json:"finished_at"`
}

func toDelivery(d account.WebhookDelivery) deliveryJSON {
	out := deliveryJSON{ID: d.ID, EventID: d.EventID, Type: d.Type, CustomerID: d.CustomerID, Status: string(d.Status),
		Attempts: d.Attempts, ResponseStatus: d.ResponseStatus, LastError: d.LastError, CreatedAt: d.CreatedAt, FinishedAt: d.FinishedAt}
	if d.Status == account.DeliveryPending {
		out.NextAttemptAt = &d.NextAttemptAt
	}
	return out
}

type webhookFields struct {
	URL         *string  `json:"url"`
	Events      []string `json:"events"`
	Description *string  `json:"description"`
	Enabled     *bool    `json:"enabled"`
}

func (f webhookFields) input() account.WebhookInput {
	return account.WebhookInput{URL: f.URL, Events: f.Events, Description: f.Description, Enabled: f.Enabled}
}

// webhookID is the {id} of a webhook path.
func webhookID(r *http.Request) (int64, error) {
	id, fields := parseInt(r.PathValue("id"), "id")
	if len(fields) > 0 || id == 0 {
		return 0, account.ErrWebhookNotFound
	}
	return id, nil
}

// CreateWebhook serves POST /api/v1/webhooks.
func (a *API) CreateWebhook() http.Handler {
	return a.keyed(secretKey, func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		req, err := wire.DecodeJSON[webhookFields](r)
		if err != nil {
			return err
		}
		e, secret, err := a.svc.Webhooks.Create(r.Context(), c, req.input())
		if err != nil {
			return err
		}
		out := toWebhook(e)
		out.Secret = secret
		w.Header().Set("Location", "/api/v1/webhooks/"+strconv.FormatInt(e.ID, 10))
		return wire.WriteJSON(w, http.StatusCreated, map[string]webhookJSON{"webhook": out})
	})
}

// ListWebhooks serves GET /api/v1/webhooks.
func (a *API) ListWebhooks() http.Handler {
	return a.keyed(secretKey, func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		es, err := a.svc.Webhooks.List(r.Context(), c)
		if err != nil {
			return err
		}
		out := make([]webhookJSON, 0, len(es))
		for _, e := range es {
			out = append(out, toWebhook(e))
		}
		return wire.WriteJSON(w, http.StatusOK, map[string][]webhookJSON{"webhooks": out})
	})
}

// GetWebhook serves GET /api/v1/webhooks/{id}: the endpoint and its 50
// newest deliveries.
func (a *API) GetWebhook() http.Handler {
	type response struct {
		Webhook    webhookJSON    `json:"webhook"`
		Deliveries []deliveryJSON `json:"deliveries"`
	}
	return a.keyed(secretKey, func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		id, err := webhookID(r)
		if err != nil {
			return err
		}
		e, ds, err := a.svc.Webhooks.Get(r.Context(), c, id)
		if err != nil {
			return err
		}
		res := response{Webhook: toWebhook(e), Deliveries: make([]deliveryJSON, 0, len(ds))}
		for _, d := range ds {
			res.Deliveries = append(res.Deliveries, toDelivery(d))
		}
		return wire.WriteJSON(w, http.StatusOK, res)
	})
}

// UpdateWebhook serves PATCH /api/v1/webhooks/{id}.
func (a *API) UpdateWebhook() http.Handler {
	return a.keyed(secretKey, func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		id, err := webhookID(r)
		if err != nil {
			return err
		}
		req, err := wire.DecodeJSON[webhookFields](r)
		if err != nil {
			return err
		}
		e, err := a.svc.Webhooks.Update(r.Context(), c, id, req.input())
		if err != nil {
			return err
		}
		return wire.WriteJSON(w, http.StatusOK, map[string]webhookJSON{"webhook": toWebhook(e)})
	})
}

// DeleteWebhook serves DELETE /api/v1/webhooks/{id}.
func (a *API) DeleteWebhook() http.Handler {
	return a.keyed(secretKey, func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		id, err := webhookID(r)
		if err != nil {
			return err
		}
		if err := a.svc.Webhooks.Delete(r.Context(), c, id); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// TestWebhook serves POST /api/v1/webhooks/{id}/test: a webhook.test
// event, queued for this endpoint alone.
func (a *API) TestWebhook() http.Handler {
	return a.keyed(secretKey, func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		id, err := webhookID(r)
		if err != nil {
			return err
		}
		d, err := a.svc.Webhooks.Test(r.Context(), c, id)
		if err != nil {
			return err
		}
		return wire.WriteJSON(w, http.StatusAccepted, map[string]deliveryJSON{"delivery": toDelivery(d)})
	})
}
