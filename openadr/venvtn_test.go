package openadr

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"
)

// memSource is an event source held in memory, recording opts.
type memSource struct {
	mu     sync.Mutex
	events []Event
	opts   []OptRecord
}

func (s *memSource) Events(ctx context.Context, venID string) ([]Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.events...), nil
}

func (s *memSource) Opt(ctx context.Context, o OptRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o.Cancelled {
		s.opts = append(s.opts, o)
		return nil
	}
	for _, e := range s.events {
		if e.ID == o.EventID {
			s.opts = append(s.opts, o)
			return nil
		}
	}
	return fmt.Errorf("no event %q", o.EventID)
}

func (s *memSource) recorded() []OptRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]OptRecord(nil), s.opts...)
}

type memSink struct {
	mu       sync.Mutex
	metadata map[string][]Report
	updates  map[string][]Report
}

func (s *memSink) Metadata(ctx context.Context, venID string, r []Report) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.metadata[venID] = append(s.metadata[venID], r...)
	return nil
}

func (s *memSink) Update(ctx context.Context, venID string, r []Report) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.updates[venID] = append(s.updates[venID], r...)
	return nil
}

func testEvent(start time.Time) Event {
	return Event{
		ID: "ev-1", Modification: 0, MarketContext: "http://amigo/programs/peak", Status: StatusFar,
		Created: start.Add(-time.Hour), Start: start, Duration: 2 * time.Hour, StartAfter: 10 * time.Minute,
		Notification: time.Hour, ResponseRequired: true,
		Signals: []Signal{
			{Name: SignalSimple, Type: TypeLevel, ID: "s0", Value: 2},
			{Name: SignalLoadDispatch, Type: TypeSetpoint, ID: "s1", Item: RealPower(), Value: 3500},
			{Name: SignalPrice, Type: TypePrice, ID: "s2", Item: CurrencyPerKWh("EUR"), Value: 0.45},
		},
	}
}

func TestVENAgainstVTN(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Date(2026, 12, 8, 17, 0, 0, 0, time.UTC)
	src := &memSource{events: []Event{testEvent(start)}}
	sink := &memSink{metadata: map[string][]Report{}, updates: map[string][]Report{}}
	vtn := &VTN{ID: "amigo-vtn", Source: src, Sink: sink, PollFreq: 5 * time.Second, Insecure: true}
	srv := httptest.NewServer(vtn)
	defer srv.Close()

	var mu sync.Mutex
	var got []Event
	ven := &VEN{URL: srv.URL + "/OpenADR2/Simple/2.0b", Name: "house-ven", Timeout: 10 * time.Second,
		Policy: func(ctx context.Context, e Event) (string, error) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, e)
			return OptIn, nil
		},
		Reports: []Report{MetadataTelemetry("telemetry-1", time.Minute, "meter-1")},
	}

	// A poll before registering is refused with 463.
	if _, err := (&VEN{URL: ven.URL, VENID: "stranger"}).Poll(ctx); !IsNotRegistered(err) {
		t.Fatalf("poll of an unregistered VEN: %v, want 463", err)
	}
	q, err := ven.QueryRegistration(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if q.VTNID != "amigo-vtn" || len(q.Profiles.Profiles) != 1 || q.Profiles.Profiles[0].Name != "2.0b" {
		t.Fatalf("query registration: %+v", q)
	}
	if err := ven.Register(ctx); err != nil {
		t.Fatal(err)
	}
	if ven.VENID == "" || ven.RegistrationID() == "" || ven.VTNID() != "amigo-vtn" || ven.PollFreq() != 5*time.Second {
		t.Fatalf("registration: ven %q reg %q vtn %q freq %v", ven.VENID, ven.RegistrationID(), ven.VTNID(), ven.PollFreq())
	}

	// The event arrives on the first poll, goes through the policy and is
	// opted in.
	name, err := ven.Poll(ctx)
	if err != nil || name != "oadrDistributeEvent" {
		t.Fatalf("poll: %s, %v", name, err)
	}
	mu.Lock()
	if len(got) != 1 {
		t.Fatalf("policy saw %d events", len(got))
	}
	e := got[0]
	mu.Unlock()
	if e.ID != "ev-1" || !e.Start.Equal(start) || e.Duration != 2*time.Hour || e.StartAfter != 10*time.Minute ||
		e.Notification != time.Hour || e.MarketContext != "http://amigo/programs/peak" || e.Status != StatusFar {
		t.Fatalf("event as received: %+v", e)
	}
	if s, ok := e.SignalNamed(SignalLoadDispatch); !ok || s.Value != 3500 || s.Item == nil || s.Item.ItemUnits != "W" || s.Item.XMLName.Local != "powerReal" {
		t.Fatalf("load dispatch signal: %+v", s)
	}
	if s, ok := e.SignalNamed(SignalPrice); !ok || s.Value != 0.45 || s.Item.ItemUnits != "EUR" {
		t.Fatalf("price signal: %+v", s)
	}
	opts := src.recorded()
	if len(opts) != 1 || opts[0].OptType != OptIn || opts[0].EventID != "ev-1" || opts[0].VENID != ven.VENID {
		t.Fatalf("opts after the event: %+v", opts)
	}
	// Nothing new: the next poll is an empty oadrResponse.
	if name, err := ven.Poll(ctx); err != nil || name != "oadrResponse" {
		t.Fatalf("second poll: %s, %v", name, err)
	}

	// The event is modified; the VEN answers optOut this time.
	src.mu.Lock()
	src.events[0].Modification, src.events[0].Status = 1, StatusNear
	src.mu.Unlock()
	ven.Policy = func(ctx context.Context, e Event) (string, error) { return OptOut, nil }
	if name, err := ven.Poll(ctx); err != nil || name != "oadrDistributeEvent" {
		t.Fatalf("poll after modification: %s, %v", name, err)
	}
	opts = src.recorded()
	if len(opts) != 2 || opts[1].OptType != OptOut || opts[1].Modification != 1 {
		t.Fatalf("opts after the modification: %+v", opts)
	}

	// An opt-out by oadrCreateOpt for one resource, then its cancel.
	optID, err := ven.OptOut(ctx, "ev-1", 1, "", "meter-1")
	if err != nil {
		t.Fatal(err)
	}
	opts = src.recorded()
	if len(opts) != 3 || opts[2].OptID != optID || opts[2].OptType != OptOut || len(opts[2].Resources) != 1 || opts[2].Resources[0] != "meter-1" {
		t.Fatalf("opts after oadrCreateOpt: %+v", opts)
	}
	if _, err := ven.OptOut(ctx, "no-such-event", 0, ""); err == nil {
		t.Fatal("opt-out of an unknown event accepted")
	}
	if err := ven.CancelOpt(ctx, optID); err != nil {
		t.Fatal(err)
	}
	if opts = src.recorded(); len(opts) != 4 || !opts[3].Cancelled || opts[3].OptID != optID {
		t.Fatalf("opts after oadrCancelOpt: %+v", opts)
	}

	// Reports: METADATA offered, requested by the VTN, data delivered.
	reqs, err := ven.RegisterReports(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 1 || reqs[0].Specifier.ReportSpecifierID != "telemetry-1" || reqs[0].Specifier.Granularity.Duration != "PT1M" ||
		len(reqs[0].Specifier.Payloads) != 1 || reqs[0].Specifier.Payloads[0].RID != "meter-1" {
		t.Fatalf("report requests: %+v", reqs)
	}
	t0 := start.Add(-time.Hour)
	if err := ven.UpdateReport(ctx, reqs[0], "TELEMETRY_USAGE", []Reading{
		{RID: "meter-1", Start: t0, Duration: time.Minute, Value: 1234.5},
		{RID: "meter-1", Start: t0.Add(time.Minute), Duration: time.Minute, Value: 987},
	}); err != nil {
		t.Fatal(err)
	}
	sink.mu.Lock()
	md, up := sink.metadata[ven.VENID], sink.updates[ven.VENID]
	sink.mu.Unlock()
	if len(md) != 1 || md[0].ReportName != "METADATA_TELEMETRY_USAGE" || md[0].Descriptions[0].ItemBase.ItemUnits != "W" {
		t.Fatalf("metadata received: %+v", md)
	}
	if len(up) != 1 || up[0].ReportRequestID != reqs[0].ReportRequestID || len(up[0].Intervals.Intervals) != 2 {
		t.Fatalf("update received: %+v", up)
	}
	iv := up[0].Intervals.Intervals[1]
	if iv.DTStart.DateTime != FormatDateTime(t0.Add(time.Minute)) || iv.Duration.Duration != "PT1M" ||
		iv.ReportPayload[0].RID != "meter-1" || iv.ReportPayload[0].Float.Value != 987 {
		t.Fatalf("second interval received: %+v", iv)
	}

	// The VTN asks for re-registration: the VEN registers again and keeps
	// its VEN id.
	venID, regID := ven.VENID, ven.RegistrationID()
	vtn.RequestReregistration(venID)
	if name, err := ven.Poll(ctx); err != nil || name != "oadrRequestReregistration" {
		t.Fatalf("poll after reregistration request: %s, %v", name, err)
	}
	if ven.VENID != venID || ven.RegistrationID() == regID || ven.RegistrationID() == "" {
		t.Fatalf("after re-registration: ven %q reg %q (was %q %q)", ven.VENID, ven.RegistrationID(), venID, regID)
	}
	// A new registration hears its events again.
	if err := ven.RequestEvents(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ven.CancelRegistration(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := ven.Poll(ctx); !IsNotRegistered(err) {
		t.Fatalf("poll after cancelling: %v, want 463", err)
	}
}

func TestVTNRefusesBadPayloads(t *testing.T) {
	vtn := &VTN{ID: "amigo-vtn", Source: &memSource{}, Insecure: true}
	srv := httptest.NewServer(vtn)
	defer srv.Close()
	post := func(service, body string) Message {
		t.Helper()
		resp, err := http.Post(srv.URL+BasePath+service, "application/xml", stringReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: HTTP %d", service, resp.StatusCode)
		}
		m, err := Decode(readAll(t, resp))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, c := range []struct{ service, body, code string }{
		{ServicePoll, "not xml at all", CodeInvalidData},
		{ServicePoll, `<oadrPayload xmlns="http://openadr.org/oadr-2.0b/2012/07"><oadrSignedObject/></oadrPayload>`, CodeInvalidData},
		{ServicePoll, mustEncode(t, &Poll{VENID: "nobody"}), CodeNotRegistered},
		{ServiceEvent, mustEncode(t, &Poll{VENID: "nobody"}), CodeNotRecognized},
	} {
		m := post(c.service, c.body)
		r, ok := m.(*Response)
		if !ok || r.Response.Code != c.code {
			t.Errorf("%s %.60q: answered %#v, want code %s", c.service, c.body, m, c.code)
		}
	}
	resp, err := http.Get(srv.URL + BasePath + ServicePoll)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: HTTP %d", resp.StatusCode)
	}
}

// TestVENRunRegistersAgainWithAForgetfulVTN: a VTN that lost its
// registrations answers 463, and a running VEN registers again.
func TestVENRunRegistersAgainWithAForgetfulVTN(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	src := &memSource{}
	var mu sync.Mutex
	current := &VTN{ID: "AMIGO", Source: src, PollFreq: time.Millisecond, Insecure: true}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		v := current
		mu.Unlock()
		v.ServeHTTP(w, r)
	}))
	defer srv.Close()
	ven := &VEN{URL: srv.URL + "/OpenADR2/Simple/2.0b", VENID: "ven-r"}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- ven.Run(runCtx, nil) }()
	waitRegistered := func(v *VTN) {
		t.Helper()
		for !slices.Contains(v.Registered(), "ven-r") {
			select {
			case <-ctx.Done():
				t.Fatal("the VEN did not register")
			case <-time.After(time.Millisecond):
			}
		}
	}
	waitRegistered(current)
	fresh := &VTN{ID: "AMIGO", Source: src, PollFreq: time.Millisecond, Insecure: true}
	mu.Lock()
	current = fresh
	mu.Unlock()
	waitRegistered(fresh)
	stop()
	if err := <-done; err != context.Canceled {
		t.Fatalf("Run ended with %v", err)
	}
}
