package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

func init() {
	register("approvals", "list, approve or reject the critical commands awaiting a second person", cmdApprovals)
}

// awaitingCommand is one entry of GET /api/v1/approvals.
type awaitingCommand struct {
	MRID       string            `json:"mRID"`
	Meter      string            `json:"meter"`
	Type       string            `json:"type"`
	Status     string            `json:"status"`
	Reason     string            `json:"reason"`
	IssuedBy   string            `json:"issuedBy"`
	ApprovedBy string            `json:"approvedBy"`
	Parameters map[string]string `json:"parameters"`
	Since      time.Time         `json:"awaitingSince"`
	Deadline   time.Time         `json:"approvalDeadline"`
}

func cmdApprovals(args []string, stdout, stderr io.Writer) error {
	const synopsis = "Usage: amigo approvals list [--json]\n       amigo approvals approve ID\n       amigo approvals reject ID --reason R"
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(stderr, synopsis)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return nil
		}
		return usageError{errors.New("give a subcommand: list, approve or reject")}
	}
	def := os.Getenv("AMIGO_SERVER")
	if def == "" {
		def = "http://127.0.0.1:8080"
	}
	sub := args[0]
	fs := newFlags("approvals "+sub, "[ID] [flags]",
		"Critical commands (a disconnect, a relay mode or key change, a firmware activation, a calendar\n"+
			"change over many meters) wait until a second person with the approve permission approves or\n"+
			"rejects them; their issuer may not approve them. Talks to a running server (--server or\n"+
			"AMIGO_SERVER) with the token in AMIGO_TOKEN; the token's user is the one who decides.", stderr)
	server := fs.String("server", def, "server base `url`")
	asJSON := fs.Bool("json", false, "print the server's JSON answer")
	reason := fs.String("reason", "", "why the command is rejected (reject)")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this `duration`")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	base, err := serverURL(*server)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	switch sub {
	case "list":
		if fs.NArg() != 0 {
			return usageError{errors.New("list takes no arguments")}
		}
		raw, err := callServerMethod(ctx, base, http.MethodGet, "/api/v1/approvals", "", nil)
		if err != nil {
			return err
		}
		if *asJSON {
			_, err := stdout.Write(append(bytes.TrimSpace(raw), '\n'))
			return err
		}
		var p struct{ Items []awaitingCommand }
		if err := json.Unmarshal(raw, &p); err != nil {
			return fmt.Errorf("server %s: approvals: %w", base.Host, err)
		}
		return writeApprovals(stdout, p.Items, time.Now())
	case "approve", "reject":
		if fs.NArg() != 1 {
			return usageError{fmt.Errorf("%s which command? give its mRID", sub)}
		}
		var body io.Reader
		if sub == "reject" {
			if strings.TrimSpace(*reason) == "" {
				return usageError{errors.New("reject needs --reason")}
			}
			b, _ := json.Marshal(map[string]string{"reason": *reason})
			body = bytes.NewReader(b)
		} else if *reason != "" {
			return usageError{errors.New("--reason is for reject")}
		}
		raw, err := callServerMethod(ctx, base, http.MethodPost, "/api/v1/commands/"+url.PathEscape(fs.Arg(0))+"/"+sub, "application/json", body)
		if err != nil {
			return err
		}
		if *asJSON {
			_, err := stdout.Write(append(bytes.TrimSpace(raw), '\n'))
			return err
		}
		var c awaitingCommand
		if err := json.Unmarshal(raw, &c); err != nil {
			return fmt.Errorf("server %s: %w", base.Host, err)
		}
		done := map[string]string{"approve": "approved", "reject": "rejected"}[sub]
		fmt.Fprintf(stdout, "%s to meter %s, issued by %s, %s by %s: now %s\n", c.Type, c.Meter, orSystem(c.IssuedBy), done, c.ApprovedBy, c.Status)
		return nil
	}
	return usageError{fmt.Errorf("unknown subcommand %q: list, approve or reject", sub)}
}

// writeApprovals prints the waiting commands as a table, oldest first.
func writeApprovals(w io.Writer, items []awaitingCommand, now time.Time) error {
	if len(items) == 0 {
		_, err := fmt.Fprintln(w, "no commands awaiting approval")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "COMMAND\tMETER\tTYPE\tISSUED BY\tWAITING\tEXPIRES IN\tPARAMETERS")
	for _, c := range items {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.MRID, c.Meter, c.Type, orSystem(c.IssuedBy),
			now.Sub(c.Since).Round(time.Second), c.Deadline.Sub(now).Round(time.Second), params(c.Parameters))
	}
	return tw.Flush()
}

func orSystem(user string) string {
	if user == "" {
		return "(amigo)"
	}
	return user
}

// params lists parameters as k=v, in name order, each cut short: a
// calendar is a document, not a column.
func params(ps map[string]string) string {
	keys := make([]string, 0, len(ps))
	for k := range ps {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []string
	for _, k := range keys {
		v := ps[k]
		if len(v) > 40 {
			v = v[:37] + "..."
		}
		out = append(out, k+"="+v)
	}
	return strings.Join(out, " ")
}
