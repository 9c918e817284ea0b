package account

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Webhooks tell a site's server about changes as they happen. An event
// is written, one delivery per subscribed endpoint, in the transaction
// of the change it reports (the outbox pattern the mail uses), and a
// leased relay posts it, signed as the Standard Webhooks convention
// says, retrying with backoff for WebhookGiveUp. Deliveries to one
// endpoint about one customer go out in the order of their events: the
// next waits until the one before is delivered or has failed. An
// endpoint that has failed every attempt for WebhookGiveUp is disabled.
// Payloads carry no password, token or code, and under
// email_storage=hmac no address.

// Webhooks is the component that manages endpoints and their deliveries.
type Webhooks struct{ *core }

// Event types a webhook endpoint can subscribe to.
const (
	EventRegistered      = "customer.registered"       // a registration created a pending customer
	EventConfirmed       = "customer.confirmed"        // a registration's link was used
	EventStateChanged    = "customer.state_changed"    // a back office changed the state
	EventEmailChanged    = "customer.email_changed"    // confirmed, undone, or set by a back office
	EventDeleted         = "customer.deleted"          // erased by a back office, the customer or the clean-up
	EventPasswordChanged = "customer.password_changed" // by the customer, an invitation or a back office
	EventPasswordReset   = "customer.password_reset"   // through a reset link or code
	EventSessionsEnded   = "customer.sessions_ended"   // a back office ended sessions
	EventMailFailed      = "mail.failed"               // a mail to the customer failed for good
	EventTest            = "webhook.test"              // sent on request, to one endpoint
)

// WebhookEvents lists the types an endpoint can subscribe to.
var WebhookEvents = []string{EventRegistered, EventConfirmed, EventStateChanged, EventEmailChanged, EventDeleted,
	EventPasswordChanged, EventPasswordReset, EventSessionsEnded, EventMailFailed}

// WebhookEndpoint is a URL of a tenant's and the events it receives.
type WebhookEndpoint struct {
	ID           int64
	TenantID     int64
	URL          string
	Events       []string
	Description  string
	Secret       []byte // sealed
	Enabled      bool
	FailingSince *time.Time // the first failed attempt since the last success
	DisabledWhy  string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// subscribes reports whether the endpoint receives events of typ.
func (e WebhookEndpoint) subscribes(typ string) bool {
	return typ == EventTest || slices.Contains(e.Events, typ) || slices.Contains(e.Events, "*")
}

// gets reports whether an event of typ is delivered to e: it is enabled
// and subscribes to typ.
func (e WebhookEndpoint) gets(typ string) bool { return e.Enabled && e.subscribes(typ) }

// DeliveryStatus is where a delivery stands.
type DeliveryStatus string

const (
	DeliveryPending   DeliveryStatus = "pending"
	DeliveryDelivered DeliveryStatus = "delivered"
	DeliveryFailed    DeliveryStatus = "failed"
)

// WebhookDelivery is one event on its way to one endpoint.
type WebhookDelivery struct {
	ID             int64
	TenantID       int64
	EndpointID     int64
	CustomerID     int64 // 0: none; orders deliveries per endpoint
	EventID        string
	Type           string
	Payload        []byte // sealed; nil once delivered or failed
	Status         DeliveryStatus
	Attempts       int
	NextAttemptAt  time.Time
	LeaseOwner     string
	LeaseUntil     *time.Time
	ResponseStatus int // of the last attempt; 0: no answer
	LastError      string
	CreatedAt      time.Time
	FinishedAt     *time.Time
}

// OutgoingWebhook is a claimed delivery, opened for the relay.
type OutgoingWebhook struct {
	WebhookDelivery
	URL    string
	Secret []byte // the signing key
	Body   []byte
}

// Defaults of the webhook relay.
const (
	defaultWebhookRetryBase = 5 * time.Second
	webhookRetryMax         = time.Hour
	defaultWebhookGiveUp    = 72 * time.Hour
	defaultWebhookLease     = 2 * time.Minute
	maxWebhookURL           = 2000
	webhookSecretPrefix     = "whsec_"
)

// ErrWebhookNotFound: the tenant has no such endpoint.
var ErrWebhookNotFound = &Error{Kind: KindNotFound, Code: CodeWebhookNotFound, Message: "the tenant has no such webhook endpoint"}

// WebhookInput is what a back office gives for an endpoint.
type WebhookInput struct {
	URL         *string
	Events      []string // nil: unchanged
	Description *string
	Enabled     *bool
}

// Create adds an endpoint and returns it with its signing secret, which
// is shown this once (secret key only).
func (s *Webhooks) Create(ctx context.Context, c Caller, in WebhookInput) (WebhookEndpoint, string, error) {
	if err := c.requireSecret(); err != nil {
		return WebhookEndpoint{}, "", err
	}
	if in.URL == nil {
		in.URL = new(string)
	}
	if in.Events == nil {
		in.Events = []string{}
	}
	now := s.now()
	e := WebhookEndpoint{TenantID: c.Tenant.ID, Enabled: true, CreatedAt: now, UpdatedAt: now}
	if err := s.apply(&e, in); err != nil {
		return WebhookEndpoint{}, "", err
	}
	if s.keys.ephemeral {
		return WebhookEndpoint{}, "", ErrNoSecretYet
	}
	key := make([]byte, 24)
	rand.Read(key)
	sealed, err := s.keys.sealWebhook(c.Tenant.ID, key)
	if err != nil {
		return WebhookEndpoint{}, "", Internal(err)
	}
	e.Secret = sealed
	if err := s.store.CreateWebhook(ctx, &e); err != nil {
		return WebhookEndpoint{}, "", Internal(err)
	}
	s.log.InfoContext(ctx, "webhook endpoint created", "tenant", c.Tenant.Slug, "webhook_id", e.ID)
	return e, webhookSecretPrefix + base64.StdEncoding.EncodeToString(key), nil
}

// apply checks in and sets it on e.
func (s *Webhooks) apply(e *WebhookEndpoint, in WebhookInput) error {
	var fields []FieldError
	if in.URL != nil {
		if msg := s.checkWebhookURL(*in.URL); msg != "" {
			fields = append(fields, FieldError{Field: "url", Code: FieldInvalid, Message: msg})
		}
		e.URL = *in.URL
	}
	if in.Events != nil {
		if len(in.Events) == 0 {
			fields = append(fields, FieldError{Field: "events", Code: FieldRequired, Message: "name at least one event type, or *"})
		}
		for _, ev := range in.Events {
			if ev != "*" && !slices.Contains(WebhookEvents, ev) {
				fields = append(fields, FieldError{Field: "events", Code: FieldInvalid,
					Message: "unknown event type " + strconv.Quote(clip(ev, 64)) + "; known: " + strings.Join(WebhookEvents, ", ")})
				break
			}
		}
		e.Events = slices.Compact(slices.Sorted(slices.Values(in.Events)))
	}
	if in.Description != nil {
		if len(*in.Description) > 200 {
			fields = append(fields, FieldError{Field: "description", Code: FieldTooLong, Message: "at most 200 bytes"})
		}
		e.Description = *in.Description
	}
	if in.Enabled != nil {
		if *in.Enabled && !e.Enabled {
			e.FailingSince, e.DisabledWhy = nil, ""
		}
		e.Enabled = *in.Enabled
		if !e.Enabled && e.DisabledWhy == "" {
			e.DisabledWhy = "disabled by a back office"
		}
	}
	if len(fields) > 0 {
		return Invalid(fields...)
	}
	return nil
}

// checkWebhookURL says what is wrong with u as a target, or "". Host
// names are checked again when the relay connects, against the
// addresses they resolve to then.
func (s *Webhooks) checkWebhookURL(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		return "required"
	case len(raw) > maxWebhookURL:
		return "at most 2000 bytes"
	case err != nil || u.Host == "" || u.User != nil || u.Fragment != "":
		return "must be an absolute http(s) URL without user information or fragment"
	}
	host := u.Hostname()
	addr, perr := netip.ParseAddr(host)
	isLiteral := perr == nil
	loopback := host == "localhost" || isLiteral && addr.IsLoopback()
	switch {
	case u.Scheme == "http" && !loopback:
		return "must be https (http only for loopback addresses)"
	case u.Scheme != "https" && u.Scheme != "http":
		return "must be https"
	case loopback && !s.cfg.WebhookAllowPrivate:
		return "a loopback address is refused unless the server runs with --webhook-allow-private"
	case isLiteral && !WebhookAddressAllowed(addr, s.cfg.WebhookAllowPrivate):
		return "a private, link-local or otherwise internal address is refused unless the server runs with --webhook-allow-private"
	}
	return ""
}

// WebhookAddressAllowed reports whether the relay may connect to a: a
// public unicast address, or any unicast one when private ones are
// allowed.
func WebhookAddressAllowed(a netip.Addr, allowPrivate bool) bool {
	a = a.Unmap()
	switch {
	case !a.IsValid(), a.IsUnspecified(), a.IsMulticast(), a.IsInterfaceLocalMulticast():
		return false
	case allowPrivate:
		return true
	}
	return !a.IsLoopback() && !a.IsPrivate() && !a.IsLinkLocalUnicast() && !a.IsLinkLocalMulticast() &&
		!sharedAddressSpace.Contains(a) && !a.Is4In6()
}

// sharedAddressSpace is carrier-grade NAT (RFC 6598), as internal as the
// private ranges.
var sharedAddressSpace = netip.MustParsePrefix("100.64.0.0/10")

// List returns the tenant's endpoints (secret key only).
func (s *Webhooks) List(ctx context.Context, c Caller) ([]WebhookEndpoint, error) {
	if err := c.requireSecret(); err != nil {
		return nil, err
	}
	es, err := s.store.ListWebhooks(ctx, c.Tenant.ID)
	if err != nil {
		return nil, Internal(err)
	}
	return es, nil
}

// Get returns one endpoint and its newest deliveries (secret key only).
func (s *Webhooks) Get(ctx context.Context, c Caller, id int64) (WebhookEndpoint, []WebhookDelivery, error) {
	e, err := s.endpoint(ctx, c, id)
	if err != nil {
		return WebhookEndpoint{}, nil, err
	}
	ds, err := s.store.ListDeliveries(ctx, e.ID, 50)
	if err != nil {
		return WebhookEndpoint{}, nil, Internal(err)
	}
	return e, ds, nil
}

func (s *Webhooks) endpoint(ctx context.Context, c Caller, id int64) (WebhookEndpoint, error) {
	if err := c.requireSecret(); err != nil {
		return WebhookEndpoint{}, err
	}
	e, err := s.store.WebhookByID(ctx, id)
	if errors.Is(err, ErrNotFound) || err == nil && e.TenantID != c.Tenant.ID {
		return WebhookEndpoint{}, ErrWebhookNotFound
	} else if err != nil {
		return WebhookEndpoint{}, Internal(err)
	}
	return e, nil
}

// Update changes an endpoint; enabling a disabled one starts its count
// of failures afresh (secret key only).
func (s *Webhooks) Update(ctx context.Context, c Caller, id int64, in WebhookInput) (WebhookEndpoint, error) {
	e, err := s.endpoint(ctx, c, id)
	if err != nil {
		return WebhookEndpoint{}, err
	}
	if err := s.apply(&e, in); err != nil {
		return WebhookEndpoint{}, err
	}
	e.UpdatedAt = s.now()
	if err := s.store.UpdateWebhook(ctx, &e); err != nil {
		return WebhookEndpoint{}, Internal(err)
	}
	return e, nil
}

// Delete removes an endpoint with its deliveries (secret key only).
func (s *Webhooks) Delete(ctx context.Context, c Caller, id int64) error {
	if _, err := s.endpoint(ctx, c, id); err != nil {
		return err
	}
	if err := s.store.DeleteWebhook(ctx, c.Tenant.ID, id); err != nil && !errors.Is(err, ErrNotFound) {
		return Internal(err)
	}
	return nil
}

// Test queues a webhook.test event for one endpoint, enabled or not.
func (s *Webhooks) Test(ctx context.Context, c Caller, id int64) (WebhookDelivery, error) {
	e, err := s.endpoint(ctx, c, id)
	if err != nil {
		return WebhookDelivery{}, err
	}
	var d WebhookDelivery
	err = s.inTx(ctx, func(tx Tx) error {
		var err error
		d, err = s.enqueue(ctx, tx, e, newEventID(), EventTest, 0, map[string]any{"tenant": c.Tenant.Slug, "webhook_id": e.ID})
		return err
	})
	if err != nil {
		return WebhookDelivery{}, err
	}
	s.signal()
	return d, nil
}

// Probe builds a webhook.test message for one endpoint without queuing
// it, for a command that sends it at once and shows the answer.
func (s *Webhooks) Probe(ctx context.Context, c Caller, id int64) (OutgoingWebhook, error) {
	e, err := s.endpoint(ctx, c, id)
	if err != nil {
		return OutgoingWebhook{}, err
	}
	key, err := s.keys.openWebhook(e.TenantID, e.Secret)
	if err != nil {
		return OutgoingWebhook{}, Internal(err)
	}
	body, err := json.Marshal(map[string]any{"type": EventTest, "timestamp": s.now(),
		"data": map[string]any{"tenant": c.Tenant.Slug, "webhook_id": e.ID}})
	if err != nil {
		return OutgoingWebhook{}, Internal(err)
	}
	return OutgoingWebhook{WebhookDelivery: WebhookDelivery{TenantID: e.TenantID, EndpointID: e.ID, EventID: newEventID(), Type: EventTest},
		URL: e.URL, Secret: key, Body: body}, nil
}

// emit writes an event of typ about customerID (0: none) to every
// enabled endpoint of t that subscribes to it, in tx.
func (s *Webhooks) emit(ctx context.Context, tx Tx, t Tenant, typ string, customerID int64, data map[string]any) error {
	es, err := tx.ListWebhooks(ctx, t.ID)
	if err != nil {
		return err
	}
	return s.emitTo(ctx, tx, es, typ, customerID, data)
}

// emitTo is emit to the endpoints es, the tenant's.
func (s *Webhooks) emitTo(ctx context.Context, tx Tx, es []WebhookEndpoint, typ string, customerID int64, data map[string]any) error {
	id := newEventID()
	queued := false
	for _, e := range es {
		if !e.gets(typ) {
			continue
		}
		if _, err := s.enqueue(ctx, tx, e, id, typ, customerID, data); err != nil {
			return err
		}
		queued = true
	}
	if queued {
		s.signal()
	}
	return nil
}

// enqueue adds one delivery of an event to e.
func (s *Webhooks) enqueue(ctx context.Context, tx Tx, e WebhookEndpoint, eventID, typ string, customerID int64, data map[string]any) (WebhookDelivery, error) {
	now := s.now()
	body, err := json.Marshal(map[string]any{"type": typ, "timestamp": now, "data": data})
	if err != nil {
		return WebhookDelivery{}, err
	}
	sealed, err := s.keys.sealWebhook(e.TenantID, body)
	if err != nil {
		return WebhookDelivery{}, err
	}
	d := WebhookDelivery{TenantID: e.TenantID, EndpointID: e.ID, CustomerID: customerID, EventID: eventID, Type: typ,
		Payload: sealed, Status: DeliveryPending, NextAttemptAt: now, CreatedAt: now}
	return d, tx.EnqueueDelivery(ctx, &d)
}

// newEventID is a Standard Webhooks message id, the same on every retry.
func newEventID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return "msg_" + hex.EncodeToString(b)
}

// signal wakes this process's relay.
func (s *Webhooks) signal() {
	select {
	case s.hooksQueued <- struct{}{}:
	default:
	}
}

// Queued is signalled after this process queued a delivery.
func (s *Webhooks) Queued() <-chan struct{} { return s.hooksQueued }

// customerData is what a payload says of a customer: never a secret,
// and no address where the tenant keeps none.
func customerData(t Tenant, c Customer) map[string]any {
	m := map[string]any{"id": c.ID, "uuid": c.UUID, "state": c.State}
	if keepsAddresses(t) {
		m["email"] = c.Email
	}
	return m
}

// fromAudit emits the webhook events an audit event stands for, in the
// same transaction.
func (s *Webhooks) fromAudit(ctx context.Context, tx Tx, t Tenant, e AuditEvent) error {
	var types []string
	switch e.Type {
	case AuditConfirmed:
		types = []string{EventConfirmed}
	case AuditEmailChanged:
		types = []string{EventEmailChanged}
	case AuditCustomerDeleted:
		types = []string{EventDeleted}
	case AuditPasswordChanged:
		if e.Detail["how"] == string(PurposePasswordReset) {
			types = []string{EventPasswordReset}
		} else {
			types = []string{EventPasswordChanged}
		}
	case AuditCustomerUpdated:
		fields := strings.Split(e.Detail["fields"], ",")
		if slices.Contains(fields, "email") {
			types = append(types, EventEmailChanged)
		}
		if slices.Contains(fields, "state") {
			types = append(types, EventStateChanged)
		}
	case AuditSessionsEnded:
		if strings.HasPrefix(e.Actor, "api_key:") || e.Actor == ActorCLI {
			types = []string{EventSessionsEnded}
		}
	}
	if len(types) == 0 || e.CustomerID == 0 {
		return nil
	}
	es, err := tx.ListWebhooks(ctx, t.ID)
	if err != nil {
		return err
	}
	// The customer is read only for an endpoint that gets the event: most
	// tenants have none, and this runs in every audited transaction.
	if !slices.ContainsFunc(es, func(w WebhookEndpoint) bool { return slices.ContainsFunc(types, w.gets) }) {
		return nil
	}
	// Read inside the transaction, the customer's row stays locked to the
	// commit (on PostgreSQL), so that its deliveries are numbered in the
	// order their transactions commit, the order ClaimDeliveries keeps.
	cust, err := tx.CustomerByID(ctx, t.ID, e.CustomerID)
	if errors.Is(err, ErrNotFound) {
		return nil // nothing to tell of a customer already gone; the audit event stays
	} else if err != nil {
		return err
	}
	for _, typ := range types {
		data := map[string]any{"tenant": t.Slug, "customer": customerData(t, cust), "actor": e.Actor}
		if len(e.Detail) > 0 {
			data["detail"] = e.Detail
		}
		if err := s.emitTo(ctx, tx, es, typ, cust.ID, data); err != nil {
			return err
		}
	}
	return nil
}

// Claim leases due deliveries for a relay and opens them. One that
// cannot be opened (another server secret) waits for a relay that can.
func (s *Webhooks) Claim(ctx context.Context, owner string, limit int) ([]OutgoingWebhook, error) {
	now := s.now()
	ds, err := s.store.ClaimDeliveries(ctx, owner, now, now.Add(s.cfg.WebhookLease), limit)
	if err != nil {
		return nil, Internal(err)
	}
	out := make([]OutgoingWebhook, 0, len(ds))
	type opened struct {
		url string
		key []byte
		err error
	}
	endpoints := map[int64]opened{} // a batch often holds several deliveries to one endpoint
	for _, d := range ds {
		e, ok := endpoints[d.EndpointID]
		if !ok {
			ep, err := s.store.WebhookByID(ctx, d.EndpointID)
			if err != nil {
				return out, Internal(err)
			}
			e.url = ep.URL
			e.key, e.err = s.keys.openWebhook(ep.TenantID, ep.Secret)
			endpoints[d.EndpointID] = e
		}
		key, kerr := e.key, e.err
		body, berr := s.keys.openWebhook(d.TenantID, d.Payload)
		if err := errors.Join(kerr, berr); err != nil {
			s.log.ErrorContext(ctx, "webhook delivery cannot be opened with this server's secret", "delivery_id", d.ID, "err", err)
			if _, _, ferr := s.Failed(ctx, OutgoingWebhook{WebhookDelivery: d}, 0, err); ferr != nil {
				s.log.ErrorContext(ctx, "rescheduling a webhook delivery", "delivery_id", d.ID, "err", ferr)
			}
			continue
		}
		out = append(out, OutgoingWebhook{WebhookDelivery: d, URL: e.url, Secret: key, Body: body})
	}
	return out, nil
}

// Delivered records that the endpoint answered 2xx.
func (s *Webhooks) Delivered(ctx context.Context, d OutgoingWebhook, status int) error {
	now := s.now()
	err := s.store.InTx(ctx, func(tx Tx) error {
		if err := tx.FinishDelivery(ctx, d.ID, DeliveryDelivered, now, status, ""); err != nil {
			return err
		}
		e, err := tx.WebhookByID(ctx, d.EndpointID)
		if err != nil || e.FailingSince == nil {
			return err
		}
		e.FailingSince = nil
		return tx.UpdateWebhook(ctx, &e)
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Internal(err)
	}
	return nil
}

// Failed records a failed attempt (status 0: no answer). The delivery
// is retried after a backoff that doubles from WebhookRetryBase up to an
// hour, with jitter, until WebhookGiveUp after its event; then it fails.
// An endpoint whose attempts have all failed for WebhookGiveUp is
// disabled, with its pending deliveries: disabled reports that.
func (s *Webhooks) Failed(ctx context.Context, d OutgoingWebhook, status int, cause error) (failed, disabled bool, err error) {
	now := s.now()
	msg := clip(cause.Error(), 500)
	err = s.store.InTx(ctx, func(tx Tx) error {
		e, err := tx.WebhookByID(ctx, d.EndpointID)
		if err != nil {
			return err
		}
		if e.FailingSince == nil {
			e.FailingSince = &now
		}
		if e.Enabled && now.Sub(*e.FailingSince) >= s.cfg.WebhookGiveUp {
			e.Enabled, e.DisabledWhy = false, "every attempt failed since "+e.FailingSince.Format(time.RFC3339)
			disabled = true
		}
		e.UpdatedAt = now
		if err := tx.UpdateWebhook(ctx, &e); err != nil {
			return err
		}
		if disabled {
			failed = true
			if err := tx.FinishDelivery(ctx, d.ID, DeliveryFailed, now, status, msg); err != nil {
				return err
			}
			return tx.FailPendingDeliveries(ctx, e.ID, now, "the endpoint was disabled")
		}
		if now.Sub(d.CreatedAt) >= s.cfg.WebhookGiveUp {
			failed = true
			return tx.FinishDelivery(ctx, d.ID, DeliveryFailed, now, status, msg)
		}
		return tx.RescheduleDelivery(ctx, d.ID, d.LeaseOwner, now.Add(backoff(s.cfg.WebhookRetryBase, webhookRetryMax, d.Attempts)), status, msg)
	})
	if errors.Is(err, ErrNotFound) {
		return false, false, nil // the endpoint or delivery went meanwhile
	} else if err != nil {
		return false, false, Internal(err)
	}
	if disabled {
		s.log.ErrorContext(ctx, "webhook endpoint disabled after failing every attempt", "tenant_id", d.TenantID,
			"webhook_id", d.EndpointID, "for", s.cfg.WebhookGiveUp)
	}
	return failed, disabled, nil
}

// Release hands a claimed delivery that was never tried back at once.
func (s *Webhooks) Release(ctx context.Context, d OutgoingWebhook) error {
	err := s.store.RescheduleDelivery(ctx, d.ID, d.LeaseOwner, s.now(), d.ResponseStatus, d.LastError)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Internal(err)
	}
	return nil
}

// webhookAAD binds what is sealed for webhooks to its tenant.
func webhookAAD(tenantID int64) []byte { return []byte(strconv.FormatInt(tenantID, 10)) }

func (k *Keyring) sealWebhook(tenantID int64, plain []byte) ([]byte, error) {
	return k.sealUnder(labelWebhook, plain, webhookAAD(tenantID))
}

func (k *Keyring) openWebhook(tenantID int64, sealed []byte) ([]byte, error) {
	return k.openUnder(labelWebhook, sealed, webhookAAD(tenantID))
}
