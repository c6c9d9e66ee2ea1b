package openadr

import (
	"context"
	"fmt"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/dr"
)

type fakeDR struct {
	mu       sync.Mutex
	programs map[string]dr.Program
	events   []dr.Event
	parts    map[string][]dr.Participation
	optedOut []string // eventID/usagePoint
}

func (f *fakeDR) Program(ctx context.Context, id string) (dr.Program, error) {
	p, ok := f.programs[id]
	if !ok {
		return dr.Program{}, fmt.Errorf("no program %q", id)
	}
	return p, nil
}

func (f *fakeDR) ProgramEvents(ctx context.Context, programID string) ([]dr.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []dr.Event
	for _, e := range f.events {
		if e.ProgramID == programID {
			out = append(out, e)
		}
	}
	return out, nil
}

func (f *fakeDR) Participations(ctx context.Context, eventID string) ([]dr.Participation, error) {
	return f.parts[eventID], nil
}

func (f *fakeDR) OptOut(ctx context.Context, eventID, up string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.optedOut = append(f.optedOut, eventID+"/"+up)
	return nil
}

func (f *fakeDR) TakeEvent(ctx context.Context, e dr.Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.events {
		if f.events[i].ID == e.ID {
			f.events[i].Status = e.Status
			return nil
		}
	}
	f.events = append(f.events, e)
	return nil
}

func TestDRPublishedToVENAndOptOut(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	now := time.Date(2026, 12, 8, 12, 0, 0, 0, time.UTC)
	prog := dr.Program{ID: "peak-limit", Name: "Peak limit", Kind: dr.KindLoadLimit, Notice: 2 * time.Hour, Randomize: 300 * time.Second, Baseline: dr.Method10of10}
	ev := dr.Event{ID: "e-1", ProgramID: prog.ID, Start: now.Add(time.Hour), End: now.Add(3 * time.Hour), Signal: dr.Signal{ThresholdW: 2500}, Status: dr.StatusScheduled, Source: dr.SourceAmigo}
	f := &fakeDR{programs: map[string]dr.Program{prog.ID: prog, "other": {ID: "other", Kind: dr.KindPrice}},
		events: []dr.Event{ev, {ID: "e-other", ProgramID: "other", Start: now, End: now.Add(time.Hour)}},
		parts: map[string][]dr.Participation{"e-1": {
			{EventID: "e-1", UsagePointID: "up-1"}, {EventID: "e-1", UsagePointID: "up-2"}, {EventID: "e-1", UsagePointID: "up-9"}}}}
	src := &DRSource{DR: f, Programs: []string{prog.ID}, Now: func() time.Time { return now },
		UsagePoints: map[string][]string{"ven-a": {"up-1", "up-2"}, "ven-b": {"up-5"}}}
	srv := httptest.NewServer(&VTN{ID: "amigo", Source: src, Insecure: true})
	defer srv.Close()

	var got []Event
	ven := &VEN{URL: srv.URL + "/OpenADR2/Simple/2.0b", VENID: "ven-a", Policy: func(ctx context.Context, e Event) (string, error) {
		got = append(got, e)
		return OptIn, nil
	}}
	if err := ven.Register(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := ven.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("VEN got %d events, want the one of the published program", len(got))
	}
	e := got[0]
	s, _ := e.SignalNamed(SignalLoadDispatch)
	if e.ID != "e-1" || e.Status != StatusNear || e.StartAfter != 300*time.Second || e.Notification != 2*time.Hour ||
		e.MarketContext != "urn:amigo:dr:program:peak-limit" || s.Value != 2500 || !e.Start.Equal(ev.Start) || !e.End().Equal(ev.End) {
		t.Fatalf("event at the VEN: %+v", e)
	}

	// A VEN none of whose usage points takes part hears nothing.
	other := &VEN{URL: ven.URL, VENID: "ven-b"}
	if err := other.Register(ctx); err != nil {
		t.Fatal(err)
	}
	if name, err := other.Poll(ctx); err != nil || name != "oadrResponse" {
		t.Fatalf("poll of ven-b: %s %v", name, err)
	}

	// The VEN opts out: both its participants are opted out in dr, the
	// third participant is not.
	if _, err := ven.OptOut(ctx, "e-1", 0, ""); err != nil {
		t.Fatal(err)
	}
	slices.Sort(f.optedOut)
	if !slices.Equal(f.optedOut, []string{"e-1/up-1", "e-1/up-2"}) {
		t.Fatalf("opted out in dr: %v", f.optedOut)
	}
	// One resource it does not stand for is refused.
	if _, err := ven.OptOut(ctx, "e-1", 0, "", "up-9"); err == nil {
		t.Fatal("opt-out of another VEN's usage point accepted")
	}

	// Cancelled in dr: the VEN hears modification 1, status cancelled.
	f.mu.Lock()
	f.events[0].Status = dr.StatusCancelled
	f.mu.Unlock()
	if _, err := ven.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1].Status != StatusCancelled || got[1].Modification != 1 {
		t.Fatalf("after cancelling: %+v", got)
	}
}

func TestDRSignalsBothWays(t *testing.T) {
	now := time.Date(2026, 12, 8, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		prog dr.Program
		sig  dr.Signal
	}{
		{dr.Program{ID: "ll", Kind: dr.KindLoadLimit}, dr.Signal{ThresholdW: 3200}},
		{dr.Program{ID: "pr", Kind: dr.KindPrice, Currency: "EUR"}, dr.Signal{Price: 412500, Currency: "EUR"}},
		{dr.Program{ID: "rl", Kind: dr.KindRelay}, dr.Signal{Relay: "open"}},
	} {
		ev := dr.Event{ID: "x", ProgramID: c.prog.ID, Start: now.Add(time.Hour), End: now.Add(2 * time.Hour), Signal: c.sig, Status: dr.StatusScheduled}
		// Through the wire and back.
		b, err := Encode(&DistributeEvent{RequestID: "r", VTNID: "utility", Events: []OadrEvent{FromDR(ev, c.prog, "urn:x:", now).Ei()}})
		if err != nil {
			t.Fatal(err)
		}
		m, err := Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		e, err := EventFromEi(m.(*DistributeEvent).Events[0])
		if err != nil {
			t.Fatal(err)
		}
		back, err := ToDR(e, c.prog, "utility")
		if err != nil {
			t.Fatalf("%s: %v", c.prog.Kind, err)
		}
		if back.Signal != c.sig || back.ID != "utility:x" || back.Source != "utility" || !back.Start.Equal(ev.Start) || !back.End.Equal(ev.End) || back.ProgramID != c.prog.ID {
			t.Errorf("%s: %+v came back as %+v", c.prog.Kind, ev, back)
		}
	}
	// A price event for a load-limit program is refused by the policy,
	// which opts out and says why.
	f := &fakeDR{}
	var refused []error
	pol := DRPolicy(dr.Program{ID: "ll", Kind: dr.KindLoadLimit}, func() string { return "utility" }, f, func(err error) { refused = append(refused, err) })
	opt, err := pol(context.Background(), FromDR(dr.Event{ID: "p", Start: now, End: now.Add(time.Hour), Signal: dr.Signal{Price: 1}}, dr.Program{Kind: dr.KindPrice}, "", now))
	if err != nil || opt != OptOut || len(refused) != 1 || len(f.events) != 0 {
		t.Fatalf("mismatched event: %s %v %v %v", opt, err, refused, f.events)
	}
	opt, err = pol(context.Background(), FromDR(dr.Event{ID: "q", Start: now, End: now.Add(time.Hour), Signal: dr.Signal{ThresholdW: 1800}}, dr.Program{Kind: dr.KindLoadLimit}, "", now))
	if err != nil || opt != OptIn || len(f.events) != 1 || f.events[0].Signal.ThresholdW != 1800 || f.events[0].Source != "utility" {
		t.Fatalf("taken event: %s %v %+v", opt, err, f.events)
	}
}

func TestToDRStatuses(t *testing.T) {
	now := time.Date(2026, 12, 8, 12, 0, 0, 0, time.UTC)
	p := dr.Program{ID: "rl", Kind: dr.KindRelay}
	for status, want := range map[string]string{StatusFar: dr.StatusScheduled, StatusActive: dr.StatusScheduled,
		StatusCancelled: dr.StatusCancelled, StatusCompleted: dr.StatusCompleted} {
		e := FromDR(dr.Event{ID: "x", Start: now, End: now.Add(time.Hour), Signal: dr.Signal{Relay: "open"}}, p, "", now)
		e.Status = status
		got, err := ToDR(e, p, "utility")
		if err != nil || got.Status != want {
			t.Errorf("%s: %s, %v; want %s", status, got.Status, err, want)
		}
	}
	e := FromDR(dr.Event{ID: "x", Start: now, End: now.Add(time.Hour)}, p, "", now)
	e.Signals = nil
	if _, err := ToDR(e, p, "utility"); err == nil {
		t.Error("a relay event without a signal was taken")
	}
	e.Duration = 0
	if _, err := ToDR(e, p, "utility"); err == nil {
		t.Error("an event without a duration was taken")
	}
}
