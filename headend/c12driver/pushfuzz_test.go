package c12driver_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/c1219"
	"github.com/amigo-ami/amigo/c1222"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/headend/c12driver"
)

// fuzzMeter is the meter the push seeds in testdata come from: its
// ApTitle, key id and key.
var (
	fuzzApTitle = "2.16.124.113620.1.22.1.1"
	fuzzKeyID   = uint8(1)
	fuzzKey     = []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
)

func fuzzTarget(t testing.TB) headend.Target {
	b, err := c12driver.Credentials{ApTitle: fuzzApTitle, KeyID: fuzzKeyID, Key: fuzzKey, UserID: 1}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return headend.Target{Meter: cim.Meter{MRID: "M1", Protocol: c12driver.ProtocolC1222}, Credentials: b, Location: ams}
}

// fuzzSpec is the push of the seeds.
func fuzzSpec() pushSpec {
	at := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	return pushSpec{calling: fuzzApTitle, keyID: fuzzKeyID, key: fuzzKey, mode: c1222.ModeCiphertext, resp: c1222.RespondNever,
		entries: []pushEntry{{7, at, c1219.EventPowerDown}, {8, at.Add(time.Hour), c1219.EventPowerUp}}}
}

// TestC1222PushSeeds: the fuzz seeds in testdata are the push the tests
// build, and it decodes.
func TestC1222PushSeeds(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "c1222-push.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, fuzzSpec().frame(t)) {
		t.Fatal("testdata/c1222-push.bin is not the push fuzzSpec builds")
	}
	p, err := c12driver.NewC1222(c12driver.Config{}).DecodePush(context.Background(), fuzzTarget(t), b)
	if err != nil || len(p.Events) != 2 || p.Counter != 8 {
		t.Fatalf("seed push: %+v, %v", p, err)
	}
	a, err := c1222.ParseAPDU(b)
	if err != nil {
		t.Fatal(err)
	}
	e, err := c1222.Open(a, mustKeys(t), c1222.Root)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := os.ReadFile(filepath.Join("testdata", "c1222-push-epsem.bin"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := e.Body()
	if !bytes.Equal(body, plain) {
		t.Fatalf("seed EPSEM body differs from the push's")
	}
}

func mustKeys(t testing.TB) *c1222.Keys {
	k, err := c1222.NewKeys(map[uint8][]byte{fuzzKeyID: fuzzKey})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// FuzzC1222Push feeds any octets to the push decoder twice: as a frame
// off the wire (whose tag the fuzzer cannot forge), and as the plaintext
// EPSEM body of a push sealed under the meter's key, which reaches the
// table decoding. Neither panics; what decodes names the meter and
// counts by its newest entry. Seeds: testdata/c1222-push.bin and
// testdata/c1222-push-epsem.bin.
func FuzzC1222Push(f *testing.F) {
	for _, name := range []string{"c1222-push.bin", "c1222-push-epsem.bin"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	d := c12driver.NewC1222(c12driver.Config{})
	tg := fuzzTarget(f)
	keys := mustKeys(f)
	ctx := context.Background()
	check := func(t *testing.T, p headend.Push, err error) {
		if err != nil {
			return
		}
		if p.CounterName != c12driver.PushCounter || len(p.Events) == 0 || len(p.Events) > c12driver.MaxPushEntries {
			t.Fatalf("decoded push %+v", p)
		}
		for _, e := range p.Events {
			if e.MeterID != "M1" || e.MRID == "" {
				t.Fatalf("event %+v", e)
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d.PushSender(b)
		p, err := d.DecodePush(ctx, tg, b)
		check(t, p, err)
		e, err := c1222.ParseEPSEMBody(0x8A, b)
		if err != nil {
			return
		}
		e.Mode, e.Response = c1222.ModeCiphertext, c1222.RespondNever
		a := &c1222.APDU{Calling: c1222.MustApTitle(fuzzApTitle), CallingInvocation: 1, HasAuth: true, KeyID: fuzzKeyID, IV: []byte{9, 9, 9, 9}}
		if err := c1222.Seal(a, e, keys, c1222.Root); err != nil {
			return
		}
		frame, err := a.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		p, err = d.DecodePush(ctx, tg, frame)
		check(t, p, err)
	})
}

// FuzzC1222PushFrames reads frames off any stream: each is a whole APDU
// by its BER length, within the bound, or the reading stops with an
// error. Seed: testdata/c1222-push.bin, twice over.
func FuzzC1222PushFrames(f *testing.F) {
	b, err := os.ReadFile(filepath.Join("testdata", "c1222-push.bin"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(append(append([]byte(nil), b...), b...))
	f.Fuzz(func(t *testing.T, stream []byte) {
		r := bytes.NewReader(stream)
		for {
			fr, err := c12driver.ReadPushFrame(r, 512)
			if err != nil {
				return
			}
			if len(fr) < 3 || len(fr) > 512 || fr[0] != 0x60 {
				t.Fatalf("frame % X", fr)
			}
		}
	})
}
