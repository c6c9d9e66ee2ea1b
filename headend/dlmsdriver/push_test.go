package dlmsdriver

import (
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/obis"
)

// Bodies typed from the A-XDR rules: 02 structure, 01 array, 12
// long-unsigned, 09 octet-string, 0A visible-string, 0F integer, 06
// double-long-unsigned, 11 unsigned, 16 enum; a date-time travels as an
// octet-string of 12.
var (
	// 2026-03-01 12:00:00, deviation 0, status 0.
	pushTime = []byte{0x09, 0x0C, 0x07, 0xEA, 0x03, 0x01, 0xFF, 0x0C, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}
	// The push object list of a push setup that pushes itself: (40,
	// 0.0.25.9.0.255, 2, 0) — what a push of object definitions carries.
	selfDef = []byte{0x02, 0x04, 0x12, 0x00, 0x28, 0x09, 0x06, 0x00, 0x00, 0x19, 0x09, 0x00, 0xFF, 0x0F, 0x02, 0x12, 0x00, 0x00}
)

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func decodeBody(t testing.TB, b []byte) axdr.Data {
	t.Helper()
	d, n, err := axdr.Decode(b)
	if err != nil || n != len(b) {
		t.Fatalf("typed body does not decode: %d of %d bytes, %v", n, len(b), err)
	}
	return d
}

// pushBodies are typed bodies for the tests and the fuzz seeds.
var pushBodies = map[string][]byte{
	// The alarm layout: (push setup name, device id "AMG1", code 1 as
	// long-unsigned, time).
	"alarm": cat([]byte{0x02, 0x04, 0x09, 0x06, 0x00, 0x00, 0x19, 0x09, 0x00, 0xFF, 0x0A, 0x04, 'A', 'M', 'G', '1', 0x12, 0x00, 0x01}, pushTime),
	// A push of object definitions only: an array of two (class, name,
	// attribute, data index): the push setup itself and the clock.
	"definitions": cat([]byte{0x01, 0x02}, selfDef, []byte{0x02, 0x04, 0x12, 0x00, 0x08, 0x09, 0x06, 0x00, 0x00, 0x01, 0x00, 0x00, 0xFF, 0x0F, 0x02, 0x12, 0x00, 0x00}),
	// Its first element wrapped in a structure of one.
	"definitions-in-structure": cat([]byte{0x02, 0x01, 0x01, 0x01}, selfDef),
	// A push that describes itself: (push_object_list, clock, register
	// 1.0.1.8.0.255 value 12,340 as double-long-unsigned, its scaler -1
	// and unit Wh (30)), the list saying which is which.
	"self-described": cat(
		[]byte{0x02, 0x04},
		[]byte{0x01, 0x04}, selfDef,
		[]byte{0x02, 0x04, 0x12, 0x00, 0x08, 0x09, 0x06, 0x00, 0x00, 0x01, 0x00, 0x00, 0xFF, 0x0F, 0x02, 0x12, 0x00, 0x00},
		[]byte{0x02, 0x04, 0x12, 0x00, 0x03, 0x09, 0x06, 0x01, 0x00, 0x01, 0x08, 0x00, 0xFF, 0x0F, 0x02, 0x12, 0x00, 0x00},
		[]byte{0x02, 0x04, 0x12, 0x00, 0x03, 0x09, 0x06, 0x01, 0x00, 0x01, 0x08, 0x00, 0xFF, 0x0F, 0x03, 0x12, 0x00, 0x00},
		pushTime,
		[]byte{0x06, 0x00, 0x00, 0x30, 0x34},
		[]byte{0x02, 0x02, 0x0F, 0xFF, 0x16, 0x1E}),
	// An unsigned integer among other values, not in the alarm layout:
	// (push setup name, 7 as unsigned, 230 as long-unsigned).
	"values": {0x02, 0x03, 0x09, 0x06, 0x00, 0x00, 0x19, 0x09, 0x00, 0xFF, 0x11, 0x07, 0x12, 0x00, 0xE6},
}

func TestDecodePushBody(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	setup := obis.Code{0, 0, 25, 9, 0, 255}

	c := decodePushBody(decodeBody(t, pushBodies["alarm"]), nil)
	if !c.hasCode || c.code != 1 || c.setup != setup || !c.at.Equal(at) || c.device != "AMG1" {
		t.Errorf("alarm: %+v", c)
	}

	for _, name := range []string{"definitions", "definitions-in-structure"} {
		c = decodePushBody(decodeBody(t, pushBodies[name]), nil)
		if c.hasCode {
			t.Errorf("%s: the class id %d was taken for an event code", name, c.code)
		}
		if len(c.objects) == 0 || c.objects[0] != (PushObject{Class: 40, LN: setup, Attr: 2}) {
			t.Errorf("%s: objects %v", name, c.objects)
		}
		// The push setup that lists itself is the one that pushed.
		if c.setup != setup {
			t.Errorf("%s: push setup %s, want %s", name, c.setup, setup)
		}
		if !strings.Contains(c.summary(), "object definitions") {
			t.Errorf("%s: summary %q", name, c.summary())
		}
	}

	c = decodePushBody(decodeBody(t, pushBodies["self-described"]), nil)
	if c.hasCode || !c.at.Equal(at) || len(c.objects) != 4 {
		t.Fatalf("self-described: %+v", c)
	}
	rs := c.registers("m1", at)
	if len(rs) != 1 || rs[0].ReadingType != "A+" || rs[0].Value != 1234 || !rs[0].TimeStamp.Equal(at) {
		t.Errorf("self-described registers %+v", rs)
	}

	c = decodePushBody(decodeBody(t, pushBodies["values"]), nil)
	if c.hasCode || c.setup != setup || len(c.values) != 2 {
		t.Errorf("values: %+v", c)
	}

	// With the push setup's object list known, an event code object names
	// the code, wherever it stands.
	list := []PushObject{{40, setup, 1}, {1, obis.Code{0, 0, 96, 11, 0, 255}, 2}, {1, obis.Code{0, 0, 96, 1, 0, 255}, 2}}
	d := decodeBody(t, []byte{0x02, 0x03, 0x09, 0x06, 0x00, 0x00, 0x19, 0x09, 0x00, 0xFF, 0x12, 0x00, 0x2F, 0x0A, 0x02, 'X', 'Y'})
	c = decodePushBody(d, list)
	if !c.hasCode || c.code != 47 || c.device != "XY" || len(c.values) != 0 {
		t.Errorf("known list: %+v", c)
	}
	// A list that does not match the body's length says nothing.
	c = decodePushBody(d, list[:2])
	if c.hasCode {
		t.Errorf("a list of another length named the code %d", c.code)
	}
}

func TestScaleWhole(t *testing.T) {
	for _, tc := range []struct {
		raw, scaler, want int64
		ok                bool
	}{
		{12340, -1, 1234, true}, {12345, -1, 0, false}, {5, 3, 5000, true}, {1 << 62, 2, 0, false}, {1, 10, 0, false}, {-120, -1, -12, true},
	} {
		if got, ok := scaleWhole(tc.raw, tc.scaler); got != tc.want || ok != tc.ok {
			t.Errorf("scaleWhole(%d, %d) = %d %v", tc.raw, tc.scaler, got, ok)
		}
	}
}

// FuzzPushBody feeds any A-XDR through the push body decoder: it never
// panics, a code comes only with the alarm layout or a known object, and
// the details it makes stay bounded.
func FuzzPushBody(f *testing.F) {
	for _, b := range pushBodies {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, _, err := axdr.Decode(b)
		if err != nil {
			return
		}
		c := decodePushBody(d, nil)
		if c.hasCode && (d.Tag != axdr.TagStructure || len(d.Items) != 4) {
			if _, self := objectDefs(d); !self {
				// Only a self-described push may name a code otherwise.
				found := false
				for _, it := range d.Items {
					if objs, ok := objectDefs(it); ok && len(objs) == len(d.Items) {
						found = true
					}
				}
				if !found {
					t.Fatalf("code %d guessed from %s", c.code, d)
				}
			}
		}
		if len(clip(c.valueList())) > 1100 || len(clip(objectList(c.objects))) > 1100 {
			t.Fatal("details unbounded")
		}
		for _, r := range c.registers("m1", time.Unix(0, 0)) {
			if r.ReadingType == "" || r.MeterID != "m1" {
				t.Fatalf("register read %+v", r)
			}
		}
	})
}
