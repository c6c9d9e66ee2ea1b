package outage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/topology"
)

// memStore keeps outage events in memory, as the store's table does.
type memStore struct {
	mu  sync.Mutex
	evs map[string]Event
}

func (m *memStore) PutOutage(_ context.Context, e Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.evs[e.ID] = e
	return nil
}

func (m *memStore) OpenOutages(context.Context) ([]Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Event
	for _, e := range m.evs {
		if e.State == Suspected || e.State == Confirmed {
			out = append(out, e)
		}
	}
	return out, nil
}

func (m *memStore) Overlapping(_ context.Context, from, to time.Time) ([]Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Event
	for _, e := range m.evs {
		if e.Start.Before(to) && (e.End.IsZero() || e.End.After(from)) {
			out = append(out, e)
		}
	}
	return out, nil
}

func (m *memStore) get(id string) (Event, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.evs[id]
	return e, ok
}

type fixedTopology struct{ g *topology.Grid }

func (f fixedTopology) TopologyAt(context.Context, time.Time) (*topology.Grid, error) {
	return f.g, nil
}

// meterNames names meter "m<usage point>" for each usage point.
type meterNames struct{}

func (meterNames) UsagePointOf(_ context.Context, id string) (string, error) {
	if !strings.HasPrefix(id, "m") {
		return "", fmt.Errorf("meter %s: unknown", id)
	}
	return id[1:], nil
}

func (meterNames) MeterAt(_ context.Context, up string) (string, error) { return "m" + up, nil }

// darkMeters answers pings of the meters not dark.
type darkMeters struct {
	mu    sync.Mutex
	dark  map[string]bool
	pings int
}

func (d *darkMeters) Ping(_ context.Context, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pings++
	if d.dark[id] {
		return fmt.Errorf("meter %s: no answer", id)
	}
	return nil
}

func (d *darkMeters) set(ids []string, dark bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, id := range ids {
		d.dark["m"+id] = dark
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestServiceOverTheBus: pushed power events on the bus become a
// transformer outage, stored and published on the outages topic,
// restored and verified by pings; a restarted service picks up an open
// outage from the store.
func TestServiceOverTheBus(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b, err := bus.Open(ctx, bus.Options{Dir: t.TempDir(), Namespace: "outsvc"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(context.Background())
	g := testGrid(t, 1, 2, 4, 10)
	st := &memStore{evs: map[string]Event{}}
	pings := &darkMeters{dark: map[string]bool{}}
	opts := ServiceOptions{Engine: Config{Window: time.Second, VerifyAfter: time.Second, Momentary: time.Millisecond}, Store: st, Topology: fixedTopology{g},
		Meters: meterNames{}, Pings: pings, Bus: b, Tick: 100 * time.Millisecond}
	svc, err := NewService(opts)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- svc.Run(runCtx) }()

	watch, err := b.Consumer(ctx, bus.ConsumerConfig{Durable: "watch", Stream: bus.Outages, Topic: bus.TopicOutage})
	if err != nil {
		t.Fatal(err)
	}
	var seen []Event
	waitOnBus := func(state State) Event {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			for _, e := range seen {
				if e.State == state {
					return e
				}
			}
			ds, _ := watch.Fetch(ctx, 10, 200*time.Millisecond)
			for _, d := range ds {
				m, err := d.Decode()
				if err != nil {
					t.Fatal(err)
				}
				var e Event
				if err := json.Unmarshal(m.(bus.Outage).JSON, &e); err != nil {
					t.Fatal(err)
				}
				seen = append(seen, e)
				d.Ack()
			}
		}
		t.Fatalf("no %s outage on the bus; seen %+v", state, seen)
		return Event{}
	}

	svcs := g.Services("TR-0-1-002")
	pings.set(svcs, true)
	down := time.Now().UTC().Truncate(time.Second)
	for i, up := range svcs {
		if i%5 == 0 {
			continue // a fifth of the gasps lost
		}
		if _, err := b.Publish(ctx, bus.Event{MRID: "gasp/" + up, MeterID: "m" + up, Type: cim.EventPowerOff, CreatedAt: down,
			Details: map[string]string{"source": "push"}}); err != nil {
			t.Fatal(err)
		}
	}
	// Noise the service leaves alone: another event type, an unknown meter.
	b.Publish(ctx, bus.Event{MRID: "cover", MeterID: "m" + svcs[0], Type: "3.12.29.39", CreatedAt: down})
	b.Publish(ctx, bus.Event{MRID: "stranger", MeterID: "x1", Type: cim.EventPowerOff, CreatedAt: down})

	ev := waitOnBus(Confirmed)
	if ev.Device != "TR-0-1-002" || ev.Level != topology.Transformer || ev.Customers != 10 || !ev.Start.Equal(down) {
		t.Fatalf("confirmed: %+v", ev)
	}
	if got, ok := st.get(ev.ID); !ok || got.State != Confirmed {
		t.Fatalf("stored: %+v %v", got, ok)
	}

	// Restart: the new service follows the stored outage.
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	svc, _ = NewService(opts)
	runCtx, stop = context.WithCancel(ctx)
	defer stop()
	go func() { done <- svc.Run(runCtx) }()
	waitFor(t, "the reloaded outage", func() bool { return len(svc.Open()) == 1 })

	pings.set(svcs, false)
	back := time.Now().UTC().Truncate(time.Second)
	for _, up := range svcs[:3] {
		if _, err := b.Publish(ctx, bus.Event{MRID: "up/" + up, MeterID: "m" + up, Type: cim.EventPowerRestored, CreatedAt: back,
			Details: map[string]string{"source": "push"}}); err != nil {
			t.Fatal(err)
		}
	}
	ev = waitOnBus(Verified)
	if ev.Device != "TR-0-1-002" || !ev.End.Equal(back) || ev.PingsOK == 0 {
		t.Fatalf("verified: %+v", ev)
	}
	waitFor(t, "the verified outage stored", func() bool { e, _ := st.get(ev.ID); return e.State == Verified })
	if len(svc.Open()) != 0 {
		t.Fatalf("still open: %+v", svc.Open())
	}
}

// TestSignalsFromMeterEvents: a recent power-down is a last gasp whether
// pushed alone (DLMS) or as a log entry (C12.22); an old one is history
// that dates the next power-up, and an old power-up with it is an
// interruption kept to be rebuilt with the rest of the logs, no live
// signal; a power failure log's duration is no signal; an unknown meter
// is none.
func TestSignalsFromMeterEvents(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	svc, err := NewService(ServiceOptions{Store: &memStore{}, Topology: fixedTopology{}, Meters: meterNames{}, Pings: &darkMeters{},
		Bus: &bus.Bus{}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ev := func(meter string, typ cim.EndDeviceEventType, at time.Time, details map[string]string) cim.EndDeviceEvent {
		return cim.EndDeviceEvent{MeterID: meter, Type: typ, CreatedAt: at, Details: details}
	}
	push := map[string]string{"source": "push"}
	log := map[string]string{"source": "log", "log": "ST76"}
	for i, tc := range []struct {
		in   cim.EndDeviceEvent
		want Signal
		ok   bool
	}{
		{ev("m1", cim.EventPowerOff, now.Add(-time.Second), push), Signal{Meter: "m1", UsagePoint: "1", Kind: LastGasp, At: now.Add(-time.Second)}, true},
		{ev("m2", cim.EventPowerOff, now.Add(-2*time.Second), log), Signal{Meter: "m2", UsagePoint: "2", Kind: LastGasp, At: now.Add(-2 * time.Second)}, true},
		{ev("m3", cim.EventPowerOff, now.Add(-3*time.Hour), log), Signal{}, false},
		{ev("m3", cim.EventPowerRestored, now.Add(-2*time.Hour), log), Signal{}, false},
		{ev("m4", cim.EventPowerRestored, now, push), Signal{Meter: "m4", UsagePoint: "4", Kind: PowerRestored, At: now}, true},
		{ev("m5", cim.EventPowerOff, now, map[string]string{"source": "log", "duration": "3m0s"}), Signal{}, false},
		{ev("x6", cim.EventPowerOff, now, push), Signal{}, false},
	} {
		got, ok := svc.signal(ctx, tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("%d: %+v: got %+v %v, want %+v %v", i, tc.in, got, ok, tc.want, tc.ok)
		}
	}
	want := []Logged{{UsagePoint: "3", Meter: "m3", Down: now.Add(-3 * time.Hour), Up: now.Add(-2 * time.Hour)}}
	if !slices.Equal(svc.history, want) {
		t.Errorf("history %+v, want %+v", svc.history, want)
	}
}

type fakeReads struct {
	mu    sync.Mutex
	reads []Read
}

func (f *fakeReads) ReadsSince(_ context.Context, since time.Time) ([]Read, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Read
	for _, r := range f.reads {
		if !r.At.Before(since) {
			out = append(out, r)
		}
	}
	return out, nil
}

// TestServiceFindsASilentMeterByItsMissedRead: no last gasp, a collection
// that times out, a ping that fails: a service outage, stored.
func TestServiceFindsASilentMeterByItsMissedRead(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b, err := bus.Open(ctx, bus.Options{Dir: t.TempDir(), Namespace: "outreads"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(context.Background())
	g := testGrid(t, 1, 1, 2, 3)
	st := &memStore{evs: map[string]Event{}}
	pings := &darkMeters{dark: map[string]bool{"mUP0000000004": true}}
	reads := &fakeReads{}
	svc, err := NewService(ServiceOptions{Engine: Config{Window: time.Second}, Store: st, Topology: fixedTopology{g}, Meters: meterNames{},
		Pings: pings, Bus: b, Reads: reads, ReadsEvery: 100 * time.Millisecond, Tick: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); svc.Run(ctx) }()
	defer func() { cancel(); <-done }()
	reads.mu.Lock()
	reads.reads = []Read{{Meter: "mUP0000000004", At: time.Now().Add(time.Second)}, {Meter: "mUP0000000001", At: time.Now().Add(time.Second), OK: true}}
	reads.mu.Unlock()
	waitFor(t, "the outage of the silent meter", func() bool {
		for _, e := range svc.Open() {
			if e.Device == "UP0000000004" && e.State == Confirmed {
				return true
			}
		}
		return false
	})
	if len(svc.Open()) != 1 {
		t.Fatalf("open: %+v", svc.Open())
	}
}

// TestLogsRebuiltOnce: a collection's event logs of a feeder outage become
// one outage at the feeder, and one nested under it for a transformer that
// stayed out, once they settle; the same logs read
// again (a second collection) file nothing new, and a service outage found
// live by a missed read takes the start its log tells.
func TestLogsRebuiltOnce(t *testing.T) {
	var nodes []topology.Node
	nodes = append(nodes, topology.Node{ID: "SS", Level: topology.Substation}, topology.Node{ID: "FD", Level: topology.Feeder, Parent: "SS"})
	for _, tr := range []string{"TA", "TB"} {
		nodes = append(nodes, topology.Node{ID: tr, Level: topology.Transformer, Parent: "FD"})
		for i := range 3 {
			nodes = append(nodes, topology.Node{ID: fmt.Sprintf("%s%d", tr, i), Level: topology.Service, Parent: tr})
		}
	}
	g, err := topology.New(nodes)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 5, 2, 1, 0, 0, 0, time.UTC)
	st := &memStore{evs: map[string]Event{}}
	// Found live: TB2's read missed at 00:30, its gasp lost; power back at 00:45.
	st.evs["TB2@x"] = Event{ID: "TB2@x", Level: topology.Service, Device: "TB2", State: Verified,
		Start: now.Add(-30 * time.Minute), End: now.Add(-15 * time.Minute), Customers: 1}
	svc, err := NewService(ServiceOptions{Store: st, Topology: fixedTopology{g}, Meters: meterNames{}, Pings: &darkMeters{},
		Bus: &published{}, Now: func() time.Time { return now }, Settle: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	svc.e = NewEngine(Config{}, g, pinger{svc})
	ctx := context.Background()
	down, up := now.Add(-20*time.Hour), now.Add(-18*time.Hour)
	read := func() {
		for i := range 3 {
			m := fmt.Sprintf("mTA%d", i)
			svc.signal(ctx, cim.EndDeviceEvent{MeterID: m, Type: cim.EventPowerOff, CreatedAt: down.Add(time.Duration(i) * time.Second)})
			svc.signal(ctx, cim.EndDeviceEvent{MeterID: m, Type: cim.EventPowerRestored, CreatedAt: up.Add(time.Duration(i) * time.Second)})
		}
		// TB's other two went with the feeder and stayed out an hour more.
		for i := range 2 {
			m := fmt.Sprintf("mTB%d", i)
			svc.signal(ctx, cim.EndDeviceEvent{MeterID: m, Type: cim.EventPowerOff, CreatedAt: down})
			svc.signal(ctx, cim.EndDeviceEvent{MeterID: m, Type: cim.EventPowerRestored, CreatedAt: up.Add(time.Hour)})
		}
		svc.signal(ctx, cim.EndDeviceEvent{MeterID: "mTB2", Type: cim.EventPowerOff, CreatedAt: now.Add(-40 * time.Minute)})
		svc.signal(ctx, cim.EndDeviceEvent{MeterID: "mTB2", Type: cim.EventPowerRestored, CreatedAt: now.Add(-15 * time.Minute)})
	}
	filed := func() []Event {
		st.mu.Lock()
		defer st.mu.Unlock()
		var out []Event
		for _, e := range st.evs {
			out = append(out, e)
		}
		slices.SortFunc(out, func(a, b Event) int { return strings.Compare(a.Device, b.Device) })
		return out
	}
	read()
	svc.rebuild(ctx, now.Add(30*time.Second)) // not settled yet
	if n := len(filed()); n != 1 {
		t.Fatalf("filed before the logs settled: %+v", filed())
	}
	now = now.Add(2 * time.Minute)
	svc.rebuild(ctx, now)
	got := filed()
	if len(got) != 3 || got[0].Device != "FD" || !got[0].Start.Equal(down) || !got[0].End.Equal(up.Add(time.Second)) || got[0].State != Verified {
		t.Fatalf("after settling: %+v", got)
	}
	if got[1].Device != "TB" || got[1].Parent != got[0].ID || !got[1].Start.Equal(got[0].Start) || !got[1].End.Equal(up.Add(time.Hour)) {
		t.Fatalf("the nested outage: %+v", got[1])
	}
	if got[2].ID != "TB2@x" || !got[2].Start.Equal(now.Add(-2*time.Minute-40*time.Minute)) {
		t.Fatalf("the live outage's start not amended from its log: %+v", got[2])
	}
	read()
	now = now.Add(2 * time.Minute)
	svc.rebuild(ctx, now)
	if again := filed(); len(again) != 3 {
		t.Fatalf("the same logs read twice filed again: %+v", again)
	}
}

// published is a bus that only counts what is published.
type published struct{ n int }

func (p *published) Consumer(context.Context, bus.ConsumerConfig) (*bus.Consumer, error) {
	return nil, errors.New("no consumers here")
}

func (p *published) Publish(context.Context, bus.Message) (bool, error) { p.n++; return false, nil }
