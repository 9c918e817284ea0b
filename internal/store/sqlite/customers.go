package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"slices"
	"time"

	"pforte/internal/account"
)

const customerColumns = `id, uuid, tenant_id, email, email_key, username, salutation, first_name, last_name,
	locale, partner_ref, state, disabled_from, password_hash, email_confirmed_at, created_at, updated_at, names_unconfirmed,
	previous_email`

func scanCustomer(s scanner) (account.Customer, error) {
	dest, finish := customerTargets()
	if err := s.Scan(dest...); err != nil {
		return account.Customer{}, err
	}
	return finish(), nil
}

// customerTargets are the scan destinations of customerColumns, and what
// makes a Customer of them once scanned: a join scans them with others.
func customerTargets() ([]any, func() account.Customer) {
	var (
		c                account.Customer
		confirmed        sql.NullInt64
		created, updated int64
	)
	return []any{&c.ID, &c.UUID, &c.TenantID, &c.Email, &c.EmailKey, &c.Username, &c.Salutation,
			&c.FirstName, &c.LastName, &c.Locale, &c.PartnerRef, &c.State, &c.DisabledFrom, &c.PasswordHash,
			&confirmed, &created, &updated, &c.NamesUnconfirmed, &c.PreviousEmail}, func() account.Customer {
			c.EmailConfirmedAt = fromNullMicros(confirmed)
			c.CreatedAt = fromMicros(created)
			c.UpdatedAt = fromMicros(updated)
			return c
		}
}

// CreateCustomer inserts c and sets its ID. It returns account.ErrDuplicate
// if the tenant has a customer with this email key, UUID or username.
func (q queries) CreateCustomer(ctx context.Context, c *account.Customer) error {
	res, err := q.w.ExecContext(ctx, `INSERT INTO customers
		(uuid, tenant_id, email, email_key, username, salutation, first_name, last_name,
		 locale, partner_ref, state, disabled_from, password_hash, email_confirmed_at, created_at, updated_at, names_unconfirmed,
		 previous_email)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.UUID, c.TenantID, c.Email, c.EmailKey, c.Username, c.Salutation, c.FirstName, c.LastName,
		c.Locale, c.PartnerRef, string(c.State), string(c.DisabledFrom), c.PasswordHash,
		nullMicros(c.EmailConfirmedAt), micros(c.CreatedAt), micros(c.UpdatedAt), c.NamesUnconfirmed, c.PreviousEmail)
	if err != nil {
		return dbErr("create customer", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return dbErr("create customer", err)
	}
	c.ID = id
	c.EmailConfirmedAt = utcPtr(c.EmailConfirmedAt)
	c.CreatedAt, c.UpdatedAt = utc(c.CreatedAt), utc(c.UpdatedAt)
	return nil
}

// CustomerByID returns the tenant's customer with this ID.
func (q queries) CustomerByID(ctx context.Context, tenantID, id int64) (account.Customer, error) {
	return q.oneCustomer(ctx, "customer by id", `tenant_id = ? AND id = ?`, tenantID, id)
}

// CustomerByUUID returns the tenant's customer with this UUID.
func (q queries) CustomerByUUID(ctx context.Context, tenantID int64, uuid string) (account.Customer, error) {
	return q.oneCustomer(ctx, "customer by uuid", `tenant_id = ? AND uuid = ?`, tenantID, uuid)
}

// CustomerByEmailKey returns the tenant's customer with this normalised email.
func (q queries) CustomerByEmailKey(ctx context.Context, tenantID int64, emailKey string) (account.Customer, error) {
	return q.oneCustomer(ctx, "customer by email", `tenant_id = ? AND email_key = ?`, tenantID, emailKey)
}

// CustomerByUsername returns the tenant's customer with this username,
// ignoring case (ASCII letters only, like the unique index). An empty
// username matches nobody.
func (q queries) CustomerByUsername(ctx context.Context, tenantID int64, username string) (account.Customer, error) {
	// The conditions match the partial index customers_tenant_username.
	return q.oneCustomer(ctx, "customer by username",
		`tenant_id = ? AND lower(username) = lower(?) AND username <> ''`, tenantID, username)
}

// oneCustomer reads the customer that where selects; where is a constant.
func (q queries) oneCustomer(ctx context.Context, op, where string, args ...any) (account.Customer, error) {
	c, err := scanCustomer(q.r.QueryRowContext(ctx, `SELECT `+customerColumns+` FROM customers WHERE `+where, args...))
	if err != nil {
		return account.Customer{}, dbErr(op, err)
	}
	return c, nil
}

// UnconfirmedBefore returns up to limit of the tenant's pending customers
// created before before, by ID.
func (q queries) UnconfirmedBefore(ctx context.Context, tenantID int64, before time.Time, limit int) ([]account.Customer, error) {
	return q.customers(ctx, "unconfirmed customers", `SELECT `+customerColumns+` FROM customers
		WHERE tenant_id = ? AND state = ? AND created_at < ? ORDER BY id LIMIT ?`,
		tenantID, string(account.StatePending), micros(before), limit)
}

// customersIn reads customers by a JSON array of values of one unique
// column (email_key or uuid, with tenant_id), so that the statement is
// the same for any number of them. It has no ORDER BY: with one, SQLite
// walks the tenant's customers in ID order instead of looking each value
// up (TestCustomersInPlan).
func customersIn(column string) string {
	return `SELECT ` + customerColumns + ` FROM customers
	WHERE tenant_id = ? AND ` + column + ` IN (SELECT value FROM json_each(?))`
}

// CustomersByEmailKeys returns the tenant's customers with these
// normalised emails, by ID.
func (q queries) CustomersByEmailKeys(ctx context.Context, tenantID int64, emailKeys []string) ([]account.Customer, error) {
	return q.customersIn(ctx, "customers by email keys", "email_key", tenantID, emailKeys)
}

// CustomersByUUIDs returns the tenant's customers with these UUIDs, by ID.
func (q queries) CustomersByUUIDs(ctx context.Context, tenantID int64, uuids []string) ([]account.Customer, error) {
	return q.customersIn(ctx, "customers by uuids", "uuid", tenantID, uuids)
}

func (q queries) customersIn(ctx context.Context, op, column string, tenantID int64, values []string) ([]account.Customer, error) {
	if len(values) == 0 {
		return []account.Customer{}, nil
	}
	list, err := json.Marshal(values)
	if err != nil {
		return nil, dbErr(op, err)
	}
	cs, err := q.customers(ctx, op, customersIn(column), tenantID, string(list))
	slices.SortFunc(cs, func(a, b account.Customer) int { return cmp.Compare(a.ID, b.ID) })
	return cs, err
}

// customers reads the customers a query selects.
func (q queries) customers(ctx context.Context, op, query string, args ...any) ([]account.Customer, error) {
	rows, err := q.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, dbErr(op, err)
	}
	defer rows.Close()
	cs := []account.Customer{}
	for rows.Next() {
		c, err := scanCustomer(rows)
		if err != nil {
			return nil, dbErr(op, err)
		}
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr(op, err)
	}
	return cs, nil
}

// ListCustomers returns up to limit of the tenant's customers that f
// selects with an ID above afterID, by ID.
func (q queries) ListCustomers(ctx context.Context, tenantID int64, f account.CustomerFilter, afterID int64, limit int) ([]account.Customer, error) {
	if limit <= 0 {
		return []account.Customer{}, nil
	}
	where, args := `tenant_id = ? AND id > ?`, []any{tenantID, afterID}
	if f.State != "" {
		where, args = where+` AND state = ?`, append(args, string(f.State))
	}
	if f.PartnerRef != "" {
		where, args = where+` AND partner_ref = ?`, append(args, f.PartnerRef)
	}
	if !f.CreatedSince.IsZero() {
		where, args = where+` AND created_at >= ?`, append(args, micros(f.CreatedSince))
	}
	return q.customers(ctx, "list customers", `SELECT `+customerColumns+` FROM customers
		WHERE `+where+` ORDER BY id LIMIT ?`, append(args, limit)...)
}

// UpdateCustomer writes every column of c but ID, TenantID and CreatedAt.
// It returns account.ErrNotFound if the tenant has no customer c.ID.
func (q queries) UpdateCustomer(ctx context.Context, c *account.Customer) error {
	res, err := q.w.ExecContext(ctx, `UPDATE customers SET
		uuid = ?, email = ?, email_key = ?, username = ?, salutation = ?, first_name = ?, last_name = ?,
		locale = ?, partner_ref = ?, state = ?, disabled_from = ?, password_hash = ?, email_confirmed_at = ?,
		updated_at = ?, names_unconfirmed = ?, previous_email = ?
		WHERE tenant_id = ? AND id = ?`,
		c.UUID, c.Email, c.EmailKey, c.Username, c.Salutation, c.FirstName, c.LastName,
		c.Locale, c.PartnerRef, string(c.State), string(c.DisabledFrom), c.PasswordHash,
		nullMicros(c.EmailConfirmedAt), micros(c.UpdatedAt), c.NamesUnconfirmed, c.PreviousEmail,
		c.TenantID, c.ID)
	if err != nil {
		return dbErr("update customer", err)
	}
	if err := mustAffect("update customer", res); err != nil {
		return err
	}
	c.EmailConfirmedAt, c.UpdatedAt = utcPtr(c.EmailConfirmedAt), utc(c.UpdatedAt)
	return nil
}

// DeleteCustomer deletes the tenant's customer; its tokens and sessions go
// with it (ON DELETE CASCADE), and the WAL is emptied after the commit. It returns account.ErrNotFound if the tenant
// has no customer with this ID.
func (q queries) DeleteCustomer(ctx context.Context, tenantID, id int64) error {
	res, err := q.w.ExecContext(ctx, `DELETE FROM customers WHERE tenant_id = ? AND id = ?`, tenantID, id)
	if err != nil {
		return dbErr("delete customer", err)
	}
	if err := mustAffect("delete customer", res); err != nil {
		return err
	}
	q.scrubAfterCommit(ctx)
	return nil
}
