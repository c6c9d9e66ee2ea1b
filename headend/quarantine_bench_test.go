package headend_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/anomaly"
	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/store/storetest"
)

// BenchmarkAnomalyCheck measures what screening adds to Issue: the same
// commands (reconnects, limited but not held for approval) issued, alternately, by a node that screens them (every limit
// counted and checked, none reached) and by one that does not, on one
// SQLite store and bus. It reports both costs per command and their ratio.
func BenchmarkAnomalyCheck(b *testing.B) {
	const meters, segments = 1000, 10
	st, _ := storetest.OpenSQLite(b)
	ctx := context.Background()
	bs, err := bus.Open(ctx, bus.Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { bs.Close(context.Background()) })
	ms := make([]cim.Meter, meters)
	for i := range ms {
		ms[i] = cim.Meter{MRID: fmt.Sprintf("m%05d", i), Protocol: "fake", Segment: fmt.Sprintf("seg-%d", i%segments), Status: "installed"}
	}
	if err := st.PutMeters(ctx, ms...); err != nil {
		b.Fatal(err)
	}
	const high = 1 << 30
	policy, err := anomaly.Default().With(map[string]anomaly.Limits{"reconnect": {
		FloorHourUser: high, FloorHourSegment: high, FloorHourFleet: high, FloorDayUser: high, FloorDaySegment: high, FloorDayFleet: high,
		CeilingHourUser: high, CeilingHourSegment: high, CeilingHourFleet: high, CeilingDayUser: high, CeilingDaySegment: high, CeilingDayFleet: high}})
	if err != nil {
		b.Fatal(err)
	}
	at := time.Now()
	now := func() time.Time { return at }
	drv := newFakeDriver()
	nodes := []*headend.HeadEnd{
		screenedNode(b, st, bs, drv, plainSecrets{}, now, nil, nil),
		screenedNode(b, st, bs, drv, plainSecrets{}, now, policy, nil),
	}
	var spent [2]time.Duration
	n := 0
	for b.Loop() {
		// Alternate which goes first, so neither always follows the
		// other's writes.
		for k := range 2 {
			which := (n + k) % 2
			start := time.Now()
			c, _, err := nodes[which].Issue(ctx, cim.EndDeviceControl{MeterID: ms[n%meters].MRID, Type: cim.ControlReconnect, IssuedBy: fmt.Sprintf("op-%d", n%7)})
			spent[which] += time.Since(start)
			if err != nil || c.Status != cim.ControlQueued {
				b.Fatalf("issue: %s %v", c.Status, err)
			}
		}
		n++
	}
	b.ReportMetric(float64(spent[0].Nanoseconds())/float64(n), "ns/issue-unscreened")
	b.ReportMetric(float64(spent[1].Nanoseconds())/float64(n), "ns/issue-screened")
	b.ReportMetric(float64(spent[1])/float64(spent[0]), "screened/unscreened")
}
