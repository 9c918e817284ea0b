package internal_test

import (
	"go/build"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// mayImport lists, for each package (a trailing /... covers the folder),
// the packages of this module it may import; docs/architecture.md draws
// the same map. Test files are not held to it.
var mayImport = map[string][]string{
	"password":             {"password/argon2"},
	"password/argon2":      {},
	"account":              {"password"},
	"customerfile":         {"account"},
	"api/wire":             {"account"},
	"api/native":           {"account", "api/wire", "customerfile"},
	"api/api2auth":         {"account", "api/wire"},
	"api/betterez":         {"account", "api/wire"},
	"api/gradido":          {"account", "api/wire"},
	"api/hgsp":             {"account", "api/wire"},
	"api/propstack":        {"account", "api/wire"},
	"api/apitest":          {"account", "api/native", "api/wire", "mail", "mail/mailtest", "password", "redislimit", "server", "store/teststore"},
	"bench":                {"password"},
	"browsertest":          {},
	"mail":                 {"account", "relay"},
	"mail/mailtest":        {},
	"webhook":              {"account", "relay"},
	"relay":                {},
	"metrics":              {"password"},
	"server":               {"account", "api/...", "oidc", "pages"},
	"pages":                {"account", "api/wire"},
	"redislimit":           {"api/wire"},
	"redislimit/redistest": {},
	"oidc":                 {"account", "api/wire", "pages"},
	"store/migration":      {},
	"store/sqlite":         {"account", "store/migration"},
	"store/postgres":       {"account", "store/migration"},
	"store/storetest":      {"account"},
	"store/teststore":      {"account", "store/sqlite", "store/postgres"},
	"cli":                  {"account", "api/wire", "bench", "customerfile", "mail", "metrics", "oidc", "pages", "password", "redislimit", "server", "store/sqlite", "store/postgres", "webhook"},
}

func TestImports(t *testing.T) {
	seen := map[string]bool{}
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() || path == "." || strings.Contains(path, "testdata") || strings.Contains(path, "templates") {
			return err
		}
		pkg, err := build.ImportDir(path, 0)
		if _, ok := err.(*build.NoGoError); ok {
			return nil
		} else if err != nil {
			return err
		}
		name := filepath.ToSlash(path)
		allowed, ok := mayImport[name]
		if !ok {
			t.Errorf("package %s is not on the map: add it here and to docs/architecture.md", name)
			return nil
		}
		seen[name] = true
		for _, imp := range pkg.Imports {
			dep, ours := strings.CutPrefix(imp, "pforte/internal/")
			if ours && !permitted(dep, allowed) {
				t.Errorf("%s imports %s, which the map does not allow", name, dep)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name := range mayImport {
		if !seen[name] {
			t.Errorf("the map names %s, which is no package", name)
		}
	}
}

func permitted(dep string, allowed []string) bool {
	for _, a := range allowed {
		if a == dep || strings.HasSuffix(a, "/...") && strings.HasPrefix(dep, strings.TrimSuffix(a, "...")) {
			return true
		}
	}
	return false
}
