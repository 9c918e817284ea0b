package native

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"
)

// openAPI is the OpenAPI 3.1 document of this API. The tests check it
// against the routes and validate every exchange of the suite with it.
//
//go:embed openapi.json
var openAPI []byte

// openAPIETag lets clients revalidate the document instead of fetching it
// again; it changes only with the binary.
var openAPIETag = func() string {
	sum := sha256.Sum256(openAPI)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}()

// Document returns the OpenAPI document of the native API.
func Document() []byte { return slices.Clone(openAPI) }

// OpenAPI serves GET /api/v1/openapi.json. It needs no key: the document
// holds nothing secret. Unlike every other answer of the API it may be
// stored, with revalidation.
func (a *API) OpenAPI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("ETag", openAPIETag)
		if etagMatches(r.Header.Get("If-None-Match"), openAPIETag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(openAPI)
	})
}

// etagMatches is If-None-Match's weak comparison (RFC 9110, 13.1.2).
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}
