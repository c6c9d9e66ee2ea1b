package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

func init() {
	register("campaign", "create, approve, follow and release campaigns over many meters on a running server", cmdCampaign)
}

func cmdCampaign(args []string, stdout, stderr io.Writer) error {
	def := os.Getenv("AMIGO_SERVER")
	if def == "" {
		def = "http://127.0.0.1:8080"
	}
	fs := newFlags("campaign", "list|show ID|create|approve ID|release ID|pause ID|resume ID|cancel ID [flags]",
		"Runs an operation over many meters (a key rotation, a firmware update) as one campaign: created by\n"+
			"one person, approved by another, a pilot group first, stopped by the server when the share of\n"+
			"failed meters passes its threshold until someone releases it. The token is AMIGO_TOKEN.\n"+
			"  create --kind K --meters FILE [--pilot N --max-failure-rate R --param k=v ...]\n"+
			"  release ID [--max-failure-rate R]   go on after a stop, judging what comes after", stderr)
	server := fs.String("server", def, "server base `url`")
	kind := fs.String("kind", "", "create: the kind of campaign (key-rotation, firmware)")
	name := fs.String("name", "", "create: a name for people")
	metersFile := fs.String("meters", "", "create: a `file` of meter ids, one per line, in the order to take them")
	pilot := fs.Int("pilot", 0, "create: how many of the first meters run, and must pass, before the rest")
	rate := fs.Float64("max-failure-rate", 0, "create, release: stop when the share of failed meters exceeds this (0..1)")
	concurrency := fs.Int("concurrency", 0, "create: meters in flight (0: the server's default)")
	var params paramFlags
	fs.Var(&params, "param", "create: a `key=value` parameter of the campaign's kind (repeatable)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageError{fmt.Errorf("say what to do: list, show, create, approve, release, pause, resume or cancel")}
	}
	base, err := serverURL(*server)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	verb := fs.Arg(0)
	needID := func() (string, error) {
		if fs.NArg() != 2 {
			return "", usageError{fmt.Errorf("%s: give one campaign id", verb)}
		}
		return fs.Arg(1), nil
	}
	switch verb {
	case "list":
		raw, err := callServerMethod(ctx, base, http.MethodGet, "api/v1/campaigns", "", nil)
		if err != nil {
			return err
		}
		var page struct{ Items []campaignView }
		if err := json.Unmarshal(raw, &page); err != nil {
			return fmt.Errorf("campaign list: unreadable answer: %w", err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tKIND\tSTATUS\tDONE\tFAILED\tLEFT\tNAME")
		for _, c := range page.Items {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\n", c.ID, c.Kind, c.Status, c.Counts.Done, c.Counts.Failed, c.Counts.Pending+c.Counts.Running, c.Name)
		}
		return tw.Flush()
	case "show":
		id, err := needID()
		if err != nil {
			return err
		}
		raw, err := callServerMethod(ctx, base, http.MethodGet, "api/v1/campaigns/"+id, "", nil)
		if err != nil {
			return err
		}
		var rep struct {
			Campaign campaignView
			Failures []struct {
				Error  string
				Count  int
				Meters []string
			}
		}
		if err := json.Unmarshal(raw, &rep); err != nil {
			return fmt.Errorf("campaign show: unreadable answer: %w", err)
		}
		rep.Campaign.print(stdout)
		for _, f := range rep.Failures {
			fmt.Fprintf(stdout, "  %d failed: %s (e.g. %s)\n", f.Count, f.Error, strings.Join(f.Meters, ", "))
		}
		return nil
	case "create":
		if *kind == "" || *metersFile == "" {
			return usageError{fmt.Errorf("create: --kind and --meters are required")}
		}
		meters, err := readIDs(*metersFile)
		if err != nil {
			return err
		}
		body, _ := json.Marshal(map[string]any{"name": *name, "kind": *kind, "meters": meters, "pilot": *pilot,
			"maxFailureRate": *rate, "concurrency": *concurrency, "params": params.m})
		raw, err := callServerMethod(ctx, base, http.MethodPost, "api/v1/campaigns", "application/json", bytes.NewReader(body))
		if err != nil {
			return err
		}
		var c campaignView
		if err := json.Unmarshal(raw, &c); err != nil {
			return fmt.Errorf("campaign create: unreadable answer: %w", err)
		}
		c.print(stdout)
		fmt.Fprintf(stdout, "it runs once someone else approves it: amigo campaign approve %s\n", c.ID)
		return nil
	case "approve", "release", "pause", "resume", "cancel":
		id, err := needID()
		if err != nil {
			return err
		}
		var body io.Reader
		if verb == "release" && *rate > 0 {
			b, _ := json.Marshal(map[string]any{"maxFailureRate": *rate})
			body = bytes.NewReader(b)
		}
		raw, err := callServerMethod(ctx, base, http.MethodPost, "api/v1/campaigns/"+id+"/"+verb, "application/json", body)
		if err != nil {
			return err
		}
		var c campaignView
		if err := json.Unmarshal(raw, &c); err != nil {
			return fmt.Errorf("campaign %s: unreadable answer: %w", verb, err)
		}
		c.print(stdout)
		return nil
	}
	return usageError{fmt.Errorf("unknown action %q", verb)}
}

type campaignView struct {
	ID, Name, Kind, Status, Reason, CreatedBy, ApprovedBy string
	Pilot                                                 int
	MaxFailureRate                                        float64
	Counts                                                struct{ Pending, Running, Done, Failed int }
}

func (c campaignView) print(w io.Writer) {
	fmt.Fprintf(w, "campaign %s (%s %q): %s", c.ID, c.Kind, c.Name, c.Status)
	if c.Reason != "" {
		fmt.Fprintf(w, ": %s", c.Reason)
	}
	fmt.Fprintf(w, "\n  %d done, %d failed, %d pending, %d running; pilot %d; stops above %.2f%% failed; created by %s",
		c.Counts.Done, c.Counts.Failed, c.Counts.Pending, c.Counts.Running, c.Pilot, 100*c.MaxFailureRate, c.CreatedBy)
	if c.ApprovedBy != "" {
		fmt.Fprintf(w, ", approved by %s", c.ApprovedBy)
	}
	fmt.Fprintln(w)
}

// readIDs reads one id per line, skipping blank lines and # comments.
func readIDs(file string) ([]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ids []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			ids = append(ids, l)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return ids, nil
}

// paramFlags collects repeated key=value flags.
type paramFlags struct{ m map[string]string }

func (p *paramFlags) String() string { return "" }

func (p *paramFlags) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value, got %q", v)
	}
	if p.m == nil {
		p.m = map[string]string{}
	}
	p.m[k] = val
	return nil
}
