package native

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"pforte/internal/account"
	"pforte/internal/api/wire"
	"pforte/internal/customerfile"
)

// MaxImportBody bounds the body of POST /api/v1/customers/import: about
// a million customers. Larger bases import in parts (rows already
// imported are skipped as unchanged).
const MaxImportBody = 256 << 20

// importTime is how long an import may take to read and answer, beyond
// the server's usual timeouts.
const importTime = 30 * time.Minute

// ImportCustomers serves POST /api/v1/customers/import: a CSV (text/csv)
// or JSON Lines (application/x-ndjson) body, read row by row;
// ?dry_run=true checks and writes nothing, ?invite=true mails
// invitations to the customers created, ?invite_rate=10/s spaces them.
// The answer is the import's summary with its row errors.
func (a *API) ImportCustomers() http.Handler {
	return a.keyed(secretKey, func(w http.ResponseWriter, r *http.Request, c account.Caller) error {
		q := r.URL.Query()
		var fields []account.FieldError
		flag := func(name string) bool {
			v := q.Get(name)
			b, err := strconv.ParseBool(v)
			if v != "" && err != nil {
				fields = append(fields, account.FieldError{Field: name, Code: account.FieldInvalid, Message: "must be true or false"})
			}
			return b
		}
		opts := account.ImportOptions{DryRun: flag("dry_run"), Invite: flag("invite"), InviteEvery: 100 * time.Millisecond}
		if v := q.Get("invite_rate"); v != "" {
			every, err := customerfile.ParseRate(v)
			if err != nil {
				fields = append(fields, account.FieldError{Field: "invite_rate", Code: account.FieldInvalid, Message: err.Error()})
			}
			opts.InviteEvery = every
		}
		if len(fields) > 0 {
			return account.Invalid(fields...)
		}
		format, err := importFormat(r)
		if err != nil {
			return err
		}
		rc := http.NewResponseController(w)
		rc.SetReadDeadline(time.Now().Add(importTime)) // not every server can; its timeouts then apply
		rc.SetWriteDeadline(time.Now().Add(importTime))
		r.Body = http.MaxBytesReader(w, r.Body, MaxImportBody)
		rows, err := customerfile.NewSource(r.Body, format)
		if err != nil {
			return importBodyError(err)
		}
		// A failure to read the body is the client's; any other, the
		// server's.
		var readErr error
		src := func() (account.ImportRow, error) {
			row, err := rows()
			if err != nil && !errors.Is(err, io.EOF) {
				readErr = err
			}
			return row, err
		}
		sum, err := a.svc.Customers.Import(r.Context(), c, src, opts)
		if readErr != nil {
			return importBodyError(readErr)
		} else if err != nil {
			return err
		}
		return wire.WriteJSON(w, http.StatusOK, sum)
	})
}

// importFormat is the format the body's media type names.
func importFormat(r *http.Request) (string, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	format := map[string]string{"text/csv": customerfile.CSV, "application/x-ndjson": customerfile.JSONL,
		"application/jsonl": customerfile.JSONL}[mt]
	if err != nil || format == "" {
		return "", account.Errorf(account.KindUnsupported, account.CodeUnsupportedMediaType, "the body must be text/csv or application/x-ndjson")
	}
	for name, value := range params {
		if name != "charset" || !strings.EqualFold(value, "utf-8") {
			return "", account.Errorf(account.KindUnsupported, account.CodeUnsupportedCharset, "the body must be UTF-8, without other parameters")
		}
	}
	return format, nil
}

// importBodyError is the answer to a body that ended the import: too
// large, unreadable, or a CSV header that names no import.
func importBodyError(err error) error {
	var tooBig *http.MaxBytesError
	var e *account.Error
	switch {
	case errors.As(err, &tooBig):
		return account.Errorf(account.KindTooLarge, account.CodeBodyTooLarge, "the body exceeds %d bytes; rows before the limit may be imported", MaxImportBody)
	case errors.As(err, &e):
		return err
	}
	return account.Invalid(account.FieldError{Field: "body", Code: account.FieldInvalid, Message: err.Error()})
}
