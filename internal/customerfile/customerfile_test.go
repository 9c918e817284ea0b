package customerfile

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"pforte/internal/account"
)

func readAll(t *testing.T, format, body string) []account.ImportRow {
	t.Helper()
	src, err := NewSource(strings.NewReader(body), format)
	if err != nil {
		t.Fatalf("NewSource: %v", err)
	}
	var rows []account.ImportRow
	for {
		row, err := src()
		if errors.Is(err, io.EOF) {
			return rows
		} else if err != nil {
			t.Fatalf("reading: %v", err)
		}
		rows = append(rows, row)
	}
}

// TestCSVLines: rows carry the line they start on, also after a quoted
// field that spans lines; a byte order mark and the header's case do
// not matter; a row with the wrong number of fields is a problem, not the
// end.
func TestCSVLines(t *testing.T) {
	rows := readAll(t, CSV, "\uFEFFEmail,First_Name\na@example.com,\"two\nlines\"\nb@example.com\nc@example.com,Cy\n")
	if len(rows) != 3 {
		t.Fatalf("rows: %+v", rows)
	}
	if rows[0].Line != 2 || rows[0].Fields["first_name"] != "two\nlines" {
		t.Errorf("row 1: %+v", rows[0])
	}
	if rows[1].Line != 4 || rows[1].Problem == "" {
		t.Errorf("row 2: %+v", rows[1])
	}
	if rows[2].Line != 5 || !reflect.DeepEqual(rows[2].Fields, map[string]string{"email": "c@example.com", "first_name": "Cy"}) {
		t.Errorf("row 3: %+v", rows[2])
	}
	for _, header := range []string{"", "email,email\n", "first_name\n", "email,shoe_size\n"} {
		if _, err := NewSource(strings.NewReader(header), CSV); err == nil {
			t.Errorf("header %q accepted", header)
		}
	}
}

// TestJSONLines: blank lines are skipped but counted; null is a field not
// given; anything but an object of scalars is the row's problem.
func TestJSONLines(t *testing.T) {
	rows := readAll(t, JSONL, "{\"email\":\"a@example.com\",\"locale\":null,\"id\":7}\n\n  \n[1]\n{\"email\":{}}\n{} {}\n")
	if len(rows) != 4 || rows[0].Line != 1 || rows[1].Line != 4 || rows[2].Line != 5 || rows[3].Line != 6 {
		t.Fatalf("rows: %+v", rows)
	}
	if !reflect.DeepEqual(rows[0].Fields, map[string]string{"email": "a@example.com", "id": "7"}) {
		t.Errorf("row 1: %+v", rows[0].Fields)
	}
	for _, r := range rows[1:] {
		if r.Problem == "" {
			t.Errorf("line %d has no problem: %+v", r.Line, r)
		}
	}
	src, _ := NewSource(strings.NewReader(strings.Repeat("x", MaxLine+1)), JSONL)
	if _, err := src(); err == nil || errors.Is(err, io.EOF) {
		t.Errorf("an overlong line: %v", err)
	}
}

// TestWriterReadsBack: what the writer writes, the source reads as the
// same fields, in both formats; hashes only when asked for.
func TestWriterReadsBack(t *testing.T) {
	confirmed := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	c := account.Customer{ID: 7, UUID: "11efbcf6-1628-4719-a18b-b3e6f12b1130", Email: "zoë@example.com", State: account.StateActive,
		FirstName: "Zoë, \"Z\"", LastName: "O'Brien", PasswordHash: "$2a$10$x", EmailConfirmedAt: &confirmed, CreatedAt: confirmed}
	for _, format := range []string{CSV, JSONL} {
		for _, hashes := range []bool{false, true} {
			var b bytes.Buffer
			w, err := NewWriter(&b, format, hashes)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Write(c); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			rows := readAll(t, format, b.String())
			if len(rows) != 1 {
				t.Fatalf("%s: %q", format, b.String())
			}
			f := rows[0].Fields
			if f["first_name"] != c.FirstName || f["uuid"] != c.UUID || f["email_confirmed_at"] != "2030-01-02T03:04:05Z" || f["id"] != "7" {
				t.Errorf("%s: %+v", format, f)
			}
			if _, has := f["password_hash"]; has != hashes || hashes && f["password_hash"] != c.PasswordHash {
				t.Errorf("%s with hashes %v: %+v", format, hashes, f)
			}
		}
	}
}

func TestParseRate(t *testing.T) {
	for in, want := range map[string]time.Duration{"10/s": 100 * time.Millisecond, "2": 500 * time.Millisecond,
		"60/m": time.Second, "3600/h": time.Second, "0": 0} {
		if got, err := ParseRate(in); err != nil || got != want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "fast", "10/d", "-1/s"} {
		if _, err := ParseRate(in); err == nil {
			t.Errorf("ParseRate(%q) accepted", in)
		}
	}
}
