package mbus

import (
	"context"
	"errors"
	"github.com/amigo-ami/amigo/testenv"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// testMeter serves a volume and a history long enough for several
// telegrams.
type testMeter struct {
	primary byte
	addr    Secondary
	history int

	mu    sync.Mutex
	reads int
}

func (m *testMeter) Primary() byte      { return m.primary }
func (m *testMeter) Address() Secondary { return m.addr }
func (m *testMeter) Records(context.Context) (byte, []Record, error) {
	m.mu.Lock()
	m.reads++
	m.mu.Unlock()
	rs := []Record{
		{Coding: BCD8, Quantity: Volume, Exponent: -3, Value: Value{Kind: KindInt, Int: int64(m.addr.ID % 1000000)}},
		{Coding: Int32, Quantity: DateTime, Value: Value{Kind: KindTime, Time: time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC)}},
	}
	for s := 1; s <= m.history; s++ {
		rs = append(rs, Record{Coding: Int32, Quantity: Volume, Exponent: -3, Storage: uint64(s), Subunit: 1,
			Value: Value{Kind: KindInt, Int: int64(1000 - s)}})
	}
	return 0, rs, nil
}

// serveTCP runs a slave on a loopback port for the test.
func serveTCP(t *testing.T, s *Slave) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = s.Serve(ctx, c)
			}()
		}
	}()
	t.Cleanup(func() { cancel(); ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

func dial(t *testing.T, addr string) *Master {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := DialTCP(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	m := NewMaster(c)
	m.Timeout = 300 * time.Millisecond
	return m
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var (
	gasA   = &testMeter{primary: 1, addr: Secondary{ID: 12345678, Manufacturer: "AMG", Version: 1, Medium: MediumGas}, history: 60}
	waterB = &testMeter{primary: 2, addr: Secondary{ID: 12349999, Manufacturer: "AMG", Version: 1, Medium: MediumWater}, history: 3}
	waterC = &testMeter{primary: 3, addr: Secondary{ID: 87654321, Manufacturer: "XYZ", Version: 2, Medium: MediumWater}}
)

func checkHistory(t *testing.T, tgs []Telegram, m *testMeter) {
	t.Helper()
	var rs []Record
	for _, tg := range tgs {
		if tg.Header.Address() != m.addr {
			t.Fatalf("header %+v, want %v", tg.Header, m.addr)
		}
		rs = append(rs, tg.Records...)
	}
	n := 0
	for _, r := range rs {
		if r.Quantity == Volume && r.Subunit == 1 {
			n++
			if r.Value.Int != int64(1000-int(r.Storage)) {
				t.Errorf("storage %d: %d", r.Storage, r.Value.Int)
			}
		}
	}
	if n != m.history {
		t.Errorf("%d history records over %d telegrams, want %d", n, len(tgs), m.history)
	}
}

func TestPrimaryMultiTelegram(t *testing.T) {
	addr := serveTCP(t, &Slave{Meters: []Meter{gasA, waterB}})
	m := dial(t, addr)
	ctx := ctxT(t)
	tgs, err := m.Read(ctx, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(tgs) < 2 {
		t.Fatalf("%d telegrams; 60 history records need at least 2", len(tgs))
	}
	checkHistory(t, tgs, gasA)
	// Access numbers count up telegram by telegram.
	for k := 1; k < len(tgs); k++ {
		if tgs[k].Header.Access != tgs[k-1].Header.Access+1 {
			t.Errorf("access numbers %d then %d", tgs[k-1].Header.Access, tgs[k].Header.Access)
		}
	}
	// A read stopped early, then a fresh one, starts over at telegram 1.
	first, err := m.Read(ctx, 1, func(Telegram) bool { return false })
	if err != nil || len(first) != 1 {
		t.Fatalf("stopped read: %d telegrams, %v", len(first), err)
	}
	again, err := m.Read(ctx, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkHistory(t, again, waterB)
}

func TestSecondarySelectAndScan(t *testing.T) {
	addr := serveTCP(t, &Slave{Meters: []Meter{gasA, waterB, waterC}})
	m := dial(t, addr)
	// Silence answers most probes of a scan; on loopback it need not be long.
	m.Timeout = 100 * time.Millisecond
	ctx := ctxT(t)
	tgs, err := m.ReadSecondary(ctx, Exact(waterB.addr), nil)
	if err != nil {
		t.Fatal(err)
	}
	checkHistory(t, tgs, waterB)
	// A wildcard on the id alone finds the one with that id.
	mask, err := ParseSecondary("87654321")
	if err != nil {
		t.Fatal(err)
	}
	if tgs, err = m.ReadSecondary(ctx, mask, nil); err != nil || tgs[0].Header.Address() != waterC.addr {
		t.Fatalf("by id: %v %v", tgs, err)
	}
	// Two meters match 1234FFFF: a collision.
	mask, _ = ParseSecondary("1234FFFF")
	if err := m.Select(ctx, mask); !errors.Is(err, ErrCollision) {
		t.Fatalf("select 1234FFFF: %v, want collision", err)
	}
	mask, _ = ParseSecondary("55555555")
	if err := m.Select(ctx, mask); !errors.Is(err, ErrNoReply) {
		t.Fatalf("select 55555555: %v, want no reply", err)
	}
	found, err := m.Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[Secondary]bool{gasA.addr: true, waterB.addr: true, waterC.addr: true}
	if len(found) != len(want) {
		t.Fatalf("scan found %v", found)
	}
	for _, a := range found {
		if !want[a] {
			t.Errorf("scan found %v", a)
		}
	}
	prim, err := m.ScanPrimary(ctx, 0, 5)
	if err != nil || len(prim) != 3 || prim[0] != 1 || prim[2] != 3 {
		t.Fatalf("primary scan %v %v", prim, err)
	}
}

// lossyConn drops the slave's first answer to a REQ_UD2 after the first
// telegram, as a noisy line would.
type lossyConn struct {
	net.Conn
	mu      sync.Mutex
	seen    int
	dropped bool
}

func (c *lossyConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(p) > 0 && p[0] == startLong {
		c.seen++
		if c.seen == 2 && !c.dropped {
			c.dropped = true
			return len(p), nil
		}
	}
	return c.Conn.Write(p)
}

// A lost answer makes the master repeat with the same FCB, and the slave
// repeats its answer rather than moving on: no telegram is lost or read
// twice.
func TestRepeatWithSameFCB(t *testing.T) {
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	s := &Slave{Meters: []Meter{gasA}}
	ctx := ctxT(t)
	go func() { _ = s.Serve(ctx, &lossyConn{Conn: b}) }()
	m := NewMaster(a)
	m.Timeout = 200 * time.Millisecond
	tgs, err := m.Read(ctx, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkHistory(t, tgs, gasA)
	if m.Stats.Timeouts.Load() != 1 || m.Stats.Retries.Load() != 1 {
		t.Fatalf("timeouts %d retries %d, want 1 and 1", m.Stats.Timeouts.Load(), m.Stats.Retries.Load())
	}
}

// A reply with a wrong checksum is a counted error naming what failed.
func TestBadChecksumCounted(t *testing.T) {
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	go func() {
		buf := make([]byte, 64)
		for {
			if _, err := b.Read(buf); err != nil {
				return
			}
			// A short frame answer with a wrong checksum, then a long
			// frame whose L fields disagree.
			if _, err := b.Write([]byte{0x68, 0x04, 0x05, 0x68, 0x08, 0x01, 0x72, 0x00, 0x7B, 0x16}); err != nil {
				return
			}
		}
	}()
	m := NewMaster(a)
	m.Timeout = 200 * time.Millisecond
	_, err := m.ReqUD2(ctxT(t), 1)
	if !errors.Is(err, ErrLength) {
		t.Fatalf("err %v, want ErrLength", err)
	}
	if m.Stats.Length.Load() != 3 {
		t.Fatalf("length errors %d, want 3 (one request, two repeats)", m.Stats.Length.Load())
	}
	// The slave counts and ignores a request with a wrong checksum.
	s := &Slave{Meters: []Meter{gasA}}
	c, d := net.Pipe()
	t.Cleanup(func() { c.Close(); d.Close() })
	ctx := ctxT(t)
	go func() { _ = s.Serve(ctx, d) }()
	if _, err := c.Write([]byte{0x10, 0x5B, 0x01, 0x00, 0x16}); err != nil {
		t.Fatal(err)
	}
	m2 := NewMaster(c)
	if _, err := m2.Read(ctx, 1, nil); err != nil {
		t.Fatal(err)
	}
	if s.Stats.Checksum.Load() != 1 {
		t.Fatalf("slave checksum errors %d", s.Stats.Checksum.Load())
	}
}

// The master honours the context: a cancelled read returns at once with
// the context's error.
func TestContextEndsExchange(t *testing.T) {
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	go func() {
		buf := make([]byte, 64)
		for {
			if _, err := b.Read(buf); err != nil {
				return
			}
		}
	}()
	m := NewMaster(a)
	m.Timeout = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := m.ReqUD2(ctx, 1); done <- err }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
}

// Over a serial line: socat joins two ptys, 8E1 at 2400 Bd.
func TestSerialLine(t *testing.T) {
	socat, err := exec.LookPath("socat")
	if err != nil {
		testenv.Service(t, "socat", err)
	}
	dir := t.TempDir()
	ma, sl := filepath.Join(dir, "master"), filepath.Join(dir, "slave")
	cmd := exec.Command(socat, "pty,raw,echo=0,link="+ma, "pty,raw,echo=0,link="+sl)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, e1 := os.Stat(ma)
		_, e2 := os.Stat(sl)
		if e1 == nil && e2 == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("socat made no ptys")
		}
		<-tick.C
	}
	sp, err := OpenSerial(sl, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sp.Close() })
	mp, err := OpenSerial(ma, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mp.Close() })
	ctx := ctxT(t)
	sctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = (&Slave{Meters: []Meter{waterB}}).Serve(sctx, sp) }()
	t.Cleanup(func() { stop(); <-done })
	m := NewMaster(mp)
	tgs, err := m.Read(ctx, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkHistory(t, tgs, waterB)
}

// lateConn holds back the slave's answer to the second REQ_UD2 past the
// master's timeout, as a congested converter network does, and lets it
// through just before the answer to a later request: the master repeats,
// takes the slave's repeat, and must skip the late original when it comes.
type lateConn struct {
	net.Conn
	mu   sync.Mutex
	seen int
	held []byte
}

func (c *lateConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(p) > 0 && p[0] == startLong {
		c.seen++
		switch c.seen {
		case 2:
			c.held = append([]byte(nil), p...)
			return len(p), nil
		case 4:
			if _, err := c.Conn.Write(c.held); err != nil {
				return 0, err
			}
		}
	}
	return c.Conn.Write(p)
}

func TestLateAnswerSkipped(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx := ctxT(t)
	m := &testMeter{primary: 1, addr: Secondary{ID: 12345678, Manufacturer: "AMG", Version: 1, Medium: MediumGas}, history: 150}
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_ = (&Slave{Meters: []Meter{m}}).Serve(ctx, &lateConn{Conn: c})
	}()
	master := dial(t, ln.Addr().String())
	master.Timeout = 100 * time.Millisecond
	tgs, err := master.Read(ctx, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(tgs) < 4 {
		t.Fatalf("%d telegrams; the test needs four", len(tgs))
	}
	checkHistory(t, tgs, m)
	for k := 1; k < len(tgs); k++ {
		if tgs[k].Header.Access != tgs[k-1].Header.Access+1 {
			t.Errorf("telegram %d has access number %d after %d", k, tgs[k].Header.Access, tgs[k-1].Header.Access)
		}
	}
	if master.Stats.Retries.Load() != 1 || master.Stats.Duplicates.Load() != 1 {
		t.Fatalf("retries %d, duplicates skipped %d; want 1 and 1", master.Stats.Retries.Load(), master.Stats.Duplicates.Load())
	}
}
