package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"time"
)

func init() {
	register("tariff", "file tariff versions and assign tariffs to usage points on a running server", cmdTariff)
	register("bill", "accounts, price feeds, bill runs, rebills and the CIS export on a running server", cmdBill)
}

const tariffUsage = `Usage: amigo tariff SUBCOMMAND [flags]

  put FILE --version N       file a tariff version (YAML or JSON; its id from the file or --id)
  versions ID                list a tariff's versions
  assign USAGE_POINT TARIFF --from DATE
                             put a usage point on a tariff from a local date
  send ID --version N        send the version's calendar to the meters on the tariff
                             (set-activity-calendar from its effective date)
  check ID --version N --from DATE --to DATE
                             compare those meters' TOU registers with the MDM's intervals;
                             exits 1 when a meter disagrees

The server is --server (or AMIGO_SERVER), the token AMIGO_TOKEN (configure permission;
command for send, read-data for check).
`

const billUsage = `Usage: amigo bill SUBCOMMAND [flags]

  accounts FILE              import accounts (CSV: id,usage_point,group,cycle_day)
  prices FEED FILE           import a dynamic price feed (CSV: time,price in millionths per kWh)
  run --group G (--from D --to D | --cycle-day N --as-of D)
                             start or resume a group's bill run and wait for it
  status RUN                 a bill run's status and counts
  rebill (--run N | --account A | --from D --to D)
                             rebill the latest bills whose days changed
  export --format lines|determinants|json [--run N] [--account A] [--latest]
                             the CIS export, to standard output

The server is --server (or AMIGO_SERVER), the token AMIGO_TOKEN (operator for runs,
configure for accounts and prices).
`

// billClient is a subcommand's connection to the server.
type billClient struct {
	base    *url.URL
	timeout time.Duration
}

func serverFlags(fs *flag.FlagSet) (*string, *time.Duration) {
	def := os.Getenv("AMIGO_SERVER")
	if def == "" {
		def = "http://127.0.0.1:8080"
	}
	return fs.String("server", def, "server base `url`"), fs.Duration("timeout", 30*time.Minute, "give up after this `duration`")
}

func (c billClient) call(method, path, contentType string, body io.Reader, out any) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	raw, err := callServerMethod(ctx, c.base, method, path, contentType, body)
	if err != nil {
		return err
	}
	if w, ok := out.(io.Writer); ok {
		_, err := w.Write(raw)
		return err
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("unreadable answer: %w", err)
	}
	return nil
}

// subcommand parses a subcommand's flags and positional arguments.
func subcommand(name, usage, doc string, args []string, nargs int, stderr io.Writer, extra func(fs *flag.FlagSet)) (billClient, []string, error) {
	fs := newFlags(name, usage, doc, stderr)
	server, timeout := serverFlags(fs)
	if extra != nil {
		extra(fs)
	}
	// Positional arguments first, flags after them.
	var pos []string
	for len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		pos, args = append(pos, args[0]), args[1:]
	}
	if err := parse(fs, args); err != nil {
		return billClient{}, nil, err
	}
	pos = append(pos, fs.Args()...)
	if len(pos) != nargs {
		return billClient{}, nil, usageError{fmt.Errorf("%s: want %d arguments, got %d", name, nargs, len(pos))}
	}
	base, err := serverURL(*server)
	if err != nil {
		return billClient{}, nil, err
	}
	return billClient{base: base, timeout: *timeout}, pos, nil
}

func helpFirst(args []string, usage string, stdout io.Writer) (bool, error) {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		if len(args) == 0 {
			return true, usageError{errors.New("a subcommand is required")}
		}
		return true, nil
	}
	return false, nil
}

func cmdTariff(args []string, stdout, stderr io.Writer) error {
	if done, err := helpFirst(args, tariffUsage, stdout); done {
		return err
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "put":
		var version int
		var id string
		c, pos, err := subcommand("tariff put", "FILE --version N [flags]", "Files a tariff version: the same document again changes nothing; another under a filed version is refused.",
			rest, 1, stderr, func(fs *flag.FlagSet) {
				fs.IntVar(&version, "version", 0, "the version `number`, 1 or more")
				fs.StringVar(&id, "id", "", "the tariff `id` (default: the file's)")
			})
		if err != nil {
			return err
		}
		doc, err := os.ReadFile(pos[0])
		if err != nil {
			return err
		}
		if id == "" {
			var head struct {
				ID string `json:"id" yaml:"id"`
			}
			if err := yamlID(doc, &head.ID); err != nil || head.ID == "" {
				return usageError{fmt.Errorf("tariff put %s: the file names no id; give --id", pos[0])}
			}
			id = head.ID
		}
		var out struct {
			ID            string
			Version       int
			EffectiveFrom string
		}
		if err := c.call("PUT", "api/v1/tariffs/"+url.PathEscape(id)+"/versions/"+strconv.Itoa(version), "application/yaml", bytes.NewReader(doc), &out); err != nil {
			return fmt.Errorf("tariff put %s: %w", pos[0], err)
		}
		fmt.Fprintf(stdout, "tariff %s version %d in force from %s\n", out.ID, out.Version, out.EffectiveFrom)
		return nil
	case "versions":
		c, pos, err := subcommand("tariff versions", "ID [flags]", "Lists a tariff's versions, oldest first.", rest, 1, stderr, nil)
		if err != nil {
			return err
		}
		return c.call("GET", "api/v1/tariffs/"+url.PathEscape(pos[0])+"/versions", "", nil, stdout)
	case "assign":
		var from string
		c, pos, err := subcommand("tariff assign", "USAGE_POINT TARIFF --from DATE [flags]", "Puts a usage point on a tariff from a local date.", rest, 2, stderr,
			func(fs *flag.FlagSet) {
				fs.StringVar(&from, "from", "", "the first local `date` on the tariff (YYYY-MM-DD)")
			})
		if err != nil {
			return err
		}
		body, _ := json.Marshal(map[string]string{"tariffId": pos[1], "from": from})
		var out struct{ Items []json.RawMessage }
		if err := c.call("PUT", "api/v1/usage-points/"+url.PathEscape(pos[0])+"/tariff-assignments", "application/json", bytes.NewReader(body), &out); err != nil {
			return fmt.Errorf("tariff assign: %w", err)
		}
		fmt.Fprintf(stdout, "usage point %s on tariff %s from %s (%d assignments)\n", pos[0], pos[1], from, len(out.Items))
		return nil
	case "send":
		var version int
		c, pos, err := subcommand("tariff send", "ID --version N [flags]",
			"Sends a tariff version's calendar to the meters on the tariff on its effective date; sending again changes nothing. Above the head-end's calendar limit the commands await a second person's approval.",
			rest, 1, stderr, func(fs *flag.FlagSet) { fs.IntVar(&version, "version", 0, "the version `number`") })
		if err != nil {
			return err
		}
		return tariffSend(c, pos[0], version, stdout)
	case "check":
		var version int
		var from, to string
		var tolWh, tolPermille int64
		c, pos, err := subcommand("tariff check", "ID --version N --from DATE --to DATE [flags]",
			"Compares the TOU registers (1.8.1–1.8.4) of the meters on a tariff version with the MDM's intervals bucketed by its calendar, over [from, to).",
			rest, 1, stderr, func(fs *flag.FlagSet) {
				fs.IntVar(&version, "version", 0, "the version `number`")
				fs.StringVar(&from, "from", "", "from the UTC start of this `date`")
				fs.StringVar(&to, "to", "", "to the UTC start of this `date`")
				fs.Int64Var(&tolWh, "tolerance-wh", -1, "a register may differ by this many `Wh` (server default: 10)")
				fs.Int64Var(&tolPermille, "tolerance-permille", -1, "or by this many `thousandths` of its bucket (server default: 5)")
			})
		if err != nil {
			return err
		}
		q := url.Values{"from": {from}, "to": {to}}
		if tolWh >= 0 {
			q.Set("toleranceWh", strconv.FormatInt(tolWh, 10))
		}
		if tolPermille >= 0 {
			q.Set("tolerancePermille", strconv.FormatInt(tolPermille, 10))
		}
		return tariffCheck(c, pos[0], version, q, stdout)
	}
	return usageError{fmt.Errorf("unknown subcommand %q; run 'amigo tariff --help'", sub)}
}

// yamlID finds the top-level "id:" of a YAML or JSON tariff document
// without parsing the rest: the server parses and validates it.
func yamlID(doc []byte, id *string) error {
	var j struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(doc, &j) == nil {
		*id = j.ID
		return nil
	}
	for _, line := range bytes.Split(doc, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("id:")); ok {
			*id = string(bytes.Trim(bytes.TrimSpace(v), `"'`))
			return nil
		}
	}
	return errors.New("no id")
}

type billRun struct {
	ID                                     int64
	Group, From, To, Status, Cursor, Error string
	Billed, Skipped, Held, Flagged, Failed int
}

func (r billRun) String() string {
	s := fmt.Sprintf("bill run %d of group %q, %s to %s: %s, %d billed (%d held, %d flagged), %d skipped, %d failed",
		r.ID, r.Group, r.From, r.To, r.Status, r.Billed, r.Held, r.Flagged, r.Skipped, r.Failed)
	if r.Error != "" {
		s += "; " + r.Error
	}
	return s
}

func cmdBill(args []string, stdout, stderr io.Writer) error {
	if done, err := helpFirst(args, billUsage, stdout); done {
		return err
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "accounts":
		c, pos, err := subcommand("bill accounts", "FILE [flags]", "Imports accounts (CSV: id,usage_point,group,cycle_day); a bad line refuses the whole file.", rest, 1, stderr, nil)
		if err != nil {
			return err
		}
		f, err := os.Open(pos[0])
		if err != nil {
			return err
		}
		defer f.Close()
		var out struct{ Accounts int }
		if err := c.call("POST", "api/v1/accounts", "text/csv", f, &out); err != nil {
			return fmt.Errorf("bill accounts %s: %w", pos[0], err)
		}
		fmt.Fprintf(stdout, "%d accounts imported\n", out.Accounts)
		return nil
	case "prices":
		c, pos, err := subcommand("bill prices", "FEED FILE [flags]", "Imports hourly prices of a feed (CSV: time,price); a bad line refuses the whole file.", rest, 2, stderr, nil)
		if err != nil {
			return err
		}
		f, err := os.Open(pos[1])
		if err != nil {
			return err
		}
		defer f.Close()
		var out struct{ Prices int }
		if err := c.call("POST", "api/v1/price-feeds/"+url.PathEscape(pos[0]), "text/csv", f, &out); err != nil {
			return fmt.Errorf("bill prices %s: %w", pos[1], err)
		}
		fmt.Fprintf(stdout, "%d prices imported into feed %s\n", out.Prices, pos[0])
		return nil
	case "run":
		var group, from, to, asOf string
		var cycleDay int
		var noWait bool
		c, _, err := subcommand("bill run", "--group G (--from D --to D | --cycle-day N --as-of D) [flags]",
			"Starts the bill run of a group and period, or resumes it where it stopped, and waits for it. Running a finished run again bills nothing new.",
			rest, 0, stderr, func(fs *flag.FlagSet) {
				fs.StringVar(&group, "group", "", "the account `group`")
				fs.StringVar(&from, "from", "", "the period's first local `date`")
				fs.StringVar(&to, "to", "", "the `date` after the period's last")
				fs.IntVar(&cycleDay, "cycle-day", 0, "instead of from and to: the month ending on this `day`")
				fs.StringVar(&asOf, "as-of", time.Now().Format(time.DateOnly), "with --cycle-day: the `date` as of which")
				fs.BoolVar(&noWait, "no-wait", false, "return once started")
			})
		if err != nil {
			return err
		}
		req := map[string]any{"group": group}
		if cycleDay != 0 {
			req["cycleDay"], req["asOf"] = cycleDay, asOf
		} else {
			req["from"], req["to"] = from, to
		}
		body, _ := json.Marshal(req)
		var run billRun
		if err := c.call("POST", "api/v1/bill-runs", "application/json", bytes.NewReader(body), &run); err != nil {
			return fmt.Errorf("bill run: %w", err)
		}
		deadline := time.Now().Add(c.timeout)
		for !noWait && run.Status == "running" {
			if time.Now().After(deadline) {
				return fmt.Errorf("bill run %d still running after %s; it goes on", run.ID, c.timeout)
			}
			time.Sleep(500 * time.Millisecond)
			if err := c.call("GET", "api/v1/bill-runs/"+strconv.FormatInt(run.ID, 10), "", nil, &run); err != nil {
				return fmt.Errorf("bill run %d: %w", run.ID, err)
			}
		}
		fmt.Fprintln(stdout, run)
		if run.Status == "failed" {
			return fmt.Errorf("bill run %d failed", run.ID)
		}
		return nil
	case "status":
		c, pos, err := subcommand("bill status", "RUN [flags]", "Shows a bill run's status and counts.", rest, 1, stderr, nil)
		if err != nil {
			return err
		}
		var run billRun
		if err := c.call("GET", "api/v1/bill-runs/"+url.PathEscape(pos[0]), "", nil, &run); err != nil {
			return fmt.Errorf("bill status %s: %w", pos[0], err)
		}
		fmt.Fprintln(stdout, run)
		return nil
	case "rebill":
		var runID int64
		var account, from, to string
		c, _, err := subcommand("bill rebill", "(--run N | --account A | --from D --to D) [flags]",
			"Recomputes the latest bills whose days changed since (an edit, a late actual, an estimate replaced) as new sequences, with the adjustment and the reason.",
			rest, 0, stderr, func(fs *flag.FlagSet) {
				fs.Int64Var(&runID, "run", 0, "the bills of this `run`")
				fs.StringVar(&account, "account", "", "the bills of this `account`")
				fs.StringVar(&from, "from", "", "the bills of the period starting this `date`")
				fs.StringVar(&to, "to", "", "and ending this `date`")
			})
		if err != nil {
			return err
		}
		req := map[string]any{"run": runID, "account": account}
		if from != "" {
			req["from"], req["to"] = from, to
		}
		body, _ := json.Marshal(req)
		var rep struct {
			Checked, Rebilled, Failed int
			Errors                    []string
		}
		if err := c.call("POST", "api/v1/rebills", "application/json", bytes.NewReader(body), &rep); err != nil {
			return fmt.Errorf("bill rebill: %w", err)
		}
		fmt.Fprintf(stdout, "%d bills checked, %d rebilled, %d failed\n", rep.Checked, rep.Rebilled, rep.Failed)
		for _, e := range rep.Errors {
			fmt.Fprintln(stdout, "  "+e)
		}
		return nil
	case "export":
		var format, account, runID string
		var latest bool
		c, _, err := subcommand("bill export", "--format lines|determinants|json [flags]",
			"Writes the CIS export to standard output: lines (CSV, a row per charge), determinants (CSV) or json (docs/billing-runs.md).",
			rest, 0, stderr, func(fs *flag.FlagSet) {
				fs.StringVar(&format, "format", "lines", "lines, determinants or json")
				fs.StringVar(&runID, "run", "", "the bills of this `run`")
				fs.StringVar(&account, "account", "", "the bills of this `account`")
				fs.BoolVar(&latest, "latest", true, "only the latest sequence of each bill")
			})
		if err != nil {
			return err
		}
		q := url.Values{"format": {format}}
		if runID != "" {
			q.Set("run", runID)
		}
		if account != "" {
			q.Set("account", account)
		}
		if latest {
			q.Set("latest", "true")
		}
		return c.call("GET", "api/v1/bill-export?"+q.Encode(), "", nil, stdout)
	}
	return usageError{fmt.Errorf("unknown subcommand %q; run 'amigo bill --help'", sub)}
}

func tariffVersionPath(id string, version int) string {
	return "api/v1/tariffs/" + url.PathEscape(id) + "/versions/" + strconv.Itoa(version)
}

func tariffSend(c billClient, id string, version int, stdout io.Writer) error {
	type meterError struct{ Meter, Error string }
	var out struct {
		Version                                         int
		EffectiveFrom                                   string
		Meters, Issued, AwaitingApproval, AlreadyIssued int
		Unsupported, Failed                             []meterError
		NoMeter                                         []string
	}
	if err := c.call("POST", tariffVersionPath(id, version)+"/send", "", nil, &out); err != nil {
		return fmt.Errorf("tariff send %s version %d: %w", id, version, err)
	}
	fmt.Fprintf(stdout, "tariff %s version %d from %s: %d meters, %d issued, %d awaiting approval, %d already issued, %d unsupported, %d failed\n",
		id, out.Version, out.EffectiveFrom, out.Meters, out.Issued, out.AwaitingApproval, out.AlreadyIssued, len(out.Unsupported), len(out.Failed))
	for _, e := range out.Unsupported {
		fmt.Fprintf(stdout, "  unsupported: meter %s: %s\n", e.Meter, e.Error)
	}
	for _, e := range out.Failed {
		fmt.Fprintf(stdout, "  failed: meter %s: %s\n", e.Meter, e.Error)
	}
	for _, up := range out.NoMeter {
		fmt.Fprintf(stdout, "  usage point %s has no electricity meter\n", up)
	}
	if n := len(out.Unsupported) + len(out.Failed); n > 0 {
		return fmt.Errorf("tariff send %s version %d: %d meters not sent", id, version, n)
	}
	return nil
}

func tariffCheck(c billClient, id string, version int, q url.Values, stdout io.Writer) error {
	var out struct {
		From, To                   string
		Agree, Disagree, Unchecked int
		Items                      []struct {
			Meter, Verdict, Problem string
			From, To                time.Time
			Missing                 int
			Registers               []struct{ Register, MeterWh, MDMWh, DifferenceWh int64 }
		}
		NoMeter []string
	}
	if err := c.call("GET", tariffVersionPath(id, version)+"/register-check?"+q.Encode(), "", nil, &out); err != nil {
		return fmt.Errorf("tariff check %s version %d: %w", id, version, err)
	}
	fmt.Fprintf(stdout, "tariff %s version %d, %s – %s: %d agree, %d disagree, %d not checked\n", id, version, out.From, out.To, out.Agree, out.Disagree, out.Unchecked)
	for _, m := range out.Items {
		if m.Problem != "" {
			fmt.Fprintf(stdout, "  meter %s not checked: %s\n", m.Meter, m.Problem)
			continue
		}
		fmt.Fprintf(stdout, "  meter %s %s over %s – %s:", m.Meter, m.Verdict, m.From.Format(time.RFC3339), m.To.Format(time.RFC3339))
		for _, r := range m.Registers {
			fmt.Fprintf(stdout, " T%d meter %d Wh, MDM %d Wh (%+d);", r.Register, r.MeterWh, r.MDMWh, r.DifferenceWh)
		}
		if m.Missing > 0 {
			fmt.Fprintf(stdout, " %d intervals missing", m.Missing)
		}
		fmt.Fprintln(stdout)
	}
	for _, up := range out.NoMeter {
		fmt.Fprintf(stdout, "  usage point %s has no electricity meter\n", up)
	}
	if out.Disagree > 0 {
		return fmt.Errorf("tariff check %s version %d: %d meters disagree", id, version, out.Disagree)
	}
	return nil
}
