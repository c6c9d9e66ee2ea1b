package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"text/tabwriter"
	"time"
)

func init() {
	register("dr", "demand response on a running server: programs, enrolments, events, approval, results", cmdDR)
}

func cmdDR(args []string, stdout, stderr io.Writer) error {
	def := os.Getenv("AMIGO_SERVER")
	if def == "" {
		def = "http://127.0.0.1:8080"
	}
	fs := newFlags("dr", "programs|program ID|enrol PROGRAM|events|create|show ID|approve ID|cancel ID|results ID [flags]",
		"Demand response: a program says what its events do (load-limit, price, relay), the notice, how\n"+
			"devices' edges are spread (at most 600 s) and how reductions are measured and paid; events are\n"+
			"created by one person and, for a program with --approval, approved by another. The token is AMIGO_TOKEN.\n"+
			"  program ID --name N --kind K --baseline B [--notice D --randomize D --incentive N --currency C --floor W --adjust --approval]\n"+
			"  enrol PROGRAM --usage-point UP --meter M\n"+
			"  create --program P --start T --end T [--threshold W | --price P --currency C] [--id ID]", stderr)
	server := fs.String("server", def, "server base `url`")
	name := fs.String("name", "", "program: a name for people")
	kind := fs.String("kind", "", "program: load-limit, price or relay")
	baseline := fs.String("baseline", "10of10", "program: 10of10, like-day or weather")
	notice := fs.Duration("notice", 0, "program: how long before the start households are told and commands go out")
	randomize := fs.Duration("randomize", 0, "program: each device's start and end are drawn in [0, this] (at most 10m)")
	incentive := fs.Int64("incentive", 0, "program: minor units paid per kWh reduced")
	currency := fs.String("currency", "", "program, create: the currency")
	floor := fs.Int64("floor", 0, "program: the lowest load limit in W an event may set")
	adjust := fs.Bool("adjust", false, "program: same-day adjustment of the 10-of-10 baseline")
	approval := fs.Bool("approval", false, "program: each event waits for a second person")
	up := fs.String("usage-point", "", "enrol: the usage point")
	meter := fs.String("meter", "", "enrol: the meter serving it")
	program := fs.String("program", "", "create, events: the program")
	status := fs.String("status", "", "events: only this status")
	id := fs.String("id", "", "create: the event's id (a retry with the same id creates nothing new)")
	start := fs.String("start", "", "create: RFC 3339 start")
	end := fs.String("end", "", "create: RFC 3339 end")
	threshold := fs.Int64("threshold", 0, "create: the load limit in W")
	price := fs.Int64("price", 0, "create: the price in millionths of the currency per kWh")
	reason := fs.String("reason", "", "cancel: why")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageError{fmt.Errorf("say what to do: programs, program, enrol, events, create, show, approve, cancel or results")}
	}
	base, err := serverURL(*server)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	verb := fs.Arg(0)
	arg := func() (string, error) {
		if fs.NArg() != 2 {
			return "", usageError{fmt.Errorf("%s: give one id", verb)}
		}
		return fs.Arg(1), nil
	}
	call := func(method, path string, body any, into any) error {
		var r io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			r = bytes.NewReader(b)
		}
		raw, err := callServerMethod(ctx, base, method, path, "application/json", r)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(raw, into); err != nil {
			return fmt.Errorf("dr %s: unreadable answer: %w", verb, err)
		}
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	switch verb {
	case "programs":
		var l struct{ Items []drProgramView }
		if err := call(http.MethodGet, "api/v1/dr/programs", nil, &l); err != nil {
			return err
		}
		fmt.Fprintln(tw, "ID\tKIND\tBASELINE\tNOTICE\tRANDOMIZE\tINCENTIVE\tAPPROVAL\tNAME")
		for _, p := range l.Items {
			p.row(tw)
		}
		return nil
	case "program":
		pid, err := arg()
		if err != nil {
			return err
		}
		var p drProgramView
		body := map[string]any{"name": *name, "kind": *kind, "baseline": *baseline, "noticeSeconds": int64(notice.Seconds()),
			"randomizeSeconds": int64(randomize.Seconds()), "incentive": *incentive, "currency": *currency, "floorW": *floor,
			"adjust": *adjust, "approval": *approval}
		if err := call(http.MethodPut, "api/v1/dr/programs/"+url.PathEscape(pid), body, &p); err != nil {
			return err
		}
		fmt.Fprintln(tw, "ID\tKIND\tBASELINE\tNOTICE\tRANDOMIZE\tINCENTIVE\tAPPROVAL\tNAME")
		p.row(tw)
		return nil
	case "enrol":
		pid, err := arg()
		if err != nil {
			return err
		}
		if *up == "" || *meter == "" {
			return usageError{fmt.Errorf("enrol: --usage-point and --meter are required")}
		}
		var e struct{ ProgramID, UsagePointID, MeterID string }
		if err := call(http.MethodPost, "api/v1/dr/programs/"+url.PathEscape(pid)+"/enrolments", map[string]string{"usagePointId": *up, "meterId": *meter}, &e); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "usage point %s (meter %s) enrolled in %s\n", e.UsagePointID, e.MeterID, e.ProgramID)
		return nil
	case "events":
		q := url.Values{}
		if *program != "" {
			q.Set("program", *program)
		}
		if *status != "" {
			q.Set("status", *status)
		}
		path := "api/v1/dr/events"
		if len(q) > 0 {
			path += "?" + q.Encode()
		}
		var l struct{ Items []drEventView }
		if err := call(http.MethodGet, path, nil, &l); err != nil {
			return err
		}
		fmt.Fprintln(tw, "ID\tPROGRAM\tSTATUS\tSTART\tEND\tSOURCE")
		for _, e := range l.Items {
			e.row(tw)
		}
		return nil
	case "create":
		if *program == "" || *start == "" || *end == "" {
			return usageError{fmt.Errorf("create: --program, --start and --end are required")}
		}
		s, err1 := time.Parse(time.RFC3339, *start)
		e, err2 := time.Parse(time.RFC3339, *end)
		if err1 != nil || err2 != nil {
			return usageError{fmt.Errorf("create: --start and --end are RFC 3339 times")}
		}
		var ev drEventView
		body := map[string]any{"id": *id, "programId": *program, "start": s, "end": e,
			"signal": map[string]any{"thresholdW": *threshold, "price": *price, "currency": *currency}}
		if err := call(http.MethodPost, "api/v1/dr/events", body, &ev); err != nil {
			return err
		}
		fmt.Fprintln(tw, "ID\tPROGRAM\tSTATUS\tSTART\tEND\tSOURCE")
		ev.row(tw)
		if ev.Status == "awaiting-approval" {
			tw.Flush()
			fmt.Fprintf(stdout, "it goes out once someone else approves it: amigo dr approve %s\n", ev.ID)
		}
		return nil
	case "show", "approve", "cancel":
		eid, err := arg()
		if err != nil {
			return err
		}
		var ev drEventView
		path := "api/v1/dr/events/" + url.PathEscape(eid)
		switch verb {
		case "show":
			err = call(http.MethodGet, path, nil, &ev)
		case "approve":
			err = call(http.MethodPost, path+"/approve", nil, &ev)
		case "cancel":
			err = call(http.MethodPost, path+"/cancel", map[string]string{"reason": *reason}, &ev)
		}
		if err != nil {
			return err
		}
		fmt.Fprintln(tw, "ID\tPROGRAM\tSTATUS\tSTART\tEND\tSOURCE")
		ev.row(tw)
		if ev.Reason != "" {
			tw.Flush()
			fmt.Fprintln(stdout, ev.Reason)
		}
		return nil
	case "results":
		eid, err := arg()
		if err != nil {
			return err
		}
		var res struct {
			EventID, Currency, Rounding string
			Participants, OptedOut      int
			Settled                     int
			ReductionWh, Payment        int64
			Results                     []struct {
				UsagePointID, MeterID, Status, Method, Note string
				BaselineWh, ActualWh, ReductionWh, Payment  int64
			}
		}
		if err := call(http.MethodGet, "api/v1/dr/events/"+url.PathEscape(eid)+"/results", nil, &res); err != nil {
			return err
		}
		fmt.Fprintln(tw, "USAGE POINT\tMETER\tSTATUS\tBASELINE Wh\tACTUAL Wh\tREDUCTION Wh\tPAYMENT\tNOTE")
		for _, r := range res.Results {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", r.UsagePointID, r.MeterID, r.Status, r.BaselineWh, r.ActualWh, r.ReductionWh, r.Payment, r.Note)
		}
		tw.Flush()
		fmt.Fprintf(stdout, "event %s: %d participants, %d opted out, %d settled; reduction %d Wh; payment %d %s minor units (%s)\n",
			res.EventID, res.Participants, res.OptedOut, res.Settled, res.ReductionWh, res.Payment, res.Currency, res.Rounding)
		return nil
	}
	return usageError{fmt.Errorf("unknown action %q", verb)}
}

type drProgramView struct {
	ID, Name, Kind, Baseline, Currency string
	NoticeSeconds, RandomizeSeconds    int64
	Incentive                          int64
	Approval                           bool
}

func (p drProgramView) row(w io.Writer) {
	fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d %s/kWh\t%v\t%s\n", p.ID, p.Kind, p.Baseline, time.Duration(p.NoticeSeconds)*time.Second,
		time.Duration(p.RandomizeSeconds)*time.Second, p.Incentive, p.Currency, p.Approval, p.Name)
}

type drEventView struct {
	ID, ProgramID, Status, Source, Reason string
	Start, End                            time.Time
}

func (e drEventView) row(w io.Writer) {
	fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.ProgramID, e.Status, e.Start.Format(time.RFC3339), e.End.Format(time.RFC3339), e.Source)
}
