package dlmsdriver_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cosem/objects"
	"github.com/amigo-ami/amigo/dlms"
	"github.com/amigo-ami/amigo/firmware"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/headend/dlmsdriver"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/sim"
)

// TestImageResumeOfAnotherImage: a meter left half-way through one image
// is sent another of the same block count. The resume cannot tell them
// apart (class 18 names no image before verification), so verification
// fails, and the transfer is done again from the start, which the meter
// verifies.
func TestImageResumeOfAnotherImage(t *testing.T) {
	clk := &clock{t: time.Date(2026, 5, 4, 12, 0, 0, 0, ams)}
	key, err := firmware.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := sim.ListenLoopback(ctx, 0)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	model := meter.NewFleet(11, ams, clk.Now())
	model.Faults = meter.Faults{}
	f, err := sim.NewFleet(sim.Config{Meters: 1, Seed: 11, Port: uint16(ln.Addr().(*net.TCPAddr).Port), Now: clk.Now, Model: model,
		FaultsOf: func(int) sim.Fault { return sim.FaultImageDrop }, FirmwareKey: &key.PublicKey})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); f.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); wg.Wait() })

	image := func(v string) []byte {
		img, err := firmware.Sign(key, sim.Manufacturer, "AMG-E1", v, bytes.Repeat([]byte(v), 300))
		if err != nil {
			t.Fatal(err)
		}
		b, err := img.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// DER signatures differ in length by a byte or two: sign until the
	// two images are of one size.
	a, b := image("AMG-IDIS-2.5.0"), image("AMG-IDIS-2.5.1")
	for n := 0; len(a) != len(b); n++ {
		if n == 100 {
			t.Fatalf("images of %d and %d bytes", len(a), len(b))
		}
		b = image("AMG-IDIS-2.5.1")
	}
	tg := target(t, f, 0, clk)
	d := dlmsdriver.New(dlmsdriver.Config{})
	transfer := func(id string, img []byte) (headend.ImageTransfer, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		s, err := d.Open(ctx, tg)
		if err != nil {
			return headend.ImageTransfer{}, err
		}
		defer s.Close(ctx)
		return s.(headend.ImageSession).TransferImage(ctx, id, img)
	}
	if _, err := transfer("AMG-IDIS-2.5.0", a); !errors.Is(err, dlms.ErrLinkDropped) {
		t.Fatalf("first transfer: %v, want the meter to drop the link half-way", err)
	}
	if st := f.Image(0).Status(); st != objects.ImageInitiated {
		t.Fatalf("status %d after the drop", st)
	}
	var x headend.ImageTransfer
	for n := 0; ; n++ {
		if x, err = transfer("AMG-IDIS-2.5.1", b); err == nil {
			break
		}
		if n == 3 || !errors.Is(err, dlms.ErrLinkDropped) {
			t.Fatalf("transfer of the second image, attempt %d: %v", n+1, err)
		}
	}
	t.Logf("second image: %+v", x)
	if f.Image(0).Status() != objects.ImageVerificationOK || !x.Resumed {
		t.Fatalf("status %d, transfer %+v", f.Image(0).Status(), x)
	}
}
