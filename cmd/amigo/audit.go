package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/amigo-ami/amigo/audit"
	"github.com/amigo-ami/amigo/config"
	"github.com/amigo-ami/amigo/store"
)

func init() {
	register("audit", "verify the audit trail's hash chain, or list it", cmdAudit)
}

// anchorFileName is the anchor verify keeps in the data directory.
const anchorFileName = "audit.anchor"

func cmdAudit(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(stderr, "Usage: amigo audit verify [--anchor SEQ:HEX] [--anchor-file FILE]\n       amigo audit list [--actor NAME] [--action ACTION] [--from T] [--to T]")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return nil
		}
		return usageError{errors.New("give a subcommand: verify or list")}
	}
	switch args[0] {
	case "verify":
		return auditVerify(args[1:], stdout, stderr)
	case "list":
		return auditList(args[1:], stdout, stderr)
	}
	return usageError{fmt.Errorf("unknown subcommand %q: verify or list", args[0])}
}

// openAuditStore opens the configured store, and returns it with the data
// directory the configuration names.
func openAuditStore(cfgPath, data, storeURL string) (store.Store, string, error) {
	cfg, err := config.Load(cfgPath, os.Getenv)
	if err != nil {
		return nil, "", err
	}
	if data != "" {
		cfg.Data = data
	}
	if storeURL != "" {
		cfg.Store.URL = storeURL
	}
	if err := cfg.Validate(); err != nil {
		return nil, "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Store.ConnectTimeout)
	defer cancel()
	st, err := store.Open(ctx, cfg.StoreURL())
	return st, cfg.Data, err
}

func auditVerify(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("audit verify", "[flags]",
		"Walks the whole audit trail and checks its hash chain: a record edited, deleted, moved or relinked\n"+
			"is named with its seq. The log alone cannot show records cut off its end, or a log rewritten\n"+
			"whole with a fresh chain: for that, verify against an anchor (the last seq and hash seen) kept\n"+
			"where the database's editor cannot change it. Each run prints the anchor to keep, and checks and\n"+
			"then advances the anchor file (by default "+anchorFileName+" in the data directory; keep it, or the\n"+
			"printed anchor, off the database's machine where that matters). Exit status 1 on any fault.", stderr)
	cfgPath := fs.String("config", os.Getenv("AMIGO_CONFIG"), "YAML config `file`")
	data := fs.String("data", "", "data `directory`")
	storeURL := fs.String("store", "", "store `url`")
	anchorArg := fs.String("anchor", "", "check against this anchor `SEQ:HEX`, printed by an earlier verify")
	anchorFile := fs.String("anchor-file", "", "the anchor `file` to check and advance (default: "+anchorFileName+" in the data directory; 'none': no file)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError{errors.New("verify takes no arguments")}
	}
	var anchors []audit.Anchor
	if *anchorArg != "" {
		a, err := audit.ParseAnchor(*anchorArg)
		if err != nil {
			return usageError{err}
		}
		anchors = append(anchors, a)
	}
	st, dataDir, err := openAuditStore(*cfgPath, *data, *storeURL)
	if err != nil {
		return err
	}
	defer st.Close()
	file := *anchorFile
	switch file {
	case "":
		file = filepath.Join(dataDir, anchorFileName)
	case "none":
		file = ""
	}
	if file != "" {
		b, err := os.ReadFile(file)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return fmt.Errorf("anchor file: %w", err)
		default:
			a, err := audit.ParseAnchor(string(b))
			if err != nil {
				return fmt.Errorf("anchor file %s: %w", file, err)
			}
			anchors = append(anchors, a)
		}
	}
	ctx := context.Background()
	var faults []audit.Fault
	var rep audit.Report
	// Each anchor is checked on its own walk: they are few, and a report
	// then says which anchor a truncation was found against.
	for i := 0; i == 0 || i < len(anchors); i++ {
		o := audit.VerifyOptions{}
		if i < len(anchors) {
			o.Anchor = &anchors[i]
		}
		r, err := audit.Verify(ctx, st, o)
		if err != nil {
			return err
		}
		rep = r
		for _, f := range r.Faults {
			if !slices.Contains(faults, f) {
				faults = append(faults, f)
			}
		}
	}
	slices.SortStableFunc(faults, func(a, b audit.Fault) int { return int(a.Seq - b.Seq) })
	if len(faults) > 0 {
		for _, f := range faults {
			fmt.Fprintf(stdout, "FAULT %s\n", f)
		}
		if rep.More {
			fmt.Fprintf(stdout, "(more faults not listed; the first %d are)\n", audit.MaxFaults)
		}
		fmt.Fprintf(stdout, "%d records read; the log's last record is %s\n", rep.Records, rep.Head)
		return fmt.Errorf("%w: %d faults, the first at seq %d (%s)", audit.ErrFault, len(faults), faults[0].Seq, faults[0].Kind)
	}
	fmt.Fprintf(stdout, "audit trail intact: %d records\nanchor: %s\n", rep.Records, rep.Head)
	if file != "" && rep.Records > 0 {
		if err := writeAnchor(file, rep.Head); err != nil {
			return fmt.Errorf("anchor file: %w", err)
		}
		fmt.Fprintf(stdout, "anchor written to %s\n", file)
	}
	return nil
}

// writeAnchor replaces the anchor file whole, so that a crash leaves the
// old anchor or the new one.
func writeAnchor(file string, a audit.Anchor) error {
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, []byte(a.String()+"\n"), 0o640); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}

func auditList(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("audit list", "[flags]", "Lists the audit trail, oldest first (or newest first), filtered.", stderr)
	cfgPath := fs.String("config", os.Getenv("AMIGO_CONFIG"), "YAML config `file`")
	data := fs.String("data", "", "data `directory`")
	storeURL := fs.String("store", "", "store `url`")
	actor := fs.String("actor", "", "only this user's records")
	action := fs.String("action", "", "only this `action` (sign-in, denied, command-issue...)")
	from := fs.String("from", "", "from this `time` (RFC 3339, or a date)")
	to := fs.String("to", "", "before this `time` (RFC 3339, or a date: to its end)")
	after := fs.Int64("after", 0, "records after this `seq`")
	limit := fs.Int("limit", 100, "at most this many records")
	asJSON := fs.Bool("json", false, "one JSON record a line")
	newest := fs.Bool("newest", false, "newest first")
	if err := parse(fs, args); err != nil {
		return err
	}
	q := audit.Query{Actor: strings.ToLower(*actor), Action: audit.Action(*action), After: *after, Limit: *limit, Newest: *newest}
	var err error
	if q.From, err = parseInstant(*from, false); err != nil {
		return usageError{fmt.Errorf("--from: %w", err)}
	}
	if q.To, err = parseInstant(*to, true); err != nil {
		return usageError{fmt.Errorf("--to: %w", err)}
	}
	if q.Limit <= 0 {
		return usageError{errors.New("--limit must be positive")}
	}
	st, _, err := openAuditStore(*cfgPath, *data, *storeURL)
	if err != nil {
		return err
	}
	defer st.Close()
	recs, err := audit.New(st).Records(context.Background(), q)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		for _, r := range recs {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tACTOR\tACTION\tTARGET\tOUTCOME\tDETAILS\tHASH")
	for _, r := range recs {
		var d []string
		for k, v := range r.Details {
			d = append(d, k+"="+v)
		}
		slices.Sort(d)
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Seq, r.At.Format(time.RFC3339), dash(r.Actor), r.Action, dash(r.Target),
			r.Outcome, strings.Join(d, " "), hex.EncodeToString(r.Hash)[:min(12, 2*len(r.Hash))])
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// parseInstant reads an RFC 3339 time or a date (its UTC start, or with
// end its UTC end).
func parseInstant(s string, end bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a date", s)
	}
	if end {
		d = d.AddDate(0, 0, 1)
	}
	return d, nil
}
