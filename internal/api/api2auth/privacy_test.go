package api2auth_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"pforte/internal/account"
	"pforte/internal/api/apitest"
	"pforte/internal/store/postgres"
	"pforte/internal/store/sqlite"
	"pforte/internal/store/teststore"
)

// TestEmailStorageHMAC: with email_storage=hmac (as the seed keeps
// addresses only as salted hashes), the dialect's flows work over real
// SMTP (register, verify, log in, forgot, reset, log in again), mail
// reaches the address each request carried, and afterwards the address,
// in any case, is nowhere in the database: on SQLite not in the database
// file, its WAL or its shared memory; on PostgreSQL in no row of any
// table.
func TestEmailStorageHMAC(t *testing.T) {
	ctx := context.Background()
	t.Run("sqlite", func(t *testing.T) {
		var path string
		open := func(t testing.TB) account.Store {
			path = teststore.SQLitePath(t)
			st, err := sqlite.Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			if err := st.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			return st
		}
		checkNoAddress(t, open, func(t *testing.T) []byte {
			var all []byte
			for _, name := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
				b, err := os.ReadFile(name)
				if err != nil && !errors.Is(err, fs.ErrNotExist) {
					t.Fatal(err)
				}
				all = append(all, b...)
			}
			return all
		})
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := teststore.PostgresDSN(t)
		open := func(t testing.TB) account.Store {
			st, err := postgres.Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			if err := st.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			return st
		}
		checkNoAddress(t, open, func(t *testing.T) []byte { return dumpSchema(t, dsn) })
	})
}

// checkNoAddress walks the dialect's flows under email_storage=hmac and
// then looks for the address in what dump returns.
func checkNoAddress(t *testing.T, open teststore.Opener, dump func(t *testing.T) []byte) {
	t.Helper()
	h := newHarness(t, open, apitest.WithSetting("email_storage", "hmac"))
	const addr = "Jeff.Privat@Example.com"
	const username = "jeff_privat"

	h.mustRegister(t, "", username, addr, seedPassword)
	m := h.mustMail(t, addr, 1)
	if !slices.Contains(m.To, addr) {
		t.Fatalf("the verification mail went to %q, want %s", m.To, addr)
	}
	v := h.mustVerifyLink(t, addr, 1)
	mustOK(t, h.verify(t, "", username, v.token))
	h.mustPassword(t, "jeff.privat@example.com", seedPassword, seedNewPassword)

	// Another case of the same address finds the same account.
	const asked = "JEFF.PRIVAT@example.COM"
	mustOK(t, h.forgot(t, "", asked))
	m = h.mustMail(t, addr, 2)
	if !slices.Contains(m.To, asked) {
		t.Fatalf("the reset mail went to %q, want %s", m.To, asked)
	}
	reset := h.mustResetToken(t, addr, 2, resetURL)
	mustOK(t, h.resetPassword(t, "", username, reset, seedNewPassword))
	h.mustPassword(t, addr, seedNewPassword, seedPassword)
	// A registration of the address tells its owner, at the address given.
	mustOK(t, h.register(t, "", "mallory", addr, "Mallorys-Passwort-2030"))
	if m := h.mustMail(t, addr, 3); m.Subject != "Registrierung mit Ihrer E-Mail-Adresse" {
		t.Fatalf("mail %q, want the registration attempt notice", m.Subject)
	}
	// The relay sends in order: once a later mail arrived, every earlier
	// one has been sent, and its sealed content erased.
	h.mustRegister(t, "", "marker", "marker@example.org", strongPassword)
	h.mustMail(t, "marker@example.org", 1)

	data := dump(t)
	// The dump must hold the data, or finding nothing proves nothing.
	for _, want := range []string{"$argon2id$", "hmac:", username} {
		if !bytes.Contains(data, []byte(want)) {
			t.Fatalf("the dump (%d bytes) lacks %q: it does not read the data", len(data), want)
		}
	}
	lower := bytes.ToLower(data)
	for _, s := range []string{strings.ToLower(addr), "jeff.privat@", "@example.com"} {
		if bytes.Contains(lower, []byte(s)) {
			t.Errorf("the database holds %q (in some case)", s)
		}
	}
	for _, s := range []string{addr, asked, strings.ToLower(addr), strings.ToUpper(addr)} {
		if bytes.Contains(lower, []byte(hex.EncodeToString([]byte(s)))) {
			t.Errorf("the database holds %q in hex", s)
		}
	}
	h.mustNotLeak(t, v.token, reset)
	if logs := strings.ToLower(h.logs.String()); strings.Contains(logs, strings.ToLower(addr)) {
		t.Errorf("the address reached the log")
	}
	if r := h.login(t, "nobody@example.com", seedNewPassword); r.Status != http.StatusUnauthorized {
		t.Errorf("login of an unknown address: %s", r)
	}
}

// dumpSchema returns every row of every table of the DSN's schema as
// text: every text and bytea column (bytea as hex).
func dumpSchema(t *testing.T, dsn string) []byte {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) < 5 {
		t.Fatalf("schema has tables %v", tables)
	}
	var all bytes.Buffer
	for _, table := range tables {
		rows, err := conn.Query(ctx, `SELECT t::text FROM `+pgx.Identifier{table}.Sanitize()+` t`)
		if err != nil {
			t.Fatal(err)
		}
		texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range texts {
			all.WriteString(s)
			all.WriteByte('\n')
		}
	}
	return all.Bytes()
}
