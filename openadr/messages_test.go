package openadr

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sampleMessages is one realistic instance of every 2.0b message.
func sampleMessages() []Message {
	start := time.Date(2026, 12, 8, 17, 0, 0, 0, time.UTC)
	pull := true
	reqs := RequestAll([]Report{MetadataTelemetry("telemetry-1", time.Minute, "meter-1")})
	ev := &CreatedEvent{}
	ev.Created.Response = ok("r1")
	ev.Created.EventResponses = &EventResponses{Responses: []EventResponse{{Code: "200", RequestID: "r1", QualifiedEventID: QualifiedEventID{EventID: "ev-1"}, OptType: OptIn}}}
	ev.Created.VENID = "ven-1"
	re := &RequestEvent{}
	re.Request.RequestID, re.Request.VENID = "r2", "ven-1"
	v := &VTN{ID: "vtn", Insecure: true}
	msgs := []Message{
		&DistributeEvent{RequestID: "r1", VTNID: "vtn", Events: []OadrEvent{testEvent(start).Ei()}},
		ev, re,
		&Response{Response: ok("r"), VENID: "ven-1"},
		&CreateOpt{OptID: "o1", OptType: OptOut, OptReason: "notParticipating", VENID: "ven-1", CreatedDateTime: FormatDateTime(start), RequestID: "r3", QualifiedEventID: &QualifiedEventID{EventID: "ev-1", ModificationNumber: 1}, Target: Target{ResourceID: []string{"meter-1"}}},
		&CreatedOpt{Response: ok("r3"), OptID: "o1"},
		&CancelOpt{RequestID: "r4", OptID: "o1", VENID: "ven-1"},
		&CanceledOpt{Response: ok("r4"), OptID: "o1"},
		&RegisterReport{RequestID: "r5", Reports: []Report{MetadataTelemetry("telemetry-1", time.Minute, "meter-1")}, VENID: "ven-1"},
		&RegisteredReport{Response: ok("r5"), Requests: reqs, VENID: "ven-1"},
		&CreateReport{RequestID: "r6", Requests: reqs, VENID: "ven-1"},
		&CreatedReport{Response: ok("r6"), Pending: PendingReports{ReportRequestIDs: []string{"rr1"}}, VENID: "ven-1"},
		&UpdateReport{RequestID: "r7", VENID: "ven-1", Reports: []Report{{ReportID: "rep1", ReportRequestID: "rr1", ReportSpecifierID: "telemetry-1", ReportName: "TELEMETRY_USAGE", CreatedDateTime: FormatDateTime(start), DTStart: &DTStart{DateTime: FormatDateTime(start)}, Intervals: &Intervals{Intervals: []Interval{{DTStart: &DTStart{DateTime: FormatDateTime(start)}, Duration: &DurationProp{Duration: "PT1M"}, ReportPayload: []ReportPayload{{RID: "meter-1", Float: PayloadFloat{Value: 1234.5}}}}}}}}},
		&UpdatedReport{Response: ok("r7"), VENID: "ven-1"},
		&CancelReport{RequestID: "r8", ReportRequestIDs: []string{"rr1"}, ReportToFollow: false, VENID: "ven-1"},
		&CanceledReport{Response: ok("r8"), VENID: "ven-1"},
		&QueryRegistration{RequestID: "r9"},
		&CreatePartyRegistration{RequestID: "r10", ProfileName: "2.0b", TransportName: "simpleHttp", VENName: "house", HTTPPullModel: &pull},
		v.createdRegistration("r10", "reg-1", "ven-1"),
		&CancelPartyRegistration{RequestID: "r11", RegistrationID: "reg-1", VENID: "ven-1"},
		&CanceledPartyRegistration{Response: ok("r11"), RegistrationID: "reg-1", VENID: "ven-1"},
		&RequestReregistration{VENID: "ven-1"},
		&Poll{VENID: "ven-1"},
	}
	return msgs
}

// TestMessagesRoundTrip encodes every message and decodes it to the same
// value. With OPENADR_DUMP set to a directory, it also writes each
// payload there, to check them against the 2.0b schema by hand.
func TestMessagesRoundTrip(t *testing.T) {
	dump := os.Getenv("OPENADR_DUMP")
	msgs := sampleMessages()
	if len(msgs) != reflect.TypeOf(SignedObject{}).NumField() {
		t.Fatalf("%d sample messages for %d kinds", len(msgs), reflect.TypeOf(SignedObject{}).NumField())
	}
	for _, m := range msgs {
		b, err := Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		if dump != "" {
			if err := os.WriteFile(filepath.Join(dump, m.oadrName()+".xml"), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		back, err := Decode(b)
		if err != nil {
			t.Fatalf("%s: %v", m.oadrName(), err)
		}
		if !reflect.DeepEqual(back, m) {
			t.Errorf("%s: decoded %+v, encoded %+v", m.oadrName(), back, m)
		}
	}
}

// TestDecodePrefixedPayload reads a payload written with prefixes, as
// other implementations write them, from the fuzz corpus.
func TestDecodePrefixedPayload(t *testing.T) {
	raw, err := os.ReadFile("testdata/fuzz/FuzzDecode/distribute_prefixed")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(string(raw), "\n", 3)
	s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := Decode([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	d := m.(*DistributeEvent)
	if d.VTNID != "utility-vtn" || len(d.Events) != 1 {
		t.Fatalf("%+v", d)
	}
	e, err := EventFromEi(d.Events[0])
	if err != nil {
		t.Fatal(err)
	}
	if e.ID != "winter-peak-12" || e.Modification != 3 || !e.Start.Equal(time.Date(2026, 12, 7, 16, 0, 0, 0, time.UTC)) ||
		e.Duration != 2*time.Hour || e.StartAfter != 5*time.Minute || e.Notification != 24*time.Hour || !e.ResponseRequired ||
		len(e.Target.VENID) != 1 || e.Target.VENID[0] != "ven-house-9" || *e.Priority != 1 {
		t.Fatalf("event: %+v", e)
	}
	s0 := e.Signals[0]
	if s0.Name != SignalSimple || len(s0.Intervals) != 2 || s0.Intervals[1].Value != 3 || s0.Intervals[1].Duration != time.Hour || s0.Value != 0 {
		t.Fatalf("signal: %+v", s0)
	}
}
