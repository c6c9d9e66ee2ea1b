package headend_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/store"
)

// The line protocol is a protocol of this test only, to show that a
// protocol is its driver and nothing else: no change to the head-end's
// core, the manifest reader, the push listener or the server. A meter
// listens on TCP and answers, one line each:
//
//	AUTH <token>       → OK, or ERR and the connection closes
//	READ <from> <to>   → "<end> <Wh>" per quarter hour in (from, to], then END
//
// (times in Unix seconds), and pushes to the head-end, on a connection of
// its own, lines "PUSH <serial> <seq> <Wh> <token>".
const lineProtocol = "line"

var (
	errLineAuth    = errors.New("line: token refused")
	errLineRefused = errors.New("line: meter unreachable")
	lineToken      = manifest.Column{Name: "line_token", Required: true, MaxBytes: 64}
)

// lineDriver is the line protocol's headend.PushDriver.
type lineDriver struct{}

func (lineDriver) Protocol() string           { return lineProtocol }
func (lineDriver) Columns() []manifest.Column { return []manifest.Column{lineToken} }

// Register takes the token as the meter's credentials, and its serial as
// the name it pushes under.
func (lineDriver) Register(r manifest.Row) (headend.Registration, error) {
	tok, e := r.Field(lineToken)
	if e != nil {
		return headend.Registration{}, e
	}
	if tok == "" || strings.ContainsAny(tok, " ") {
		return headend.Registration{}, &manifest.RowError{Line: r.Line, Column: lineToken.Name, Err: errors.New("want a token without spaces")}
	}
	return headend.Registration{Credentials: []byte(tok), PushID: r.Serial}, nil
}

func (lineDriver) Cause(err error) string {
	switch {
	case errors.Is(err, errLineAuth):
		return headend.OutcomeAuth
	case errors.Is(err, errLineRefused):
		return headend.OutcomeRefused
	case errors.Is(err, context.DeadlineExceeded):
		return headend.OutcomeTimeout
	}
	return ""
}

func (lineDriver) Open(ctx context.Context, t headend.Target) (headend.Session, error) {
	u, err := url.Parse(t.Meter.Address)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, fmt.Errorf("meter %s: %w: %v", t.Meter.MRID, errLineRefused, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	s := &lineSession{c: c, r: bufio.NewReader(c), t: t}
	if reply, err := s.ask("AUTH " + string(t.Credentials)); err != nil || reply != "OK" {
		c.Close()
		return nil, fmt.Errorf("meter %s: %w (%q, %v)", t.Meter.MRID, errLineAuth, reply, err)
	}
	return s, nil
}

type lineSession struct {
	c net.Conn
	r *bufio.Reader
	t headend.Target
}

func (s *lineSession) ask(line string) (string, error) {
	if _, err := fmt.Fprintf(s.c, "%s\n", line); err != nil {
		return "", err
	}
	reply, err := s.r.ReadString('\n')
	return strings.TrimSpace(reply), err
}

// Collect reads the profile after its cursor up to the plan's end.
func (s *lineSession) Collect(ctx context.Context, p headend.Plan) (headend.Collection, error) {
	from := p.Since["profile"]
	if from.IsZero() {
		from = p.Backfill
	}
	line, err := s.ask(fmt.Sprintf("READ %d %d", from.Unix(), p.Until.Unix()))
	b := cim.IntervalBlock{MeterID: s.t.Meter.MRID, ReadingType: cim.EnergyImport15m}
	last := from
	for ; err == nil && line != "END"; line, err = s.r.ReadString('\n') {
		line = strings.TrimSpace(line)
		if line == "END" {
			break
		}
		var end, wh int64
		if _, err := fmt.Sscanf(line, "%d %d", &end, &wh); err != nil {
			return headend.Collection{}, fmt.Errorf("meter %s: line %q: %w", s.t.Meter.MRID, line, err)
		}
		last = time.Unix(end, 0).UTC()
		b.Readings = append(b.Readings, cim.IntervalReading{End: last, Value: wh})
	}
	if err != nil {
		return headend.Collection{}, err
	}
	col := headend.Collection{Complete: !last.Before(p.Until)}
	if len(b.Readings) > 0 {
		col.Blocks = []cim.IntervalBlock{b}
		col.Cursors = map[string]time.Time{"profile": last}
	}
	return col, nil
}

func (s *lineSession) Clock(ctx context.Context) (time.Time, error) {
	return time.Time{}, fmt.Errorf("line: no clock: %w", headend.ErrUnsupported)
}
func (s *lineSession) SetClock(ctx context.Context, t time.Time) error {
	return fmt.Errorf("line: no clock: %w", headend.ErrUnsupported)
}
func (s *lineSession) Execute(ctx context.Context, c cim.EndDeviceControl) (string, error) {
	return "", fmt.Errorf("line: no commands: %w", headend.ErrUnsupported)
}
func (s *lineSession) Close(ctx context.Context) error { return s.c.Close() }

// linePushes frames a push connection by lines.
type linePushes struct {
	c   net.Conn
	r   *bufio.Reader
	max int
}

func (lineDriver) PushFrames(c net.Conn, max int) headend.FrameReader {
	return &linePushes{c: c, r: bufio.NewReaderSize(c, max), max: max}
}

func (f *linePushes) ReadFrame(ctx context.Context) ([]byte, error) {
	if dl, ok := ctx.Deadline(); ok {
		f.c.SetReadDeadline(dl)
	}
	b, err := f.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) || err == nil && !bytes.HasPrefix(b, []byte("PUSH ")) {
		return nil, fmt.Errorf("%w: not a PUSH line", headend.ErrFraming)
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return nil, fmt.Errorf("line push: %w", context.DeadlineExceeded)
	}
	if err != nil {
		return nil, err
	}
	return bytes.Clone(bytes.TrimSpace(b)), nil
}

func (lineDriver) PushSender(frame []byte) (string, error) {
	f := strings.Fields(string(frame))
	if len(f) != 5 {
		return "", fmt.Errorf("line push %q: want PUSH <serial> <seq> <Wh> <token>", frame)
	}
	return f[1], nil
}

// DecodePush checks the token against the meter's and takes the value as
// a register read.
func (lineDriver) DecodePush(ctx context.Context, t headend.Target, frame []byte) (headend.Push, error) {
	f := strings.Fields(string(frame))
	seq, err1 := strconv.ParseUint(f[2], 10, 64)
	wh, err2 := strconv.ParseInt(f[3], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return headend.Push{}, fmt.Errorf("line push %q: %w", frame, err)
	}
	if f[4] != string(t.Credentials) {
		return headend.Push{}, fmt.Errorf("meter %s: push: %w", t.Meter.MRID, errLineAuth)
	}
	return headend.Push{MeterID: t.Meter.MRID, CounterName: "line/push", Counter: seq,
		Registers: []cim.Reading{{MeterID: t.Meter.MRID, ReadingType: cim.EnergyImportRegister.ID, TimeStamp: t.Now(), Value: wh}}}, nil
}

// lineMeter is a line protocol meter on loopback whose quarter hours are
// worth wh each.
type lineMeter struct {
	ln    net.Listener
	token string
	wh    int64
}

func startLineMeter(t *testing.T, ctx context.Context, token string, wh int64) *lineMeter {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := &lineMeter{ln: ln, token: token, wh: wh}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); m.serve(ctx, c) }()
		}
	}()
	return m
}

func (m *lineMeter) serve(ctx context.Context, c net.Conn) {
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	r := bufio.NewReader(c)
	authed := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		f := strings.Fields(line)
		switch {
		case len(f) == 2 && f[0] == "AUTH":
			if authed = f[1] == m.token; !authed {
				fmt.Fprintln(c, "ERR")
				return
			}
			fmt.Fprintln(c, "OK")
		case len(f) == 3 && f[0] == "READ" && authed:
			from, _ := strconv.ParseInt(f[1], 10, 64)
			to, _ := strconv.ParseInt(f[2], 10, 64)
			w := bufio.NewWriter(c)
			for end := (from/900 + 1) * 900; end <= to; end += 900 {
				fmt.Fprintf(w, "%d %d\n", end, m.wh)
			}
			fmt.Fprintln(w, "END")
			if w.Flush() != nil {
				return
			}
		default:
			fmt.Fprintln(c, "ERR")
			return
		}
	}
}

func (m *lineMeter) addr() netip.AddrPort { return netip.MustParseAddrPort(m.ln.Addr().String()) }

// push sends lines to the head-end's push listener on one connection.
func linePush(t *testing.T, addr string, lines ...string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, l := range lines {
		if _, err := fmt.Fprintln(c, l); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSecondProtocol: a head-end with the DLMS driver and the line
// driver imports meters of both from one manifest, collects both in one
// run, and takes the line meters' pushes; the readings reach the store
// through the bus and the MDM ingest.
func TestSecondProtocol(t *testing.T) {
	const dlmsMeters = 3
	r := newFleetRigWith(t, dlmsMeters, meter.Faults{}, headend.CollectionConfig{Concurrency: 8, PerSegment: 8, Attempts: 2,
		JobTimeout: 30 * time.Second, BackfillDays: 1, RetryBase: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond},
		rigOptions{drivers: []headend.Driver{lineDriver{}}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// One manifest: the DLMS fleet's rows, then two line meters (and a
	// line meter without its token, refused by the line driver).
	lines := []*lineMeter{startLineMeter(t, ctx, "tok-a", 11), startLineMeter(t, ctx, "tok-b", 7)}
	rows := append([]manifest.Row(nil), r.rows...)
	for i, m := range append(lines, lines[0]) {
		id := uint64(9000 + i)
		row := manifest.Row{MeterID: id, Serial: fmt.Sprintf("LN%06d", id), Manufacturer: "LNE", Model: "L-1",
			Kind: "electricity", Protocol: lineProtocol, Address: m.addr(), UsagePointID: fmt.Sprintf("UPL%06d", id),
			TimeZone: "Europe/Amsterdam", Segment: "cell-line", Region: "region-0", Fields: map[string]string{"line_token": m.token}}
		if i == len(lines) {
			row.Fields["line_token"] = ""
		}
		rows = append(rows, row)
	}
	var file bytes.Buffer
	if err := manifest.Write(&file, append(dlmsColumnNames(), lineToken.Name), func(yield func(manifest.Row) bool) error {
		for _, row := range rows {
			if !yield(row) {
				break
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	rd, err := manifest.NewReader(&file)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := headend.ImportFrom(ctx, r.st, r.keys, r.h.Drivers(), rd)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Created != dlmsMeters+len(lines) || rep.Rejected != 1 || rep.Bad[0].Column != lineToken.Name || rep.Bad[0].Line != dlmsMeters+len(lines)+2 {
		t.Fatalf("import: %+v", rep)
	}
	lineID := func(i int) string { return fmt.Sprintf("LN%06d", 9000+i) }
	if m, err := r.st.Meter(ctx, lineID(0)); err != nil || m.Protocol != lineProtocol || m.PushID != lineID(0) {
		t.Fatalf("line meter %+v %v", m, err)
	}

	// One run collects the meters of both protocols.
	day := cim.Date{Year: 2026, Month: 3, Day: 30}
	if err := r.h.CollectDay(ctx, day, store.MeterQuery{}); err != nil {
		t.Fatal(err)
	}
	res := r.results(t, day)
	if len(res) != dlmsMeters+len(lines) {
		t.Fatalf("%d results", len(res))
	}
	for id, x := range res {
		if x.Outcome != headend.OutcomeOK || !x.Complete {
			t.Errorf("meter %s: %s complete %v: %s", id, x.Outcome, x.Complete, x.Error)
		}
	}
	r.settle(t)
	for i, m := range lines {
		d, err := r.st.Day(ctx, lineID(i), cim.EnergyImport15m.ID, day)
		if err != nil {
			t.Fatalf("line meter %s: %v", lineID(i), err)
		}
		var sum int64
		for k, v := range d.Values {
			if d.Quality[k]&cim.QualityMissing == 0 {
				sum += v
			}
		}
		if sum != 96*m.wh {
			t.Errorf("line meter %s: %d Wh on %s, want %d", lineID(i), sum, day, 96*m.wh)
		}
	}
	if d, err := r.st.Day(ctx, headend.MeterID(r.rows[0]), cim.EnergyImport15m.ID, day); err != nil || len(d.Values) != 96 {
		t.Fatalf("DLMS meter beside them: %v", err)
	}

	// The line driver's pushes go through the head-end's push listener:
	// a good one lands, a forged token and a replay do not.
	pl := r.h.NewPushListener(lineDriver{}, headend.PushConfig{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Add(1)
	go func() { defer wg.Done(); pl.Serve(ctx, ln) }()
	at := r.clk.Now()
	reads := func() []store.RegisterRead {
		rs, err := r.st.RegisterReads(ctx, lineID(1), cim.EnergyImportRegister.ID, at.Add(-time.Hour), at.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	linePush(t, ln.Addr().String(), "PUSH "+lineID(1)+" 1 4242 tok-b")
	waitUntil(t, "the line meter's push", func() bool { return len(reads()) > 0 })
	linePush(t, ln.Addr().String(), "PUSH "+lineID(1)+" 2 666 tok-a", "PUSH "+lineID(1)+" 1 667 tok-b")
	refused := func(typ cim.EndDeviceEventType) bool {
		evs, err := r.st.Events(ctx, store.EventQuery{MeterID: lineID(1), Type: typ, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		return len(evs) > 0
	}
	waitUntil(t, "the forged push refused", func() bool { return refused(headend.EventAuthFailure) })
	waitUntil(t, "the replayed push refused", func() bool { return refused(headend.EventPushReplayed) })
	r.settle(t)
	if rs := reads(); len(rs) != 1 || rs[0].Value != 4242 {
		t.Fatalf("pushed reads %+v", rs)
	}
}
