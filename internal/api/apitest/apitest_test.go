package apitest

import (
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"pforte/internal/mail/mailtest"
)

// The checks of the harness must pass what is right and fail what is
// not: a check that cannot fail proves nothing. Each is run here against
// a fake test that records its failures.

// fakeT is a test that records failures; FailNow and Fatalf end the
// goroutine, as they do a test's.
type fakeT struct {
	testing.TB
	mu     sync.Mutex
	failed []string
}

func (f *fakeT) Helper() {}

func (f *fakeT) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failed = append(f.failed, fmt.Sprintf(format, args...))
}

func (f *fakeT) Fatalf(format string, args ...any) {
	f.Errorf(format, args...)
	runtime.Goexit()
}

func (f *fakeT) FailNow() {
	f.Errorf("FailNow")
	runtime.Goexit()
}

// failures runs check against a fake test and returns its failures.
func failures(check func(t testing.TB)) []string {
	f := &fakeT{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		check(f)
	}()
	<-done
	return f.failed
}

// mustPass and mustFail run check and want it to pass, or to fail.
func mustPass(t *testing.T, name string, check func(t testing.TB)) {
	t.Helper()
	if got := failures(check); len(got) != 0 {
		t.Errorf("%s failed: %q", name, got)
	}
}

func mustFail(t *testing.T, name string, check func(t testing.TB)) {
	t.Helper()
	if len(failures(check)) == 0 {
		t.Errorf("%s passed", name)
	}
}

// answer is a response with a request id in header and body.
func answer(status int, contentType, body string) *Response {
	h := http.Header{}
	h.Set("Content-Type", contentType)
	h.Set("X-Request-Id", "0123456789abcdef")
	return &Response{Method: http.MethodPost, Path: "/api/v1/x", Status: status, Header: h, Body: []byte(body)}
}

const problemBody = `{"type":"urn:pforte:problem:validation_failed","title":"Bad Request","status":400,` +
	`"detail":"the request is invalid","code":"validation_failed","request_id":"0123456789abcdef",` +
	`"errors":[{"field":"email","code":"invalid","message":"is not an address"}]}`

func TestAnswerChecks(t *testing.T) {
	ok := answer(http.StatusOK, "application/json", `{"status":"ok"}`)
	mustPass(t, "MustStatus", func(t testing.TB) { MustStatus(t, ok, http.StatusOK) })
	mustFail(t, "MustStatus of another status", func(t testing.TB) { MustStatus(t, ok, http.StatusCreated) })
	mustPass(t, "MustJSON", func(t testing.TB) { MustJSON[map[string]string](t, ok, http.StatusOK) })
	mustFail(t, "MustJSON of another type", func(t testing.TB) { MustJSON[map[string]int](t, ok, http.StatusOK) })
	mustFail(t, "MustJSON of XML", func(t testing.TB) {
		MustJSON[map[string]string](t, answer(http.StatusOK, "application/xml", `{}`), http.StatusOK)
	})
	mustFail(t, "MustJSON of an unknown field", func(t testing.TB) {
		MustJSON[struct{ Other string }](t, ok, http.StatusOK)
	})

	bad := answer(http.StatusBadRequest, "application/problem+json", problemBody)
	mustPass(t, "MustProblem", func(t testing.TB) { MustProblem(t, bad, http.StatusBadRequest, "validation_failed") })
	mustPass(t, "MustFieldError", func(t testing.TB) { MustFieldError(t, bad, "email", "invalid") })
	for name, check := range map[string]func(t testing.TB){
		"MustProblem of another code": func(t testing.TB) { MustProblem(t, bad, http.StatusBadRequest, "other") },
		"MustProblem of plain JSON": func(t testing.TB) {
			MustProblem(t, answer(400, "application/json", problemBody), 400, "validation_failed")
		},
		"MustProblem of no problem": func(t testing.TB) {
			MustProblem(t, answer(400, "application/problem+json", `{"x":1}`), 400, "validation_failed")
		},
		"MustProblem of a malformed one": func(t testing.TB) {
			MustProblem(t, answer(422, "application/problem+json", problemBody), 422, "validation_failed")
		},
		"MustFieldError of another field":  func(t testing.TB) { MustFieldError(t, bad, "password", "invalid") },
		"MustFieldError of another code":   func(t testing.TB) { MustFieldError(t, bad, "email", "required") },
		"CheckErrorDoc of another id":      func(t testing.TB) { otherID(t, bad) },
		"MustError of another error code":  func(t testing.TB) { MustError(t, bad, 400, "other", problemDoc, problemCodeOf) },
		"MustError of another status code": func(t testing.TB) { MustError(t, bad, 409, "validation_failed", problemDoc, problemCodeOf) },
	} {
		mustFail(t, name, check)
	}
	mustPass(t, "MustError", func(t testing.TB) { MustError(t, bad, 400, "validation_failed", problemDoc, problemCodeOf) })
}

func problemDoc(t testing.TB, r *Response) Problem {
	p, _ := CheckErrorDoc(t, r, func(p Problem) string { return p.RequestID })
	return p
}

func problemCodeOf(p Problem) string { return p.Code }

// otherID checks r for a document whose request id is not the answer's.
func otherID(t testing.TB, r *Response) {
	CheckErrorDoc(t, r, func(Problem) string { return "fedcba9876543210" })
}

func TestUniform(t *testing.T) {
	a := answer(http.StatusAccepted, "application/json", `{"status":"accepted","request_id":"aaaa"}`)
	b := answer(http.StatusAccepted, "application/json", `{"request_id":"bbbb", "status":"accepted"}`)
	b.Header.Set("X-Request-Id", "bbbb")
	b.Header.Set("Date", "Mon, 04 Mar 2030 05:06:07 GMT")
	mustPass(t, "MustSameAnswer", func(t testing.TB) { MustSameAnswer(t, a, b) })
	for name, other := range map[string]*Response{
		"status": answer(http.StatusOK, "application/json", `{"status":"accepted"}`),
		"header": answer(http.StatusAccepted, "application/json; charset=utf-8", `{"status":"accepted"}`),
		"body":   answer(http.StatusAccepted, "application/json", `{"status":"queued"}`),
		"XML":    answer(http.StatusAccepted, "application/json", `<status>accepted</status>`),
	} {
		mustFail(t, "MustSameAnswer of another "+name, func(t testing.TB) { MustSameAnswer(t, a, other) })
	}
}

func TestCheckNotCarried(t *testing.T) {
	const secret = "s3cr3t-token"
	h := &Harness{}
	h.Record(answer(http.StatusOK, "application/json", `{"token":"`+secret+`"}`))
	mustPass(t, "one body, allowed", func(t testing.TB) { h.CheckNotCarried(t, secret, 1) })
	mustPass(t, "no secret", func(t testing.TB) { h.CheckNotCarried(t, "", 0) })
	mustFail(t, "one body, none allowed", func(t testing.TB) { h.CheckNotCarried(t, secret, 0) })
	inHeader := answer(http.StatusSeeOther, "application/json", `{}`)
	inHeader.Header.Set("Location", "https://example.org/?token="+secret)
	h.Record(inHeader)
	mustFail(t, "a header", func(t testing.TB) { h.CheckNotCarried(t, secret, 1) })
	if got := h.Responses(); len(got) != 2 || got[1] != inHeader {
		t.Errorf("Responses = %v", got)
	}
}

func TestMail(t *testing.T) {
	const want = "https://a.example/x?t=1 http://b.example/y https://c.example"
	if got := Links("Hier: https://a.example/x?t=1 und <http://b.example/y>.\nhttps://c.example"); strings.Join(got, " ") != want {
		t.Errorf("Links = %q, want %s", got, want)
	}
	srv := mailtest.Start(t)
	m := mailtest.Message{To: []string{"Kim@Example.org"}}
	if n := len(MessagesTo([]mailtest.Message{m}, "kim@example.org")); n != 0 {
		t.Errorf("MessagesTo in another case: %d", n)
	}
	if n := len(MessagesToAnyCase([]mailtest.Message{m}, "kim@example.org")); n != 1 {
		t.Errorf("MessagesToAnyCase: %d", n)
	}
	if got := MustMailsTo(t, srv, "nobody@example.org", 0); len(got) != 0 {
		t.Errorf("MustMailsTo of none: %v", got)
	}
	clk := NewClock()
	clk.Advance(time.Minute)
	if got := clk.Now(); !got.Equal(Start.Add(time.Minute)) {
		t.Errorf("Clock = %v", got)
	}
}
