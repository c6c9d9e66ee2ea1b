package bus

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// TestOutageContract: an outage change goes to its device's subject under
// the outages stream, is named by its id and state, and decodes to the
// same event, whole.
func TestOutageContract(t *testing.T) {
	b := &Bus{opt: Options{Namespace: "ns"}}
	raw := json.RawMessage(`{"id":"TR-12@1780000000","level":"transformer","device":"TR-12","state":"confirmed","customers":10}`)
	e, err := b.Seal(Outage{OutageID: "TR-12@1780000000", Device: "TR-12", State: "confirmed", JSON: raw})
	if err != nil {
		t.Fatal(err)
	}
	if e.subject != "ns.outages.TR-12" || e.ID() != "out/TR-12@1780000000/confirmed" {
		t.Fatalf("subject %q id %q", e.subject, e.ID())
	}
	// A corrected end is a message of its own, a retry of it is not.
	fix := Outage{OutageID: "TR-12@1780000000", Device: "TR-12", State: "verified", Revision: "1780000000-1780007200"}
	if fix.ID() != "out/TR-12@1780000000/verified/1780000000-1780007200" {
		t.Fatalf("revised id %q", fix.ID())
	}
	m, err := Decode(e.subject, e.data)
	if err != nil {
		t.Fatal(err)
	}
	o, ok := m.(Outage)
	if !ok || o.OutageID != "TR-12@1780000000" || o.Device != "TR-12" || string(o.JSON) != string(raw) {
		t.Fatalf("decoded %#v", m)
	}
	for _, bad := range []struct{ subject, data string }{
		{"ns.outages.TR-12", `{"id":"x","device":"TR-13","state":"confirmed"}`},
		{"ns.outages.TR-12", `{"device":"TR-12","state":"confirmed"}`},
		{"ns.outages.TR-12", `[1]`},
	} {
		if _, err := Decode(bad.subject, []byte(bad.data)); !errors.Is(err, ErrMisrouted) && !errors.Is(err, ErrUndecodable) {
			t.Errorf("%s: %v", bad.data, err)
		}
	}
}

// TestOutageStream: the outages stream exists and a consumer of the topic
// gets the change published.
func TestOutageStream(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := Open(ctx, Options{Dir: t.TempDir(), Namespace: "outtest"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(context.Background())
	c, err := b.Consumer(ctx, ConsumerConfig{Durable: "t", Stream: Outages, Topic: TopicOutage})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Publish(ctx, Outage{OutageID: "FD-1@5", Device: "FD-1", State: "suspected"}); err != nil {
		t.Fatal(err)
	}
	ds, err := c.Fetch(ctx, 1, 5*time.Second)
	if err != nil || len(ds) != 1 {
		t.Fatalf("fetch: %d %v", len(ds), err)
	}
	m, err := ds[0].Decode()
	if err != nil || m.(Outage).State != "suspected" || ds[0].ID() != "out/FD-1@5/suspected" {
		t.Fatalf("%#v %v", m, err)
	}
}
