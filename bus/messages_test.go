package bus

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
)

func sampleMessages() []Message {
	at := time.Unix(1_780_000_000, 0).UTC()
	return []Message{
		Intervals(blockDay("m.1", cim.EnergyImport15m, at, 4)),
		Registers{{MeterID: "m.1", ReadingType: "A+", TimeStamp: at, Value: 7}, {MeterID: "m.1", ReadingType: "A-", TimeStamp: at.Add(time.Second), Value: 8}},
		Event{MRID: "m.1/log/3", MeterID: "m.1", Type: cim.EventPowerOff, CreatedAt: at},
		CommandIssued{MRID: "c1", MeterID: "m.1", Type: cim.ControlDisconnect, Status: cim.ControlQueued, UpdatedAt: at},
		CommandStep{MRID: "c1", MeterID: "m.1", Type: cim.ControlDisconnect, Status: cim.ControlSent, UpdatedAt: at},
	}
}

// TestContract: each message type has its subject and id, and decodes from
// its subject to the value that was sealed.
func TestContract(t *testing.T) {
	b := &Bus{opt: Options{Namespace: "ns"}}
	want := []struct{ subject, id string }{
		{"ns.readings.m_1.intervals", "ib/m.1/A+15m/1780000000/1780002700/4"},
		{"ns.readings.m_1.registers", "rr/m.1/1780000000/1780000001/2"},
		{"ns.events.m_1", "ev/m.1/log/3"},
		{"ns.commands.m_1.issued", "cmd/c1"},
		{"ns.commands.m_1.step", "ctl/c1/sent"},
	}
	for i, m := range sampleMessages() {
		e, err := b.Seal(m)
		if err != nil {
			t.Fatal(err)
		}
		if e.subject != want[i].subject || e.ID() != want[i].id {
			t.Errorf("%s: subject %q id %q, want %q %q", m.Topic(), e.subject, e.ID(), want[i].subject, want[i].id)
		}
		got, err := Decode(e.subject, e.data)
		if err != nil {
			t.Fatalf("%s: %v", m.Topic(), err)
		}
		if got.Topic() != m.Topic() || got.ID() != m.ID() {
			t.Errorf("%s decoded as %s %s", m.Topic(), got.Topic(), got.ID())
		}
		if m.Topic() != TopicIntervals && !reflect.DeepEqual(got, m) {
			t.Errorf("%s: %+v, want %+v", m.Topic(), got, m)
		}
		if f := b.filter(m.Topic()); !matches(f, e.subject) {
			t.Errorf("filter %q misses %q", f, e.subject)
		}
	}
	// Blocks published as JSON before the binary form still decode.
	blk := blockDay("m1", cim.EnergyImport15m, time.Unix(1_780_000_000, 0), 3)
	js, _ := json.Marshal(blk)
	if got, err := Decode("ns.readings.m1.intervals", js); err != nil || got.ID() != Intervals(blk).ID() {
		t.Errorf("JSON block: %v %v", got, err)
	}
	for subject, data := range map[string][]byte{
		"ns.readings.m2.intervals": AppendBlock(nil, blk),
		"ns.events.m2":             []byte(`{"mRID":"e","meter":"m1"}`),
	} {
		if _, err := Decode(subject, data); !errors.Is(err, ErrMisrouted) {
			t.Errorf("%s: %v, want ErrMisrouted", subject, err)
		}
	}
	if _, err := Decode("ns.readings.m1.curves", []byte(`{}`)); !errors.Is(err, ErrUnknownSubject) {
		t.Errorf("unknown subject: %v", err)
	}
	if _, err := Decode("ns.events.m1", []byte(`{"mRID":`)); !errors.Is(err, ErrUndecodable) {
		t.Errorf("broken event: %v", err)
	}
}

// matches reports whether a NATS subject filter selects subject.
func matches(filter, subject string) bool {
	f, s := splitDots(filter), splitDots(subject)
	for i, tok := range f {
		if tok == ">" {
			return len(s) > i
		}
		if i >= len(s) || (tok != "*" && tok != s[i]) {
			return false
		}
	}
	return len(f) == len(s)
}

func splitDots(s string) []string {
	var out []string
	start := 0
	for i := range len(s) {
		if s[i] == '.' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// FuzzDecode: whatever arrives on whatever subject, Decode gives a message
// or one of its errors, and a message seals back to one that decodes the
// same.
func FuzzDecode(f *testing.F) {
	b := &Bus{opt: Options{Namespace: "amigo"}}
	for _, m := range sampleMessages() {
		e, _ := b.Seal(m)
		f.Add(e.subject, e.data)
	}
	f.Add("amigo.readings.m1.intervals", []byte(`{not json`))
	f.Add("amigo.other", []byte(`{}`))
	f.Fuzz(func(t *testing.T, subject string, data []byte) {
		m, err := Decode(subject, data)
		if err != nil {
			if !errors.Is(err, ErrUnknownSubject) && !errors.Is(err, ErrUndecodable) && !errors.Is(err, ErrMisrouted) {
				t.Fatalf("error %v is none of Decode's", err)
			}
			return
		}
		if _, ok := m.(Intervals); ok && !IsBinaryBlock(data) {
			// A JSON block may hold what the binary form refuses (ids of
			// over 256 bytes, intervals of over a month); the binary round
			// trip is FuzzDecodeBlock's.
			return
		}
		e, err := b.Seal(m)
		if err != nil {
			return // JSON cannot carry every value it accepts (invalid UTF-8 and the like)
		}
		again, err := Decode(e.subject, e.data)
		if err != nil {
			t.Fatalf("sealed %s does not decode: %v", m.Topic(), err)
		}
		if again.Topic() != m.Topic() || again.ID() != m.ID() {
			t.Fatalf("%s %s came back as %s %s", m.Topic(), m.ID(), again.Topic(), again.ID())
		}
	})
}

func TestDecodeSeedsAreInTestdata(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join("testdata", "fuzz", "FuzzDecode"))
	if err != nil || len(entries) < 3 {
		t.Fatalf("fuzz seeds in testdata/fuzz/FuzzDecode: %d, %v", len(entries), err)
	}
}
