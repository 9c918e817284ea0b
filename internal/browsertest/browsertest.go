// Package browsertest starts headless Chromium for the browser tests of
// the hosted pages and of the OpenID Connect provider: one browser per
// test function, and tabs of it, each in a browser context (cookies) of
// its own. Only tests import it.
package browsertest

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// ChromiumPath is Debian's Chromium, which .ci/run installs.
const ChromiumPath = "/usr/bin/chromium"

// TabTimeout bounds a tab, so that a page that never comes fails the
// test instead of hanging it. No test measures time.
const TabTimeout = 3 * time.Minute

// InCI reports whether the tests run in CI, where nothing may be skipped
// for want of a browser or of anything else a browser test needs.
func InCI() bool { return os.Getenv("CI") == "true" }

// SkipOrFail skips the test, or fails it in CI.
func SkipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if InCI() {
		t.Fatalf("CI=true: "+format, args...)
	}
	t.Skipf(format, args...)
}

// Start starts headless Chromium for one test function, with a fresh
// profile folder that is removed after the browser has exited, and with
// opts after its own (e.g. chromedp.Flag("accept-lang", "en")). It
// returns the browser's context; tabs are children of it. Without
// Chromium the test is skipped, or fails in CI.
func Start(t testing.TB, opts ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	if _, err := os.Stat(ChromiumPath); err != nil {
		SkipOrFail(t, "browser tests need Chromium at %s (apt-get install chromium): %v", ChromiumPath, err)
	}
	// The profile, and the temporary files Chromium would otherwise
	// leave in /tmp, go into one folder of the test's.
	dir, err := os.MkdirTemp("", "pforte-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	profile, tmp := filepath.Join(dir, "profile"), filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	opts = append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(ChromiumPath),
		chromedp.UserDataDir(profile),
		chromedp.Env("TMPDIR=" + tmp),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.WindowSize(1000, 1000),
	}, opts...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelBrowser() // closes the browser
		cancelAlloc()   // and waits until its process has exited
		removeProfile(t, dir)
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return ctx
}

// removeProfile removes the browser's profile folder. Chromium's helper
// processes may still write into it for a moment after the browser has
// exited, so a failed removal is tried again for a while.
func removeProfile(t testing.TB, dir string) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := os.RemoveAll(dir)
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("removing the browser profile %s: %v", dir, err)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// NewTab opens a tab of browser in a new browser context, and returns
// its context with the deadline TabTimeout. The tab closes when the test
// ends.
func NewTab(t testing.TB, browser context.Context) context.Context {
	t.Helper()
	tab, cancelTab := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancelTab)
	if err := chromedp.Do(tab); err != nil { // opens the tab
		t.Fatalf("opening a tab: %v", err)
	}
	ctx, cancel := context.WithTimeout(tab, TabTimeout)
	t.Cleanup(cancel)
	return ctx
}
