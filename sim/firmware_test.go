package sim_test

import (
	"testing"
	"time"

	"github.com/amigo-ami/amigo/firmware"
	"github.com/amigo-ami/amigo/sim"
)

// TestImageTransferOnlyWithAFirmwareKey: a fleet that trusts no firmware
// key serves the object models it always did; one that trusts a key gives
// its IDIS meters the image transfer object and the active firmware
// identifier, and its other models nothing.
func TestImageTransferOnlyWithAFirmwareKey(t *testing.T) {
	key, err := firmware.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC) }
	mix := []sim.ModelShare{{Model: sim.ModelIDIS, Weight: 1}, {Model: sim.ModelDSMR5, Weight: 1}}
	for _, trusted := range []bool{false, true} {
		cfg := sim.Config{Meters: 20, Seed: 4, Now: now, Models: mix}
		if trusted {
			cfg.FirmwareKey = &key.PublicKey
		}
		f, err := sim.NewFleet(cfg)
		if err != nil {
			t.Fatal(err)
		}
		for i := range f.Len() {
			d, err := f.NewDevice(i)
			if err != nil {
				t.Fatal(err)
			}
			_, has := d.Tree.Find(sim.ImageTransferLN)
			want := trusted && f.ModelOf(i) == sim.ModelIDIS
			d.Close()
			if has != want || (f.Image(i) != nil) != want {
				t.Fatalf("trusted %v, meter %d (%s): image transfer %v", trusted, i, f.ModelOf(i), has)
			}
			if want && f.Image(i).Active() != sim.MakeOf(sim.ModelIDIS).Firmware {
				t.Fatalf("meter %d runs %q", i, f.Image(i).Active())
			}
		}
	}
}
