package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"pforte/internal/account"
	"pforte/internal/customerfile"
)

// customerFlags are the flags of pforte customer; each subcommand uses
// some of them.
type customerFlags struct {
	sub string
	fs  *flagSet

	tenant, email, uuid, state, hash *string
	profile                          map[string]*string // by flag name
	createdSince                     *string
	json, dryRun, invite, withHashes *bool
	format, out, inviteRate          *string

	filter      account.CustomerFilter
	inviteEvery time.Duration
}

var profileFlags = []string{"salutation", "first-name", "last-name", "username", "locale", "partner-ref"}

func (o *customerFlags) define() {
	fs := o.fs
	o.tenant = fs.String("tenant", account.DefaultTenant, "tenant slug")
	o.email = fs.String("email", "", "create, update: the address; proof: the address of erased customers whose proofs are kept (proof_retention)")
	o.uuid = fs.String("uuid", "", "create: the customer's uuid (default: a new one)")
	o.state = fs.String("state", "", "create: offline, pending, pending_active or active; list, export: only customers in this state")
	o.hash = fs.String("password-hash", "", "create: a hash from another system (argon2id, argon2i, bcrypt, pbkdf2_sha256)")
	o.profile = map[string]*string{}
	for _, name := range profileFlags {
		o.profile[name] = fs.String(name, "", "create, update: the customer's "+strings.ReplaceAll(name, "-", " "))
	}
	o.createdSince = fs.String("created-since", "", "list, export: only customers created at or after this time (RFC 3339)")
	o.json = fs.Bool("json", false, "print JSON rather than a table")
	o.dryRun = fs.Bool("dry-run", false, "import: check every row and write nothing")
	o.invite = fs.Bool("invite", false, "import: mail an invitation to each customer created (default: nobody hears of the import)")
	o.inviteRate = fs.String("invite-rate", "10/s", "import: how fast invitations go out: N/s, N/m or N/h; 0: at once")
	o.format = fs.String("format", "", "import, export: csv or jsonl (default: by the file's extension; export: csv)")
	o.out = fs.String("out", "", "export: the file to write (default: standard output)")
	o.withHashes = fs.Bool("with-hashes", false, "export: add the password hashes; only with --out")
}

// check refuses what does not fit the subcommand before the database is
// opened.
func (o *customerFlags) check(rest []string) error {
	usage := func(format string, args ...any) error {
		return fmt.Errorf("%w: customer %s: %s", ErrUsage, o.sub, fmt.Sprintf(format, args...))
	}
	switch o.sub {
	case "proof":
		if (len(rest) == 1) == (*o.email != "") {
			return usage("name a customer, or an erased customer's --email")
		}
	case "export":
		if *o.email != "" {
			return usage("--email belongs to proof; export names a customer, or none for all")
		}
		if *o.withHashes && *o.out == "" {
			return usage("--with-hashes writes only to a file (--out), never to standard output")
		}
	case "create":
		if *o.email == "" {
			return usage("--email is required")
		}
	case "import":
		if *o.inviteRate != "" {
			var err error
			if o.inviteEvery, err = customerfile.ParseRate(*o.inviteRate); err != nil {
				return usage("--invite-rate: %v", err)
			}
		}
	}
	if o.sub == "list" || o.sub == "export" {
		o.filter = account.CustomerFilter{State: account.State(*o.state), PartnerRef: *o.profile["partner-ref"]}
		if *o.createdSince != "" {
			t, err := time.Parse(time.RFC3339, *o.createdSince)
			if err != nil {
				return usage("--created-since must be an RFC 3339 time such as 2026-12-01T00:00:00Z")
			}
			o.filter.CreatedSince = t
		}
	}
	if *o.format != "" {
		if _, err := customerfile.ParseFormat(*o.format); err != nil {
			return usage("--%v", err)
		}
	}
	return nil
}

// patch is what update's flags change: only the flags given.
func (o *customerFlags) patch() account.CustomerPatch {
	given := func(name string) *string {
		if o.fs.given(name) {
			if name == "email" {
				return o.email
			}
			return o.profile[name]
		}
		return nil
	}
	return account.CustomerPatch{Email: given("email"), Salutation: given("salutation"), FirstName: given("first-name"),
		LastName: given("last-name"), Username: given("username"), Locale: given("locale"), PartnerRef: given("partner-ref")}
}

func (o *customerFlags) newProfile() account.Profile {
	p := o.profile
	return account.Profile{Salutation: *p["salutation"], FirstName: *p["first-name"], LastName: *p["last-name"],
		Username: *p["username"], Locale: *p["locale"], PartnerRef: *p["partner-ref"]}
}

// customerByRef finds a customer by id, uuid or email address.
func customerByRef(e env, svc *account.Service, c account.Caller, ref string) (account.Customer, error) {
	if strings.Contains(ref, "@") {
		return svc.Customers.ByEmail(e.ctx, c, ref)
	}
	return svc.Customers.Get(e.ctx, c, ref)
}

// eachCustomer calls fn with every customer f selects, by id.
func eachCustomer(e env, svc *account.Service, c account.Caller, f account.CustomerFilter, fn func(account.Customer) error) error {
	var after int64
	for {
		page, err := svc.Customers.List(e.ctx, c, f, after, account.MaxPageSize)
		if err != nil {
			return err
		}
		for _, cust := range page {
			if err := fn(cust); err != nil {
				return err
			}
		}
		if len(page) < account.MaxPageSize {
			return nil
		}
		after = page[len(page)-1].ID
	}
}

func (e env) customerList(svc *account.Service, c account.Caller, o customerFlags) error {
	if *o.json {
		list := []account.ExportedCustomer{}
		err := eachCustomer(e, svc, c, o.filter, func(cust account.Customer) error {
			list = append(list, cust.Exported())
			return nil
		})
		if err != nil {
			return err
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(list)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUUID\tEMAIL\tSTATE\tNAME\tPARTNER REF\tCREATED")
	err := eachCustomer(e, svc, c, o.filter, func(cust account.Customer) error {
		_, err := fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", cust.ID, cust.UUID, dash(cust.Email), cust.State, dash(cust.Name()),
			dash(cust.PartnerRef), cust.CreatedAt.Format(time.RFC3339))
		return err
	})
	if err != nil {
		return err
	}
	return tw.Flush()
}

// printCustomer prints one customer, as a list of fields or as JSON (the
// customer of an export, docs/export.md).
func (e env) printCustomer(c account.Customer, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(c.Exported())
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	for _, r := range [][2]string{{"id", strconv.FormatInt(c.ID, 10)}, {"uuid", c.UUID}, {"email", dash(c.Email)},
		{"state", string(c.State)}, {"salutation", dash(c.Salutation)}, {"first name", dash(c.FirstName)},
		{"last name", dash(c.LastName)}, {"username", dash(c.Username)}, {"locale", dash(c.Locale)},
		{"partner ref", dash(c.PartnerRef)}, {"password", map[bool]string{true: "set", false: "none"}[c.HasPassword()]},
		{"email confirmed", optionalTime(c.EmailConfirmedAt)}, {"created", c.CreatedAt.Format(time.RFC3339)},
		{"updated", c.UpdatedAt.Format(time.RFC3339)}} {
		fmt.Fprintf(tw, "%s:\t%s\n", r[0], r[1])
	}
	return tw.Flush()
}

func (e env) customerCreate(svc *account.Service, c account.Caller, o customerFlags) error {
	res, err := svc.Customers.Create(e.ctx, c, account.NewCustomer{Email: *o.email, UUID: *o.uuid,
		PasswordHash: *o.hash, State: account.State(*o.state), Profile: o.newProfile()})
	if err != nil {
		return err
	}
	return e.printCustomer(res.Customer, *o.json)
}

// progressAbove is the file size from which an import reports its
// progress on stderr: a few thousand rows.
const progressAbove = 512 << 10

func (e env) customerImport(svc *account.Service, c account.Caller, o customerFlags, path string) error {
	format := customerfile.FormatOf(path)
	if *o.format != "" {
		format, _ = customerfile.ParseFormat(*o.format)
	}
	if format == "" {
		return fmt.Errorf("%w: customer import: name the format of %s with --format csv or --format jsonl", ErrUsage, path)
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	counted := &countingReader{r: f}
	src, err := customerfile.NewSource(counted, format)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	opts := account.ImportOptions{DryRun: *o.dryRun, Invite: *o.invite, InviteEvery: o.inviteEvery}
	if st.Size() > progressAbove {
		opts.Progress = func(s account.ImportSummary) {
			fmt.Fprintf(e.stderr, "%d rows (%d%%): %d created, %d updated, %d unchanged, %d failed\n", s.Rows,
				counted.n*100/st.Size(), s.Created, s.Updated, s.Unchanged, s.Failed)
		}
	}
	sum, err := svc.Customers.Import(e.ctx, c, src, opts)
	if err != nil {
		if sum.Rows > 0 && !sum.DryRun {
			return fmt.Errorf("%w (the %d rows before stay imported; importing the file again skips them)", err, sum.Rows)
		}
		return err
	}
	if *o.json {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(sum); err != nil {
			return err
		}
	} else {
		e.printImportSummary(sum)
	}
	if sum.Failed > 0 {
		return fmt.Errorf("%d of %d rows failed", sum.Failed, sum.Rows)
	}
	return nil
}

func (e env) printImportSummary(s account.ImportSummary) {
	for _, r := range s.Errors {
		field := ""
		if r.Field != "" {
			field = r.Field + ": "
		}
		fmt.Fprintf(e.stdout, "line %d: %s%s\n", r.Line, field, r.Message)
	}
	if len(s.Errors) < s.Failed {
		fmt.Fprintf(e.stdout, "(%d more failed rows not listed)\n", s.Failed-len(s.Errors))
	}
	dry := ""
	if s.DryRun {
		dry = "dry run, nothing written: "
	}
	fmt.Fprintf(e.stdout, "%s%d rows: %d created, %d updated, %d unchanged, %d failed", dry, s.Rows, s.Created, s.Updated,
		s.Unchanged, s.Failed)
	if s.Invited > 0 {
		fmt.Fprintf(e.stdout, ", %d invited", s.Invited)
	}
	fmt.Fprintln(e.stdout)
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// customerExportAll writes every customer the filters select. Password
// hashes go only to a file, never to a terminal or a pipe.
func (e env) customerExportAll(svc *account.Service, c account.Caller, o customerFlags) error {
	format := customerfile.CSV
	if *o.format != "" {
		format, _ = customerfile.ParseFormat(*o.format)
	} else if f := customerfile.FormatOf(*o.out); f != "" {
		format = f
	}
	out := e.stdout
	var file *os.File
	if *o.out != "" {
		var err error
		// The file holds personal data (and perhaps hashes): its owner's only.
		if file, err = os.OpenFile(*o.out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600); err != nil {
			return err
		}
		defer file.Close()
		if st, err := file.Stat(); err == nil && *o.withHashes && st.Mode()&os.ModeCharDevice != 0 {
			return fmt.Errorf("%w: customer export: --with-hashes writes only to a file, not to %s", ErrUsage, *o.out)
		}
		out = file
	}
	w, err := customerfile.NewWriter(out, format, *o.withHashes)
	if err != nil {
		return err
	}
	n := 0
	err = eachCustomer(e, svc, c, o.filter, func(cust account.Customer) error {
		n++
		return w.Write(cust)
	})
	if err == nil {
		err = w.Close()
	}
	if file != nil {
		if cerr := file.Close(); err == nil && cerr != nil && !errors.Is(cerr, os.ErrClosed) {
			err = cerr
		}
		if err == nil {
			fmt.Fprintf(e.stderr, "%d customers written to %s\n", n, *o.out)
		}
	}
	return err
}
