package cli

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"
)

// healthcheck GETs /healthz and fails unless it answers 200: the health
// check of a container image that has no shell and no curl.
func (e env) healthcheck(args []string) error {
	fs := e.flags("healthcheck")
	addr := fs.string("addr", defaultServeConfig().Addr, "address the server listens on; a wildcard host is asked on loopback")
	url := fs.string("url", "", "URL to GET instead, e.g. http://127.0.0.1:8080/healthz")
	if done, err := fs.parse(args); done {
		return err
	}
	if len(fs.args) > 0 {
		return fmt.Errorf("%w: unexpected argument %q", ErrUsage, fs.args[0])
	}
	target := *url
	if target == "" {
		host, port, err := net.SplitHostPort(*addr)
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrUsage, flagRef("addr"), err)
		}
		if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
			host = "127.0.0.1"
		}
		target = "http://" + net.JoinHostPort(host, port) + "/healthz"
	}
	ctx, cancel := context.WithTimeout(e.ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return fmt.Errorf("%w: --url: %v", ErrUsage, err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("unhealthy: %w", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("unhealthy: %s answered %s", target, res.Status)
	}
	fmt.Fprintln(e.stdout, "healthy")
	return nil
}
