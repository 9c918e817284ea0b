package pages_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"

	"pforte/internal/api/apitest"
	"pforte/internal/browsertest"
	"pforte/internal/store/teststore"
)

var screenshots = flag.Bool("screenshots", false, "write screenshots of the German register, confirm and account pages to docs/screenshots (also PFORTE_SCREENSHOTS=1)")

// screenshotDir is docs/screenshots, from this package's folder.
const screenshotDir = "../../docs/screenshots"

// TestScreenshots writes PNG screenshots of the German register, confirm
// and account pages to docs/screenshots, only when asked:
//
//	go test ./internal/pages -run TestScreenshots -screenshots
func TestScreenshots(t *testing.T) {
	if !*screenshots && os.Getenv("PFORTE_SCREENSHOTS") != "1" {
		t.Skip("writes docs/screenshots only when asked: go test ./internal/pages -run TestScreenshots -screenshots")
	}
	browser := startBrowser(t)
	e := newEnv(t, browser, teststore.SQLite, apitest.WithSetting("pages.display_name", "Beispiel-Shop"))
	e.ctx = browsertest.NewTab(t, browser)
	if err := chromedp.Do(e.ctx, chromedp.EmulateViewport(720, 900)); err != nil {
		t.Fatal(err)
	}
	shoot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(e.ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot of %s: %v", name, err)
		}
		path := filepath.Join(screenshotDir, name+".png")
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", path)
	}
	const addr = "erika@example.com"

	e.open(e.page("register"))
	e.expectPage(nil, 0, "/p/default/register", "Konto anlegen")
	shoot("register")
	e.choose("salutation", "ms")
	e.fill("first_name", "Erika")
	e.fill("last_name", "Mustermann")
	e.register(addr, firstPassword)
	link := e.linkIn(e.mailTo(addr, confirmMailDE), "confirm")
	e.open(link)
	e.expectPage(nil, 0, link, "E-Mail-Adresse bestätigen")
	shoot("confirm")
	e.press("main form button")
	e.expectPage(nil, 0, "/p/default/account?done=confirmed", accountDE)
	shoot("account")
}
