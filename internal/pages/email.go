package pages

import (
	"encoding/json"
	"errors"
	"net/http"

	"pforte/internal/account"
)

// ChangeEmail serves the account page's change of address: with the
// current password, a link goes to the new address. The page says the
// same whether or not the address belongs to someone else.
func (p *Pages) ChangeEmail() http.Handler {
	return p.page(func(w http.ResponseWriter, q *request) error {
		cust, ok := p.customer(w, q)
		if !ok {
			return nil
		}
		newEmail := q.PostForm.Get("new_email")
		// The pages hold no secret key: the caller is the tenant's, with the
		// page's application.
		_, err := p.svc.EmailChanges.Request(q.Context(), q.c, q.session,
			account.EmailChangeRequest{NewEmail: newEmail, Password: q.PostForm.Get("email_password")})
		if err == nil {
			return p.showAccount(w, q, cust, q.loc.Tf("email.sent", newEmail))
		}
		v, verr := p.accountView(q, cust)
		if verr != nil {
			return verr
		}
		v.Form["new_email"] = newEmail
		if e := account.AsError(err); e.Code == account.CodeInvalidCredentials {
			v.addFieldError("email_password", "invalid")
		} else if !v.showError(err, map[string]string{"password": "email_password"}) {
			return err
		}
		p.render(w, http.StatusBadRequest, "account", v)
		return nil
	})
}

// EmailConfirm serves the link to a new address: GET and HEAD show the
// address and a button, and spend nothing; the button's POST changes the
// address.
func (p *Pages) EmailConfirm() http.Handler {
	return p.emailLink("email_confirm.title", account.PurposeEmailChange, "email_confirm.intro", "email_confirm.submit",
		func(w http.ResponseWriter, q *request, token string) (string, error) {
			cust, err := p.svc.EmailChanges.Confirm(q.Context(), q.c, token)
			if err != nil {
				return "", err
			}
			return q.loc.Tf("email_confirm.done", cust.Email), nil
		})
}

// EmailUndo serves the link in the notice to an old address: GET and HEAD
// show a button; its POST brings the old address back, logs every device
// out and mails a password reset.
func (p *Pages) EmailUndo() http.Handler {
	return p.emailLink("email_undo.title", account.PurposeEmailUndo, "email_undo.intro", "email_undo.submit",
		func(w http.ResponseWriter, q *request, token string) (string, error) {
			if _, err := p.svc.EmailChanges.Undo(q.Context(), q.c, token); err != nil {
				return "", err
			}
			if q.session != "" {
				// Every session of the customer ended; this browser's may
				// have been one of them.
				if _, _, err := p.svc.Sessions.Lookup(q.Context(), q.c.Tenant.ID, q.session); err != nil {
					endSession(w, q)
				}
			}
			return q.loc.T("email_undo.done"), nil
		})
}

// emailLink is a link page of an address change: GET shows the address
// the token is for and a button; POST spends the token with act, whose
// text the answer shows.
func (p *Pages) emailLink(title string, purpose account.Purpose, intro, submit string,
	act func(w http.ResponseWriter, q *request, token string) (string, error)) http.Handler {
	return p.page(func(w http.ResponseWriter, q *request) error {
		v := p.view(q, title)
		if q.Method != http.MethodPost {
			v.Token = q.URL.Query().Get("token")
			addr, err := p.svc.EmailChanges.Preview(q.Context(), q.c, purpose, v.Token)
			if errors.Is(err, account.ErrTokenInvalid) {
				v.Message = q.loc.T("error.token_invalid")
				p.render(w, http.StatusBadRequest, "message", v)
				return nil
			} else if err != nil {
				return err
			}
			v.Message, v.NewEmail, v.Submit = q.loc.T(intro), addr, q.loc.T(submit)
			p.render(w, http.StatusOK, "email", v)
			return nil
		}
		done, err := act(w, q, q.PostForm.Get("token"))
		switch {
		case err == nil:
			v.Message = done
			p.render(w, http.StatusOK, "message", v)
		case errors.Is(err, account.ErrTokenInvalid):
			v.Message = q.loc.T("error.token_invalid")
			p.render(w, http.StatusBadRequest, "message", v)
		case errors.Is(err, account.ErrEmailTaken):
			v.Message = q.loc.T("email_confirm.taken")
			p.render(w, http.StatusConflict, "message", v)
		default:
			return err
		}
		return nil
	})
}

// ExportAccount serves the account page's download of everything pforte
// holds about the customer, as docs/export.md describes.
func (p *Pages) ExportAccount() http.Handler {
	return p.page(func(w http.ResponseWriter, q *request) error {
		if _, ok := p.customer(w, q); !ok {
			return nil
		}
		x, err := p.svc.Customers.ExportMine(q.Context(), q.c.Tenant.ID, q.session)
		if err != nil {
			return err
		}
		body, err := json.MarshalIndent(x, "", "  ")
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="`+x.Tenant+`-account.json"`)
		w.WriteHeader(http.StatusOK)
		_, err = w.Write(append(body, '\n'))
		return err
	})
}

// DeleteAccount serves the confirmation step of deleting the account:
// GET explains what goes and asks for the password; POST erases the
// account and ends the page session.
func (p *Pages) DeleteAccount() http.Handler {
	return p.page(func(w http.ResponseWriter, q *request) error {
		cust, ok := p.customer(w, q)
		if !ok {
			return nil
		}
		v := p.view(q, "delete.title")
		v.Customer = cust
		if q.Method != http.MethodPost {
			p.render(w, http.StatusOK, "delete", v)
			return nil
		}
		err := p.svc.Customers.DeleteSelf(q.Context(), q.c.Tenant.ID, q.session, q.PostForm.Get("current_password"))
		if err != nil {
			if e := account.AsError(err); e.Code == account.CodeInvalidCredentials {
				v.addFieldError("current_password", "invalid")
			} else if !v.showError(err, map[string]string{"password": "current_password"}) {
				return err
			}
			p.render(w, http.StatusBadRequest, "delete", v)
			return nil
		}
		endSession(w, q)
		v.Message = q.loc.T("delete.done")
		p.render(w, http.StatusOK, "message", v)
		return nil
	})
}

// SignInAlert serves the link of a new sign-in mail: GET shows the login
// it reports and a button, and spends nothing; POST ends that login and
// mails a password reset.
func (p *Pages) SignInAlert() http.Handler {
	return p.page(func(w http.ResponseWriter, q *request) error {
		v := p.view(q, "sign_in_alert.title")
		if q.Method != http.MethodPost {
			v.Token = q.URL.Query().Get("token")
			sess, err := p.svc.SignInAlerts.Preview(q.Context(), q.c, v.Token)
			switch {
			case errors.Is(err, account.ErrTokenInvalid):
				v.Message = q.loc.T("error.token_invalid")
				p.render(w, http.StatusBadRequest, "message", v)
				return nil
			case errors.Is(err, account.ErrSessionNotFound):
				// Ended already; the button still starts a reset.
				v.Message = q.loc.T("sign_in_alert.ended")
			case err != nil:
				return err
			default:
				v.Message = q.loc.Tf("sign_in_alert.intro", sess.Device, q.loc.DateTime(sess.CreatedAt))
			}
			v.Submit = q.loc.T("sign_in_alert.submit")
			p.render(w, http.StatusOK, "email", v)
			return nil
		}
		switch err := p.svc.SignInAlerts.Act(q.Context(), q.c, q.PostForm.Get("token")); {
		case errors.Is(err, account.ErrTokenInvalid):
			v.Message = q.loc.T("error.token_invalid")
			p.render(w, http.StatusBadRequest, "message", v)
		case err != nil:
			return err
		default:
			v.Message = q.loc.T("sign_in_alert.done")
			p.render(w, http.StatusOK, "message", v)
		}
		return nil
	})
}
