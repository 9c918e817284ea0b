package native_test

import (
	"context"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"pforte/internal/account"
	"pforte/internal/api/apitest"
	"pforte/internal/password"
	"pforte/internal/store/teststore"
)

type importSummary = account.ImportSummary

func (h *harness) importBody(t *testing.T, query, contentType, body string) *response {
	t.Helper()
	return h.Do(t, request{Method: http.MethodPost, Path: "/api/v1/customers/import" + query, Key: h.secret, Body: body,
		ContentType: contentType})
}

func (h *harness) mustImport(t *testing.T, query, contentType, body string) importSummary {
	t.Helper()
	return apitest.MustJSON[importSummary](t, h.importBody(t, query, contentType, body), http.StatusOK)
}

func checkCounts(t *testing.T, what string, s importSummary, created, updated, unchanged, failed int) {
	t.Helper()
	if s.Created != created || s.Updated != updated || s.Unchanged != unchanged || s.Failed != failed {
		t.Errorf("%s: created %d, updated %d, unchanged %d, failed %d; want %d, %d, %d, %d (%+v)", what,
			s.Created, s.Updated, s.Unchanged, s.Failed, created, updated, unchanged, failed, s.Errors)
	}
}

// importedHashes are a hash of each imported format, with its password.
func importedHashes(t *testing.T) map[string][2]string {
	t.Helper()
	salt := []byte("0123456789abcdef")
	b64 := base64.RawStdEncoding
	bc, err := bcrypt.GenerateFromPassword([]byte("bcrypt-Secret-phrase"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	dj, err := pbkdf2.Key(sha256.New, "django-Secret-phrase", []byte("seasalt"), 1000, 32)
	if err != nil {
		t.Fatal(err)
	}
	other := password.Params{Memory: 128, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	hasher, err := password.NewHasher(other, password.NewPool(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	a2id, err := hasher.Hash(context.Background(), "argon2id-Secret-phrase")
	if err != nil {
		t.Fatal(err)
	}
	return map[string][2]string{
		"bcrypt":   {string(bc), "bcrypt-Secret-phrase"},
		"argon2i":  {fmt.Sprintf("$argon2i$v=19$m=64,t=3,p=1$%s$%s", b64.EncodeToString(salt), b64.EncodeToString(argon2.Key([]byte("argon2i-Secret-phrase"), salt, 3, 64, 1, 32))), "argon2i-Secret-phrase"},
		"django":   {"pbkdf2_sha256$1000$seasalt$" + base64.StdEncoding.EncodeToString(dj), "django-Secret-phrase"},
		"argon2id": {a2id, "argon2id-Secret-phrase"},
	}
}

// TestImportCustomers: a CSV import creates customers with hashes of
// every supported format, each of which logs in and is then rehashed to
// argon2id; failed rows are reported by line and field while the others
// go on; importing the file again changes nothing, even after the logins.
func TestImportCustomers(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		hashes := importedHashes(t)
		csv := "email,first_name,last_name,state,password_hash,uuid,username\n" +
			"bcrypt@example.com,Bea,Crypt,,\"" + hashes["bcrypt"][0] + "\",,bea\n" +
			"argon2i@example.com,Ari,,active,\"" + hashes["argon2i"][0] + "\",11efbcf6-1628-4719-a18b-b3e6f12b1130,\n" +
			"not-an-address,Nina,,,,,\n" +
			"django@example.com,Django,,," + hashes["django"][0] + ",,\n" +
			"argon2id@example.com,Ida,,,\"" + hashes["argon2id"][0] + "\",,\n" +
			"state@example.com,Stan,,sleeping,,,\n" +
			"hash@example.com,Hal,,,$1$md5crypt$xyz,,\n" +
			"taken@example.com,Tom,,,,,bea\n" +
			"offline@example.com,Otto,,offline,,,\n"
		sum := h.mustImport(t, "", "text/csv", csv)
		checkCounts(t, "first import", sum, 5, 0, 0, 4)
		want := map[int]string{4: "email", 7: "state", 8: "password_hash", 9: "username"}
		for _, e := range sum.Errors {
			if want[e.Line] != e.Field {
				t.Errorf("row error %+v; want field %q on line %d", e, want[e.Line], e.Line)
			}
			delete(want, e.Line)
		}
		if len(want) != 0 || sum.Rows != 9 {
			t.Errorf("row errors %+v of %d rows; missing %v", sum.Errors, sum.Rows, want)
		}
		if c := h.storedCustomer(t, "argon2i@example.com"); c.UUID != "11efbcf6-1628-4719-a18b-b3e6f12b1130" || c.State != account.StateActive {
			t.Errorf("argon2i customer: %+v", c)
		}
		if c := h.storedCustomer(t, "offline@example.com"); c.State != account.StateOffline || c.HasPassword() {
			t.Errorf("offline customer: %+v", c)
		}
		if ms, err := h.svc.Outbox.List(context.Background(), account.DefaultTenant, 100); err != nil || len(ms) != 0 {
			t.Errorf("an import without invite queued mail: %d, %v", len(ms), err)
		}

		for name, hp := range hashes {
			email := name + "@example.com"
			h.mustLogin(t, email, hp[1])
			if c := h.storedCustomer(t, email); !strings.HasPrefix(c.PasswordHash, "$argon2id$v=19$m=64,t=1,p=1$") {
				t.Errorf("%s after login: hash %s; want argon2id with the current parameters", name, c.PasswordHash)
			}
			h.mustLogin(t, email, hp[1])
		}
		apitest.MustProblem(t, h.Login(t, h.secret, "django@example.com", "wrong-Secret-phrase"), http.StatusUnauthorized, "invalid_credentials")

		again := h.mustImport(t, "", "text/csv; charset=utf-8", csv)
		checkCounts(t, "second import", again, 0, 0, 5, 4)
		h.mustLogin(t, "bcrypt@example.com", hashes["bcrypt"][1])

		// A change by uuid, of name and address; a disabled customer's
		// sessions end.
		sess := h.mustLogin(t, "argon2i@example.com", hashes["argon2i"][1])
		changed := h.mustImport(t, "", "application/x-ndjson",
			`{"uuid":"11efbcf6-1628-4719-a18b-b3e6f12b1130","email":"ari@example.com","first_name":"Arianne","state":"disabled"}`+"\n"+
				"\n"+
				`{"email":"bcrypt@example.com","last_name":"Crypt"}`+"\n"+
				`{"email":"json@example.com","first_name":7}`+"\n"+
				`{"email":"list@example.com","first_name":["a"]}`+"\n"+
				`not json`+"\n")
		checkCounts(t, "jsonl import", changed, 1, 1, 1, 2)
		if len(changed.Errors) != 2 || changed.Errors[0].Line != 5 || changed.Errors[1].Line != 6 {
			t.Errorf("jsonl row errors: %+v", changed.Errors)
		}
		if c := h.storedCustomer(t, "ari@example.com"); c.FirstName != "Arianne" || c.State != account.StateDisabled || c.EmailConfirmedAt != nil {
			t.Errorf("changed customer: %+v", c)
		}
		h.mustSessionInvalid(t, sess.Session.Token)
		if c := h.storedCustomer(t, "json@example.com"); c.FirstName != "7" {
			t.Errorf("a number as first name: %+v", c)
		}
		events, err := h.svc.Audit.ListBySlug(context.Background(), account.DefaultTenant, account.AuditQuery{Type: account.AuditCustomerUpdated})
		if err != nil || len(events) != 1 || !strings.HasPrefix(events[0].Actor, "api_key:") || events[0].Detail["fields"] != "email,first_name,state" {
			t.Errorf("audit of the import's update: %+v, %v", events, err)
		}
	})
}

// TestImportRowsOfOneBatch: the rows of one batch (one transaction) see
// what the rows before them wrote: a second row for an address created
// above updates that customer, and so does one for a uuid created above;
// rows that change one customer's names one after the other, by email or
// by uuid, keep each other's changes; an address that a row above moved
// away is free for a new customer, and the address it moved to finds it.
func TestImportRowsOfOneBatch(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		const moved, named, carl, dora = "11efbcf6-1628-4719-a18b-b3e6f12b1130", "0b4a4f4e-5d0c-4a57-9f7e-0d5c8b1a9e21",
			"5e0c2d1a-7b8f-4c3e-9a6d-2f1e0b9c8d7a", "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"
		first := h.mustImport(t, "", "text/csv", "email,uuid,first_name,last_name\n"+
			"old@example.com,"+moved+",Olga,\n"+
			"anna@example.com,,Anna,Alt\n"+
			"bert@example.com,"+named+",Bert,Berg\n"+
			"carl@example.com,"+carl+",Carl,Clau\n")
		checkCounts(t, "first import", first, 4, 0, 0, 0)
		names := h.mustImport(t, "", "application/x-ndjson", `{"email":"anna@example.com","first_name":"Anne"}`+"\n"+
			`{"email":"anna@example.com","last_name":"Neu"}`+"\n"+
			`{"email":"bert@example.com","uuid":"`+named+`","first_name":"Berta"}`+"\n"+
			`{"email":"bert@example.com","last_name":"Brandt"}`+"\n"+
			`{"email":"carl@example.com","first_name":"Carlo"}`+"\n"+
			`{"email":"carl@example.com","uuid":"`+carl+`","last_name":"Cramer"}`+"\n"+
			`{"email":"dora@example.com","uuid":"`+dora+`","first_name":"Dora"}`+"\n"+
			`{"email":"dora.neu@example.com","uuid":"`+dora+`","last_name":"Dach"}`+"\n")
		checkCounts(t, "names, row by row", names, 1, 7, 0, 0)
		for email, want := range map[string][2]string{"anna@example.com": {"Anne", "Neu"}, "bert@example.com": {"Berta", "Brandt"},
			"carl@example.com": {"Carlo", "Cramer"}, "dora.neu@example.com": {"Dora", "Dach"}} {
			if c := h.storedCustomer(t, email); c.FirstName != want[0] || c.LastName != want[1] {
				t.Errorf("%s: %s %s, want %s %s", email, c.FirstName, c.LastName, want[0], want[1])
			}
		}

		sum := h.mustImport(t, "", "application/x-ndjson", `{"email":"new@example.com","first_name":"One"}`+"\n"+
			`{"email":"new@example.com","first_name":"Two"}`+"\n"+
			`{"email":"moved@example.com","uuid":"`+moved+`"}`+"\n"+
			`{"email":"old@example.com","first_name":"Neu"}`+"\n"+
			`{"email":"moved@example.com","last_name":"Umzug"}`+"\n")
		checkCounts(t, "one batch", sum, 2, 3, 0, 0)
		if c := h.storedCustomer(t, "new@example.com"); c.FirstName != "Two" {
			t.Errorf("new@example.com: first name %q, want the second row's", c.FirstName)
		}
		if c := h.storedCustomer(t, "moved@example.com"); c.UUID != moved || c.FirstName != "Olga" || c.LastName != "Umzug" {
			t.Errorf("moved@example.com: %+v; want Olga Umzug, uuid %s", c, moved)
		}
		if c := h.storedCustomer(t, "old@example.com"); c.UUID == moved || c.FirstName != "Neu" {
			t.Errorf("old@example.com: %+v; want a new customer Neu", c)
		}
	})
}

// TestImportDryRunAndInvitations: a dry run reports what an import would
// do and writes nothing; with invite=true each customer created gets an
// invitation, spaced at the rate asked for; the endpoint needs a secret
// key and a CSV or JSON Lines body.
func TestImportDryRunAndInvitations(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		body := "email,first_name\nina@example.com,Ina\nole@example.com,Ole\nbad,Bad\n"
		dry := h.mustImport(t, "?dry_run=true&invite=true", "text/csv", body)
		checkCounts(t, "dry run", dry, 2, 0, 0, 1)
		if !dry.DryRun || dry.Invited != 0 {
			t.Errorf("dry run: %+v", dry)
		}
		h.mustNotStored(t, "ina@example.com")
		h.mustNotStored(t, "ole@example.com")
		if ms, _ := h.svc.Outbox.List(context.Background(), account.DefaultTenant, 100); len(ms) != 0 {
			t.Errorf("a dry run queued %d mails", len(ms))
		}

		sum := h.mustImport(t, "?invite=true&invite_rate=2/s", "text/csv", body)
		checkCounts(t, "import", sum, 2, 0, 0, 1)
		if sum.Invited != 2 {
			t.Errorf("invited %d; want 2", sum.Invited)
		}
		ms, err := h.svc.Outbox.List(context.Background(), account.DefaultTenant, 100)
		if err != nil || len(ms) != 2 {
			t.Fatalf("outbox: %d mails, %v", len(ms), err)
		}
		times := map[time.Duration]bool{}
		for _, m := range ms {
			if m.Kind != account.MailInvite {
				t.Errorf("mail of kind %s", m.Kind)
			}
			times[m.NextAttemptAt.Sub(apitest.Start)] = true
		}
		if !times[0] || !times[500*time.Millisecond] {
			t.Errorf("invitations due after %v; want 0s and 500ms", times)
		}
		if c := h.storedCustomer(t, "ina@example.com"); c.State != account.StatePending {
			t.Errorf("invited customer: %+v", c)
		}
		checkCounts(t, "again", h.mustImport(t, "?invite=true", "text/csv", body), 0, 0, 2, 1)
		if ms, _ := h.svc.Outbox.List(context.Background(), account.DefaultTenant, 100); len(ms) != 2 {
			t.Errorf("importing again queued mail: %d in the outbox", len(ms))
		}

		apitest.MustProblem(t, h.Do(t, request{Method: http.MethodPost, Path: "/api/v1/customers/import", Key: h.public,
			Body: body, ContentType: "text/csv"}), http.StatusForbidden, "secret_key_required")
		apitest.MustProblem(t, h.importBody(t, "", "application/json", `{"email":"x@example.com"}`), http.StatusUnsupportedMediaType, "unsupported_media_type")
		apitest.MustFieldError(t, h.importBody(t, "", "text/csv", "email,shoe_size\na@example.com,44\n"), "body", "invalid")
		apitest.MustFieldError(t, h.importBody(t, "?dry_run=maybe", "text/csv", body), "dry_run", "invalid")
		apitest.MustFieldError(t, h.importBody(t, "?invite_rate=fast", "text/csv", body), "invite_rate", "invalid")
		h.mustNotStored(t, "a@example.com")
	})
}
