package server

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"

	"pforte/internal/account"
	"pforte/internal/api/native"
	"pforte/internal/api/wire"
)

// TestOpenAPIRoutes: every route of the native API is in its OpenAPI
// document, and every operation of the document is routed.
func TestOpenAPIRoutes(t *testing.T) {
	rt := newRouter(http.NewServeMux())
	// The handlers are only built, never called: an empty service does.
	addNativeRoutes(rt, Deps{Service: &account.Service{}, Logger: slog.New(slog.DiscardHandler)}, wire.Clients{})
	var routed []string
	for _, path := range rt.paths {
		for _, method := range rt.methods[path] {
			routed = append(routed, method+" "+path)
		}
	}

	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(native.Document(), &doc); err != nil {
		t.Fatal(err)
	}
	var documented []string
	for path, item := range doc.Paths {
		for key := range item {
			switch key {
			case "get", "put", "post", "delete", "options", "head", "patch", "trace":
				documented = append(documented, strings.ToUpper(key)+" "+path)
			}
		}
	}

	for _, r := range routed {
		if !slices.Contains(documented, r) {
			t.Errorf("%s is routed but not in internal/api/native/openapi.json", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(routed, d) {
			t.Errorf("%s is in internal/api/native/openapi.json but not routed", d)
		}
	}
	if len(routed) == 0 {
		t.Error("no native routes")
	}
}
