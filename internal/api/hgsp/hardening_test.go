package hgsp_test

import (
	"net/http"
	"strings"
	"testing"

	"pforte/internal/api/apitest"
	"pforte/internal/api/wire"
	"pforte/internal/store/teststore"
)

// valid is a registration that succeeds; the cases below break it.
const valid = `<RegisterUserRequest>
   <NaturalName>
      <Salutation>Frau</Salutation>
      <FirstName>Jürgen</FirstName>
      <LastName>Müller</LastName>
   </NaturalName>
   <Email>hardening@example.com</Email>
   <Password>Gehaertet-im-Jahr-2030</Password>
</RegisterUserRequest>`

// inRoot puts inner into a registration in place of its NaturalName.
func inRoot(inner string) string {
	return strings.Replace(valid, "<Salutation>Frau</Salutation>", inner, 1)
}

const billionLaughs = `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
`

// nested is depth elements <a> inside the registration, closed or not.
func nested(depth int, closed bool) string {
	inner := strings.Repeat("<a>", depth)
	if closed {
		inner += strings.Repeat("</a>", depth)
	}
	return inRoot("<Salutation>Frau</Salutation>" + inner)
}

type hardeningCase struct {
	name        string
	body        string
	contentType string
	status      int
	code        string
}

// hardeningCases are registrations that must be refused before anything
// reaches the service.
func hardeningCases() []hardeningCase {
	return []hardeningCase{
		{name: "XXE", body: `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>` + strings.Replace(valid, "Jürgen", "&xxe;", 1),
			status: 400, code: "dtd_not_allowed"},
		{name: "XXE parameter entity", body: `<!DOCTYPE x [<!ENTITY % p SYSTEM "http://127.0.0.1:1/evil.dtd"> %p;]>` + valid, status: 400, code: "dtd_not_allowed"},
		{name: "billion laughs", body: billionLaughs + strings.Replace(valid, "Jürgen", "&lol9;", 1), status: 400, code: "dtd_not_allowed"},
		{name: "DOCTYPE alone", body: `<!DOCTYPE RegisterUserRequest>` + valid, status: 400, code: "dtd_not_allowed"},
		{name: "DOCTYPE inside", body: inRoot(`<!DOCTYPE x><Salutation>Frau</Salutation>`), status: 400, code: "dtd_not_allowed"},
		{name: "undefined entity", body: strings.Replace(valid, "Jürgen", "&xxe;", 1), status: 400, code: "malformed_xml"},
		{name: "10,000 deep, unclosed", body: nested(10000, false), status: 400, code: "too_deep"},
		{name: "9,000 deep", body: nested(9000, true), status: 400, code: "too_deep"},
		{name: "17 deep", body: nested(15, true), status: 400, code: "too_deep"},
		{name: "16 deep is no element of the schema", body: nested(14, true), status: 400, code: "unknown_element"},
		{name: "too large", body: inRoot("<Salutation>Frau</Salutation><!--" + strings.Repeat("x", wire.MaxBody) + "-->"), status: 413, code: "body_too_large"},
		{name: "huge text node", body: strings.Replace(valid, "Jürgen", strings.Repeat("J", wire.MaxBody), 1), status: 413, code: "body_too_large"},
		{name: "large text node", body: strings.Replace(valid, "Jürgen", strings.Repeat("J", 60000), 1), status: 400, code: "validation_failed"},
		{name: "ISO-8859-1 declared", body: `<?xml version="1.0" encoding="ISO-8859-1"?>` + valid, status: 415, code: "unsupported_charset"},
		{name: "UTF-16 declared", body: `<?xml version="1.0" encoding="UTF-16"?>` + valid, status: 415, code: "unsupported_charset"},
		{name: "charset parameter", body: valid, contentType: "application/xml; charset=iso-8859-1", status: 415, code: "unsupported_charset"},
		{name: "JSON", body: valid, contentType: "application/json", status: 415, code: "unsupported_media_type"},
		{name: "no content type", body: valid, contentType: "-", status: 415, code: "unsupported_media_type"},
		{name: "invalid UTF-8", body: strings.Replace(valid, "Jürgen", "J\xfcrgen", 1), status: 400, code: "invalid_utf8"},
		{name: "XML 1.1", body: `<?xml version="1.1"?>` + valid, status: 400, code: "malformed_xml"},
		{name: "processing instruction", body: inRoot(`<?php system("id"); ?><Salutation>Frau</Salutation>`), status: 400, code: "processing_instruction_not_allowed"},
		{name: "stylesheet", body: `<?xml-stylesheet href="http://127.0.0.1:1/x.xsl"?>` + valid, status: 400, code: "processing_instruction_not_allowed"},
		{name: "declaration not first", body: `<!-- hi --><?xml version="1.0"?>` + valid, status: 400, code: "processing_instruction_not_allowed"},
		{name: "two declarations", body: `<?xml version="1.0"?><?xml version="1.0"?>` + valid, status: 400, code: "processing_instruction_not_allowed"},
		{name: "duplicate Email", body: strings.Replace(valid, "<Password>", "<Email>other@example.com</Email><Password>", 1), status: 400, code: "duplicate_element"},
		{name: "duplicate NaturalName", body: strings.Replace(valid, "<Email>", "<NaturalName/><Email>", 1), status: 400, code: "duplicate_element"},
		{name: "duplicate in NaturalName", body: inRoot(`<Salutation>Frau</Salutation><Salutation>Herr</Salutation>`), status: 400, code: "duplicate_element"},
		{name: "unknown element", body: strings.Replace(valid, "<Email>", "<Admin>true</Admin><Email>", 1), status: 400, code: "unknown_element"},
		{name: "element in a value", body: strings.Replace(valid, "hardening@example.com", "<b>hardening@example.com</b>", 1), status: 400, code: "unknown_element"},
		{name: "text beside elements", body: inRoot(`Hallo<Salutation>Frau</Salutation>`), status: 400, code: "unexpected_text"},
		{name: "wrong root", body: strings.ReplaceAll(valid, "RegisterUserRequest", "ActivationRequest"), status: 400, code: "wrong_root_element"},
		{name: "second root", body: valid + "<RegisterUserRequest/>", status: 400, code: "malformed_xml"},
		{name: "trailing text", body: valid + "trailing", status: 400, code: "malformed_xml"},
		{name: "text before the root", body: "leading" + valid, status: 400, code: "malformed_xml"},
		{name: "attribute", body: strings.Replace(valid, "<Email>", `<Email type="admin">`, 1), status: 400, code: "attribute_not_allowed"},
		{name: "mismatched tags", body: strings.Replace(valid, "</Email>", "</Emial>", 1), status: 400, code: "malformed_xml"},
		{name: "unquoted attribute", body: strings.Replace(valid, "<Email>", `<Email a=b>`, 1), status: 400, code: "malformed_xml"},
		{name: "control character", body: strings.Replace(valid, "Jürgen", "J\x01rgen", 1), status: 400, code: "malformed_xml"},
		{name: "empty", body: "", contentType: "application/xml", status: 400, code: "malformed_xml"},
		{name: "whitespace", body: " \n\t", status: 400, code: "malformed_xml"},
		{name: "only a declaration", body: `<?xml version="1.0"?>`, status: 400, code: "malformed_xml"},
		{name: "only a comment", body: `<!-- -->`, status: 400, code: "malformed_xml"},
		{name: "not XML", body: `{"email":"hardening@example.com"}`, status: 400, code: "malformed_xml"},
	}
}

// TestXMLHardening: every hostile or broken document is a 4xx error
// document, never a 5xx, and stores nothing: no customer, no mail.
func TestXMLHardening(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		before := h.counts(t)
		for _, c := range hardeningCases() {
			t.Run(c.name, func(t *testing.T) {
				res := h.do(t, request{Method: http.MethodPost, Path: "/registeruserrequest", Key: h.secret, Body: c.body, ContentType: c.contentType})
				e := mustError(t, res, c.status, c.code)
				if strings.Contains(e.Message, "root:") || strings.Contains(e.Message, "lollol") {
					t.Errorf("message leaks content: %q", e.Message)
				}
			})
		}
		// Every proper prefix of a valid document is truncated.
		for i := range len(valid) - 1 {
			res := h.do(t, request{Method: http.MethodPost, Path: "/registeruserrequest", Key: h.secret, Body: valid[:i], ContentType: "application/xml"})
			if res.Status != http.StatusBadRequest {
				t.Fatalf("prefix %q: %s", valid[:i], res)
			}
		}
		if after := h.counts(t); after != before {
			t.Errorf("refused documents stored something: %v, then %v", before, after)
		}
		h.mustNotStored(t, "hardening@example.com")
	})
}

// TestXMLAccepted: what a plain document may contain besides elements and
// text, each of which must still register the user.
func TestXMLAccepted(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		for i, c := range []struct {
			name, body, contentType, first string
		}{
			{name: "plain", body: valid, first: "Jürgen"},
			{name: "text/xml", body: valid, contentType: "text/xml", first: "Jürgen"},
			{name: "charset=utf-8", body: valid, contentType: "application/xml; charset=UTF-8", first: "Jürgen"},
			{name: "declaration", body: `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + valid, first: "Jürgen"},
			{name: "lower-case utf-8", body: `<?xml version="1.0" encoding="utf-8" standalone="yes"?>` + valid, first: "Jürgen"},
			{name: "byte order mark", body: "\xef\xbb\xbf" + valid, first: "Jürgen"},
			{name: "comments", body: "<!-- a -->" + strings.Replace(valid, "<Email>", "<!-- b --><Email>", 1) + "<!-- c -->\n", first: "Jürgen"},
			{name: "predefined entities", body: strings.Replace(valid, "Jürgen", "J&amp;&lt;&gt;&quot;&apos;&#252;", 1), first: `J&<>"'ü`},
			{name: "CDATA", body: strings.Replace(valid, "Jürgen", "<![CDATA[<Jürgen>]]>", 1), first: "<Jürgen>"},
			{name: "default namespace", body: strings.Replace(valid, "<RegisterUserRequest>", `<RegisterUserRequest xmlns="urn:hgsp">`, 1), first: "Jürgen"},
			{name: "empty optional element", body: strings.Replace(valid, "<Email>", "<RefID/><Email>", 1), first: "Jürgen"},
		} {
			t.Run(c.name, func(t *testing.T) {
				email := "accepted-" + string(rune('a'+i)) + "@example.com"
				body := strings.Replace(c.body, "hardening@example.com", email, 1)
				res := h.do(t, request{Method: http.MethodPost, Path: "/registeruserrequest", Key: h.secret, Body: body, ContentType: c.contentType})
				mustDoc[registerResponse](t, res, http.StatusCreated)
				if got := h.mustStored(t, email); got.FirstName != c.first || got.LastName != "Müller" {
					t.Errorf("stored %q %q", got.FirstName, got.LastName)
				}
			})
		}
	})
}

// TestXMLHardeningEveryRoute: the attacks on every route that reads XML,
// from the public key and the secret key.
func TestXMLHardeningEveryRoute(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		h.mustRegister(t, reg{Email: "target@example.com", State: "ACTIVE", Password: strongPw})
		token := h.mustLogin(t, "target@example.com", strongPw)
		docs := map[string]string{
			"/registeruserrequest":   reg{Email: "attacker@example.com", Password: strongPw}.String(),
			"/activationrequest":     doc("ActivationRequest", "Email", "target@example.com", "ActivationCode", "12345678"),
			"/passwordchangerequest": doc("PasswordChangeRequest", "OldPassword", strongPw, "NewPassword", "Geaendert-durch-Angriff-2030"),
			"/passwordresetrequest":  doc("PasswordResetRequest", "Email", "target@example.com", "ResetCode", "12345678", "NewPassword", "Geaendert-durch-Angriff-2030"),
		}
		before := h.counts(t)
		for path, good := range docs {
			root := good[1:strings.IndexByte(good, '>')]
			first := strings.IndexByte(good, '>') + 1
			child := good[first+1 : first+strings.IndexByte(good[first:], '>')]
			firstChild := good[first : strings.Index(good, "</"+child+">")+len(child)+3]
			attacks := map[string]string{
				"XXE":            `<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>` + good[:first] + "<Email>&xxe;</Email>" + good[first:],
				"billion laughs": billionLaughs + good[:first] + "<Email>&lol9;</Email>" + good[first:],
				"deep":           good[:first] + strings.Repeat("<a>", 10000),
				"truncated":      good[:len(good)-3],
				"wrong root":     "<User/>",
				"unknown":        good[:first] + "<HMGUserIDs>x</HMGUserIDs>" + good[first:],
				"duplicate":      good[:first] + firstChild + good[first:],
				"trailing":       good + "<" + root + "/>",
			}
			for name, body := range attacks {
				for _, key := range []string{h.public, h.secret} {
					r := request{Method: http.MethodPost, Path: path, Key: key, Body: body}
					if path == "/passwordchangerequest" {
						r.Key, r.Bearer = "", token
					}
					res := h.do(t, r)
					if res.Status != http.StatusBadRequest {
						t.Errorf("%s %s: %s", path, name, res)
					}
				}
			}
		}
		if after := h.counts(t); after != before {
			t.Errorf("refused documents stored something: %v, then %v", before, after)
		}
		h.mustLogin(t, "target@example.com", strongPw)
		if _, _, err := h.svc.Sessions.Lookup(t.Context(), 0, token); err != nil {
			t.Errorf("session ended: %v", err)
		}
	})
}
