package mdm_test

import (
	"testing"

	"github.com/amigo-ami/amigo/mdm"
)

func FuzzDecode(f *testing.F) {
	f.Add("amigo.readings.m1.intervals", []byte(`{"meter":"m1","readingType":{"id":"A+15m","interval":900000000000},"readings":[{"end":"2026-03-29T00:15:00Z","value":5}]}`))
	f.Add("amigo.readings.m1.registers", []byte(`[{"meter":"m1","readingType":"A+","timeStamp":"2026-03-29T00:00:00Z","value":12}]`))
	f.Add("amigo.events.m1", []byte(`{"mRID":"e1","meter":"m1","type":"3.26.0.85","createdDateTime":"2026-03-29T00:00:00Z"}`))
	f.Add("amigo.readings.m1.intervals", []byte(`{"readings":null}`))
	f.Add("amigo.other", []byte(`{}`))
	f.Fuzz(func(t *testing.T, subject string, data []byte) {
		m, err := mdm.Decode(subject, data)
		if err != nil {
			return
		}
		n := 0
		if m.Block != nil {
			n++
			if m.Block.MeterID == "" {
				t.Fatal("block without meter accepted")
			}
		}
		if m.Event != nil {
			n++
		}
		if m.Registers != nil {
			n++
		}
		if n > 1 {
			t.Fatalf("%d kinds in one message", n)
		}
	})
}
