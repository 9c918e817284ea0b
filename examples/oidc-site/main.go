// Command oidc-site is a small web site whose customers log in with
// pforte. See README.md for how to run it; the site itself is package
// site.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"pforte/examples/oidc-site/site"
)

func main() {
	cfg, addr, err := configure(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "oidc-site:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, addr); err != nil {
		fmt.Fprintln(os.Stderr, "oidc-site:", err)
		os.Exit(1)
	}
}

// configure reads the flags, each of which defaults to an environment
// variable, so that the secret need not appear on a command line.
func configure(args []string, getenv func(string) string, stderr io.Writer) (site.Config, string, error) {
	or := func(key, fallback string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return fallback
	}
	var cfg site.Config
	fs := flag.NewFlagSet("oidc-site", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Issuer, "issuer", or("OIDC_ISSUER", "http://127.0.0.1:8080/oidc/default"), "the pforte tenant's issuer URL (env OIDC_ISSUER)")
	fs.StringVar(&cfg.ClientID, "client-id", getenv("OIDC_CLIENT_ID"), "the application's client_id (env OIDC_CLIENT_ID)")
	fs.StringVar(&cfg.ClientSecret, "client-secret", getenv("OIDC_CLIENT_SECRET"), "the application's client_secret (env OIDC_CLIENT_SECRET, which keeps it out of ps)")
	addr := fs.String("addr", or("SITE_ADDR", "localhost:3000"), "address to listen on (env SITE_ADDR)")
	fs.StringVar(&cfg.BaseURL, "base-url", or("SITE_BASE_URL", "http://localhost:3000"), "where browsers reach this site; {base-url}/callback must be a redirect URI of the application (env SITE_BASE_URL)")
	if err := fs.Parse(args); err != nil {
		return site.Config{}, "", err
	}
	if fs.NArg() > 0 {
		return site.Config{}, "", fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return site.Config{}, "", errors.New("give -client-id and -client-secret (or OIDC_CLIENT_ID and OIDC_CLIENT_SECRET), as `pforte app create NAME --oidc confidential` printed them")
	}
	return cfg, *addr, nil
}

// run serves the site until ctx ends.
func run(ctx context.Context, cfg site.Config, addr string) error {
	discover, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	h, err := site.New(discover, cfg)
	if err != nil {
		return err
	}
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- srv.Shutdown(shutdown)
	}()
	slog.Info("serving", "addr", addr, "url", cfg.BaseURL, "issuer", cfg.Issuer)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return <-done
}
