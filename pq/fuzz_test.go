package pq

import (
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
)

// FuzzEventOf reads events whose details a meter or an import filled: any
// text must give an event or none, never a panic or a negative duration.
func FuzzEventOf(f *testing.F) {
	f.Add(76, "3.26.38.150", "2m0s", "45")
	f.Add(81, "3.26.38.93", "1s", "116")
	f.Add(1, string(cim.EventPowerOff), "", "")
	f.Add(0, string(cim.EventPowerOff), "1h0m0s", "")
	f.Fuzz(func(t *testing.T, code int, typ, dur, depth string) {
		e := cim.EndDeviceEvent{MeterID: "m", Code: code, Type: cim.EndDeviceEventType(typ), CreatedAt: time.Unix(1e9, 0),
			Details: map[string]string{"duration": dur, "depth": depth}}
		ev, ok := eventOf(e)
		if !ok {
			return
		}
		if ev.Residual < -1 || ev.Residual > 1000 || ev.Duration < 0 || (ev.Kind != Sag && ev.Kind != Swell && ev.Kind != Interruption) {
			t.Fatalf("%+v from %+v", ev, e)
		}
		meterEvents([]cim.EndDeviceEvent{e, e}, time.Unix(0, 0), time.Unix(2e9, 0))
	})
}
