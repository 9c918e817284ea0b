// Package storetest is the conformance suite for account.Store. Each store's
// own test (sqlite_test.go, postgres_test.go) calls Run, so both stores are
// held to one contract: the doc comments on account.Store and account.Tx.
package storetest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"pforte/internal/account"
)

// Run runs the suite. open must return a fresh, migrated, empty store and
// register its own cleanup; every subtest opens its own store, so subtests
// are independent and can be run alone with -run.
func Run(t *testing.T, open func(t *testing.T) account.Store) {
	for _, g := range suite {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					tc.fn(t, open(t))
				})
			}
		})
	}
}

type storeTest struct {
	name string
	fn   func(t *testing.T, s account.Store)
}

var suite = []struct {
	name  string
	tests []storeTest
}{
	{"Tenants", []storeTest{
		{"CreateAndRead", testTenantCreateAndRead},
		{"DuplicateSlug", testTenantDuplicateSlug},
		{"NotFound", testTenantNotFound},
		{"List", testTenantList},
		{"Settings", testTenantSettings},
	}},
	{"ServerState", []storeTest{
		{"FirstCandidateWins", testServerStateFirstWins},
		{"ConcurrentFirstCalls", testServerStateConcurrent},
	}},
	{"APIKeys", []storeTest{
		{"CreateAndRead", testAPIKeyCreateAndRead},
		{"ListPerTenant", testAPIKeyList},
		{"Revoke", testAPIKeyRevoke},
		{"Touch", testAPIKeyTouch},
	}},
	{"Customers", []storeTest{
		{"RoundTrip", testCustomerRoundTrip},
		{"DisabledFrom", testCustomerDisabledFrom},
		{"UsernameCaseInsensitive", testCustomerUsername},
		{"NotFound", testCustomerNotFound},
		{"Duplicates", testCustomerDuplicates},
		{"TenantIsolation", testCustomerIsolation},
		{"Update", testCustomerUpdate},
		{"UpdateRefused", testCustomerUpdateRefused},
		{"List", testCustomerList},
		{"ByKeys", testCustomersByKeys},
		{"Delete", testCustomerDelete},
		{"UnconfirmedBefore", testUnconfirmedBefore},
	}},
	{"Tokens", []storeTest{
		{"ConsumeOnce", testTokenConsumeOnce},
		{"ConsumeRefused", testTokenConsumeRefused},
		{"RecordCodeFailure", testTokenRecordCodeFailure},
		{"DeleteTokens", testTokenDeleteTokens},
		{"DeleteAllTokens", testTokenDeleteAllTokens},
		{"DeleteClaims", testTokenDeleteClaims},
		{"Payload", testTokenPayload},
		{"LiveTokens", testTokenLiveTokens},
		{"LiveToken", testTokenLiveToken},
		{"LiveTokensInTx", testTokenLiveTokensInTx},
	}},
	{"Sessions", []storeTest{
		{"CreateAndRead", testSessionCreateAndRead},
		{"Touch", testSessionTouch},
		{"Delete", testSessionDelete},
		{"DeleteSessions", testSessionDeleteSessions},
		{"WithCustomer", testSessionWithCustomer},
		{"List", testListSessions},
		{"SignInPlaces", testSeeSignInPlace},
	}},
	{"Proofs", []storeTest{
		{"OptIn", testOptInProofs},
		{"Erasures", testErasures},
		{"Webhooks", testWebhooks},
		{"WebhookClaimsConcurrently", testWebhookClaimsConcurrently},
		{"ConsentTexts", testConsentTexts},
	}},
	{"Audit", []storeTest{
		{"Chain", testAuditChain},
		{"Concurrent", testAuditConcurrent},
	}},
	{"LoginFailures", []storeTest{
		{"CountAndClear", testLoginFailures},
	}},
	{"Purge", []storeTest{
		{"ExpiredGoFreshStay", testPurge},
		{"CutoffsIndependent", testPurgeCutoffs},
	}},
	{"Outbox", []storeTest{
		{"RoundTrip", testMailRoundTrip},
		{"Claim", testMailClaim},
		{"ClaimConcurrently", testMailClaimConcurrent},
		{"MarkSent", testMailMarkSent},
		{"Reschedule", testMailReschedule},
		{"Fail", testMailFail},
		{"Purge", testMailPurge},
		{"Cancel", testMailCancel},
		{"List", testMailList},
		{"Count", testMailCount},
		{"InTx", testMailInTx},
	}},
	{"Apps", []storeTest{
		{"RoundTrip", testAppRoundTrip},
		{"Duplicates", testAppDuplicates},
		{"TenantIsolation", testAppIsolation},
		{"ListByName", testAppList},
		{"Update", testAppUpdate},
		{"Delete", testAppDelete},
	}},
	{"OIDC", []storeTest{
		{"ClientRoundTrip", testClientRoundTrip},
		{"AuthorizationLifecycle", testAuthorizationLifecycle},
		{"RedeemConcurrently", testRedeemConcurrently},
		{"GrantsAndRefreshTokens", testGrantsAndRefreshTokens},
		{"SigningKeys", testSigningKeys},
		{"Purge", testPurgeOIDC},
	}},
	{"Transactions", txContract(inTx)},
	{"TransactionsWithoutSync", txContract(inTxWithoutSync)},
	{"BulkTransactions", txContract(inBulkTx)},
	{"Concurrency", []storeTest{
		{"ConsumeToken", testConcurrentConsume},
		{"RecordLoginFailure", testConcurrentLoginFailures},
	}},
}

// txContract is what each of a store's ways to run a transaction must
// do, concurrent transactions included.
func txContract(run txRunner) []storeTest {
	return []storeTest{
		{"Commit", testTxCommit(run)},
		{"ErrorRollsBack", testTxRollback(run)},
		{"PanicRollsBack", testTxPanic(run)},
		{"ErrorsInside", testTxErrorsInside(run)},
		{"CreateCustomerOnce", testConcurrentCreateCustomer(run)},
		{"ReadModifyWrite", testConcurrentReadModifyWrite(run)},
	}
}

// t0 is the suite's fixed "now": microsecond precision, which both stores
// keep exactly.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 678901000, time.UTC)

// at returns t0 plus d, so tests read as offsets from "now".
func at(d time.Duration) time.Time { return t0.Add(d) }

func ptr[T any](v T) *T { return &v }

// hash returns the stored form of a secret, as the service computes it.
func hash(secret string) []byte { return account.HashSecret(secret) }

// uuidFor derives a stable, valid, lower-case version 4 UUID from a name, so
// that it round-trips through PostgreSQL's uuid type unchanged.
func uuidFor(name string) string {
	h := sha256.Sum256([]byte(name))
	h[6] = h[6]&0x0f | 0x40
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// concurrently runs fn(0) … fn(n-1) in n goroutines that all start at once,
// behind a barrier closed when every goroutine is ready, and waits for them.
func concurrently(n int, fn func(i int)) {
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		ready.Add(1)
		done.Go(func() {
			ready.Done()
			<-start
			fn(i)
		})
	}
	ready.Wait()
	close(start)
	done.Wait()
}

// wantErr reports an error unless err is (or wraps) want.
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: err = %v, want %v", what, err, want)
	}
}

// checkTime reports an error unless got is the instant want, in UTC. The
// zero time is accepted in any location.
func checkTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	} else if !got.IsZero() && got.Location() != time.UTC {
		t.Errorf("%s = %v, want it in UTC", what, got)
	}
}

func checkTimePtr(t *testing.T, what string, got, want *time.Time) {
	t.Helper()
	switch {
	case got == nil && want == nil:
	case got == nil:
		t.Errorf("%s = nil, want %v", what, *want)
	case want == nil:
		t.Errorf("%s = %v, want nil", what, *got)
	default:
		checkTime(t, what, *got, *want)
	}
}

func checkBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Errorf("%s = %x, want %x", what, got, want)
	}
}

// ---- tenants ----

func mustTenant(t *testing.T, s account.Tx, slug string) account.Tenant {
	t.Helper()
	tn := account.Tenant{Slug: slug}
	if err := s.CreateTenant(t.Context(), &tn); err != nil {
		t.Fatalf("CreateTenant(%q): %v", slug, err)
	}
	if tn.ID == 0 {
		t.Fatalf("CreateTenant(%q) did not set ID", slug)
	}
	return tn
}

func checkTenant(t *testing.T, what string, got, want account.Tenant) {
	t.Helper()
	if got.ID != want.ID || got.Slug != want.Slug {
		t.Errorf("%s = {ID:%d Slug:%q}, want {ID:%d Slug:%q}", what, got.ID, got.Slug, want.ID, want.Slug)
	}
	checkTime(t, what+".CreatedAt", got.CreatedAt, want.CreatedAt)
	if got.Settings == nil {
		t.Errorf("%s.Settings = nil, want a non-nil map", what)
	}
	if len(got.Settings) != len(want.Settings) {
		t.Errorf("%s.Settings = %v, want %v", what, got.Settings, want.Settings)
		return
	}
	for k, v := range want.Settings {
		if gv, ok := got.Settings[k]; !ok || gv != v {
			t.Errorf("%s.Settings = %v, want %v", what, got.Settings, want.Settings)
			return
		}
	}
}

// ---- customers ----

// newCustomer returns an unsaved, active customer whose email key, email and
// UUID derive from name; every other optional field is empty.
func newCustomer(tenantID int64, name string) account.Customer {
	return account.Customer{
		UUID:      uuidFor(fmt.Sprintf("%d/%s", tenantID, name)),
		TenantID:  tenantID,
		Email:     name + "@Example.COM",
		EmailKey:  name + "@example.com",
		Locale:    "de",
		State:     account.StateActive,
		CreatedAt: t0,
		UpdatedAt: t0,
	}
}

func mustCustomer(t *testing.T, s account.Tx, c account.Customer) account.Customer {
	t.Helper()
	if err := s.CreateCustomer(t.Context(), &c); err != nil {
		t.Fatalf("CreateCustomer(%s): %v", c.EmailKey, err)
	}
	if c.ID == 0 {
		t.Fatalf("CreateCustomer(%s) did not set ID", c.EmailKey)
	}
	return c
}

// checkCustomer compares every field; times by instant and in UTC.
func checkCustomer(t *testing.T, what string, got, want account.Customer) {
	t.Helper()
	checkTime(t, what+".CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, what+".UpdatedAt", got.UpdatedAt, want.UpdatedAt)
	checkTimePtr(t, what+".EmailConfirmedAt", got.EmailConfirmedAt, want.EmailConfirmedAt)
	got.CreatedAt, got.UpdatedAt, got.EmailConfirmedAt = time.Time{}, time.Time{}, nil
	want.CreatedAt, want.UpdatedAt, want.EmailConfirmedAt = time.Time{}, time.Time{}, nil
	if got != want {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// mustCustomerCount checks how many customers a tenant has.
func mustCustomerCount(t *testing.T, s account.Tx, tenantID int64, want int) {
	t.Helper()
	cs, err := s.ListCustomers(t.Context(), tenantID, account.CustomerFilter{}, 0, 1000)
	if err != nil {
		t.Fatalf("ListCustomers(%d): %v", tenantID, err)
	}
	if len(cs) != want {
		t.Errorf("tenant %d has %d customers, want %d", tenantID, len(cs), want)
	}
}

// ---- tokens ----

// newToken returns an unsaved token of c, valid for an hour from t0.
func newToken(c account.Customer, purpose account.Purpose, secret string, code bool) account.Token {
	return account.Token{
		TenantID:   c.TenantID,
		CustomerID: c.ID,
		Purpose:    purpose,
		Hash:       hash(secret),
		Code:       code,
		CreatedAt:  t0,
		ExpiresAt:  at(time.Hour),
	}
}

func mustToken(t *testing.T, s account.Tx, tok account.Token) account.Token {
	t.Helper()
	if err := s.CreateToken(t.Context(), &tok); err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	if tok.ID == 0 {
		t.Fatal("CreateToken did not set ID")
	}
	return tok
}

// checkToken compares every field; times by instant and in UTC, the hash
// and payload by bytes.Equal, so a nil and an empty payload are the same.
func checkToken(t *testing.T, what string, got, want account.Token) {
	t.Helper()
	checkBytes(t, what+".Hash", got.Hash, want.Hash)
	checkBytes(t, what+".Payload", got.Payload, want.Payload)
	checkTime(t, what+".CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, what+".ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	checkTimePtr(t, what+".UsedAt", got.UsedAt, want.UsedAt)
	got.Hash, got.Payload, got.CreatedAt, got.ExpiresAt, got.UsedAt = nil, nil, time.Time{}, time.Time{}, nil
	want.Hash, want.Payload, want.CreatedAt, want.ExpiresAt, want.UsedAt = nil, nil, time.Time{}, time.Time{}, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// mustConsume consumes tok at now and checks the token it returns: tok as
// stored, with attempts wrong guesses and UsedAt now.
func mustConsume(t *testing.T, s account.Tx, tok account.Token, now time.Time, maxAttempts, attempts int) {
	t.Helper()
	got, err := s.ConsumeToken(t.Context(), tok.TenantID, tok.Hash, tok.Purpose, now, maxAttempts)
	if err != nil {
		t.Errorf("ConsumeToken(token %d, max %d) at %v: %v", tok.ID, maxAttempts, now, err)
		return
	}
	want := tok
	want.Attempts = attempts
	want.UsedAt = &now
	checkToken(t, fmt.Sprintf("ConsumeToken(token %d)", tok.ID), got, want)
}

// wantLiveTokens checks that LiveTokens returns exactly want, in order.
func wantLiveTokens(t *testing.T, s account.Tx, what string, tenantID, customerID int64, purpose account.Purpose, now time.Time, want ...account.Token) {
	t.Helper()
	got, err := s.LiveTokens(t.Context(), tenantID, customerID, purpose, now)
	if err != nil {
		t.Errorf("%s: LiveTokens: %v", what, err)
		return
	}
	if got == nil {
		t.Errorf("%s: LiveTokens = nil, want an empty slice", what)
	}
	if len(got) != len(want) {
		t.Errorf("%s: LiveTokens returned IDs %v, want %v", what, tokenIDs(got), tokenIDs(want))
		return
	}
	for i := range got {
		checkToken(t, fmt.Sprintf("%s: LiveTokens[%d]", what, i), got[i], want[i])
	}
}

func tokenIDs(ts []account.Token) []int64 {
	ids := []int64{}
	for _, tok := range ts {
		ids = append(ids, tok.ID)
	}
	return ids
}

// wantNoConsume checks that consuming tok at now fails with ErrNotFound.
func wantNoConsume(t *testing.T, s account.Tx, what string, tok account.Token, now time.Time, maxAttempts int) {
	t.Helper()
	got, err := s.ConsumeToken(t.Context(), tok.TenantID, tok.Hash, tok.Purpose, now, maxAttempts)
	if !errors.Is(err, account.ErrNotFound) {
		t.Errorf("%s: ConsumeToken(token %d) = %+v, %v; want ErrNotFound", what, tok.ID, got, err)
	}
}

// ---- sessions ----

// newSession returns an unsaved session of c, seen at t0, ending after a
// day idle or 30 days in all.
func newSession(c account.Customer, secret string) account.Session {
	return account.Session{
		TenantID:   c.TenantID,
		CustomerID: c.ID,
		Hash:       hash(secret),
		CreatedAt:  t0,
		LastSeenAt: t0,
		ExpiresAt:  at(30 * 24 * time.Hour),
		IdleExpiry: 24 * time.Hour,
	}
}

func mustSession(t *testing.T, s account.Tx, sess account.Session) account.Session {
	t.Helper()
	if err := s.CreateSession(t.Context(), &sess); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	if sess.ID == 0 {
		t.Fatal("CreateSession did not set ID")
	}
	return sess
}

func checkSession(t *testing.T, what string, got, want account.Session) {
	t.Helper()
	checkBytes(t, what+".Hash", got.Hash, want.Hash)
	checkTime(t, what+".CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, what+".LastSeenAt", got.LastSeenAt, want.LastSeenAt)
	checkTime(t, what+".ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	got.Hash, got.CreatedAt, got.LastSeenAt, got.ExpiresAt = nil, time.Time{}, time.Time{}, time.Time{}
	want.Hash, want.CreatedAt, want.LastSeenAt, want.ExpiresAt = nil, time.Time{}, time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// wantSession checks that the session is stored unchanged.
func wantSession(t *testing.T, s account.Tx, what string, want account.Session) {
	t.Helper()
	got, err := s.SessionByHash(t.Context(), want.Hash)
	if err != nil {
		t.Errorf("%s: SessionByHash(session %d): %v", what, want.ID, err)
		return
	}
	checkSession(t, what, got, want)
}

// wantNoSession checks that the session is gone.
func wantNoSession(t *testing.T, s account.Tx, what string, sess account.Session) {
	t.Helper()
	got, err := s.SessionByHash(t.Context(), sess.Hash)
	if !errors.Is(err, account.ErrNotFound) {
		t.Errorf("%s: SessionByHash(session %d) = %+v, %v; want ErrNotFound", what, sess.ID, got, err)
	}
}

// ---- login failures ----

func wantLoginFailures(t *testing.T, s account.Tx, tenantID int64, key string, want account.LoginFailures) {
	t.Helper()
	got, err := s.LoginFailures(t.Context(), tenantID, key)
	if err != nil {
		t.Errorf("LoginFailures(%d, %q): %v", tenantID, key, err)
		return
	}
	checkLoginFailures(t, fmt.Sprintf("LoginFailures(%d, %q)", tenantID, key), got, want)
}

func checkLoginFailures(t *testing.T, what string, got, want account.LoginFailures) {
	t.Helper()
	if got.Count != want.Count {
		t.Errorf("%s.Count = %d, want %d", what, got.Count, want.Count)
	}
	if got.Pending != want.Pending {
		t.Errorf("%s.Pending = %d, want %d", what, got.Pending, want.Pending)
	}
	if want.Count > 0 || !want.Last.IsZero() {
		checkTime(t, what+".Last", got.Last, want.Last)
	}
}

// mustLoginFailure reserves an attempt and ends it as a failure at when,
// and returns the record after it.
func mustLoginFailure(t *testing.T, s account.Tx, tenantID int64, key string, when time.Time) account.LoginFailures {
	t.Helper()
	if _, err := s.ReserveLoginAttempt(t.Context(), tenantID, key, when, when.Add(-time.Minute)); err != nil {
		t.Fatalf("ReserveLoginAttempt(%d, %q): %v", tenantID, key, err)
	}
	if err := s.EndLoginAttempt(t.Context(), tenantID, key, &when); err != nil {
		t.Fatalf("EndLoginAttempt(%d, %q): %v", tenantID, key, err)
	}
	lf, err := s.LoginFailures(t.Context(), tenantID, key)
	if err != nil {
		t.Fatalf("LoginFailures(%d, %q): %v", tenantID, key, err)
	}
	return lf
}
