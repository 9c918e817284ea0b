package native_test

import (
	"bytes"
	"net/http"
	"testing"

	"pforte/internal/api/apitest"
	"pforte/internal/api/native"
	"pforte/internal/store/teststore"
)

// TestOpenAPIDocument: the document is valid OpenAPI, served without a
// key as JSON, and revalidated with its ETag.
func TestOpenAPIDocument(t *testing.T) {
	oa, err := apitest.LoadOpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	if !oa.Doc.IsOpenAPI31OrLater() {
		t.Errorf("openapi %s, want 3.1", oa.Doc.OpenAPI)
	}
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		res := h.Get(t, "", "/api/v1/openapi.json")
		apitest.MustStatus(t, res, http.StatusOK)
		if ct := res.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		if !bytes.Equal(res.Body, native.Document()) {
			t.Error("the served document is not the embedded one")
		}
		etag := res.Header.Get("ETag")
		if etag == "" || res.Header.Get("Cache-Control") != "no-cache" {
			t.Fatalf("ETag %q, Cache-Control %q", etag, res.Header.Get("Cache-Control"))
		}
		for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
			again := h.Do(t, request{Method: http.MethodGet, Path: "/api/v1/openapi.json", Header: http.Header{"If-None-Match": {inm}}})
			if again.Status != http.StatusNotModified || len(again.Body) != 0 {
				t.Errorf("If-None-Match %s: %s, want 304", inm, again)
			}
		}
		other := h.Do(t, request{Method: http.MethodGet, Path: "/api/v1/openapi.json", Header: http.Header{"If-None-Match": {`"other"`}}})
		apitest.MustStatus(t, other, http.StatusOK)
	})
}
