package c12driver_test

import (
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/sim"
)

var ams = func() *time.Location {
	l, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		panic(err)
	}
	return l
}()

// clock is a settable simulated time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// memCounters keeps invocation counters in memory.
type memCounters struct {
	mu sync.Mutex
	v  map[string]uint64
}

func (m *memCounters) Reserve(_ context.Context, name string, n uint32) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.v == nil {
		m.v = map[string]uint64{}
	}
	f := m.v[name]
	m.v[name] += uint64(n)
	return f, nil
}

// memModels keeps templates in memory, as the store does.
type memModels struct {
	mu        sync.Mutex
	templates map[string][]byte
	meters    map[string]string
}

func (m *memModels) PutTemplate(_ context.Context, key string, b []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.templates == nil {
		m.templates = map[string][]byte{}
	}
	m.templates[key] = b
	return nil
}

func (m *memModels) Template(_ context.Context, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.templates[key]
	if !ok {
		return nil, headend.ErrNotFound
	}
	return b, nil
}

func (m *memModels) SetMeterTemplate(_ context.Context, meterID, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.meters == nil {
		m.meters = map[string]string{}
	}
	m.meters[meterID] = key
	return nil
}

func (m *memModels) MeterTemplate(_ context.Context, meterID string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.meters[meterID]
	if !ok {
		return "", headend.ErrNotFound
	}
	return k, nil
}

// fleetOf serves n meters, the fractions c1218 and c1222 of them ANSI
// C12, the rest DLMS, each protocol on its own free port.
func fleetOf(t testing.TB, n int, c1218, c1222 float64, clk *clock) *sim.Fleet {
	return fleetWith(t, n, c1218, c1222, meter.Faults{}, clk)
}

// fleetWith is fleetOf with the model's faults.
func fleetWith(t testing.TB, n int, c1218, c1222 float64, faults meter.Faults, clk *clock) *sim.Fleet {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var lns [3]net.Listener
	for k := range lns {
		ln, err := sim.ListenLoopback(ctx, 0)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		lns[k] = ln
	}
	port := func(k int) uint16 { return uint16(lns[k].Addr().(*net.TCPAddr).Port) }
	model := meter.NewFleet(7, ams, clk.Now())
	model.HistoryDays = 4
	model.Install = clk.Now().AddDate(0, 0, -4)
	model.Faults = faults
	f, err := sim.NewFleet(sim.Config{Meters: n, Seed: 7, Now: clk.Now, Model: model,
		Port: port(0), C1218Port: port(1), C1222Port: port(2), C1218: c1218, C1222: c1222})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for k, serve := range []func(context.Context, net.Listener) error{f.Serve, f.ServeC1218, f.ServeC1222} {
		wg.Add(1)
		go func() { defer wg.Done(); serve(ctx, lns[k]) }()
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
	return f
}

// first returns the first meter of the fleet that speaks proto.
func first(t testing.TB, f *sim.Fleet, proto string) int {
	t.Helper()
	for i := range f.Len() {
		if f.Protocol(i) == proto {
			return i
		}
	}
	t.Fatalf("no %s meter in the fleet", proto)
	return -1
}

// targetOf is meter i as the head-end hands it to d.
func targetOf(t testing.TB, d headend.Driver, f *sim.Fleet, i int, clk *clock) headend.Target {
	t.Helper()
	r, err := f.Row(i)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := d.Register(r)
	if err != nil {
		t.Fatal(err)
	}
	return headend.Target{Meter: cim.Meter{MRID: r.Serial, Protocol: r.Protocol, Address: "tcp://" + r.Address.String()},
		Credentials: reg.Credentials, Location: ams, Now: clk.Now, Counters: &memCounters{}, Models: &memModels{}}
}

// proxy forwards connections on loopback to one meter and counts the
// octets either way: what a session puts on the wire.
type proxy struct {
	ln        net.Listener
	to        string
	up, down  atomic.Int64
	active    atomic.Int64
	wg        sync.WaitGroup
	closeOnce sync.Once
}

func newProxy(t testing.TB, to string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, to: to}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *proxy) addr() string { return "tcp://" + p.ln.Addr().String() }

func (p *proxy) close() {
	p.closeOnce.Do(func() { p.ln.Close() })
	p.wg.Wait()
}

// bytes waits for the proxied connections to end, and returns the
// octets they carried either way.
func (p *proxy) bytes(t testing.TB) int64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for p.active.Load() > 0 {
		if time.Now().After(deadline) {
			t.Fatal("a proxied connection did not end")
		}
		time.Sleep(time.Millisecond)
	}
	return p.up.Load() + p.down.Load()
}

// counter adds what passes through it to n.
type counter struct {
	w io.Writer
	n *atomic.Int64
}

func (c counter) Write(b []byte) (int, error) {
	k, err := c.w.Write(b)
	c.n.Add(int64(k))
	return k, err
}

func (p *proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		p.active.Add(1)
		go func() {
			defer p.wg.Done()
			defer p.active.Add(-1)
			defer c.Close()
			m, err := net.DialTimeout("tcp", p.to, 5*time.Second)
			if err != nil {
				return
			}
			defer m.Close()
			done := make(chan struct{}, 2)
			pipe := func(dst, src net.Conn, n *atomic.Int64) {
				io.Copy(counter{dst, n}, src)
				// Half-close, so the other way ends as the peer sees it.
				if tc, ok := dst.(*net.TCPConn); ok {
					tc.CloseWrite()
				}
				done <- struct{}{}
			}
			go pipe(m, c, &p.up)
			go pipe(c, m, &p.down)
			<-done
			<-done
		}()
	}
}
