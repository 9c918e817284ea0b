package sqlite_test

import (
	"path/filepath"
	"testing"

	"pforte/internal/account"
	"pforte/internal/store/sqlite"
	"pforte/internal/store/storetest"
)

// TestConformance runs the store suite, each subtest on a new database file.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) account.Store {
		s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "pforte.db"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		return s
	})
}
