// Package customerfile reads and writes files of customers, CSV with a
// header or JSON Lines, for bulk import and export (the command line and
// POST /api/v1/customers/import share it).
package customerfile

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"pforte/internal/account"
)

// The formats.
const (
	CSV   = "csv"
	JSONL = "jsonl"
)

// FormatOf picks the format by a file name's extension: .csv, else .jsonl
// or .ndjson; empty if neither.
func FormatOf(name string) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".csv":
		return CSV
	case ".jsonl", ".ndjson":
		return JSONL
	}
	return ""
}

// ParseFormat checks a --format value; ndjson is jsonl.
func ParseFormat(s string) (string, error) {
	switch strings.ToLower(s) {
	case CSV:
		return CSV, nil
	case JSONL, "ndjson":
		return JSONL, nil
	}
	return "", fmt.Errorf("format must be csv or jsonl, not %q", s)
}

// ParseRate reads N/s, N/m or N/h (N alone: per second) as the time
// between two events; 0 is no wait.
func ParseRate(s string) (time.Duration, error) {
	n, unit, _ := strings.Cut(s, "/")
	per := map[string]time.Duration{"": time.Second, "s": time.Second, "m": time.Minute, "h": time.Hour}[unit]
	v, err := strconv.ParseFloat(n, 64)
	if err != nil || per == 0 || v < 0 || v > 1e6 {
		return 0, fmt.Errorf("%q is not a rate such as 10/s, 300/m or 1000/h", s)
	}
	if v == 0 {
		return 0, nil
	}
	return time.Duration(float64(per) / v), nil
}

// MaxLine bounds one JSON line; a longer one ends the import.
const MaxLine = 1 << 20

// NewSource reads rows of format from r, one at a time. A CSV file's
// header must name only known fields (account.ImportFields and the
// read-only fields of an export), each once.
func NewSource(r io.Reader, format string) (account.ImportSource, error) {
	switch format {
	case CSV:
		return csvSource(r)
	case JSONL:
		return jsonlSource(r), nil
	}
	return nil, fmt.Errorf("unknown format %q", format)
}

// exportOnly are the columns of an export that an import ignores.
var exportOnly = []string{"id", "created_at", "updated_at", "email_confirmed_at"}

func csvSource(r io.Reader) (account.ImportSource, error) {
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("the file is empty: a CSV import needs a header")
	} else if err != nil {
		return nil, fmt.Errorf("reading the header: %w", err)
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\uFEFF") // a byte order mark, as spreadsheets write
	}
	for i, name := range header {
		name = strings.ToLower(strings.TrimSpace(name))
		header[i] = name
		switch {
		case !slices.Contains(account.ImportFields, name) && !slices.Contains(exportOnly, name):
			return nil, fmt.Errorf("line 1: unknown column %q; known are %s", name, strings.Join(account.ImportFields, ", "))
		case slices.Index(header[:i], name) >= 0:
			return nil, fmt.Errorf("line 1: column %q appears twice", name)
		}
	}
	if !slices.Contains(header, "email") {
		return nil, errors.New("line 1: the header has no email column")
	}
	return func() (account.ImportRow, error) {
		rec, err := cr.Read()
		var pe *csv.ParseError
		switch {
		case errors.As(err, &pe):
			return account.ImportRow{Line: pe.StartLine, Problem: pe.Err.Error()}, nil
		case err != nil:
			return account.ImportRow{}, err
		}
		line, _ := cr.FieldPos(0)
		row := account.ImportRow{Line: line, Fields: make(map[string]string, len(rec))}
		for i, v := range rec {
			row.Fields[header[i]] = v
		}
		return row, nil
	}, nil
}

func jsonlSource(r io.Reader) account.ImportSource {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), MaxLine)
	line := 0
	return func() (account.ImportRow, error) {
		for sc.Scan() {
			line++
			b := bytes.TrimSpace(sc.Bytes())
			if line == 1 {
				b = bytes.TrimPrefix(b, []byte("\uFEFF"))
			}
			if len(b) == 0 {
				continue
			}
			return jsonRow(line, b), nil
		}
		if err := sc.Err(); errors.Is(err, bufio.ErrTooLong) {
			return account.ImportRow{}, fmt.Errorf("line %d is longer than %d bytes", line+1, MaxLine)
		} else if err != nil {
			return account.ImportRow{}, err
		}
		return account.ImportRow{}, io.EOF
	}
}

// jsonRow reads one JSON object of string values; numbers and booleans
// are taken as their text, null as a field not given.
func jsonRow(line int, b []byte) account.ImportRow {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return account.ImportRow{Line: line, Problem: "not a JSON object"}
	}
	if dec.More() {
		return account.ImportRow{Line: line, Problem: "more than one JSON value on the line"}
	}
	row := account.ImportRow{Line: line, Fields: make(map[string]string, len(m))}
	for k, v := range m {
		switch v := v.(type) {
		case nil:
		case string:
			row.Fields[k] = v
		case json.Number:
			row.Fields[k] = v.String()
		case bool:
			row.Fields[k] = strconv.FormatBool(v)
		default:
			return account.ImportRow{Line: line, Problem: fmt.Sprintf("field %q must be a string", k)}
		}
	}
	return row
}

// Columns are the fields an export writes, in order; password_hash comes
// last, and only when asked for.
var Columns = []string{"id", "uuid", "email", "state", "salutation", "first_name", "last_name", "username", "locale",
	"partner_ref", "email_confirmed_at", "created_at"}

// Writer writes customers in a format.
type Writer struct {
	format string
	hashes bool
	cw     *csv.Writer
	w      io.Writer
	header bool
}

// NewWriter writes customers to w; withHashes adds password_hash.
func NewWriter(w io.Writer, format string, withHashes bool) (*Writer, error) {
	if format != CSV && format != JSONL {
		return nil, fmt.Errorf("unknown format %q", format)
	}
	x := &Writer{format: format, hashes: withHashes, w: w}
	if format == CSV {
		x.cw = csv.NewWriter(w)
	}
	return x, nil
}

func (x *Writer) columns() []string {
	if x.hashes {
		return append(slices.Clone(Columns), "password_hash")
	}
	return Columns
}

// Write writes one customer.
func (x *Writer) Write(c account.Customer) error {
	confirmed := ""
	if c.EmailConfirmedAt != nil {
		confirmed = c.EmailConfirmedAt.UTC().Format(time.RFC3339Nano)
	}
	values := []string{strconv.FormatInt(c.ID, 10), c.UUID, c.Email, string(c.State), c.Salutation, c.FirstName, c.LastName,
		c.Username, c.Locale, c.PartnerRef, confirmed, c.CreatedAt.UTC().Format(time.RFC3339Nano)}
	if x.hashes {
		values = append(values, c.PasswordHash)
	}
	if x.format == CSV {
		if !x.header {
			x.header = true
			if err := x.cw.Write(x.columns()); err != nil {
				return err
			}
		}
		return x.cw.Write(values)
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for i, name := range x.columns() {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(name)
		v, _ := json.Marshal(values[i])
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteString("}\n")
	_, err := x.w.Write(b.Bytes())
	return err
}

// Close writes what is buffered (a CSV file without customers gets its
// header).
func (x *Writer) Close() error {
	if x.format != CSV {
		return nil
	}
	if !x.header {
		x.header = true
		if err := x.cw.Write(x.columns()); err != nil {
			return err
		}
	}
	x.cw.Flush()
	return x.cw.Error()
}
