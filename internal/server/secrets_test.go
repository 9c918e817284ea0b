package server_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"

	"pforte/internal/store/postgres"
	"pforte/internal/store/sqlite"
	"pforte/internal/store/teststore"
)

// TestNoSecretsAtRest walks every flow that makes a secret and then reads
// the whole database, byte by byte: no token, session token, API key or
// password may be found in it.
func TestNoSecretsAtRest(t *testing.T) {
	t.Parallel()
	teststore.Each(t, func(t *testing.T, _ teststore.Opener) {
		t.Parallel()
		ctx := context.Background()
		// The test opens the store itself, to know where its bytes live.
		// teststore.Each names its subtests after the store.
		var dump func(t *testing.T) []byte
		var h *harness
		switch kind := path.Base(t.Name()); kind {
		case "sqlite":
			file := teststore.SQLitePath(t)
			st, err := sqlite.Open(ctx, file)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			if err := st.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			h = newHarness(t, nil, withStore(st))
			dump = func(t *testing.T) []byte { return dumpDir(t, filepath.Dir(file)) }
		case "postgres":
			dsn := teststore.PostgresDSN(t)
			st, err := postgres.Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			if err := st.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			h = newHarness(t, nil, withStore(st))
			dump = func(t *testing.T) []byte { return dumpSchema(t, dsn) }
		default:
			t.Fatalf("unknown store %q", kind)
		}

		const email, pw, newPw, invitedPw = "secretive@example.com", "first-Hidden-phrase-1", "second-Hidden-phrase-2", "invited-Hidden-phrase-3"
		secrets := map[string]string{"secret API key": h.secret, "public API key": h.public,
			"password": pw, "new password": newPw, "invited password": invitedPw}
		reg := h.mustRegister(t, email, pw)
		secrets["confirmation token"] = reg.ConfirmationToken
		secrets["confirm session"] = h.mustConfirm(t, reg.ConfirmationToken).Session.Token
		secrets["login session"] = h.mustLogin(t, email, pw).Session.Token
		reset := h.mustRequestReset(t, email)
		secrets["reset token"] = reset
		res := h.post(t, h.secret, "/api/v1/password-resets/complete", map[string]any{"token": reset, "password": newPw})
		secrets["reset session"] = mustJSON[customerSession](t, res, http.StatusOK).Session.Token
		secrets["unused reset token"] = h.mustRequestReset(t, email)
		secrets["second login session"] = h.mustLogin(t, email, newPw).Session.Token
		inv := h.mustCreate(t, map[string]any{"email": "invitee@example.com"})
		secrets["invite token"] = inv.InviteToken
		res = h.post(t, h.public, "/api/v1/invitations/accept", map[string]any{"token": inv.InviteToken, "password": invitedPw})
		secrets["invite session"] = mustJSON[customerSession](t, res, http.StatusOK).Session.Token
		secrets["pending confirmation token"] = h.mustRegister(t, "unconfirmed@example.com", pw).ConfirmationToken

		data := dump(t)
		// The dump must hold the data, or finding nothing proves nothing.
		for _, want := range []string{email, "invitee@example.com", "$argon2id$"} {
			if !bytes.Contains(data, []byte(want)) {
				t.Fatalf("the dump (%d bytes) lacks %q: it does not read the data", len(data), want)
			}
		}
		for what, s := range secrets {
			if len(s) < 8 {
				t.Fatalf("%s is %q", what, s)
			}
			if bytes.Contains(data, []byte(s)) {
				t.Errorf("the %s is stored in the clear", what)
			}
		}
	})
}

// dumpDir returns the bytes of every file in dir: the database, its WAL
// and shared-memory files.
func dumpDir(t *testing.T, dir string) []byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var all []byte
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}

// dumpSchema returns every row of every table of the DSN's schema as text.
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
