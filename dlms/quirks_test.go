package dlms_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/cosem/objects"
	"github.com/amigo-ami/amigo/dlms"
	"github.com/amigo-ami/amigo/dlms/apdu"
	"github.com/amigo-ami/amigo/dlms/labmeter"
	"github.com/amigo-ami/amigo/dlms/security"
	"github.com/amigo-ami/amigo/dlms/server"
	"github.com/amigo-ami/amigo/obis"
	"github.com/amigo-ami/amigo/wrapper"
)

// A meter built like the independent ones a head-end meets: a clock column
// that is not 0-0:1.0.0.255 and answers double-wrapped, a register with
// scaler -2, an object that answers read-write-denied, a load profile that
// refuses selective access by range, and, per test, a conformance block
// without multiple references or a client counter far ahead.

var (
	otherClockLN = obis.MustParse("0.1.1.0.0.255")
	powerQLN     = obis.MustParse("1.1.21.25.0.255")
	deniedLN     = obis.MustParse("0.0.96.50.0.255")
	absentLN     = obis.MustParse("1.0.99.99.0.255")
	quirkLPLN    = obis.MustParse("1.0.99.2.0.255")
)

// wrappedClock answers its time attribute as an octet-string holding an
// encoded octet-string of 12, as the Gurux server does inside a list.
type wrappedClock struct{ *objects.Clock }

func (w wrappedClock) Get(ctx context.Context, req *cosem.AttributeRequest) (axdr.Data, error) {
	d, err := w.Clock.Get(ctx, req)
	if err != nil || req.Attribute != 2 {
		return d, err
	}
	return axdr.OctetString(axdr.Encode(d)), nil
}

// deniedObject refuses every read of its value.
type deniedObject struct{ *objects.Data }

func (o deniedObject) Get(ctx context.Context, req *cosem.AttributeRequest) (axdr.Data, error) {
	if req.Attribute == 2 {
		return axdr.Data{}, cosem.ErrReadWriteDenied
	}
	return o.Data.Get(ctx, req)
}

type quirkMeter struct {
	dev           *server.Device
	wrapper, hdlc string
	rows          []time.Time // capture times of the quirky profile, oldest first
	rangeAsked    int         // range reads the quirky profile refused
	emptyRange    bool        // answer a range with no rows instead of refusing it
	mu            sync.Mutex
}

// startQuirky serves the quirky meter. conf is the conformance every
// association offers (0: the server's default); lastIC, when not 0, is the
// counter the meter has already seen from the management client (SAP 1).
func startQuirky(t *testing.T, conf apdu.Conformance, lastIC uint32) *quirkMeter {
	t.Helper()
	q := &quirkMeter{}
	lab, err := labmeter.New(labmeter.Config{Serial: "QUIRK1", Days: 2, InvocationCounter: func() uint32 {
		v, _ := q.dev.LastClientIC(1)
		return v
	}})
	if err != nil {
		t.Fatal(err)
	}
	clockCol := cosem.CaptureObject{ClassID: 8, LogicalName: otherClockLN, Attribute: 2}
	cols := []cosem.CaptureObject{clockCol, {ClassID: 3, LogicalName: powerQLN, Attribute: 2}}
	lp := objects.NewProfileGeneric(quirkLPLN, cols, 900, 1000, nil)
	end := time.Now().UTC().Truncate(15 * time.Minute)
	for i := 191; i >= 0; i-- {
		at := end.Add(-time.Duration(i) * 15 * time.Minute)
		q.rows = append(q.rows, at)
		v := axdr.DateTimeOctets(axdr.FromTime(at, 0))
		if i == 100 {
			v = axdr.OctetString(v.Bytes[:9]) // no deviation nor status
		}
		lp.Rows = append(lp.Rows, axdr.Structure(v, axdr.Uint32(uint32(1000+i))))
	}
	lp.Buffer = func(ctx context.Context, sel cosem.Selection) ([]axdr.Data, error) {
		if sel.Range != nil {
			q.mu.Lock()
			defer q.mu.Unlock()
			q.rangeAsked++
			if q.emptyRange {
				return nil, nil
			}
			return nil, cosem.ErrReadWriteDenied
		}
		return sel.Apply(lp.Rows, cols)
	}
	for _, o := range []cosem.Object{
		wrappedClock{objects.NewClock(otherClockLN, 0)},
		objects.NewRegister(powerQLN, axdr.Uint32(74), axdr.ScalerUnit{Scaler: -2, Unit: 30}),
		deniedObject{objects.NewData(deniedLN, axdr.Uint8(1))},
		lp,
	} {
		if err := lab.Tree.Add(o); err != nil {
			t.Fatal(err)
		}
	}
	q.dev = &server.Device{Tree: lab.Tree, Address: 1, SystemTitle: []byte("QRK\x00\x00\x00\x00\x01"), Counter: security.NewCounter(1, nil)}
	q.dev.Associations = []server.Association{
		{ClientSAP: 16, Rights: cosem.ReadOnlyAccess, MaxPDU: 512, Conformance: conf},
		{ClientSAP: 1, Authentication: security.MechanismHLSGMAC, Policy: security.PolicyAuthenticatedEncrypted,
			Keys: security.Keys{Unicast: ek, Authentication: ak}, MaxPDU: 512, Conformance: conf,
			LastClientIC: lastIC, HasLastClientIC: lastIC != 0},
	}
	srv, err := server.NewServer(q.dev)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	listen := func(serve func(net.Listener) error) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); serve(ln) }()
		return ln.Addr().String()
	}
	q.wrapper = listen(func(ln net.Listener) error { return srv.ListenAndServeWrapper(ctx, ln) })
	q.hdlc = listen(func(ln net.Listener) error { return srv.ServeHDLC(ctx, ln, false) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	return q
}

func (q *quirkMeter) addr(link dlms.Link) string {
	if link == dlms.LinkHDLC {
		return q.hdlc
	}
	return q.wrapper
}

func publicOptions(link dlms.Link) dlms.Options {
	return dlms.Options{Link: link, Timeout: 10 * time.Second}
}

func managementOptions(link dlms.Link) dlms.Options {
	return dlms.Options{Link: link, ClientSAP: 1, Authentication: security.MechanismHLSGMAC, Policy: security.PolicyAuthenticatedEncrypted,
		Keys: security.Keys{Unicast: ek, Authentication: ak}, SystemTitle: []byte("AMGTEST2"), Timeout: 10 * time.Second}
}

var links = []dlms.Link{dlms.LinkWrapper, dlms.LinkHDLC}

func dialT(t *testing.T, addr string, o dlms.Options) *dlms.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := dlms.Dial(ctx, addr, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var listAttrs = []dlms.Attr{
	{Class: 8, OBIS: labmeter.ClockLN, Attribute: 2},
	{Class: 3, OBIS: absentLN, Attribute: 2},
	{Class: 1, OBIS: deniedLN, Attribute: 2},
	{Class: 3, OBIS: labmeter.ImportLN, Attribute: 2},
	{Class: 3, OBIS: powerQLN, Attribute: 3},
}

// checkList asserts the outcome of listAttrs item by item.
func checkList(t *testing.T, res []dlms.Result) {
	t.Helper()
	if len(res) != len(listAttrs) {
		t.Fatalf("%d results for %d attributes", len(res), len(listAttrs))
	}
	if _, ok := res[0].Data.DateTime(); res[0].Err != nil || !ok {
		t.Errorf("clock: %v %v", res[0].Data, res[0].Err)
	}
	var da *dlms.DataAccessError
	if !errors.As(res[1].Err, &da) || !errors.Is(res[1].Err, dlms.ErrObjectUndefined) {
		t.Errorf("absent object: %v", res[1].Err)
	}
	if !errors.Is(res[2].Err, dlms.ErrAccessDenied) {
		t.Errorf("denied object: %v", res[2].Err)
	}
	if v, ok := res[3].Data.Uint(); res[3].Err != nil || !ok || v == 0 {
		t.Errorf("register after the refusals: %v %v", res[3].Data, res[3].Err)
	}
	if su, err := axdr.ParseScalerUnit(res[4].Data); res[4].Err != nil || err != nil || su.Scaler != -2 {
		t.Errorf("scaler-unit: %v %v %v", res[4].Data, res[4].Err, err)
	}
}

// An absent object and a denied one in the middle of a list fail those
// items only, with a list and one GET at a time, on both links.
func TestListAbsentObjectInTheMiddle(t *testing.T) {
	q := startQuirky(t, 0, 0)
	for _, link := range links {
		t.Run(link.String(), func(t *testing.T) {
			c := dialT(t, q.addr(link), publicOptions(link))
			if !c.Negotiated().MultipleReferences() {
				t.Fatal("multiple references not granted by default")
			}
			res, err := c.GetList(testCtx(t), listAttrs)
			if err != nil {
				t.Fatal(err)
			}
			checkList(t, res)
			if dlms.ListLooksInconsistent(listAttrs, res) {
				t.Error("a correct list looks inconsistent")
			}
			res, err = c.GetEach(testCtx(t), listAttrs)
			if err != nil {
				t.Fatal(err)
			}
			checkList(t, res)
		})
	}
}

// A meter that does not grant multiple references never receives a list:
// it would refuse one, and GetList still answers item by item.
func TestMeterWithoutMultipleReferences(t *testing.T) {
	q := startQuirky(t, server.DefaultConformance&^apdu.ConformanceMultipleReferences, 0)
	for _, link := range links {
		t.Run(link.String(), func(t *testing.T) {
			c := dialT(t, q.addr(link), publicOptions(link))
			n := c.Negotiated()
			if n.MultipleReferences() || !n.BlockTransferGet() || !n.SelectiveAccess() {
				t.Fatalf("negotiated %v", n.Conformance.Names())
			}
			res, err := c.GetList(testCtx(t), listAttrs)
			if err != nil {
				t.Fatal(err)
			}
			checkList(t, res)
		})
	}
}

// The clock of another clock object, double-wrapped as the Gurux server
// sends it in a list, is read by DateTimeTolerant and reported as such.
func TestDoubleWrappedClockInList(t *testing.T) {
	q := startQuirky(t, 0, 0)
	c := dialT(t, q.wrapper, publicOptions(dlms.LinkWrapper))
	before := time.Now().Add(-time.Second)
	res, err := c.GetList(testCtx(t), []dlms.Attr{{Class: 8, OBIS: otherClockLN, Attribute: 2}, {Class: 3, OBIS: powerQLN, Attribute: 2}})
	if err != nil || res[0].Err != nil || res[1].Err != nil {
		t.Fatalf("%v %+v", err, res)
	}
	if _, ok := res[0].Data.DateTime(); ok {
		t.Fatal("fixture: the clock is not double-wrapped")
	}
	dt, tol, ok := res[0].Data.DateTimeTolerant()
	if !ok || tol != axdr.TolerateWrapped {
		t.Fatalf("double-wrapped clock: %v %s %v", dt, tol, ok)
	}
	at, err := dt.Time()
	if err != nil || at.Before(before) || at.After(time.Now().Add(time.Second)) {
		t.Errorf("clock %v, %v", at, err)
	}
}

// A profile whose meter refuses the range is read by entry: the rows of
// the range, from the meter's own clock column, and the refusal reported.
// A meter without selective access at all is read whole.
func TestProfileRangeRefused(t *testing.T) {
	q := startQuirky(t, 0, 0)
	for _, link := range links {
		t.Run(link.String(), func(t *testing.T) {
			o := publicOptions(link)
			o.MaxProfileEntries = 5
			c := dialT(t, q.addr(link), o)
			from, to := q.rows[len(q.rows)-1].Add(-6*time.Hour), q.rows[len(q.rows)-1].Add(-3*time.Hour)
			got, err := c.ReadProfileFrom(testCtx(t), quirkLPLN, from, to, 0)
			if err != nil {
				t.Fatal(err)
			}
			if got.Method != dlms.ByEntry || len(got.Refused) != 1 || !errors.Is(got.Refused[0], dlms.ErrAccessDenied) {
				t.Fatalf("method %s, refusals %v", got.Method, got.Refused)
			}
			checkRows(t, got, from, to, 13)
			if got.Chunk > 5 || got.Period != 900 || got.Clock != 0 {
				t.Errorf("chunk %d, period %d, clock column %d", got.Chunk, got.Period, got.Clock)
			}
			// The row stored without deviation and status, in range here.
			wide, err := c.ReadProfileFrom(testCtx(t), quirkLPLN, q.rows[0], q.rows[len(q.rows)-1], dlms.ByEntry,
				cosem.CaptureObject{ClassID: 3, LogicalName: powerQLN, Attribute: 2})
			if err != nil || wide.Method != dlms.ByEntry || len(wide.Refused) != 0 {
				t.Fatalf("whole span by entry: %v %s %v", err, wide.Method, wide.Refused)
			}
			if len(wide.Rows) != len(q.rows) || wide.Tolerated != axdr.TolerateShort || len(wide.Columns) != 1 || len(wide.Rows[0].Items) != 1 {
				t.Errorf("whole span: %d rows of %d, tolerated %s, %d columns", len(wide.Rows), len(q.rows), wide.Tolerated, len(wide.Columns))
			}
			// The lab profile answers by range on the standard clock.
			now := time.Now()
			lab, err := c.ReadProfileFrom(testCtx(t), labmeter.LoadProfileLN, now.Add(-2*time.Hour), now, 0)
			if err != nil || lab.Method != dlms.ByRange || len(lab.Rows) < 7 || len(lab.Refused) != 0 {
				t.Errorf("lab profile: %v %s %d rows %v", err, lab.Method, len(lab.Rows), lab.Refused)
			}
		})
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.rangeAsked != len(links) {
		t.Errorf("range asked %d times, want once per link", q.rangeAsked)
	}

	noSel := startQuirky(t, server.DefaultConformance&^apdu.ConformanceSelectiveAccess, 0)
	c := dialT(t, noSel.wrapper, publicOptions(dlms.LinkWrapper))
	from, to := noSel.rows[10], noSel.rows[20]
	got, err := c.ReadProfileFrom(testCtx(t), quirkLPLN, from, to, dlms.ByRange)
	if err != nil || got.Method != dlms.Whole {
		t.Fatalf("without selective access: %v %s", err, got.Method)
	}
	checkRows(t, got, from, to, 11)
	if noSel.rangeAsked != 0 {
		t.Error("a range was asked of a meter without selective access")
	}
}

func checkRows(t *testing.T, got dlms.ProfileRows, from, to time.Time, n int) {
	t.Helper()
	if len(got.Rows) != n || len(got.Times) != n {
		t.Fatalf("%d rows, %d times, want %d", len(got.Rows), len(got.Times), n)
	}
	for i, at := range got.Times {
		if at.Before(from) || at.After(to) || (i > 0 && !at.After(got.Times[i-1])) {
			t.Errorf("row %d at %v outside [%v, %v] or out of order", i, at, from, to)
		}
	}
	if !got.Times[0].Equal(from) || !got.Times[n-1].Equal(to) {
		t.Errorf("rows %v..%v, want %v..%v", got.Times[0], got.Times[n-1], from, to)
	}
}

// proxy sits between a client and a meter on the TCP wrapper and lets a
// test misbehave as independent meters do: answer a request itself,
// rewrite an answer, or drop the link.
type proxy struct {
	addr, meter string
	// request, when it returns an answer, answers instead of the meter;
	// drop closes the client's connection without an answer.
	request func(src uint16, req []byte) (answer []byte, drop bool)
	// response rewrites the meter's answer to req.
	response func(req, resp []byte) []byte
}

func startProxy(t *testing.T, meter string, p *proxy) *proxy {
	t.Helper()
	p.meter = meter
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); p.serve(conn) }()
		}
	}()
	return p
}

func readFrame(c net.Conn) (src, dst uint16, apdu []byte, err error) {
	h := make([]byte, 8)
	if _, err = io.ReadFull(c, h); err != nil {
		return
	}
	apdu = make([]byte, binary.BigEndian.Uint16(h[6:]))
	_, err = io.ReadFull(c, apdu)
	return binary.BigEndian.Uint16(h[2:]), binary.BigEndian.Uint16(h[4:]), apdu, err
}

func (p *proxy) serve(client net.Conn) {
	defer client.Close()
	meter, err := net.Dial("tcp", p.meter)
	if err != nil {
		return
	}
	defer meter.Close()
	for {
		client.SetDeadline(time.Now().Add(30 * time.Second))
		meter.SetDeadline(time.Now().Add(30 * time.Second))
		src, dst, req, err := readFrame(client)
		if err != nil {
			return
		}
		var answer []byte
		if p.request != nil {
			var drop bool
			if answer, drop = p.request(src, req); drop {
				return
			}
		}
		if answer == nil {
			f, _ := wrapper.AppendFrame(nil, src, dst, req)
			if _, err := meter.Write(f); err != nil {
				return
			}
			if _, _, answer, err = readFrame(meter); err != nil {
				return
			}
			if p.response != nil {
				answer = p.response(req, answer)
			}
		}
		f, _ := wrapper.AppendFrame(nil, dst, src, answer)
		if _, err := client.Write(f); err != nil {
			return
		}
	}
}

// The Gurux defect: after the first absent object in a GET with list,
// every later item comes back object-undefined. The client sees it, and
// reading the later items one at a time recovers them.
func TestListInconsistentRecovered(t *testing.T) {
	q := startQuirky(t, 0, 0)
	p := startProxy(t, q.wrapper, &proxy{response: func(req, resp []byte) []byte {
		a, err := apdu.Decode(resp)
		r, ok := a.(*apdu.GetResponseWithList)
		if err != nil || !ok {
			return resp
		}
		failed := false
		for i := range r.Results {
			if failed {
				r.Results[i] = apdu.ResultError(apdu.ObjectUndefined)
			}
			failed = failed || r.Results[i].IsAccessResult
		}
		b, _ := apdu.Append(nil, r)
		return b
	}})
	c := dialT(t, p.addr, publicOptions(dlms.LinkWrapper))
	res, err := c.GetList(testCtx(t), listAttrs)
	if err != nil {
		t.Fatal(err)
	}
	if res[3].Err == nil || !dlms.ListLooksInconsistent(listAttrs, res) {
		t.Fatalf("the defect is not seen: %+v", res)
	}
	again, err := c.GetEach(testCtx(t), listAttrs[2:])
	if err != nil {
		t.Fatal(err)
	}
	copy(res[2:], again)
	checkList(t, res)
}

// A meter that drops the link on a range read is not asked anything else:
// the read stops on the rung that dropped it, and the client refuses to go
// on without a new association.
func TestProfileLinkDropStopsTheLadder(t *testing.T) {
	q := startQuirky(t, 0, 0)
	var asked int
	var mu sync.Mutex
	p := startProxy(t, q.wrapper, &proxy{request: func(_ uint16, req []byte) ([]byte, bool) {
		a, err := apdu.Decode(req)
		g, ok := a.(*apdu.GetRequestNormal)
		mu.Lock()
		defer mu.Unlock()
		if err == nil && ok && g.Access != nil {
			asked++
			return nil, g.Access.Selector == cosem.SelectorRange
		}
		return nil, false
	}})
	c := dialT(t, p.addr, publicOptions(dlms.LinkWrapper))
	now := time.Now()
	got, err := c.ReadProfileFrom(testCtx(t), labmeter.LoadProfileLN, now.Add(-time.Hour), now, 0)
	if !errors.Is(err, dlms.ErrLinkDropped) || got.Method != dlms.ByRange || len(got.Refused) != 0 {
		t.Fatalf("%v, method %s, refusals %v", err, got.Method, got.Refused)
	}
	if _, err := c.Get(testCtx(t), listAttrs[0], nil); !errors.Is(err, dlms.ErrLinkDropped) {
		t.Errorf("get after the drop: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if asked != 1 {
		t.Errorf("%d selective reads sent, want the one that dropped the link", asked)
	}
}

// persisted is a sending counter persisted in windows, as the head-end
// keeps them; marks records each write.
func persisted(first uint32) (*security.Counter, *[]uint32) {
	var marks []uint32
	c := security.NewCounter(first, func(next uint32) error { marks = append(marks, next); return nil })
	c.Window = 64
	return c, &marks
}

// A meter that has seen a counter 1,000 ahead of ours rejects the
// association without saying why; with ResyncInvocationCounter the client
// reads the meter's counter object as the public client, jumps above it in
// one persisted write, and the second association is accepted.
func TestInvocationCounterAhead(t *testing.T) {
	for _, link := range links {
		t.Run(link.String(), func(t *testing.T) {
			q := startQuirky(t, 0, 1001)
			ctx := testCtx(t)
			o := managementOptions(link)
			o.Counter, _ = persisted(1)
			if _, err := dlms.Dial(ctx, q.addr(link), o); err == nil {
				t.Fatal("a counter 1,000 behind was accepted")
			}
			if v, err := dlms.ReadInvocationCounter(ctx, q.addr(link), o); err != nil || v != 1001 {
				t.Fatalf("counter object: %d %v", v, err)
			}
			counter, marks := persisted(2)
			o.Counter, o.ResyncInvocationCounter = counter, true
			c, err := dlms.Dial(ctx, q.addr(link), o)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			rs, ok := c.Resync()
			if !ok || rs.From != 2 || rs.To != 1002 || !rs.FromObject || rs.Refusal == nil {
				t.Fatalf("resync %+v %v", rs, ok)
			}
			if len(*marks) != 2 || (*marks)[0] != 66 || (*marks)[1] != 1002+64 {
				t.Errorf("persisted %v: want the first window and one write for the jump", *marks)
			}
			if _, err := c.Get(ctx, listAttrs[3], nil); err != nil {
				t.Fatal(err)
			}
			if last, _ := q.dev.LastClientIC(1); last < 1002 {
				t.Errorf("meter's last counter %d", last)
			}
			c.Release(ctx)
			// A counter already ahead is left alone.
			c2, err := dlms.Dial(ctx, q.addr(link), o)
			if err != nil {
				t.Fatal(err)
			}
			defer c2.Close()
			if _, ok := c2.Resync(); ok {
				t.Error("resynchronised a counter that was accepted")
			}
			c2.Release(ctx)
			// A wrong key is not taken for a counter problem: the counter
			// object shows the meter has not seen ours, so no second try.
			before := counter.Peek()
			o.Keys.Authentication = ek
			if _, err := dlms.Dial(ctx, q.addr(link), o); err == nil || errors.Is(err, dlms.ErrInvocationCounter) {
				t.Fatalf("wrong key: %v", err)
			}
			if used := counter.Peek() - before; used != 1 {
				t.Errorf("wrong key: %d counter values used, want the one AARQ", used)
			}
		})
	}
}

// A meter that says which counter it expects, in an EXCEPTION-response to
// the AARQ as the Gurux server does, is believed without reading its
// counter object.
func TestInvocationCounterExpectedInException(t *testing.T) {
	q := startQuirky(t, 0, 5000)
	var mu sync.Mutex
	refused, public := 0, 0
	p := startProxy(t, q.wrapper, &proxy{request: func(src uint16, req []byte) ([]byte, bool) {
		mu.Lock()
		defer mu.Unlock()
		if src == 16 {
			public++
		}
		if src == 1 && req[0] == 0x60 && refused == 0 {
			refused++
			last, _ := q.dev.LastClientIC(1)
			b, _ := apdu.Append(nil, &apdu.ExceptionResponse{StateError: apdu.StateServiceUnknown,
				ServiceError: apdu.ServiceInvocationCounterError, InvocationCounter: last + 1})
			return b, false
		}
		return nil, false
	}})
	ctx := testCtx(t)
	o := managementOptions(dlms.LinkWrapper)
	counter, marks := persisted(7)
	o.Counter = counter
	_, err := dlms.Dial(ctx, p.addr, o)
	var ice *dlms.InvocationCounterError
	var ex *dlms.ExceptionError
	if !errors.As(err, &ice) || ice.Expected != 5001 || !errors.Is(err, dlms.ErrInvocationCounter) || !errors.As(err, &ex) {
		t.Fatalf("refusal: %v", err)
	}
	mu.Lock()
	refused = 0
	mu.Unlock()
	o.ResyncInvocationCounter = true
	c, err := dlms.Dial(ctx, p.addr, o)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if rs, ok := c.Resync(); !ok || rs.To != 5001 || rs.FromObject {
		t.Fatalf("resync %+v", rs)
	}
	if _, err := c.Get(ctx, listAttrs[3], nil); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if public != 0 {
		t.Errorf("the counter object was read %d times though the meter said", public)
	}
	if len(*marks) != 2 || (*marks)[1] != 5001+64 {
		t.Errorf("persisted %v", *marks)
	}
}

// A meter that answers a range it does not support with no rows is caught
// by the entries, which hold rows in the span; a span really empty stays
// a range read.
func TestProfileRangeAnsweredEmpty(t *testing.T) {
	q := startQuirky(t, 0, 0)
	q.mu.Lock()
	q.emptyRange = true
	q.mu.Unlock()
	c := dialT(t, q.hdlc, publicOptions(dlms.LinkHDLC))
	last := q.rows[len(q.rows)-1]
	got, err := c.ReadProfileFrom(testCtx(t), quirkLPLN, last.Add(-time.Hour), last, 0)
	if err != nil || got.Method != dlms.ByEntry || len(got.Refused) != 1 {
		t.Fatalf("%v, method %s, refusals %v", err, got.Method, got.Refused)
	}
	checkRows(t, got, last.Add(-time.Hour), last, 5)
	future, err := c.ReadProfileFrom(testCtx(t), quirkLPLN, last.Add(time.Hour), last.Add(2*time.Hour), 0)
	if err != nil || future.Method != dlms.ByRange || len(future.Rows) != 0 || len(future.Refused) != 0 {
		t.Fatalf("empty span: %v, method %s, %d rows, refusals %v", err, future.Method, len(future.Rows), future.Refused)
	}
}

// A meter that grants no block transfer with a 512-byte PDU answers a day
// of profile pdu-too-long: the entries come a few at a time instead, and
// the whole buffer, which cannot be cut, is ErrTooLong.
func TestProfileWithoutBlockTransfer(t *testing.T) {
	q := startQuirky(t, server.DefaultConformance&^apdu.ConformanceBlockTransferWithGetOrRead, 0)
	c := dialT(t, q.wrapper, publicOptions(dlms.LinkWrapper))
	if c.Negotiated().BlockTransferGet() {
		t.Fatal("block transfer granted")
	}
	last := q.rows[len(q.rows)-1]
	got, err := c.ReadProfileFrom(testCtx(t), quirkLPLN, last.Add(-24*time.Hour), last, 0)
	if err != nil || got.Method != dlms.ByEntry {
		t.Fatalf("%v, method %s, refusals %v", err, got.Method, got.Refused)
	}
	checkRows(t, got, last.Add(-24*time.Hour), last, 97)
	if got.Chunk >= 97 || got.Chunk < 1 {
		t.Errorf("entries per request %d", got.Chunk)
	}
	if _, err := c.ReadProfileFrom(testCtx(t), quirkLPLN, q.rows[0], last, dlms.Whole); !errors.Is(err, dlms.ErrTooLong) {
		t.Errorf("whole buffer: %v", err)
	}
}
