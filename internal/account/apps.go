package account

import (
	"context"
	"errors"
	"regexp"
	"time"
)

var appNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

var errAppNotFound = &Error{Kind: KindNotFound, Code: CodeAppNotFound, Message: "no such application"}

func (a Application) validate() []FieldError {
	var fields []FieldError
	if !appNamePattern.MatchString(a.Name) {
		fields = append(fields, FieldError{Field: "name", Code: FieldInvalid, Message: "must be 1 to 64 letters, digits, dots, dashes or underscores"})
	}
	for _, f := range []struct {
		name, value string
		template    bool
	}{{"endpoint", a.Endpoint, false}, {"confirm_url", a.ConfirmURL, true}, {"reset_url", a.ResetURL, true}, {"invite_url", a.InviteURL, true}} {
		if err := checkLinkURL(f.value, f.template); err != nil {
			fields = append(fields, FieldError{Field: f.name, Code: FieldInvalid, Message: err.Error()})
		}
	}
	fields = append(fields, a.Client.validate()...)
	if a.Delivery != "" && a.Delivery != DeliveryMail && a.Delivery != DeliveryReturn && a.Delivery != DeliveryBoth {
		fields = append(fields, FieldError{Field: "delivery", Code: FieldInvalid, Message: "must be mail, return, both or empty"})
	}
	for key, value := range a.Settings {
		field := "settings." + key
		if spec, ok := settingSpec(key); !ok || !spec.PerApp {
			fields = append(fields, FieldError{Field: field, Code: FieldNotAllowed, Message: "is no setting an application may override"})
		} else if err := spec.check(value); err != nil {
			fields = append(fields, FieldError{Field: field, Code: FieldInvalid, Message: err.Error()})
		}
	}
	return fields
}

// Create adds an application with the patch's fields to the caller's
// tenant (secret key only).
func (s *Apps) Create(ctx context.Context, c Caller, p AppPatch) (Application, error) {
	if err := c.requireSecret(); err != nil {
		return Application{}, err
	}
	var a Application
	secret := p.apply(&a)
	if fields := a.validate(); len(fields) > 0 {
		return Application{}, Invalid(fields...)
	}
	now := s.now()
	a.ID, a.TenantID, a.CreatedAt, a.UpdatedAt = 0, c.Tenant.ID, now, now
	if err := s.store.CreateApp(ctx, &a); errors.Is(err, ErrDuplicate) {
		return Application{}, Errorf(KindConflict, CodeAppExists, "an application named %q exists", a.Name)
	} else if err != nil {
		return Application{}, Internal(err)
	}
	a.NewClientSecret = secret
	return a, nil
}

// List lists the caller's tenant's applications (secret key only).
func (s *Apps) List(ctx context.Context, c Caller) ([]Application, error) {
	if err := c.requireSecret(); err != nil {
		return nil, err
	}
	as, err := s.store.ListApps(ctx, c.Tenant.ID)
	if err != nil {
		return nil, Internal(err)
	}
	return as, nil
}

// Get finds an application by name (secret key only).
func (s *Apps) Get(ctx context.Context, c Caller, name string) (Application, error) {
	if err := c.requireSecret(); err != nil {
		return Application{}, err
	}
	a, err := s.store.AppByName(ctx, c.Tenant.ID, name)
	if errors.Is(err, ErrNotFound) {
		return Application{}, errAppNotFound
	} else if err != nil {
		return Application{}, Internal(err)
	}
	return a, nil
}

// AppPatch changes some fields of an application; nil fields stay.
type AppPatch struct {
	Name, Endpoint, ConfirmURL, ResetURL, InviteURL *string
	Delivery                                        *Delivery
	// Settings sets the application's overrides of these tenant
	// settings; an empty value removes one.
	Settings map[string]string
	// Client changes its OpenID Connect client registration.
	Client *ClientPatch
}

// apply changes a; it returns a new client secret if it made one.
func (p AppPatch) apply(a *Application) string {
	for _, f := range []struct{ dst, src *string }{{&a.Name, p.Name}, {&a.Endpoint, p.Endpoint},
		{&a.ConfirmURL, p.ConfirmURL}, {&a.ResetURL, p.ResetURL}, {&a.InviteURL, p.InviteURL}} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
	if p.Delivery != nil {
		a.Delivery = *p.Delivery
	}
	for key, value := range p.Settings {
		if a.Settings == nil {
			a.Settings = map[string]string{}
		}
		if value == "" {
			delete(a.Settings, key)
		} else {
			a.Settings[key] = value
		}
	}
	return applyClient(a, p.Client)
}

// Update applies a patch to an application (secret key only).
func (s *Apps) Update(ctx context.Context, c Caller, name string, p AppPatch) (Application, error) {
	a, err := s.Get(ctx, c, name)
	if err != nil {
		return Application{}, err
	}
	secret := p.apply(&a)
	if fields := a.validate(); len(fields) > 0 {
		return Application{}, Invalid(fields...)
	}
	a.UpdatedAt = s.now()
	switch err := s.store.UpdateApp(ctx, &a); {
	case errors.Is(err, ErrDuplicate):
		return Application{}, Errorf(KindConflict, CodeAppExists, "an application named %q exists", a.Name)
	case errors.Is(err, ErrNotFound):
		return Application{}, errAppNotFound
	case err != nil:
		return Application{}, Internal(err)
	}
	a.NewClientSecret = secret
	return a, nil
}

// Delete removes an application (secret key only).
func (s *Apps) Delete(ctx context.Context, c Caller, name string) error {
	a, err := s.Get(ctx, c, name)
	if err != nil {
		return err
	}
	if err := s.store.DeleteApp(ctx, c.Tenant.ID, a.ID); errors.Is(err, ErrNotFound) {
		return errAppNotFound
	} else if err != nil {
		return Internal(err)
	}
	return nil
}

// With returns the caller with the named application, whose URLs and
// delivery then apply. An unknown or empty name leaves the tenant's
// defaults in force, as Betterez describes for a wrong appName.
func (s *Apps) With(ctx context.Context, c Caller, name string) (Caller, error) {
	if !appNamePattern.MatchString(name) {
		return c, nil // no application can have this name
	}
	a, err := s.store.AppByName(ctx, c.Tenant.ID, name)
	switch {
	case errors.Is(err, ErrNotFound):
		return c, nil
	case err != nil:
		return c, Internal(err)
	}
	c.App = &a
	return c, nil
}

// Application is a website of a tenant, with the URLs that mail links
// lead to. A request names it with an app field or an appName parameter.
type Application struct {
	ID       int64
	TenantID int64
	Name     string
	// Endpoint receives links of the form
	// {Endpoint}?accountId=..&customerId=..&token=..&action=confirm|resetPwd|activate.
	Endpoint string
	// Link templates per action, e.g. https://www.example.de/confirm/{token};
	// each, when set, wins over Endpoint for its action.
	ConfirmURL string
	ResetURL   string
	InviteURL  string
	Delivery   Delivery // empty: the tenant's
	// Settings override the tenant's settings of the same key for
	// requests that name the application; only settings marked PerApp.
	Settings map[string]string
	// Client is its OpenID Connect client registration, if any.
	Client Client
	// NewClientSecret is the client secret made by the change that
	// returned this value; it is stored only as Client.SecretHash.
	NewClientSecret string
	CreatedAt       time.Time
	UpdatedAt       time.Time
}
