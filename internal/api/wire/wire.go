// Package wire holds the request plumbing every HTTP API of pforte shares:
// strict, size-limited JSON bodies, credentials from headers, and request
// ids. Each API writes its own errors; this package only returns
// account errors for them to translate.
package wire

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"

	"pforte/internal/account"
)

// MaxBody is the size limit of every request body.
const MaxBody = 64 << 10

// ReadBody reads a body of at most MaxBody bytes whose media type is one of
// types (parameters other than charset=utf-8 are refused) and that is valid
// UTF-8.
func ReadBody(r *http.Request, types ...string) ([]byte, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !contains(types, mt) {
		return nil, account.Errorf(account.KindUnsupported, account.CodeUnsupportedMediaType, "the body must be %s", strings.Join(types, " or "))
	}
	for name, value := range params {
		switch {
		case name == "charset" && !strings.EqualFold(value, "utf-8"):
			return nil, account.Errorf(account.KindUnsupported, account.CodeUnsupportedCharset, "the body must be UTF-8")
		case name != "charset":
			return nil, account.Errorf(account.KindUnsupported, account.CodeUnsupportedMediaType, "the body must be %s without parameters other than charset=utf-8", strings.Join(types, " or "))
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		return nil, account.Errorf(account.KindInvalid, account.CodeUnreadableBody, "the body could not be read")
	}
	if len(body) > MaxBody {
		return nil, account.Errorf(account.KindTooLarge, account.CodeBodyTooLarge, "the body exceeds %d bytes", MaxBody)
	}
	if !utf8.Valid(body) {
		return nil, account.Errorf(account.KindInvalid, account.CodeInvalidUTF8, "the body is not valid UTF-8")
	}
	return body, nil
}

// DecodeJSON reads a strict JSON object into a T: trailing data, wrong
// types, unknown keys, keys that differ from a field's name only in case,
// and repeated keys are refused, with the offending field named. (Plain
// encoding/json matches keys case-insensitively and lets the last of
// repeated keys win, so a proxy and pforte could read different values.)
func DecodeJSON[T any](r *http.Request) (T, error) {
	var v T
	body, err := ReadBody(r, "application/json")
	if err != nil {
		return v, err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return v, account.Errorf(account.KindInvalid, account.CodeMalformedJSON, "the body is empty")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&v); err != nil {
		return v, jsonError(err, embeddedNames(reflect.TypeOf(v)))
	}
	if _, err := dec.Token(); err != io.EOF {
		return v, account.Errorf(account.KindInvalid, account.CodeMalformedJSON, "the body has data after the JSON value")
	}
	if err := checkKeys(json.NewDecoder(bytes.NewReader(body)), reflect.TypeOf(v), ""); err != nil {
		var zero T
		return zero, err
	}
	return v, nil
}

// checkKeys walks a document that already decoded and compares every
// object key with the JSON names of the struct it fills, exactly.
func checkKeys(dec *json.Decoder, t reflect.Type, path string) error {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	tok, err := dec.Token()
	if err != nil {
		return account.Errorf(account.KindInvalid, account.CodeMalformedJSON, "the body is not valid JSON")
	}
	switch tok {
	case json.Delim('{'):
		return checkObjectKeys(dec, t, path)
	case json.Delim('['):
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for dec.More() {
			if err := checkKeys(dec, elem, path); err != nil {
				return err
			}
		}
		_, err = dec.Token() // ']'
		return err
	}
	return nil
}

// checkObjectKeys is checkKeys for an object whose '{' was read: every
// key once, and each a field of t (a struct) or any key (a map).
func checkObjectKeys(dec *json.Decoder, t reflect.Type, path string) error {
	var fields map[string]reflect.Type
	var elem reflect.Type
	switch {
	case t != nil && t.Kind() == reflect.Struct:
		fields = jsonFields(t)
	case t != nil && t.Kind() == reflect.Map:
		elem = t.Elem()
	}
	seen := map[string]bool{}
	for dec.More() {
		keyTok, err := dec.Token()
		if err != nil {
			return account.Errorf(account.KindInvalid, account.CodeMalformedJSON, "the body is not valid JSON")
		}
		key := keyTok.(string)
		field := key
		if path != "" {
			field = path + "." + key
		}
		if seen[key] {
			return account.Invalid(account.FieldError{Field: field, Code: account.FieldDuplicate, Message: "appears more than once"})
		}
		seen[key] = true
		ft := elem
		if fields != nil {
			var known bool
			if ft, known = fields[key]; !known {
				return account.Invalid(account.FieldError{Field: field, Code: account.FieldUnknown, Message: "is not a known field"})
			}
		}
		if err := checkKeys(dec, ft, field); err != nil {
			return err
		}
	}
	_, err := dec.Token() // '}'
	return err
}

// jsonFields maps the JSON names of a struct's fields, embedded structs'
// fields included, to their types, as encoding/json names them.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		switch {
		case name == "-":
			continue
		case f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct:
			for n, ft := range jsonFields(f.Type) {
				fields[n] = ft
			}
			continue
		case !f.IsExported():
			continue
		case name == "":
			name = f.Name
		}
		fields[name] = f.Type
	}
	return fields
}

// embeddedNames lists the Go names of t's embedded structs, at any depth.
// encoding/json puts them in the paths of type errors although they are
// not part of the JSON document.
func embeddedNames(t reflect.Type) map[string]bool {
	names := map[string]bool{}
	if t.Kind() != reflect.Struct {
		return names
	}
	for i := range t.NumField() {
		if f := t.Field(i); f.Anonymous && f.Type.Kind() == reflect.Struct {
			names[f.Name] = true
			for n := range embeddedNames(f.Type) {
				names[n] = true
			}
		}
	}
	return names
}

func jsonError(err error, embedded map[string]bool) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		var path []string
		for _, seg := range strings.Split(typeErr.Field, ".") {
			if !embedded[seg] {
				path = append(path, seg)
			}
		}
		field := strings.Join(path, ".")
		if field == "" {
			return account.Errorf(account.KindInvalid, account.CodeMalformedJSON, "the body must be a JSON object")
		}
		return account.Invalid(account.FieldError{Field: field, Code: account.FieldWrongType, Message: "must be a " + jsonType(typeErr.Type.Kind().String())})
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return account.Errorf(account.KindInvalid, account.CodeMalformedJSON, "the body is not valid JSON")
	}
	return account.Errorf(account.KindInvalid, account.CodeMalformedJSON, "the body is not valid JSON")
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64":
		return "number"
	case "slice", "array":
		return "array"
	}
	return "object"
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// APIKey returns the X-API-KEY header. Keys are read only from headers,
// never from query strings, so they stay out of access logs and histories.
func APIKey(r *http.Request) string { return r.Header.Get("X-API-KEY") }

// BearerToken returns the token of an "Authorization: Bearer" header.
func BearerToken(r *http.Request) string {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

type requestIDKey struct{}

// WithRequestID gives every request a random id for its log lines and
// error bodies.
func WithRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 8)
		rand.Read(b)
		id := hex.EncodeToString(b)
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}

// RequestID returns the id WithRequestID gave the request.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// Query returns the value of a query parameter given at most once. A
// repeated one is refused, as repeated JSON keys are, so that a proxy and
// pforte never read different values.
func Query(r *http.Request, name string) (string, error) {
	values := r.URL.Query()[name]
	switch len(values) {
	case 0:
		return "", nil
	case 1:
		return values[0], nil
	}
	return "", account.Invalid(account.FieldError{Field: name, Code: account.FieldDuplicate, Message: "appears more than once"})
}

// WriteJSON writes v as a JSON answer with this status.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}
