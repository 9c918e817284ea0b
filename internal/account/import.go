package account

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"pforte/internal/password"
)

// ImportFields are the fields an import row may give. Rows are matched to
// customers by uuid, else by email; a field a row does not give stays as
// it is on a matched customer.
var ImportFields = []string{"uuid", "email", "state", "salutation", "first_name", "last_name", "username", "locale",
	"partner_ref", "password_hash"}

// importIgnored are the read-only fields of an export, so that an export
// imports again unchanged.
var importIgnored = []string{"id", "created_at", "updated_at", "email_confirmed_at"}

// ImportRow is one customer of an import file.
type ImportRow struct {
	Line   int               // the row's line in the file, for errors
	Fields map[string]string // by field name; see ImportFields
	// Problem, when set, is why the row could not be read at all (bad
	// JSON, a wrong number of columns): it fails with this message.
	Problem string
}

// ImportSource yields the rows of an import, io.EOF after the last; any
// other error ends the import.
type ImportSource func() (ImportRow, error)

// ImportOptions steer an import.
type ImportOptions struct {
	DryRun bool // check every row, write nothing
	// Invite mails an invitation to each customer the import creates,
	// unless it is offline or disabled; without it, nobody hears of the
	// import.
	Invite bool
	// InviteEvery spaces the invitations' mail: the n-th is sent no
	// earlier than n×InviteEvery after the import began (0: all at once).
	InviteEvery time.Duration
	BatchSize   int // rows per transaction; 0: DefaultImportBatch
	// Progress, when set, is called after each batch with the summary so
	// far.
	Progress func(ImportSummary)
}

// DefaultImportBatch is the rows an import writes per transaction.
const DefaultImportBatch = 500

// MaxImportErrors bounds the row errors a summary lists; Failed counts
// every one.
const MaxImportErrors = 1000

// ImportSummary is what an import did, or in a dry run would do.
type ImportSummary struct {
	DryRun    bool          `json:"dry_run"`
	Rows      int           `json:"rows"`
	Created   int           `json:"created"`
	Updated   int           `json:"updated"`
	Unchanged int           `json:"unchanged"`
	Failed    int           `json:"failed"`
	Invited   int           `json:"invited"`
	Errors    []ImportError `json:"errors"`
}

// ImportError is why one row failed.
type ImportError struct {
	Line    int    `json:"line"`
	Field   string `json:"field,omitempty"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// errDryRun rolls a dry run's batch back.
var errDryRun = errors.New("dry run")

// Import creates and updates customers from rows (secret key only), in
// transactions of BatchSize rows. No password is hashed: password_hash
// takes a hash from another system (see NewCustomer.PasswordHash), which
// is upgraded at the first login. A row that fails is reported and the
// others go on; rows already written stay written if the import ends
// early, and importing the same rows again changes nothing.
func (s *Customers) Import(ctx context.Context, c Caller, next ImportSource, o ImportOptions) (ImportSummary, error) {
	sum := ImportSummary{DryRun: o.DryRun, Errors: []ImportError{}}
	if err := c.requireSecret(); err != nil {
		return sum, err
	}
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultImportBatch
	}
	start := s.now()
	for done := false; !done; {
		var batch []ImportRow
		for len(batch) < o.BatchSize {
			row, err := next()
			if errors.Is(err, io.EOF) {
				done = true
				break
			} else if err != nil {
				return sum, err
			}
			batch = append(batch, row)
		}
		if len(batch) == 0 {
			break
		}
		checked := make([]checkedRow, len(batch))
		for i, row := range batch {
			checked[i] = s.checkImport(c.Tenant, row)
		}
		var part ImportSummary
		err := s.inBulkTx(ctx, func(tx Tx) error {
			part = ImportSummary{Invited: sum.Invited} // afresh if the transaction is retried
			matches, err := readImportMatches(ctx, tx, c.Tenant.ID, checked)
			if err != nil {
				return err
			}
			for _, row := range checked {
				if err := s.importRow(ctx, tx, c, row, matches, o, start, &part); err != nil {
					return err
				}
			}
			if o.DryRun {
				return errDryRun
			}
			return nil
		})
		if err != nil && !errors.Is(err, errDryRun) {
			return sum, err
		}
		sum.Rows += len(batch)
		sum.Created += part.Created
		sum.Updated += part.Updated
		sum.Unchanged += part.Unchanged
		sum.Failed += part.Failed
		sum.Invited = part.Invited
		for _, e := range part.Errors {
			if len(sum.Errors) < MaxImportErrors {
				sum.Errors = append(sum.Errors, e)
			}
		}
		if part.Invited > 0 && !o.DryRun {
			s.mail.notifyQueued()
		}
		if o.Progress != nil {
			o.Progress(sum)
		}
	}
	s.log.Info("customers imported", "tenant", c.Tenant.Slug, "dry_run", o.DryRun, "rows", sum.Rows, "created", sum.Created,
		"updated", sum.Updated, "unchanged", sum.Unchanged, "failed", sum.Failed, "invited", sum.Invited)
	return sum, nil
}

// checkedRow is an import row with its fields checked: in, or what is
// wrong with them.
type checkedRow struct {
	line  int
	in    importInput
	wrong *FieldError
}

// checkImport checks a row without reading the store.
func (s *Customers) checkImport(t Tenant, row ImportRow) checkedRow {
	if row.Problem != "" {
		return checkedRow{line: row.Line, wrong: &FieldError{Code: FieldInvalid, Message: row.Problem}}
	}
	in, fe := s.checkImportRow(t, row.Fields)
	return checkedRow{line: row.Line, in: in, wrong: fe}
}

// importRow applies one row in tx and counts it in sum. A row that fails
// is counted, not returned: only the database's failures end the import.
func (s *Customers) importRow(ctx context.Context, tx Tx, c Caller, row checkedRow, matches importMatches, o ImportOptions,
	start time.Time, sum *ImportSummary) error {
	fail := func(fe FieldError) error {
		sum.Failed++
		sum.Errors = append(sum.Errors, ImportError{Line: row.line, Field: fe.Field, Code: fe.Code, Message: fe.Message})
		return nil
	}
	if row.wrong != nil {
		return fail(*row.wrong)
	}
	in := row.in
	cust, found, err := matches.match(ctx, tx, c.Tenant.ID, in)
	if err != nil {
		return err
	}
	if found && in.uuid != "" && cust.UUID != in.uuid {
		return fail(FieldError{Field: "uuid", Code: FieldInvalid, Message: "the customer with this email address has the uuid " + cust.UUID})
	}
	if !found {
		// The row's uuid, if any: one importNew makes up no later row names.
		matches.wrote(in.uuid, in.key)
		return s.importNew(ctx, tx, c, in, o, start, sum, fail)
	}
	oldKey := cust.EmailKey
	changed, fe := in.apply(c.Tenant, &cust)
	if fe != nil {
		return fail(*fe)
	}
	if len(changed) == 0 {
		sum.Unchanged++
		return nil
	}
	matches.wrote(cust.UUID, oldKey, cust.EmailKey)
	cust.UpdatedAt = s.now()
	if err := checkUnique(ctx, tx, cust); err != nil {
		var e *Error
		if errors.As(err, &e) {
			return fail(FieldError{Field: takenField(e), Code: e.Code, Message: e.Message})
		}
		return err
	}
	if cust.EmailKey != oldKey {
		// Nothing issued for the old address may confirm or reset the new
		// one, which is unconfirmed until the customer confirms it.
		cust.EmailConfirmedAt = nil
		if err := tx.DeleteAllTokens(ctx, cust.TenantID, cust.ID); err != nil {
			return err
		}
	}
	if err := tx.UpdateCustomer(ctx, &cust); err != nil {
		if errors.Is(err, ErrDuplicate) {
			return fail(FieldError{Code: CodeEmailTaken, Message: "another customer has this email address, uuid or username"})
		}
		return err
	}
	if cust.State == StateDisabled && slices.Contains(changed, "state") {
		// As a back office's disabling: nothing issued before works after.
		if err := s.revokeIssued(ctx, tx, cust, "the customer was disabled"); err != nil {
			return err
		}
		if err := tx.DeleteSessions(ctx, cust.TenantID, cust.ID, 0); err != nil {
			return err
		}
	}
	if err := s.audit.record(ctx, tx, c.Tenant, AuditEvent{Type: AuditCustomerUpdated, Actor: actorOf(c), CustomerID: cust.ID,
		Detail: map[string]string{"fields": strings.Join(changed, ","), "state": string(cust.State), "how": "import"}}); err != nil {
		return err
	}
	sum.Updated++
	return nil
}

// importNew creates the customer of a row that matched nobody.
func (s *Customers) importNew(ctx context.Context, tx Tx, c Caller, in importInput, o ImportOptions, start time.Time,
	sum *ImportSummary, fail func(FieldError) error) error {
	id := in.uuid
	if id == "" {
		id = uuid.NewString()
	}
	state := in.state
	if state == "" {
		state = StatePending
		if in.fields["password_hash"] != "" {
			state = StateActive
		}
	}
	now := s.now()
	cust := Customer{UUID: id, TenantID: c.Tenant.ID, Email: storedEmail(c.Tenant, in.email), EmailKey: in.key, State: state,
		PasswordHash: in.fields["password_hash"], CreatedAt: now, UpdatedAt: now}
	if state == StateDisabled {
		cust.DisabledFrom = StatePending // re-enabling leads where a new customer starts
		if cust.HasPassword() {
			cust.DisabledFrom = StateActive
		}
	}
	cust.setProfile(in.profile())
	if cust.Username != "" {
		if other, err := tx.CustomerByUsername(ctx, cust.TenantID, cust.Username); err == nil && other.ID != 0 {
			return fail(FieldError{Field: "username", Code: CodeUsernameTaken, Message: errUsernameTaken.Message})
		} else if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	if err := tx.CreateCustomer(ctx, &cust); errors.Is(err, ErrDuplicate) {
		return fail(FieldError{Code: CodeEmailTaken, Message: "another customer has this email address, uuid or username"})
	} else if err != nil {
		return err
	}
	sum.Created++
	if !o.Invite || o.DryRun || cust.State == StateOffline || cust.State == StateDisabled {
		return nil
	}
	cust.reachedAt(in.email)
	_, _, queued, err := s.invite(ctx, tx, c, cust, start.Add(time.Duration(sum.Invited)*o.InviteEvery))
	if queued {
		sum.Invited++
	}
	return err
}

// takenField names the field of a uniqueness conflict.
func takenField(e *Error) string {
	switch e.Code {
	case CodeUUIDTaken:
		return "uuid"
	case CodeUsernameTaken:
		return "username"
	}
	return "email"
}

// movedPast reports whether a customer in state cur has gone beyond the
// state a file gives (an invited customer who activated since): the
// file's state then stays unapplied, so that importing it again changes
// nothing.
func movedPast(cur, file State) bool {
	return cur != StateDisabled && !CanTransition(cur, file) && slices.Index(States, file) < slices.Index(States, cur)
}

// importInput is a checked import row.
type importInput struct {
	fields map[string]string
	email  string
	key    string // the tenant's email key
	uuid   string // canonical; empty if the row gives none
	state  State  // empty if the row gives none
}

func (in importInput) profile() Profile {
	f := in.fields
	return Profile{Salutation: f["salutation"], FirstName: f["first_name"], LastName: f["last_name"], Username: f["username"],
		Locale: f["locale"], PartnerRef: f["partner_ref"]}
}

// checkImportRow checks a row's fields; the first thing wrong is the
// row's error.
func (s *Customers) checkImportRow(t Tenant, fields map[string]string) (importInput, *FieldError) {
	in := importInput{fields: map[string]string{}}
	for k, v := range fields {
		switch {
		case slices.Contains(importIgnored, k):
		case !slices.Contains(ImportFields, k):
			return in, &FieldError{Field: k, Code: FieldUnknown, Message: "is not a field of a customer import"}
		case !utf8.ValidString(v):
			return in, &FieldError{Field: k, Code: FieldInvalid, Message: "is not valid UTF-8"}
		default:
			in.fields[k] = strings.TrimSpace(v)
		}
	}
	in.email = in.fields["email"]
	if in.email == "" {
		return in, &FieldError{Field: "email", Code: FieldRequired, Message: "is required"}
	}
	var fe *FieldError
	if in.key, fe = s.emailKey(t, in.email); fe != nil {
		return in, fe
	}
	if v := in.fields["uuid"]; v != "" {
		u, err := uuid.Parse(v)
		if err != nil || len(v) != 36 {
			return in, &FieldError{Field: "uuid", Code: FieldInvalid, Message: "must be a UUID such as 11efbcf6-1628-4719-a18b-b3e6f12b1130"}
		}
		in.uuid = u.String()
	}
	if v := in.fields["state"]; v != "" {
		in.state = State(v)
		if !slices.Contains(States, in.state) {
			return in, &FieldError{Field: "state", Code: FieldInvalid, Message: "must be offline, pending, pending_active, active or disabled"}
		}
	}
	if v := in.fields["password_hash"]; v != "" && password.CheckImported(v) != nil {
		return in, &FieldError{Field: "password_hash", Code: FieldInvalid, Message: importedHashMessage}
	}
	if fields := in.profile().validate(); len(fields) > 0 {
		return in, &fields[0]
	}
	return in, nil
}

// importMatches are the customers a batch's rows name by UUID and by
// email, read in a query each as the batch begins (a round trip per row
// less on PostgreSQL). A UUID or email key that a row of the batch has
// written since is looked up again: one it created a customer with, or
// one of a customer it changed, before and after the change.
type importMatches struct {
	byUUID, byKey           matchesBy
	writtenUUID, writtenKey map[string]bool
}

// matchesBy are customers by one of their unique keys.
type matchesBy map[string]Customer

func readImportMatches(ctx context.Context, tx Tx, tenantID int64, rows []checkedRow) (importMatches, error) {
	m := importMatches{byUUID: matchesBy{}, byKey: matchesBy{}, writtenUUID: map[string]bool{}, writtenKey: map[string]bool{}}
	var uuids, keys []string
	for _, row := range rows {
		if row.wrong != nil {
			continue
		}
		keys = append(keys, row.in.key)
		if row.in.uuid != "" {
			uuids = append(uuids, row.in.uuid)
		}
	}
	byUUID, err := tx.CustomersByUUIDs(ctx, tenantID, uuids)
	if err != nil {
		return m, err
	}
	byKey, err := tx.CustomersByEmailKeys(ctx, tenantID, keys)
	if err != nil {
		return m, err
	}
	for _, c := range byUUID {
		m.byUUID[c.UUID] = c
	}
	for _, c := range byKey {
		m.byKey[c.EmailKey] = c
	}
	return m, nil
}

// wrote marks a customer the batch has created or changed, with the
// email keys it had and has.
func (m importMatches) wrote(uuid string, keys ...string) {
	m.writtenUUID[uuid] = true
	for _, k := range keys {
		m.writtenKey[k] = true
	}
}

// match finds the customer of a row: by uuid, else by email.
func (m importMatches) match(ctx context.Context, tx Tx, tenantID int64, in importInput) (Customer, bool, error) {
	if in.uuid != "" {
		cust, found, err := m.byUUID.find(in.uuid, m.writtenUUID, func() (Customer, error) { return tx.CustomerByUUID(ctx, tenantID, in.uuid) })
		if found || err != nil {
			return cust, found, err
		}
	}
	return m.byKey.find(in.key, m.writtenKey, func() (Customer, error) { return tx.CustomerByEmailKey(ctx, tenantID, in.key) })
}

// find takes the customer under key from what the batch read, unless the
// batch has written under key since: then it reads it again.
func (by matchesBy) find(key string, written map[string]bool, read func() (Customer, error)) (Customer, bool, error) {
	if !written[key] {
		cust, ok := by[key]
		return cust, ok, nil
	}
	cust, err := read()
	if errors.Is(err, ErrNotFound) {
		return Customer{}, false, nil
	}
	return cust, err == nil, err
}

// apply sets the row's fields on an existing customer and names those
// that changed. A password hash applies only to a customer without a
// password: once the customer has one (or logged in, which rehashes an
// imported one), importing the file again must not take it back. Nor
// does a state the customer has moved past.
func (in importInput) apply(t Tenant, cust *Customer) (changed []string, fe *FieldError) {
	set := func(name string, dst *string, v string) {
		if *dst != v {
			*dst = v
			changed = append(changed, name)
		}
	}
	if email := storedEmail(t, in.email); in.key != cust.EmailKey || email != cust.Email {
		cust.EmailKey, cust.Email = in.key, email
		changed = append(changed, "email")
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"salutation", &cust.Salutation}, {"first_name", &cust.FirstName}, {"last_name", &cust.LastName},
		{"username", &cust.Username}, {"locale", &cust.Locale}, {"partner_ref", &cust.PartnerRef}} {
		if v, ok := in.fields[f.name]; ok {
			set(f.name, f.dst, v)
		}
	}
	if h := in.fields["password_hash"]; h != "" && !cust.HasPassword() {
		set("password_hash", &cust.PasswordHash, h)
	}
	if in.state != "" && in.state != cust.State && !movedPast(cust.State, in.state) {
		var err error
		if in.state == StateDisabled || cust.State == StateDisabled && in.state == cust.DisabledFrom {
			err = setEnabled(cust, in.state != StateDisabled)
		} else {
			err = setState(cust, in.state)
			cust.DisabledFrom = ""
		}
		if err != nil {
			var e *Error
			errors.As(err, &e)
			return nil, &FieldError{Field: "state", Code: FieldInvalid, Message: e.Message}
		}
		changed = append(changed, "state")
	}
	return changed, nil
}
