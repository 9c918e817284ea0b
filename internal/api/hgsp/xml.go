package hgsp

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"

	"pforte/internal/account"
	"pforte/internal/api/wire"
)

// maxDepth bounds element nesting. HGSP's documents are three levels deep;
// anything much deeper is an attack on the parser, not a request.
const maxDepth = 16

// element is a parsed XML element: its local name, its text (character
// data and CDATA, concatenated) and its child elements.
type element struct {
	name     string
	text     strings.Builder
	children []*element
	seen     map[string]bool // names of the children, to refuse duplicates
}

// Codes of the errors HGSP's XML reader answers with.
const (
	codeMalformedXML          = "malformed_xml"
	codeWrongRoot             = "wrong_root_element"
	codeProcessingInstruction = "processing_instruction_not_allowed"
	codeDTDNotAllowed         = "dtd_not_allowed"
	codeTooDeep               = "too_deep"
	codeAttributeNotAllowed   = "attribute_not_allowed"
	codeDuplicateElement      = "duplicate_element"
	codeUnexpectedText        = "unexpected_text"
	codeUnknownElement        = "unknown_element"
)

var (
	utf8BOM = []byte{0xEF, 0xBB, 0xBF}
	// errCharset is what CharsetReader answers: only UTF-8 is read.
	errCharset = errors.New("only UTF-8 is accepted")
)

func malformed(format string, args ...any) error {
	return account.Errorf(account.KindInvalid, codeMalformedXML, format, args...)
}

// decode reads a request body of root element root into a T. It runs in
// two steps, both before anything reaches the service:
//
//  1. parse checks that the body is a single, well-formed, plain XML
//     document (see parse) and builds its element tree;
//  2. fill matches the tree against T's `xml` tags: unknown elements, text
//     where elements belong, elements where text belongs, and missing
//     elements tagged `hgsp:"required"` are refused.
//
// The values come from the same tree that was checked, so no second parser
// can read the document differently. T's fields are strings (leaf
// elements) and structs (elements of elements).
func decode[T any](r *http.Request, root string) (T, error) {
	var v T
	body, err := wire.ReadBody(r, "application/xml", "text/xml")
	if err != nil {
		return v, err
	}
	doc, err := parse(body)
	if err != nil {
		return v, err
	}
	if doc.name != root {
		return v, account.Errorf(account.KindInvalid, codeWrongRoot, "the root element must be %s, not %s", root, doc.name)
	}
	var missing []account.FieldError
	if err := fill(doc, reflect.ValueOf(&v).Elem(), &missing); err != nil {
		return v, err
	}
	if len(missing) > 0 {
		return v, account.Invalid(missing...)
	}
	return v, nil
}

// parse reads body with a strict encoding/xml decoder, token by token, and
// refuses, as the OWASP XXE cheat sheet asks, anything but plain elements
// and text:
//   - DOCTYPE and ENTITY declarations (xml.Directive): no DTD, so no
//     external entities (XXE) and no entity expansion (billion laughs);
//   - references to entities other than XML's five predefined ones and
//     character references (Strict decoding fails on them);
//   - processing instructions other than the XML declaration, which may
//     come only first and must declare UTF-8, if any encoding;
//   - attributes other than namespace declarations;
//   - nesting deeper than maxDepth;
//   - an element that appears twice under one parent: a proxy and pforte
//     could otherwise read different values (no HGSP document has lists);
//   - content after the root element (whitespace and comments aside), and
//     documents that end before their root element does.
func parse(body []byte) (*element, error) {
	body = bytes.TrimPrefix(body, utf8BOM)
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, malformed("the body is empty")
	}
	dec := xml.NewDecoder(bytes.NewReader(body))
	dec.Strict = true
	dec.CharsetReader = func(string, io.Reader) (io.Reader, error) { return nil, errCharset }
	var b treeBuilder
	for first := true; ; first = false {
		tok, err := dec.Token()
		if err == io.EOF {
			if b.root == nil || len(b.stack) > 0 {
				return nil, malformed("the document ends before its root element does")
			}
			return b.root, nil
		}
		if err != nil {
			return nil, syntaxError(err)
		}
		switch t := tok.(type) {
		case xml.ProcInst:
			if t.Target != "xml" || !first {
				return nil, account.Errorf(account.KindInvalid, codeProcessingInstruction,
					"processing instructions are not allowed; only an XML declaration at the very start")
			}
		case xml.Directive:
			return nil, account.Errorf(account.KindInvalid, codeDTDNotAllowed, "DOCTYPE and ENTITY declarations are not allowed")
		case xml.StartElement:
			err = b.start(t)
		case xml.EndElement:
			// The strict decoder has checked that it matches.
			b.stack = b.stack[:len(b.stack)-1]
		case xml.CharData:
			err = b.text(t)
		}
		if err != nil {
			return nil, err
		}
	}
}

// treeBuilder builds the element tree of parse, one token at a time.
type treeBuilder struct {
	root  *element
	stack []*element // the open elements, innermost last
}

// start opens an element under the innermost open one.
func (b *treeBuilder) start(t xml.StartElement) error {
	if b.root != nil && len(b.stack) == 0 {
		return malformed("the document has content after its root element")
	}
	if len(b.stack) == maxDepth {
		return account.Errorf(account.KindInvalid, codeTooDeep, "elements are nested more than %d deep", maxDepth)
	}
	for _, a := range t.Attr {
		if a.Name.Space != "xmlns" && !(a.Name.Space == "" && a.Name.Local == "xmlns") {
			return account.Errorf(account.KindInvalid, codeAttributeNotAllowed, "%s: attributes are not allowed (%s)", t.Name.Local, a.Name.Local)
		}
	}
	el := &element{name: t.Name.Local}
	if len(b.stack) == 0 {
		b.root = el
	} else {
		parent := b.stack[len(b.stack)-1]
		if parent.seen[el.name] {
			return account.Errorf(account.KindInvalid, codeDuplicateElement, "%s: appears more than once in %s", el.name, parent.name)
		}
		if parent.seen == nil {
			parent.seen = map[string]bool{}
		}
		parent.seen[el.name] = true
		parent.children = append(parent.children, el)
	}
	b.stack = append(b.stack, el)
	return nil
}

// text adds character data to the innermost open element; outside the
// root element only whitespace may stand.
func (b *treeBuilder) text(t xml.CharData) error {
	if len(b.stack) == 0 {
		if len(bytes.TrimSpace(t)) > 0 {
			return malformed("the document has text outside its root element")
		}
		return nil
	}
	b.stack[len(b.stack)-1].text.Write(t)
	return nil
}

// syntaxError turns a decoder error into a 400, or a 415 for an encoding
// other than UTF-8. Syntax errors tell the line: that helps the site's
// developer and reveals nothing.
func syntaxError(err error) error {
	var se *xml.SyntaxError
	switch {
	case errors.Is(err, errCharset):
		return account.Errorf(account.KindUnsupported, account.CodeUnsupportedCharset, "the body must be UTF-8")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return malformed("the document ends before its root element does")
	case errors.As(err, &se):
		return malformed("the body is not well-formed XML (line %d: %s)", se.Line, se.Msg)
	}
	return malformed("the body is not well-formed XML")
}

// fill copies el into v, a struct, by v's `xml` tags. Missing required
// elements are collected in missing, so that one answer names them all.
func fill(el *element, v reflect.Value, missing *[]account.FieldError) error {
	if strings.TrimSpace(el.text.String()) != "" {
		return account.Errorf(account.KindInvalid, codeUnexpectedText, "%s: must contain elements, not text", el.name)
	}
	t := v.Type()
	index := map[string]int{}
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("xml"), ","); name != "" {
			index[name] = i
		}
	}
	for _, child := range el.children {
		i, ok := index[child.name]
		if !ok {
			return account.Errorf(account.KindInvalid, codeUnknownElement, "%s: is not an element of %s", child.name, el.name)
		}
		f := v.Field(i)
		if f.Kind() == reflect.Struct {
			if err := fill(child, f, missing); err != nil {
				return err
			}
			continue
		}
		if len(child.children) > 0 {
			return account.Errorf(account.KindInvalid, codeUnknownElement, "%s: is not an element of %s", child.children[0].name, child.name)
		}
		f.SetString(child.text.String())
	}
	for i := range t.NumField() {
		sf := t.Field(i)
		if sf.Tag.Get("hgsp") != "required" {
			continue
		}
		name, _, _ := strings.Cut(sf.Tag.Get("xml"), ",")
		if !el.seen[name] || (sf.Type.Kind() == reflect.String && v.Field(i).String() == "") {
			*missing = append(*missing, account.FieldError{Field: name, Code: account.FieldRequired, Message: "is required"})
		}
	}
	return nil
}
