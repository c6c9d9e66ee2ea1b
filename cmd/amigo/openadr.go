package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	"github.com/amigo-ami/amigo/openadr"
)

func init() {
	register("openadr", "an OpenADR 2.0b VEN against a VTN, or a VTN serving one event", cmdOpenADR)
}

const openadrUsage = `Usage: amigo openadr ven --vtn URL [flags]
       amigo openadr vtn --listen ADDR [flags]

ven registers with a VTN (simple HTTP, pull), offers a telemetry report, polls
and answers events; vtn serves one event to the VENs that register and prints
their opts and reports. Run 'amigo openadr ven --help' for the flags.
`

func cmdOpenADR(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, openadrUsage)
		if len(args) == 0 {
			return usageError{errors.New("a subcommand is required")}
		}
		return nil
	}
	switch args[0] {
	case "ven":
		return cmdOpenADRVEN(args[1:], stdout, stderr)
	case "vtn":
		return cmdOpenADRVTN(args[1:], stdout, stderr)
	}
	return usageError{fmt.Errorf("unknown subcommand %q; run 'amigo openadr --help'", args[0])}
}

// lockedWriter keeps lines from the VEN's policy and the main flow whole.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) printf(format string, a ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format, a...)
}

func describeEvent(e openadr.Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "event %s modification %d status %s start %s duration %s", e.ID, e.Modification, e.Status,
		openadr.FormatDateTime(e.Start), openadr.FormatDuration(e.Duration))
	if e.StartAfter > 0 {
		fmt.Fprintf(&b, " startafter %s", openadr.FormatDuration(e.StartAfter))
	}
	if e.MarketContext != "" {
		fmt.Fprintf(&b, " market %s", e.MarketContext)
	}
	for _, s := range e.Signals {
		unit := ""
		if s.Item != nil {
			unit = " " + s.Item.ItemUnits
		}
		fmt.Fprintf(&b, " signal %s/%s=%g%s", s.Name, s.Type, s.Value, unit)
	}
	return b.String()
}

func cmdOpenADRVEN(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("openadr ven", "--vtn URL [flags]",
		"Registers with an OpenADR 2.0b VTN over simple HTTP in pull mode (URL up to and including\n"+
			"/OpenADR2/Simple/2.0b), offers a METADATA_TELEMETRY_USAGE report when --report is given and\n"+
			"sends one reading for each request of it, then polls --polls times, answering each new or\n"+
			"modified event with --opt. --create-opt also sends an oadrCreateOpt of that type for each\n"+
			"event. Prints what the VTN said.", stderr)
	vtn := fs.String("vtn", "", "the VTN's base `url`")
	name := fs.String("name", "amigo-ven", "the VEN's `name`")
	venID := fs.String("ven-id", "", "the VEN `id` to register with (empty: the VTN assigns one)")
	opt := fs.String("opt", "in", "answer to events: `in` or out")
	createOpt := fs.Bool("create-opt", false, "also send an oadrCreateOpt for each event")
	polls := fs.Int("polls", 3, "polls to make, `n`")
	interval := fs.Duration("interval", 0, "time between polls (0: the VTN's poll frequency)")
	report := fs.String("report", "", "offer a telemetry report of this resource `rID`")
	value := fs.Float64("report-value", 1000, "the reading sent for the report, in `W`")
	timeout := fs.Duration("timeout", 30*time.Second, "deadline of each call")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *vtn == "" {
		return usageError{errors.New("--vtn is required")}
	}
	if *opt != "in" && *opt != "out" {
		return usageError{fmt.Errorf("--opt %q is neither in nor out", *opt)}
	}
	optType := openadr.OptIn
	if *opt == "out" {
		optType = openadr.OptOut
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	out := &lockedWriter{w: stdout}
	var seen []openadr.Event
	ven := &openadr.VEN{URL: *vtn, Name: *name, VENID: *venID, Timeout: *timeout,
		Policy: func(ctx context.Context, e openadr.Event) (string, error) {
			out.printf("%s -> %s\n", describeEvent(e), optType)
			seen = append(seen, e)
			return optType, nil
		}}
	if *report != "" {
		ven.Reports = []openadr.Report{openadr.MetadataTelemetry("amigo-telemetry", time.Minute, *report)}
	}
	q, err := ven.QueryRegistration(ctx)
	if err != nil {
		return err
	}
	out.printf("vtn %s profiles %d\n", q.VTNID, len(q.Profiles.Profiles))
	if err := ven.Register(ctx); err != nil {
		return err
	}
	out.printf("registered ven %s registration %s poll every %s\n", ven.VENID, ven.RegistrationID(), ven.PollFreq())
	if *report != "" {
		if _, err := ven.RegisterReports(ctx); err != nil {
			return err
		}
	}
	sendReports := func() error {
		for _, r := range ven.ReportRequests() {
			if r.Specifier.ReportSpecifierID != "amigo-telemetry" {
				continue
			}
			rd := openadr.Reading{RID: *report, Start: time.Now().Truncate(time.Minute), Duration: time.Minute, Value: *value}
			if err := ven.UpdateReport(ctx, r, "TELEMETRY_USAGE", []openadr.Reading{rd}); err != nil {
				return err
			}
			out.printf("report %s sent: %s = %g W\n", r.ReportRequestID, *report, *value)
		}
		return nil
	}
	if err := sendReports(); err != nil {
		return err
	}
	reported := len(ven.ReportRequests())
	for i := 0; i < *polls; i++ {
		if i > 0 {
			wait := *interval
			if wait <= 0 {
				wait = ven.PollFreq()
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
		}
		before := len(seen)
		got, err := ven.Poll(ctx)
		if err != nil {
			return err
		}
		out.printf("poll %d: %s\n", i+1, got)
		if n := len(ven.ReportRequests()); n > reported {
			reported = n
			if err := sendReports(); err != nil {
				return err
			}
		}
		if *createOpt {
			for _, e := range seen[before:] {
				id, err := ven.OptOutOrIn(ctx, optType, e.ID, e.Modification)
				if err != nil {
					return err
				}
				out.printf("oadrCreateOpt %s %s of event %s accepted\n", id, optType, e.ID)
			}
		}
	}
	return nil
}

// staticSource serves one event and prints the opts it hears.
type staticSource struct {
	event openadr.Event
	out   *lockedWriter
}

func (s *staticSource) Events(ctx context.Context, venID string) ([]openadr.Event, error) {
	e := s.event
	e.Target = openadr.Target{VENID: []string{venID}}
	return []openadr.Event{e}, nil
}

func (s *staticSource) Opt(ctx context.Context, o openadr.OptRecord) error {
	if o.Cancelled {
		s.out.printf("ven %s cancelled opt %s\n", o.VENID, o.OptID)
		return nil
	}
	if o.EventID != s.event.ID {
		return fmt.Errorf("no event %q", o.EventID)
	}
	s.out.printf("ven %s %s event %s modification %d opt %q resources %v\n", o.VENID, o.OptType, o.EventID, o.Modification, o.OptID, o.Resources)
	return nil
}

func (s *staticSource) Metadata(ctx context.Context, venID string, reports []openadr.Report) error {
	for _, r := range reports {
		var rids []string
		for _, d := range r.Descriptions {
			rids = append(rids, d.RID)
		}
		s.out.printf("ven %s offers %s %s %v\n", venID, r.ReportName, r.ReportSpecifierID, rids)
	}
	return nil
}

func (s *staticSource) Update(ctx context.Context, venID string, reports []openadr.Report) error {
	for _, r := range reports {
		if r.Intervals == nil {
			continue
		}
		for _, iv := range r.Intervals.Intervals {
			for _, p := range iv.ReportPayload {
				at := ""
				if iv.DTStart != nil {
					at = iv.DTStart.DateTime
				}
				s.out.printf("ven %s report %s %s at %s = %g\n", venID, r.ReportRequestID, p.RID, at, p.Float.Value)
			}
		}
	}
	return nil
}

func cmdOpenADRVTN(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("openadr vtn", "--listen ADDR [flags]",
		"Serves an OpenADR 2.0b VTN (simple HTTP, pull) on ADDR under /OpenADR2/Simple/2.0b with one\n"+
			"event: a load limit (--threshold-w), a price (--price per kWh) or a relay (--relay). Prints the\n"+
			"registrations, opts and reports it receives, until interrupted or --for has passed.", stderr)
	listen := fs.String("listen", "127.0.0.1:8081", "`address` to listen on")
	id := fs.String("id", "AMIGO-VTN", "the VTN's `id` (openleadr VENs refuse an all-lowercase one)")
	eventID := fs.String("event", "amigo-event-1", "the event's `id`")
	start := fs.String("start", "", "the event's start, RFC 3339 (empty: in one hour)")
	dur := fs.Duration("duration", 2*time.Hour, "the event's `duration`")
	randomize := fs.Duration("randomize", 5*time.Minute, "the start's randomisation (startafter)")
	threshold := fs.Int64("threshold-w", 0, "a load limit of this many `W`")
	price := fs.Float64("price", 0, "a price per kWh")
	currency := fs.String("currency", "EUR", "the price's `currency`")
	relay := fs.Bool("relay", false, "open the load-control relay")
	poll := fs.Duration("poll", 10*time.Second, "the poll frequency asked of VENs")
	serveFor := fs.Duration("for", 0, "stop after this `duration` (0: when interrupted)")
	if err := parse(fs, args); err != nil {
		return err
	}
	st := time.Now().Add(time.Hour).Truncate(time.Minute)
	if *start != "" {
		t, err := openadr.ParseDateTime(*start)
		if err != nil {
			return usageError{err}
		}
		st = t
	}
	e := openadr.Event{ID: *eventID, MarketContext: "urn:amigo:dr:program:cli", Status: openadr.StatusFar, Created: time.Now(),
		Start: st, Duration: *dur, StartAfter: *randomize, ResponseRequired: true}
	switch {
	case *threshold > 0:
		e.Signals = []openadr.Signal{{Name: openadr.SignalSimple, Type: openadr.TypeLevel, ID: "simple", Value: 2},
			{Name: openadr.SignalLoadDispatch, Type: openadr.TypeSetpoint, ID: "threshold", Item: openadr.RealPower(), Value: float64(*threshold)}}
	case *price != 0:
		e.Signals = []openadr.Signal{{Name: openadr.SignalSimple, Type: openadr.TypeLevel, ID: "simple", Value: 1},
			{Name: openadr.SignalPrice, Type: openadr.TypePrice, ID: "price", Item: openadr.CurrencyPerKWh(*currency), Value: *price}}
	case *relay:
		e.Signals = []openadr.Signal{{Name: openadr.SignalSimple, Type: openadr.TypeLevel, ID: "simple", Value: 3},
			{Name: openadr.SignalLoadControl, Type: openadr.TypeLoadControl, ID: "relay", Value: 0}}
	default:
		e.Signals = []openadr.Signal{{Name: openadr.SignalSimple, Type: openadr.TypeLevel, ID: "simple", Value: 1}}
	}
	out := &lockedWriter{w: stdout}
	src := &staticSource{event: e, out: out}
	// A tool for trying VENs out on plain HTTP: no client certificates.
	vtn := &openadr.VTN{ID: *id, Source: src, Sink: src, PollFreq: *poll, Insecure: true}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	out.printf("vtn %s on http://%s%s serving %s\n", *id, ln.Addr(), strings.TrimSuffix(openadr.BasePath, "/"), describeEvent(e))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *serveFor > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *serveFor)
		defer cancel()
	}
	srv := &http.Server{Handler: vtn, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
