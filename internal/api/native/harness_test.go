package native_test

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"pforte/internal/account"
	"pforte/internal/api/apitest"
	"pforte/internal/store/teststore"
)

// The harness is apitest's: server.New over a fresh store through a real
// HTTP server, with a clock the test controls and cheap argon2id
// parameters. Every response it hands back has already been checked for
// what holds for the whole API (see check).

type harness struct {
	*apitest.Harness
	svc    *account.Service
	clock  *apitest.Clock
	secret string // raw secret key of tenant default
	public string // raw public key of tenant default
	tenant account.Tenant

	allowBusy bool // 503 busy is an expected answer: for the tests of load
}

type (
	request         = apitest.Request
	response        = apitest.Response
	customer        = apitest.Customer
	customerSession = apitest.CustomerSession
	registered      = apitest.Registered
	created         = apitest.Created
	customerList    = apitest.CustomerList
)

// newHarness starts the service on a fresh store from open and serves it;
// opts go to apitest.New.
func newHarness(t *testing.T, open teststore.Opener, opts ...apitest.Option) *harness {
	t.Helper()
	a := apitest.New(t, open, opts...)
	h := &harness{Harness: a, svc: a.Svc, clock: a.Clock, secret: a.Secret, public: a.Public}
	a.Check = h.check
	var err error
	if h.tenant, err = h.svc.Tenants.BySlug(context.Background(), account.DefaultTenant); err != nil {
		t.Fatalf("TenantBySlug: %v", err)
	}
	return h
}

// check holds for every response of the suite: apitest.CheckNative, with
// 503 busy only where the test allows it.
func (h *harness) check(t *testing.T, r *response) {
	t.Helper()
	if h.allowBusy {
		apitest.CheckNativeBusy(t, r)
		return
	}
	apitest.CheckNative(t, r)
}

// ---- flows, with the secret key of tenant default ----

// mustRegister registers and returns the pending customer and its
// confirmation token.
func (h *harness) mustRegister(t *testing.T, email, pw string) registered {
	t.Helper()
	return h.MustRegister(t, h.secret, email, pw)
}

// mustConfirm uses a confirmation token and returns the active customer
// with the new session.
func (h *harness) mustConfirm(t *testing.T, token string) customerSession {
	t.Helper()
	return h.MustConfirm(t, h.secret, token)
}

// mustSignUp registers and confirms an account.
func (h *harness) mustSignUp(t *testing.T, email, pw string) customerSession {
	t.Helper()
	return h.MustSignUp(t, h.secret, email, pw)
}

// mustLogin logs in and returns the new session.
func (h *harness) mustLogin(t *testing.T, email, pw string) customerSession {
	t.Helper()
	return h.MustLogin(t, h.secret, email, pw)
}

// mustRequestReset asks for a reset token.
func (h *harness) mustRequestReset(t *testing.T, email string) string {
	t.Helper()
	res := h.Post(t, h.secret, "/api/v1/password-resets", map[string]any{"email": email})
	type resetResponse struct {
		Status     string `json:"status"`
		Token      string `json:"token"`
		CustomerID int64  `json:"customer_id"`
		Email      string `json:"email"`
	}
	body := apitest.MustJSON[resetResponse](t, res, http.StatusAccepted)
	if body.Status != "accepted" || body.Token == "" || body.CustomerID == 0 || body.Email == "" {
		t.Fatalf("reset request %s: %s", email, res)
	}
	return body.Token
}

// mustCreate creates a customer through the admin API.
func (h *harness) mustCreate(t *testing.T, body map[string]any) created {
	t.Helper()
	return h.MustCreateCustomer(t, h.secret, body)
}

// mustFind looks an email up through the admin API.
func (h *harness) mustFind(t *testing.T, email string) []customer {
	t.Helper()
	return h.MustFind(t, h.secret, email)
}

// mustNotStored checks that no customer with this email exists.
func (h *harness) mustNotStored(t *testing.T, email string) {
	t.Helper()
	if cs := h.mustFind(t, email); len(cs) != 0 {
		t.Fatalf("%s was stored: %+v", email, cs)
	}
}

// currentSession asks GET /api/v1/session with the bearer token (and key, if any).
func (h *harness) currentSession(t *testing.T, key, token string) *response {
	t.Helper()
	return h.Do(t, request{Method: http.MethodGet, Path: "/api/v1/session", Key: key, Bearer: token})
}

// mustSessionValid checks that the session token works and returns it.
func (h *harness) mustSessionValid(t *testing.T, token string) customerSession {
	t.Helper()
	cs := apitest.MustJSON[customerSession](t, h.currentSession(t, "", token), http.StatusOK)
	if cs.Session.Token != "" {
		t.Errorf("GET /api/v1/session echoes the session token")
	}
	return cs
}

// mustSessionInvalid checks that the session token is refused.
func (h *harness) mustSessionInvalid(t *testing.T, token string) {
	t.Helper()
	apitest.MustProblem(t, h.currentSession(t, "", token), http.StatusUnauthorized, "session_invalid")
}

// mustTokenRefused checks that posting {token} (plus extra fields) to path fails with token_invalid.
func (h *harness) mustTokenRefused(t *testing.T, key, path, token string) {
	t.Helper()
	body := map[string]any{"token": token}
	if path != "/api/v1/confirmations" {
		body["password"] = "Another-Fine-Passw0rd"
	}
	apitest.MustProblem(t, h.Post(t, key, path, body), http.StatusBadRequest, "token_invalid")
}

// storedCustomer reads a customer straight from the store.
func (h *harness) storedCustomer(t *testing.T, email string) account.Customer {
	t.Helper()
	key, fe := account.NormalizeEmail(email)
	if fe != nil {
		t.Fatalf("NormalizeEmail(%s): %v", email, fe.Message)
	}
	c, err := h.Store.CustomerByEmailKey(context.Background(), h.tenant.ID, key)
	if err != nil {
		t.Fatalf("CustomerByEmailKey(%s): %v", email, err)
	}
	return c
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// burst sends n requests at once: every goroutine is ready before the
// barrier opens. A request that could not be made is reported and left
// nil; the answers are checked once all have come.
func (h *harness) burst(t *testing.T, n int, req func(i int) request) []*response {
	t.Helper()
	results := make([]*response, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var ready, done sync.WaitGroup
	for i := range n {
		ready.Add(1)
		done.Go(func() {
			r := req(i)
			ready.Done()
			<-start
			results[i], errs[i] = h.RoundTrip(r)
		})
	}
	ready.Wait()
	close(start)
	done.Wait()
	for i, res := range results {
		if errs[i] != nil {
			t.Errorf("request %d: %v", i, errs[i])
			continue
		}
		h.check(t, res)
	}
	return results
}
