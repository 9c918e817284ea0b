package cli

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"pforte/internal/account"
)

// TestTenantSetValidatesRegisteredSettings registers a setting the way an
// API package does and shows that pforte tenant set validates it through
// the same registry and tenant list shows it.
func TestTenantSetValidatesRegisteredSettings(t *testing.T) {
	account.RegisterSettings(account.SettingSpec{Key: "throwaway.mode", Type: account.SettingEnum,
		Values: []string{"fast", "slow"}, Default: "fast", Doc: "a setting only this test registers"})
	db := "sqlite:" + filepath.Join(t.TempDir(), "pforte.db")
	mustRun(t, "migrate", "--db", db)

	var stderr strings.Builder
	err := Run(context.Background(), []string{"tenant", "set", "default", "throwaway.mode=medium", "--db", db}, noEnv, io.Discard, &stderr)
	if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "throwaway.mode: must be one of fast, slow") {
		t.Fatalf("tenant set with a value the registered setting refuses: %v", err)
	}
	if list := mustRun(t, "tenant", "list", "--db", db); !regexp.MustCompile(`(?m)^default .*throwaway\.mode=fast`).MatchString(list) {
		t.Fatalf("tenant list does not show the registered default:\n%s", list)
	}
	mustRun(t, "tenant", "set", "default", "throwaway.mode=slow", "--db", db)
	if list := mustRun(t, "tenant", "list", "--db", db); !regexp.MustCompile(`(?m)^default .*throwaway\.mode=slow`).MatchString(list) {
		t.Fatalf("tenant list after tenant set:\n%s", list)
	}
	// The API packages' own settings come through the same registry.
	err = Run(context.Background(), []string{"tenant", "set", "default", "gradido.allow_cors_all=maybe", "--db", db}, noEnv, io.Discard, &stderr)
	if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "must be one of true, false") {
		t.Fatalf("tenant set with a bad Gradido setting: %v", err)
	}
}
