package postgres

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"pforte/internal/account"
)

const customerColumns = `id, uuid, tenant_id, email, email_key, username, salutation, first_name, last_name,
	locale, partner_ref, state, disabled_from, password_hash, email_confirmed_at, created_at, updated_at, names_unconfirmed,
	previous_email`

func scanCustomer(row scanner) (account.Customer, error) {
	dest, finish := customerTargets()
	if err := row.Scan(dest...); err != nil {
		return account.Customer{}, err
	}
	return finish(), nil
}

// customerTargets are the scan destinations of customerColumns, and what
// makes a Customer of them once scanned: a join scans them with others.
func customerTargets() ([]any, func() account.Customer) {
	var c account.Customer
	return []any{&c.ID, &c.UUID, &c.TenantID, &c.Email, &c.EmailKey, &c.Username, &c.Salutation, &c.FirstName, &c.LastName,
			&c.Locale, &c.PartnerRef, &c.State, &c.DisabledFrom, &c.PasswordHash, &c.EmailConfirmedAt, &c.CreatedAt, &c.UpdatedAt,
			&c.NamesUnconfirmed, &c.PreviousEmail}, func() account.Customer {
			c.EmailConfirmedAt = utcPtr(c.EmailConfirmedAt)
			c.CreatedAt = c.CreatedAt.UTC()
			c.UpdatedAt = c.UpdatedAt.UTC()
			return c
		}
}

// CreateCustomer inserts c and sets c.ID. ErrDuplicate if the tenant has a
// customer with the same email key, UUID or (case-insensitively) username.
func (q *queries) CreateCustomer(ctx context.Context, c *account.Customer) error {
	c.EmailConfirmedAt = dbTimePtr(c.EmailConfirmedAt)
	c.CreatedAt = dbTime(c.CreatedAt)
	c.UpdatedAt = dbTime(c.UpdatedAt)
	err := insertID(ctx, q.db, &c.ID, `INSERT INTO customers (uuid, tenant_id, email, email_key, username, salutation, first_name, last_name,
				locale, partner_ref, state, disabled_from, password_hash, email_confirmed_at, created_at, updated_at, names_unconfirmed,
				previous_email)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
			ON CONFLICT DO NOTHING RETURNING id`,
		c.UUID, c.TenantID, c.Email, c.EmailKey, c.Username, c.Salutation, c.FirstName, c.LastName,
		c.Locale, c.PartnerRef, c.State, c.DisabledFrom, c.PasswordHash, c.EmailConfirmedAt, c.CreatedAt, c.UpdatedAt,
		c.NamesUnconfirmed, c.PreviousEmail)
	return storeError("create customer", err)
}

// customerBy reads one customer of the tenant; inside a transaction it locks
// the row until commit. where is a constant condition on $2.
func (q *queries) customerBy(ctx context.Context, op, where string, tenantID int64, arg any) (account.Customer, error) {
	c, err := scanCustomer(q.db.QueryRow(ctx,
		`SELECT `+customerColumns+` FROM customers WHERE tenant_id = $1 AND `+where+q.forUpdate(), tenantID, arg))
	return c, storeError(op, err)
}

// CustomerByID returns the tenant's customer with this ID.
func (q *queries) CustomerByID(ctx context.Context, tenantID, id int64) (account.Customer, error) {
	return q.customerBy(ctx, "customer by id", `id = $2`, tenantID, id)
}

// CustomerByUUID returns the tenant's customer with this UUID.
func (q *queries) CustomerByUUID(ctx context.Context, tenantID int64, uuid string) (account.Customer, error) {
	return q.customerBy(ctx, "customer by uuid", `uuid = $2`, tenantID, uuid)
}

// CustomerByEmailKey returns the tenant's customer with this normalised email.
func (q *queries) CustomerByEmailKey(ctx context.Context, tenantID int64, emailKey string) (account.Customer, error) {
	return q.customerBy(ctx, "customer by email key", `email_key = $2`, tenantID, emailKey)
}

// customersIn reads customers by an array of values of one unique column
// (email_key or uuid, with tenant_id), each looked up in that index on its
// own, a plan that needs no table statistics: with column = ANY($2), or a
// join that PostgreSQL may flatten the lateral subquery into, it walks the
// whole tenant until the table has been analyzed
// (TestCustomersInPlan). LIMIT 1, true of a unique column anyway,
// keeps the subquery apart. forUpdate locks each row as it is found.
func customersIn(column, forUpdate string) string {
	return `SELECT c.* FROM unnest($2::text[]) AS k(value) CROSS JOIN LATERAL
		(SELECT ` + customerColumns + ` FROM customers WHERE tenant_id = $1 AND ` + column + ` = k.value LIMIT 1` + forUpdate + `) c
		ORDER BY c.id`
}

// CustomersByEmailKeys returns the tenant's customers with these
// normalised emails, by ID. In a transaction they are locked in the
// keys' sorted order, the same for every caller.
func (q *queries) CustomersByEmailKeys(ctx context.Context, tenantID int64, emailKeys []string) ([]account.Customer, error) {
	return q.customersIn(ctx, "customers by email keys", "email_key", tenantID, emailKeys)
}

// CustomersByUUIDs returns the tenant's customers with these UUIDs, by
// ID, locked in a transaction as CustomersByEmailKeys locks them.
func (q *queries) CustomersByUUIDs(ctx context.Context, tenantID int64, uuids []string) ([]account.Customer, error) {
	return q.customersIn(ctx, "customers by uuids", "uuid", tenantID, uuids)
}

func (q *queries) customersIn(ctx context.Context, op, column string, tenantID int64, values []string) ([]account.Customer, error) {
	if len(values) == 0 {
		return []account.Customer{}, nil
	}
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	rows, err := q.db.Query(ctx, customersIn(column, q.forUpdate()), tenantID, slices.Compact(sorted))
	if err != nil {
		return nil, storeError(op, err)
	}
	cs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (account.Customer, error) { return scanCustomer(row) })
	return cs, storeError(op, err)
}

// CustomerByUsername returns the tenant's customer with this username,
// ignoring case. The condition matches the partial unique index, and an
// empty username matches no one.
func (q *queries) CustomerByUsername(ctx context.Context, tenantID int64, username string) (account.Customer, error) {
	return q.customerBy(ctx, "customer by username", `lower(username) = lower($2) AND username <> ''`, tenantID, username)
}

// ListCustomers returns up to limit of the tenant's customers that f
// selects with an ID above afterID, by ID: a page of a keyset pagination.
func (q *queries) ListCustomers(ctx context.Context, tenantID int64, f account.CustomerFilter, afterID int64, limit int) ([]account.Customer, error) {
	if limit <= 0 {
		return []account.Customer{}, nil
	}
	where, args := `tenant_id = $1 AND id > $2`, []any{tenantID, afterID}
	add := func(cond string, v any) {
		args = append(args, v)
		where += fmt.Sprintf(` AND `+cond, len(args))
	}
	if f.State != "" {
		add(`state = $%d`, string(f.State))
	}
	if f.PartnerRef != "" {
		add(`partner_ref = $%d`, f.PartnerRef)
	}
	if !f.CreatedSince.IsZero() {
		add(`created_at >= $%d`, f.CreatedSince)
	}
	args = append(args, limit)
	rows, err := q.db.Query(ctx, `SELECT `+customerColumns+` FROM customers WHERE `+where+
		fmt.Sprintf(` ORDER BY id LIMIT $%d`, len(args)), args...)
	if err != nil {
		return nil, storeError("list customers", err)
	}
	cs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (account.Customer, error) { return scanCustomer(row) })
	return cs, storeError("list customers", err)
}

// UnconfirmedBefore returns up to limit of the tenant's pending customers
// created before before, by ID.
func (q *queries) UnconfirmedBefore(ctx context.Context, tenantID int64, before time.Time, limit int) ([]account.Customer, error) {
	rows, err := q.db.Query(ctx, `SELECT `+customerColumns+` FROM customers
		WHERE tenant_id = $1 AND state = $2 AND created_at < $3 ORDER BY id LIMIT $4`,
		tenantID, account.StatePending, before, limit)
	if err != nil {
		return nil, storeError("unconfirmed customers", err)
	}
	cs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (account.Customer, error) { return scanCustomer(row) })
	return cs, storeError("unconfirmed customers", err)
}

// UpdateCustomer writes every column but ID, TenantID and CreatedAt.
// ErrNotFound if the tenant has no customer c.ID; ErrDuplicate if the new
// email key, UUID or username is taken.
func (q *queries) UpdateCustomer(ctx context.Context, c *account.Customer) error {
	c.EmailConfirmedAt = dbTimePtr(c.EmailConfirmedAt)
	c.UpdatedAt = dbTime(c.UpdatedAt)
	err := q.guard(ctx, func(db querier) error {
		tag, err := db.Exec(ctx, `UPDATE customers SET uuid = $3, email = $4, email_key = $5, username = $6, salutation = $7,
				first_name = $8, last_name = $9, locale = $10, partner_ref = $11, state = $12, disabled_from = $13,
				password_hash = $14, email_confirmed_at = $15, updated_at = $16, names_unconfirmed = $17, previous_email = $18
			WHERE tenant_id = $1 AND id = $2`,
			c.TenantID, c.ID, c.UUID, c.Email, c.EmailKey, c.Username, c.Salutation,
			c.FirstName, c.LastName, c.Locale, c.PartnerRef, c.State, c.DisabledFrom, c.PasswordHash,
			c.EmailConfirmedAt, c.UpdatedAt, c.NamesUnconfirmed, c.PreviousEmail)
		if err == nil && tag.RowsAffected() == 0 {
			return pgx.ErrNoRows
		}
		return err
	})
	return storeError("update customer", err)
}

// DeleteCustomer deletes the tenant's customer; its tokens and sessions go
// with it (ON DELETE CASCADE). ErrNotFound if there is no such customer.
func (q *queries) DeleteCustomer(ctx context.Context, tenantID, id int64) error {
	tag, err := q.db.Exec(ctx, `DELETE FROM customers WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	return exactlyOne("delete customer", tag, err)
}
