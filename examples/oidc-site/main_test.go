package main

import (
	"io"
	"strings"
	"testing"
)

// TestConfigure: flags win over the environment, which wins over the
// defaults; the client's id and secret are required.
func TestConfigure(t *testing.T) {
	env := map[string]string{"OIDC_CLIENT_ID": "pfc_env", "OIDC_CLIENT_SECRET": "from-env", "SITE_ADDR": "127.0.0.1:4000"}
	cfg, addr, err := configure([]string{"-client-id", "pfc_flag", "-base-url", "https://shop.example"},
		func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ClientID != "pfc_flag" || cfg.ClientSecret != "from-env" || addr != "127.0.0.1:4000" ||
		cfg.BaseURL != "https://shop.example" || cfg.Issuer != "http://127.0.0.1:8080/oidc/default" {
		t.Errorf("configure: %+v, %s", cfg, addr)
	}
	_, _, err = configure(nil, func(string) string { return "" }, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "client-secret") {
		t.Errorf("without a client: %v", err)
	}
}
