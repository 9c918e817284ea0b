package cli

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"pforte/internal/account"
)

func (e env) audit(args []string) error {
	const help = "usage: pforte audit list [--customer ID] [--type T] [--since RFC3339] [--after SEQ] [--limit N] | verify [--anchor SEQ:HASH]  [--tenant SLUG] [--db DSN]"
	sub, fs, done, err := e.subcommand("audit", args, help, map[string]arity{"list": {0, 0}, "verify": {0, 0}})
	if done {
		return err
	}
	tenant := fs.String("tenant", account.DefaultTenant, "tenant slug")
	customer := fs.Int64("customer", 0, "only this customer's events")
	typ := fs.String("type", "", "only events of this type, such as login")
	since := fs.String("since", "", "only events at or after this time (RFC 3339)")
	after := fs.Int64("after", 0, "the events after this seq")
	limit := fs.Int("limit", 100, "at most this many events, up to 1000")
	anchor := fs.String("anchor", "", "SEQ:HASH, a head that an earlier verify printed: the event must still have that hash")
	var from time.Time
	var anchorSeq int64
	var anchorHash []byte
	check := func([]string) error {
		if *since != "" {
			var err error
			if from, err = time.Parse(time.RFC3339, *since); err != nil {
				return fmt.Errorf("%w: --since must be an RFC 3339 time such as 2026-12-01T00:00:00Z", ErrUsage)
			}
		}
		if *anchor != "" {
			seq, h, ok := strings.Cut(*anchor, ":")
			var err1, err2 error
			anchorSeq, err1 = strconv.ParseInt(seq, 10, 64)
			anchorHash, err2 = hex.DecodeString(h)
			if !ok || err1 != nil || err2 != nil || anchorSeq < 1 || len(anchorHash) != sha256.Size {
				return fmt.Errorf("%w: --anchor must be SEQ:HASH as audit verify prints it", ErrUsage)
			}
		}
		if *limit < 1 || *limit > 1000 || *customer < 0 || *after < 0 {
			return fmt.Errorf("%w: --limit must be 1 to 1000, --customer and --after not negative", ErrUsage)
		}
		return nil
	}
	return fs.run(check, func(svc *account.Service, _ []string) error {
		if sub == "verify" {
			return e.auditVerify(svc, *tenant, anchorSeq, anchorHash)
		}
		events, err := svc.Audit.ListBySlug(e.ctx, *tenant, account.AuditQuery{CustomerID: *customer,
			Type: account.AuditType(*typ), Since: from, AfterSeq: *after, Limit: *limit})
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SEQ\tAT\tTYPE\tACTOR\tOUTCOME\tCUSTOMER\tADDRESS\tDETAIL")
		for _, ev := range events {
			customer := "-"
			if ev.CustomerID != 0 {
				customer = fmt.Sprint(ev.CustomerID)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ev.Seq, ev.At.Format(time.RFC3339), ev.Type, ev.Actor,
				ev.Outcome, customer, dash(ev.ClientAddress), detailOf(ev))
		}
		return tw.Flush()
	})
}

// auditVerify checks the tenant's chain; a broken one is an error, so
// that the command's exit status tells.
func (e env) auditVerify(svc *account.Service, tenant string, anchorSeq int64, anchorHash []byte) error {
	r, err := svc.Audit.Verify(e.ctx, tenant)
	if err != nil {
		return err
	}
	if r.BrokenAt != 0 {
		return fmt.Errorf("%w at event %d of tenant %s: %s (%d events before it verified)",
			account.ErrAuditBroken, r.BrokenAt, tenant, r.Reason, r.Checked)
	}
	if anchorSeq != 0 {
		h, err := svc.Audit.HashAt(e.ctx, tenant, anchorSeq)
		if errors.Is(err, account.ErrNotFound) {
			return fmt.Errorf("%w: event %d of tenant %s, the anchor, is gone", account.ErrAuditBroken, anchorSeq, tenant)
		} else if err != nil {
			return err
		}
		if !bytes.Equal(h, anchorHash) {
			return fmt.Errorf("%w: event %d of tenant %s no longer has the anchored hash: the chain was written anew",
				account.ErrAuditBroken, anchorSeq, tenant)
		}
	}
	cut := ""
	if r.CutSeq > 0 {
		cut = fmt.Sprintf(", from the cut at event %d that retention made", r.CutSeq)
	}
	fmt.Fprintf(e.stdout, "the audit chain of tenant %s verifies: %d events up to event %d%s\n", tenant, r.Checked, r.HeadSeq, cut)
	if r.HeadSeq > 0 {
		fmt.Fprintf(e.stdout, "head: %d:%x (keep it elsewhere; audit verify --anchor checks it later)\n", r.HeadSeq, r.HeadHash)
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// detailOf is an event's detail as key=value pairs, sorted.
func detailOf(ev account.AuditEvent) string {
	if ev.Erased {
		return "(erased with the customer)"
	}
	var kv []string
	for k, v := range ev.Detail {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return dash(strings.Join(kv, " "))
}
