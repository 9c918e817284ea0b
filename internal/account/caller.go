package account

import (
	"net/url"
	"strconv"
	"strings"
)

// Link actions, as Betterez's request endpoints receive them; a Policy's
// Links function gets one of these.
const (
	ActionConfirm  = "confirm"
	ActionReset    = "resetPwd"
	ActionActivate = "activate"
)

// DefaultLink is the link the tenant's URLs give for an action: the
// caller's application, else the tenant's settings; empty without either.
// A dialect's Links function may fall back to it.
func (c Caller) DefaultLink(action, token string, customerID int64) string {
	return c.link(action, token, customerID)
}

// mailLink is the link of a mail: the API's, else the one the caller's
// application or tenant configures, else the service's default (the
// hosted pages); without a link, shown is the token the mail shows
// instead.
func (s *core) mailLink(c Caller, l Link) (link, shown string) {
	if c.Policy.Links != nil {
		return c.Policy.Links(c, l)
	}
	return s.link(c, l.Action, l.Token, l.Customer.ID), l.Token
}

// link is the caller's link for an action, else the service's default.
func (s *core) link(c Caller, action, token string, customerID int64) string {
	if l := c.link(action, token, customerID); l != "" {
		return l
	}
	if tmpl := s.cfg.DefaultLinks[action]; tmpl != "" {
		link := expandLink(tmpl, token, c.Tenant.Slug, customerID)
		// The pages take the application from {app}; without one the
		// parameter is left out.
		if c.App != nil {
			return strings.ReplaceAll(link, "{app}", url.QueryEscape(c.App.Name))
		}
		return strings.ReplaceAll(strings.ReplaceAll(link, "&app={app}", ""), "{app}", "")
	}
	return ""
}

// opensSession reports whether flows open a session for this caller.
func (c Caller) opensSession() bool { return c.Policy.Sessions == SessionsOpened }

// revealsUnknownEmail reports whether an unknown address may be named as such.
func (c Caller) revealsUnknownEmail() bool {
	return c.Policy.RevealsUnknownEmail != nil && c.Policy.RevealsUnknownEmail(c.Tenant)
}

// sendsMail: pforte mails tokens in mail and both delivery.
func (c Caller) sendsMail() bool {
	d := c.Delivery()
	return d == DeliveryMail || d == DeliveryBoth
}

// Delivery is the caller's delivery mode: its application's, else its
// tenant's.
func (c Caller) Delivery() Delivery {
	if c.App != nil && c.App.Delivery != "" {
		return c.App.Delivery
	}
	return c.Tenant.Delivery()
}

// link builds the URL a mail leads to, only from configured URLs: the
// caller's application, else the tenant's settings. A link template wins
// over the request endpoint. Without either, there is no link and the mail
// shows the token to enter on the site.
func (c Caller) link(action, token string, customerID int64) string {
	var tmpl, endpoint string
	pick := func(confirm, reset, invite string) string {
		return map[string]string{ActionConfirm: confirm, ActionReset: reset, ActionActivate: invite}[action]
	}
	if c.App != nil {
		tmpl, endpoint = pick(c.App.ConfirmURL, c.App.ResetURL, c.App.InviteURL), c.App.Endpoint
	}
	if tmpl == "" && endpoint == "" {
		t := c.Tenant
		tmpl = pick(t.Setting("confirm_url"), t.Setting("reset_url"), t.Setting("invite_url"))
		endpoint = t.Setting("endpoint")
	}
	id := strconv.FormatInt(customerID, 10)
	switch {
	case tmpl != "":
		return expandLink(tmpl, token, c.Tenant.Slug, customerID)
	case endpoint != "":
		// The order of Betterez's example, which url.Values would sort away.
		sep := "?"
		if strings.Contains(endpoint, "?") {
			sep = "&"
		}
		return endpoint + sep + "accountId=" + url.QueryEscape(c.Tenant.Slug) + "&customerId=" + id +
			"&token=" + url.QueryEscape(token) + "&action=" + action
	}
	return ""
}

// expandLink fills a link template's {token}, {customerId} and
// {accountId} (the tenant's slug).
func expandLink(tmpl, token, slug string, customerID int64) string {
	return strings.NewReplacer("{token}", url.PathEscape(token), "{customerId}", strconv.FormatInt(customerID, 10),
		"{accountId}", url.PathEscape(slug)).Replace(tmpl)
}

// Caller is who makes a request: the tenant, the kind of key it used, the
// application it named, if any, and the policy of the API it came through.
type Caller struct {
	Tenant Tenant
	Key    KeyKind      // empty when the tenant was not resolved through a key
	KeyID  int64        // the key's id, for the audit log; 0 without one
	App    *Application // the application named by the request; nil: the tenant's defaults
	Policy Policy       // how the API the request came through behaves
	// CommandLine: the caller is the pforte command, which acts with a
	// secret key's rights; the audit log names it ActorCLI.
	CommandLine bool
}

// Policy is how an API behaves where vendors differ. Each API package
// declares its policy once, and sets it on every caller it resolves; the
// zero value is the native API's.
type Policy struct {
	// Tokens says which callers receive one-time tokens in answers.
	Tokens TokenPolicy
	// Sessions says whether flows that prove the customer (confirmation,
	// reset, activation, login) open a session.
	Sessions SessionPolicy
	// RevealsUnknownEmail, when set and true for the tenant, makes a
	// password reset request for an address without a customer fail with
	// email_unknown, as some vendors answer. It lets anyone find out which
	// addresses have accounts, so a tenant must opt in.
	RevealsUnknownEmail func(Tenant) bool
	// SelfRegistration: every registration through the API is the
	// customer's own, whatever the key; a secret key only names the
	// tenant, and the answer never tells whether the address had an
	// account.
	SelfRegistration bool
	// Channel names the API for opt-in proofs: "pages", a dialect's name;
	// empty is the native API.
	Channel string
	// Links, when set, builds the links of mail instead of the tenant's
	// URLs: for APIs whose links lead to their own endpoints or carry the
	// token in another form.
	Links LinkFunc
}

// TokenPolicy says which callers receive one-time tokens in answers.
type TokenPolicy int

const (
	// TokensByDelivery: secret-key callers receive tokens when the
	// delivery setting says return or both.
	TokensByDelivery TokenPolicy = iota
	// TokensAlways: secret-key callers always receive tokens, for APIs
	// whose vendor hands every token to the site, which sends its own mail.
	TokensAlways
	// TokensNever: no answer carries a token; pforte mails every link.
	TokensNever
)

// SessionPolicy says whether flows open sessions.
type SessionPolicy int

const (
	// SessionsOpened: logins, confirmations, resets and activations open
	// a session and return its token.
	SessionsOpened SessionPolicy = iota
	// SessionsNone: the API's vendor logs nobody in (the site keeps its
	// own sessions), so no flow opens a session nobody would hold.
	SessionsNone
)

// LinkFunc builds the link of a mail for a caller. It returns the link
// and, for a mail without one, what the mail shows instead of the token
// (the form the API takes).
type LinkFunc func(c Caller, l Link) (link, shown string)

// Link is what a mail's link is made of.
type Link struct {
	Action   string // one of the Action constants
	Token    string
	Customer Customer
	// Username is the username the flow's request asked for (a
	// registration's, which the customer takes only at confirmation);
	// empty for other flows.
	Username string
}

// Setting is the value of a tenant setting for this caller: its
// application's override, if the request named one that has it, else the
// tenant's.
func (c Caller) Setting(key string) string {
	if c.App != nil {
		if v, ok := c.App.Settings[key]; ok {
			return v
		}
	}
	return c.Tenant.Setting(key)
}

// IsSecret reports whether the caller used a secret key.
func (c Caller) IsSecret() bool { return c.Key == KeySecret }

// receivesTokens: tokens go back only to servers (secret keys) of tenants
// whose sites send their own mail. A browser never sees one.
func (c Caller) receivesTokens() bool {
	d := c.Delivery()
	switch c.Policy.Tokens {
	case TokensNever:
		return false
	case TokensAlways:
		return c.IsSecret()
	}
	return c.IsSecret() && (d == DeliveryReturn || d == DeliveryBoth)
}

func (c Caller) requireSecret() error {
	if !c.IsSecret() {
		return ErrSecretKeyRequired
	}
	return nil
}

// delivers reports whether a token issued for this caller reaches anyone:
// it comes back to callers that receive tokens, and (with the outbox) goes
// out by mail. A token nobody receives would only replace one the site had
// mailed itself.
func (c Caller) delivers() bool { return c.receivesTokens() || c.sendsMail() }
