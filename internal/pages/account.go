package pages

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"pforte/internal/account"
)

// Account serves the account page: the profile, a password change and
// logout. Without a live page session it sends the browser to the login.
func (p *Pages) Account() http.Handler {
	return p.page(func(w http.ResponseWriter, q *request) error {
		cust, ok := p.customer(w, q)
		if !ok {
			return nil
		}
		v, err := p.accountView(q, cust)
		if err != nil {
			return err
		}
		if key, ok := notices[q.URL.Query().Get("done")]; ok {
			v.Notice = q.loc.T(key)
		}
		p.render(w, http.StatusOK, "account", v)
		return nil
	})
}

// UpdateProfile serves the account page's profile form.
func (p *Pages) UpdateProfile() http.Handler {
	return p.page(func(w http.ResponseWriter, q *request) error {
		cust, ok := p.customer(w, q)
		if !ok {
			return nil
		}
		f := q.PostForm
		ch := account.ProfileChange{Salutation: ptr(f.Get("salutation")), FirstName: ptr(f.Get("first_name")),
			LastName: ptr(f.Get("last_name")), Locale: ptr(f.Get("locale"))}
		updated, err := p.svc.Sessions.UpdateProfile(q.Context(), q.c.Tenant.ID, q.session, ch)
		if err != nil {
			v, verr := p.accountView(q, cust)
			if verr != nil {
				return verr
			}
			for _, k := range []string{"salutation", "first_name", "last_name", "locale"} {
				v.Form[k] = f.Get(k)
			}
			v.Salutations = nil
			v.salutations(f.Get("salutation"))
			if !v.showError(err, nil) {
				return err
			}
			p.render(w, http.StatusBadRequest, "account", v)
			return nil
		}
		return p.showAccount(w, q, updated, q.loc.T("account.saved"))
	})
}

// ChangePassword serves the account page's password form. It asks for
// the current password; every other session ends.
func (p *Pages) ChangePassword() http.Handler {
	return p.page(func(w http.ResponseWriter, q *request) error {
		cust, ok := p.customer(w, q)
		if !ok {
			return nil
		}
		f := q.PostForm
		confirmation := f.Get("new_password_confirmation")
		err := p.svc.Sessions.ChangePassword(q.Context(), q.c.Tenant.ID, q.session,
			account.PasswordChange{Current: f.Get("current_password"), New: f.Get("new_password"), Confirmation: &confirmation})
		v, verr := p.accountView(q, cust)
		if verr != nil {
			return verr
		}
		if err != nil {
			rename := map[string]string{"password": "new_password", "password_confirmation": "new_password_confirmation"}
			if e := account.AsError(err); e.Code == account.CodeInvalidCredentials {
				v.addFieldError("current_password", "invalid")
			} else if !v.showError(err, rename) {
				return err
			}
			p.render(w, http.StatusBadRequest, "account", v)
			return nil
		}
		v.Notice = q.loc.T("account.password_changed")
		p.render(w, http.StatusOK, "account", v)
		return nil
	})
}

// customer is the page session's customer; without a live one the
// browser goes to the login page, and ok is false. A failure of the store
// is answered as such, and keeps the cookie.
func (p *Pages) customer(w http.ResponseWriter, q *request) (account.Customer, bool) {
	if q.session != "" {
		cust, _, err := p.svc.Sessions.Lookup(q.Context(), q.c.Tenant.ID, q.session)
		switch {
		case err == nil:
			return cust, true
		case !account.IsKind(err, account.KindUnauthorized):
			p.failErr(w, q, err)
			return account.Customer{}, false
		}
		endSession(w, q)
	}
	http.Redirect(w, q.Request, pageURL(q, "login", nil), http.StatusSeeOther)
	return account.Customer{}, false
}

// sessionRow is one line of the account page's list of sessions.
type sessionRow struct {
	ID         int64
	Current    bool
	Device     string
	Address    string
	Remembered bool
	LastSeenAt time.Time
}

// EndSession serves the account page's "log out" of one other session.
func (p *Pages) EndSession() http.Handler {
	return p.page(func(w http.ResponseWriter, q *request) error {
		cust, ok := p.customer(w, q)
		if !ok {
			return nil
		}
		notice := "sessions.ended"
		id, err := strconv.ParseInt(q.PostForm.Get("session"), 10, 64)
		if err == nil {
			err = p.svc.Devices.EndMine(q.Context(), q.c.Tenant.ID, q.session, id)
		}
		if err != nil {
			if !errors.Is(err, account.ErrSessionNotFound) && !errors.Is(err, strconv.ErrSyntax) && !errors.Is(err, strconv.ErrRange) {
				return err
			}
			notice = "sessions.gone"
		}
		return p.showAccount(w, q, cust, q.loc.T(notice))
	})
}

// EndOtherSessions serves the account page's "log out everywhere else".
func (p *Pages) EndOtherSessions() http.Handler {
	return p.page(func(w http.ResponseWriter, q *request) error {
		cust, ok := p.customer(w, q)
		if !ok {
			return nil
		}
		if err := p.svc.Devices.EndOthers(q.Context(), q.c.Tenant.ID, q.session); err != nil {
			return err
		}
		return p.showAccount(w, q, cust, q.loc.T("sessions.others_ended"))
	})
}

// showAccount renders the account page with a notice. The page session
// itself may have been what ended: then the browser goes to the login.
func (p *Pages) showAccount(w http.ResponseWriter, q *request, cust account.Customer, notice string) error {
	v, err := p.accountView(q, cust)
	if account.IsKind(err, account.KindUnauthorized) {
		endSession(w, q)
		http.Redirect(w, q.Request, pageURL(q, "login", nil), http.StatusSeeOther)
		return nil
	} else if err != nil {
		return err
	}
	v.Notice = notice
	p.render(w, http.StatusOK, "account", v)
	return nil
}

// accountView is the account page of the page session's customer, with
// where they are logged in.
func (p *Pages) accountView(q *request, cust account.Customer) (*view, error) {
	current, sessions, err := p.svc.Devices.Mine(q.Context(), q.c.Tenant.ID, q.session)
	if err != nil {
		return nil, err
	}
	// Without a language asked for, the account page speaks the
	// customer's.
	if _, err := q.Cookie(langCookie); err != nil && q.URL.Query().Get("lang") == "" {
		if lang := strings.SplitN(cust.Locale, "-", 2)[0]; lang == "de" || lang == "en" {
			q.loc = &locale{Lang: lang, msgs: p.msgs[lang]}
		}
	}
	v := p.view(q, "account.title")
	v.Customer = cust
	v.Form["first_name"], v.Form["last_name"], v.Form["locale"] = cust.FirstName, cust.LastName, cust.Locale
	if v.Form["locale"] == "" {
		v.Form["locale"] = q.loc.Lang
	}
	v.salutations(cust.Salutation)
	for _, s := range sessions {
		v.Sessions = append(v.Sessions, sessionRow{ID: s.ID, Current: s.ID == current.ID, Device: s.Device,
			Address: s.ClientAddress, Remembered: s.Remembered, LastSeenAt: s.LastSeenAt})
	}
	return v, nil
}

func ptr(s string) *string { return &s }
