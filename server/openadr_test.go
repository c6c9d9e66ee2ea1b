package server

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/dr"
	"github.com/amigo-ami/amigo/openadr"
)

// TestOpenADRVTNServesDREvents: with openadr.vtn on, a VEN registers
// under amigo's HTTP, hears the event created through dr, opts out, and
// dr has the household opted out.
func TestOpenADRVTNServesDREvents(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := testConfig(t.TempDir())
	c.OpenADR.VTN.Enabled = true
	c.OpenADR.VTN.Insecure = true
	c.OpenADR.VTN.Programs = []string{"peak"}
	c.OpenADR.VTN.VENs = map[string][]string{"ven-home-1": {"up-1"}}
	s := start(t, c)
	defer s.Shutdown(context.Background())

	if err := s.Store.PutUsagePoints(ctx, cim.UsagePoint{MRID: "up-1", TimeZone: "UTC"}, cim.UsagePoint{MRID: "up-2", TimeZone: "UTC"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Store.PutMeters(ctx, cim.Meter{MRID: "m1", UsagePointID: "up-1"}, cim.Meter{MRID: "m2", UsagePointID: "up-2"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DR.PutProgram(ctx, dr.Program{ID: "peak", Name: "Winter peak", Kind: dr.KindLoadLimit, Notice: 2 * time.Hour,
		Randomize: 300 * time.Second, Baseline: dr.Method10of10}); err != nil {
		t.Fatal(err)
	}
	for _, e := range []dr.Enrolment{{ProgramID: "peak", UsagePointID: "up-1", MeterID: "m1"}, {ProgramID: "peak", UsagePointID: "up-2", MeterID: "m2"}} {
		e.From = time.Now().Add(-time.Hour)
		if _, err := s.DR.Enrol(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now().Add(24 * time.Hour).Truncate(time.Hour)
	ev, _, err := s.DR.CreateEvent(ctx, dr.Event{ProgramID: "peak", Start: start, End: start.Add(2 * time.Hour), Signal: dr.Signal{ThresholdW: 2500}}, "olga")
	if err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var heard []openadr.Event
	ven := &openadr.VEN{URL: "http://" + s.Addr() + "/OpenADR2/Simple/2.0b", Name: "home-1", VENID: "ven-home-1",
		Policy: func(ctx context.Context, e openadr.Event) (string, error) {
			mu.Lock()
			defer mu.Unlock()
			heard = append(heard, e)
			return openadr.OptIn, nil
		}}
	if err := ven.Register(ctx); err != nil {
		t.Fatal(err)
	}
	if ven.VTNID() != "AMIGO-VTN" || ven.PollFreq() != 10*time.Second {
		t.Fatalf("registered with VTN %q, poll every %s", ven.VTNID(), ven.PollFreq())
	}
	got, err := ven.Poll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if got != "oadrDistributeEvent" || len(heard) != 1 || heard[0].ID != ev.ID || !heard[0].Start.Equal(start) || heard[0].Status != openadr.StatusFar {
		t.Fatalf("poll %s, heard %+v", got, heard)
	}
	sig, ok := heard[0].SignalNamed(openadr.SignalLoadDispatch)
	mod := heard[0].Modification
	mu.Unlock()
	if !ok || sig.Value != 2500 {
		t.Fatalf("load dispatch %+v %v", sig, ok)
	}
	if _, err := ven.OptOut(ctx, ev.ID, mod, "away"); err != nil {
		t.Fatal(err)
	}
	parts, err := s.DR.Participations(ctx, ev.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 2 {
		t.Fatalf("participants %+v", parts)
	}
	for _, p := range parts {
		if p.OptedOut() != (p.UsagePointID == "up-1") {
			t.Errorf("usage point %s opted out %v", p.UsagePointID, p.OptedOut())
		}
	}
	// A VEN standing for nobody hears nothing.
	other := &openadr.VEN{URL: ven.URL, Name: "stranger"}
	if err := other.Register(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := other.Poll(ctx); err != nil || got != "oadrResponse" || len(other.Events()) != 0 {
		t.Fatalf("stranger's poll %s %v, events %v", got, err, other.Events())
	}
}

// staticVTN is a VTN's source with one event, which records opts.
type staticVTN struct {
	mu    sync.Mutex
	event openadr.Event
	opts  []openadr.OptRecord
}

func (v *staticVTN) Events(ctx context.Context, venID string) ([]openadr.Event, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return []openadr.Event{v.event}, nil
}

func (v *staticVTN) Opt(ctx context.Context, o openadr.OptRecord) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.opts = append(v.opts, o)
	return nil
}

// TestOpenADRVENTakesEvents: with openadr.ven set, the node registers
// with the VTN, takes its event into the program, opts in, and cancels
// the event when the VTN does.
func TestOpenADRVENTakesEvents(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start0 := time.Now().Add(48 * time.Hour).Truncate(time.Hour)
	src := &staticVTN{event: openadr.Event{ID: "grid-7", Created: time.Now(), Start: start0, Duration: time.Hour, Status: openadr.StatusFar, ResponseRequired: true,
		Signals: []openadr.Signal{{Name: openadr.SignalSimple, Type: openadr.TypeLevel, ID: "simple", Value: 2},
			{Name: openadr.SignalLoadDispatch, Type: openadr.TypeSetpoint, ID: "threshold", Item: openadr.RealPower(), Value: 3000}}}}
	vtn := httptest.NewServer(&openadr.VTN{ID: "GRID-VTN", Source: src, PollFreq: time.Second, Insecure: true})
	defer vtn.Close()

	c := testConfig(t.TempDir())
	c.OpenADR.VEN.VTNURL = vtn.URL + "/OpenADR2/Simple/2.0b"
	c.OpenADR.VEN.Program = "grid"
	c.OpenADR.VEN.Poll = 50 * time.Millisecond
	var s *Server
	s, err := StartWith(ctx, c, slog.New(slog.DiscardHandler), "test", Options{BeforeRun: func(ctx context.Context, srv *Server) error {
		_, err := srv.DR.PutProgram(ctx, dr.Program{ID: "grid", Name: "Grid events", Kind: dr.KindLoadLimit, Baseline: dr.Method10of10})
		return err
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())

	waitFor(t, ctx, "the VTN's event taken into program grid", func() bool {
		e, err := s.DR.Event(ctx, "GRID-VTN:grid-7")
		return err == nil && e.ProgramID == "grid" && e.Source == "GRID-VTN" && e.Signal.ThresholdW == 3000 && e.Status == dr.StatusScheduled
	})
	waitFor(t, ctx, "the VEN's opt-in", func() bool {
		src.mu.Lock()
		defer src.mu.Unlock()
		return len(src.opts) > 0 && src.opts[0].OptType == openadr.OptIn && src.opts[0].EventID == "grid-7"
	})
	src.mu.Lock()
	src.event.Status, src.event.Modification = openadr.StatusCancelled, 1
	src.mu.Unlock()
	waitFor(t, ctx, "the event cancelled after the VTN", func() bool {
		e, err := s.DR.Event(ctx, "GRID-VTN:grid-7")
		return err == nil && e.Status == dr.StatusCancelled
	})
}

// waitFor polls cond until it holds or ctx ends.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-tick.C:
		}
	}
}
