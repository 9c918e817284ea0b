package webhook_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"pforte/internal/webhook"
)

// verifyWebhook is the check docs/webhooks.md shows sites, kept here
// word for word so that a test runs it.
func verifyWebhook(secret string, h http.Header, body []byte, now time.Time) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	ts, err := strconv.ParseInt(h.Get("webhook-timestamp"), 10, 64)
	if err != nil || now.Sub(time.Unix(ts, 0)).Abs() > 5*time.Minute {
		return errors.New("webhook: stale or missing timestamp")
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.%s", h.Get("webhook-id"), ts, body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return nil
		}
	}
	return errors.New("webhook: bad signature")
}

// TestDocumentedVerification: the documented check accepts what the
// sender signs and refuses a changed body; the document holds it as
// written here.
func TestDocumentedVerification(t *testing.T) {
	doc, err := os.ReadFile("../../docs/webhooks.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	fn := string(src)[strings.Index(string(src), "func verifyWebhook"):]
	fn = fn[:strings.Index(fn, "\n}\n")+3]
	if !strings.Contains(string(doc), fn) {
		t.Errorf("docs/webhooks.md does not hold verifyWebhook as example_test.go has it:\n%s", fn)
	}
	key := []byte("0123456789abcdef01234567")
	secret := "whsec_" + base64.StdEncoding.EncodeToString(key)
	body := []byte(`{"type":"customer.confirmed"}`)
	now := time.Now()
	h := http.Header{}
	h.Set("webhook-id", "msg_1")
	h.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	h.Set("webhook-signature", "v1,bm90IGl0 "+webhook.Sign(key, "msg_1", now, body))
	if err := verifyWebhook(secret, h, body, now); err != nil {
		t.Errorf("the documented check refuses a signed message: %v", err)
	}
	if err := verifyWebhook(secret, h, []byte(`{"type":"customer.deleted"}`), now); err == nil {
		t.Error("the documented check accepts a changed body")
	}
	if err := webhook.Verify(secret, h, body, now); err != nil {
		t.Errorf("Verify: %v", err)
	}
}
