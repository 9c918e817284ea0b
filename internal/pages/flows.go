package pages

import (
	"errors"
	"net/http"
	"net/url"

	"pforte/internal/account"
)

// notices are what a page says after a flow sent the browser to it
// (?done=).
var notices = map[string]string{
	"confirmed": "account.confirmed",
	"activated": "account.activated",
	"reset":     "account.reset",
	"logout":    "logout.done",
}

// finish ends a flow that proved the customer: the new page session
// replaces the old one, and the browser goes on to the return URL asked
// for, else the tenant's first, else the account page.
func (p *Pages) finish(w http.ResponseWriter, q *request, sess account.NewSession, done string) {
	p.startSession(w, q, sess)
	if p.continueAuthorization(w, q, sess.Session) {
		return
	}
	returnTo := q.PostForm.Get("return_to")
	if !allowedReturn(q.c, returnTo) {
		returnTo = defaultReturn(q.c)
	}
	page := "account"
	if done != "" {
		page += "?done=" + done
	}
	redirect(w, q, returnTo, page)
}

// keepReturn carries a configured return URL from the page's query (GET)
// or form (POST) into its form.
func keepReturn(q *request, v *view) {
	u := q.URL.Query().Get("return_to")
	if q.Method == http.MethodPost {
		u = q.PostForm.Get("return_to")
	}
	if allowedReturn(q.c, u) {
		v.ReturnTo = u
	}
}

// Register serves the register page: GET shows the form, POST registers.
// Whether or not the address has an account, the answer is the same
// "check your mailbox" page, as the public API's.
func (p *Pages) Register() http.Handler {
	return p.page(func(w http.ResponseWriter, q *request) error {
		v := p.view(q, "register.title")
		shown, err := p.registerConsent(q)
		if err != nil {
			return err
		}
		v.Consent = shown.Text
		keepReturn(q, v)
		if q.Method != http.MethodPost {
			query := q.URL.Query()
			if id := query.Get("partnerId"); partnerAllowed(q.c, id) {
				v.PartnerID = id
			}
			v.salutations("")
			p.render(w, http.StatusOK, "register", v)
			return nil
		}
		f := q.PostForm
		for _, k := range []string{"email", "first_name", "last_name"} {
			v.Form[k] = f.Get(k)
		}
		v.PartnerID = f.Get("partner_id")
		v.salutations(f.Get("salutation"))
		if v.PartnerID != "" && !partnerAllowed(q.c, v.PartnerID) {
			v.Errors = append(v.Errors, errorItem{Message: q.loc.T("field.partner")})
		}
		if v.Consent != "" && f.Get("consent") != "yes" {
			v.addFieldError("consent", "consent")
		}
		if len(v.Errors) > 0 {
			p.render(w, http.StatusBadRequest, "register", v)
			return nil
		}
		confirmation := f.Get("password_confirmation")
		var accepted *account.Consent
		if shown.Text != "" {
			accepted = &shown
		}
		_, err = p.svc.Registrations.Register(q.Context(), q.c, account.Registration{Email: f.Get("email"), Password: f.Get("password"),
			PasswordConfirmation: &confirmation, AcceptLanguage: q.Header.Get("Accept-Language"), Consent: accepted,
			Profile: account.Profile{Salutation: f.Get("salutation"), FirstName: f.Get("first_name"), LastName: f.Get("last_name"),
				Locale: q.loc.Lang, PartnerRef: v.PartnerID}})
		if err != nil {
			if v.showError(err, nil) {
				p.render(w, http.StatusBadRequest, "register", v)
				return nil
			}
			return err
		}
		v.Title, v.Message = q.loc.T("checkmail.title"), q.loc.T("checkmail.register")
		p.render(w, http.StatusOK, "checkmail", v)
		return nil
	})
}

// Confirm serves the target of confirmation links. A GET (or HEAD) only
// shows a page with one button, so that mail scanners and link previews
// that fetch the link spend nothing; the POST of the button confirms and
// logs the customer in. A customer without a password (a resent link)
// chooses one on the same page.
func (p *Pages) Confirm() http.Handler {
	return p.page(func(w http.ResponseWriter, q *request) error {
		v := p.view(q, "confirm.title")
		keepReturn(q, v)
		if q.Method != http.MethodPost {
			return p.showTokenForm(w, q, v, "confirm", account.PurposeConfirm)
		}
		v.Token = q.PostForm.Get("token")
		pw := q.PostForm.Get("password")
		if pw != "" && pw != q.PostForm.Get("password_confirmation") {
			v.AskPassword = true
			v.addFieldError("password_confirmation", "mismatch")
			p.render(w, http.StatusBadRequest, "confirm", v)
			return nil
		}
		_, sess, err := p.svc.Registrations.Confirm(q.Context(), q.c, v.Token, pw)
		if err != nil {
			return p.tokenFailed(w, q, v, "confirm", err, true)
		}
		p.finish(w, q, sess, "confirmed")
		return nil
	})
}

// showTokenForm shows a link's page for the token of the query, with the
// address it is for and the password fields only where they are needed,
// or says the link is dead. It spends nothing.
func (p *Pages) showTokenForm(w http.ResponseWriter, q *request, v *view, page string, purpose account.Purpose) error {
	v.Token = q.URL.Query().Get("token")
	cust, needsPassword, err := p.svc.Registrations.LinkHolder(q.Context(), q.c, purpose, v.Token)
	if errors.Is(err, account.ErrTokenInvalid) {
		v.Message = q.loc.T("error.token_invalid")
		p.render(w, http.StatusBadRequest, "message", v)
		return nil
	} else if err != nil {
		return err
	}
	v.Customer, v.AskPassword = cust, needsPassword
	p.render(w, http.StatusOK, page, v)
	return nil
}

// tokenFailed answers a refused link: a password the customer must give
// or fix shows the form again (the token is still unspent); a dead token
// says so.
func (p *Pages) tokenFailed(w http.ResponseWriter, q *request, v *view, page string, err error, askPassword bool) error {
	var e *account.Error
	if errors.As(err, &e) && e.Code == account.CodeTokenInvalid {
		v.Message = q.loc.T("error.token_invalid")
		p.render(w, http.StatusBadRequest, "message", v)
		return nil
	}
	if !v.showError(err, nil) {
		return err
	}
	v.AskPassword = askPassword
	p.render(w, http.StatusBadRequest, page, v)
	return nil
}

// Activate serves the target of invitation links: GET shows the form, POST
// activates with a new password, or with the one the customer has.
func (p *Pages) Activate() http.Handler {
	return p.page(func(w http.ResponseWriter, q *request) error {
		v := p.view(q, "activate.title")
		keepReturn(q, v)
		if q.Method != http.MethodPost {
			return p.showTokenForm(w, q, v, "activate", account.PurposeInvite)
		}
		v.Token = q.PostForm.Get("token")
		confirmation := q.PostForm.Get("password_confirmation")
		_, sess, err := p.svc.Invitations.Accept(q.Context(), q.c, v.Token, q.PostForm.Get("password"), &confirmation)
		if err != nil {
			return p.tokenFailed(w, q, v, "activate", err, true)
		}
		p.finish(w, q, sess, "activated")
		return nil
	})
}

// ActivateByCode serves activation with the address and the 8-digit code
// of the invitation mail. Unknown addresses and wrong codes get the same
// answer.
func (p *Pages) ActivateByCode() http.Handler {
	return p.page(func(w http.ResponseWriter, q *request) error {
		v := p.view(q, "activate.title")
		v.ByCode = true
		keepReturn(q, v)
		if q.Method != http.MethodPost {
			p.render(w, http.StatusOK, "activate", v)
			return nil
		}
		f := q.PostForm
		v.Form["email"], v.Form["code"] = f.Get("email"), f.Get("code")
		confirmation := f.Get("password_confirmation")
		_, sess, err := p.svc.Invitations.AcceptCode(q.Context(), q.c, f.Get("email"), f.Get("code"), f.Get("password"), &confirmation)
		if err != nil {
			if !v.showError(err, nil) {
				return err
			}
			p.render(w, http.StatusBadRequest, "activate", v)
			return nil
		}
		p.finish(w, q, sess, "activated")
		return nil
	})
}

// Login serves the login page.
func (p *Pages) Login() http.Handler {
	return p.page(func(w http.ResponseWriter, q *request) error {
		if q.authz == nil {
			http.SetCookie(w, clearAuthzCookie()) // a login of its own: no client's
		} else if q.Method != http.MethodPost && p.authorizeWithSession(w, q) {
			return nil
		}
		v := p.view(q, "login.title")
		keepReturn(q, v)
		v.CanRemember = q.c.Tenant.RememberMaxAge() > 0
		if q.Method != http.MethodPost {
			if key, ok := notices[q.URL.Query().Get("done")]; ok {
				v.Notice = q.loc.T(key)
			}
			if q.authz != nil {
				v.Form["email"] = q.authz.Request.LoginHint
			}
			p.render(w, http.StatusOK, "login", v)
			return nil
		}
		v.Form["email"] = q.PostForm.Get("email")
		remember := v.CanRemember && q.PostForm.Get("remember") == "yes"
		if remember {
			v.Form["remember"] = "yes"
		}
		_, sess, err := p.svc.Sessions.LoginWith(q.Context(), q.c, q.PostForm.Get("email"), q.PostForm.Get("password"),
			account.LoginOptions{Remember: remember})
		if err != nil {
			if !v.showError(err, nil) {
				return err
			}
			p.render(w, http.StatusBadRequest, "login", v)
			return nil
		}
		p.finish(w, q, sess, "")
		return nil
	})
}

// Logout ends the page session.
func (p *Pages) Logout() http.Handler {
	return p.page(func(w http.ResponseWriter, q *request) error {
		if q.session != "" {
			if err := p.svc.Sessions.Logout(q.Context(), q.c.Tenant.ID, q.session); err != nil && !account.IsKind(err, account.KindUnauthorized) {
				return err
			}
		}
		endSession(w, q)
		http.Redirect(w, q.Request, pageURL(q, "login", url.Values{"done": {"logout"}}), http.StatusSeeOther)
		return nil
	})
}

// Forgot serves the forgotten-password page: the same answer whether or
// not the address has an account.
func (p *Pages) Forgot() http.Handler {
	return p.page(func(w http.ResponseWriter, q *request) error {
		v := p.view(q, "forgot.title")
		if q.Method != http.MethodPost {
			p.render(w, http.StatusOK, "forgot", v)
			return nil
		}
		v.Form["email"] = q.PostForm.Get("email")
		if _, err := p.svc.Recovery.Request(q.Context(), q.c, q.PostForm.Get("email")); err != nil {
			if !v.showError(err, nil) {
				return err
			}
			p.render(w, http.StatusBadRequest, "forgot", v)
			return nil
		}
		v.Title, v.Message = q.loc.T("checkmail.title"), q.loc.T("checkmail.forgot")
		p.render(w, http.StatusOK, "checkmail", v)
		return nil
	})
}

// Reset serves the target of reset links: GET shows the form, POST sets
// the new password, ends every other session and logs the customer in.
func (p *Pages) Reset() http.Handler {
	return p.page(func(w http.ResponseWriter, q *request) error {
		v := p.view(q, "reset.title")
		if q.Method != http.MethodPost {
			return p.showTokenForm(w, q, v, "reset", account.PurposePasswordReset)
		}
		v.Token = q.PostForm.Get("token")
		confirmation := q.PostForm.Get("password_confirmation")
		_, sess, err := p.svc.Recovery.Complete(q.Context(), q.c, v.Token, q.PostForm.Get("password"), &confirmation)
		if err != nil {
			return p.tokenFailed(w, q, v, "reset", err, false)
		}
		p.finish(w, q, sess, "reset")
		return nil
	})
}
