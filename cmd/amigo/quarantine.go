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
	"strconv"
	"text/tabwriter"
	"time"
)

func init() {
	register("quarantine", "list, release or discard the commands held over the anomaly limits, through a running server", cmdQuarantine)
}

const quarantineAbout = "Commands over an anomaly limit (too many of a type in an hour or a day, by one user, in one\n" +
	"segment or fleet-wide) are held in quarantine. 'list' shows them by issuer and type; 'release'\n" +
	"lets those a filter or --id picks go on (each waits for approval when the policy holds it);\n" +
	"'discard' drops them, with --reason. Releasing and discarding take a security officer's token\n" +
	"(AMIGO_TOKEN). The server's address comes from --server or AMIGO_SERVER."

func cmdQuarantine(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "list" && args[0] != "release" && args[0] != "discard") {
		// --help answers with the usage; anything else is a usage error.
		fs := newFlags("quarantine", "list|release|discard [flags]", quarantineAbout, stderr)
		if err := parse(fs, args); err != nil {
			return err
		}
		return usageError{errors.New("say what to do: list, release or discard")}
	}
	verb := args[0]
	def := os.Getenv("AMIGO_SERVER")
	if def == "" {
		def = "http://127.0.0.1:8080"
	}
	fs := newFlags("quarantine "+verb, "[flags]", quarantineAbout, stderr)
	server := fs.String("server", def, "server base `url`")
	issuer := fs.String("issuer", "", "the `user` who issued them")
	typ := fs.String("type", "", "command `type`, e.g. disconnect")
	from := fs.String("from", "", "issued at or after this RFC 3339 `time`")
	to := fs.String("to", "", "issued before this RFC 3339 `time`")
	var ids multi
	fs.Var(&ids, "id", "a command's `mRID` (repeatable)")
	reason := fs.String("reason", "", "why they are discarded (discard)")
	limit := fs.Int("limit", 20, "commands to list (list)")
	asJSON := fs.Bool("json", false, "print the server's JSON answer")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up after this `duration`")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected %q", fs.Arg(0))}
	}
	base, err := serverURL(*server)
	if err != nil {
		return err
	}
	var fromT, toT time.Time
	for _, x := range []struct {
		name, v string
		t       *time.Time
	}{{"--from", *from, &fromT}, {"--to", *to, &toT}} {
		if x.v == "" {
			continue
		}
		if *x.t, err = time.Parse(time.RFC3339, x.v); err != nil {
			return usageError{fmt.Errorf("%s %q: want an RFC 3339 time", x.name, x.v)}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if verb == "list" {
		q := url.Values{}
		for k, v := range map[string]string{"issuer": *issuer, "type": *typ, "from": *from, "to": *to} {
			if v != "" {
				q.Set(k, v)
			}
		}
		q.Set("limit", strconv.Itoa(*limit))
		raw, err := callServerMethod(ctx, base, http.MethodGet, "/api/v1/quarantine?"+q.Encode(), "", nil)
		if err != nil {
			return err
		}
		if *asJSON {
			_, err := stdout.Write(append(bytes.TrimSpace(raw), '\n'))
			return err
		}
		return printQuarantine(stdout, raw)
	}
	if *issuer == "" && *typ == "" && *from == "" && *to == "" && len(ids) == 0 {
		return usageError{errors.New("say which commands: --issuer, --type, --from, --to or --id")}
	}
	if verb == "discard" && *reason == "" {
		return usageError{errors.New("discard needs --reason")}
	}
	req := map[string]any{"issuedBy": *issuer, "type": *typ, "ids": []string(ids), "reason": *reason}
	if !fromT.IsZero() {
		req["from"] = fromT
	}
	if !toT.IsZero() {
		req["to"] = toT
	}
	body, _ := json.Marshal(req)
	raw, err := callServer(ctx, base, "/api/v1/quarantine/"+verb, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	if *asJSON {
		_, err := stdout.Write(append(bytes.TrimSpace(raw), '\n'))
		return err
	}
	var d struct{ Released, AwaitingApproval, Discarded, Skipped int }
	if err := json.Unmarshal(raw, &d); err != nil {
		return fmt.Errorf("server %s: %w", base.Host, err)
	}
	if verb == "release" {
		fmt.Fprintf(stdout, "released %d (queued), %d awaiting approval, %d left (your own, or moved on)\n", d.Released, d.AwaitingApproval, d.Skipped)
	} else {
		fmt.Fprintf(stdout, "discarded %d, %d left (your own, or moved on)\n", d.Discarded, d.Skipped)
	}
	return nil
}

func printQuarantine(w io.Writer, raw []byte) error {
	var p struct {
		Groups []struct {
			IssuedBy, Type string
			Count          int
			First, Last    time.Time
		}
		Items []struct {
			MRID     string `json:"mRID"`
			Meter    string `json:"meter"`
			Type     string `json:"type"`
			IssuedBy string `json:"issuedBy"`
			Reason   string `json:"reason"`
		}
		Next string
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return fmt.Errorf("the server's answer: %w", err)
	}
	if len(p.Groups) == 0 {
		fmt.Fprintln(w, "nothing is quarantined")
		return nil
	}
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ISSUER\tTYPE\tCOUNT\tFIRST\tLAST")
	for _, g := range p.Groups {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", g.IssuedBy, g.Type, g.Count, g.First.Format(time.RFC3339), g.Last.Format(time.RFC3339))
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "COMMAND\tMETER\tTYPE\tISSUER\tREASON")
	for _, c := range p.Items {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.MRID, c.Meter, c.Type, c.IssuedBy, c.Reason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if p.Next != "" {
		fmt.Fprintln(w, "(more: the API pages with after="+p.Next+")")
	}
	return nil
}
