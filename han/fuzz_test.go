package han

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/amigo-ami/amigo/cim"
)

func addSeeds(f *testing.F, dir string) {
	paths, err := filepath.Glob(filepath.Join("testdata", dir, "*"))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no seeds in testdata/%s: %v", dir, err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzParseDiscoveryConfig: any bytes give a config or an error, and a
// config accepted survives encoding and parsing again unchanged.
func FuzzParseDiscoveryConfig(f *testing.F) {
	addSeeds(f, "discovery")
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseDiscoveryConfig(b)
		if err != nil {
			return
		}
		again, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := ParseDiscoveryConfig(again)
		if err != nil {
			t.Fatalf("re-encoded config refused: %v\n%s", err, again)
		}
		if c2.UniqueID != c.UniqueID || c2.DeviceClass != c.DeviceClass || c2.StateClass != c.StateClass || c2.Unit != c.Unit {
			t.Fatalf("round trip changed the config: %+v → %+v", c, c2)
		}
	})
}

// FuzzParseState: any bytes give a state or an error, never a panic.
func FuzzParseState(f *testing.F) {
	addSeeds(f, "state")
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseState(b)
		if err == nil && s.Value == nil {
			t.Fatal("state accepted without a value")
		}
	})
}

// FuzzRegisterStates: any reading type id gives a state with a finite
// value or none, and a multiplier suffix never panics.
func FuzzRegisterStates(f *testing.F) {
	addSeeds(f, "readingtype")
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, v := range []int64{0, 1, -1, 1 << 62} {
			for _, s := range RegisterStates([]cim.Reading{{ReadingType: string(b), Value: v}}) {
				x, ok := s.Value.(float64)
				if !ok || math.IsNaN(x) || math.IsInf(x, 0) {
					t.Fatalf("%q: value %v", b, s.Value)
				}
			}
		}
	})
}
