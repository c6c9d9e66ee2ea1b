package server

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/cosem/objects"
	"github.com/amigo-ami/amigo/dlms/apdu"
	"github.com/amigo-ami/amigo/dlms/security"
	"github.com/amigo-ami/amigo/obis"
)

var (
	lnImport = obis.Code{1, 0, 1, 8, 0, 255}
	lnExport = obis.Code{1, 0, 2, 8, 0, 255}
	lnDay    = obis.Code{1, 0, 99, 2, 0, 255}
)

// benchDevice holds a one-day, two-channel, 15-minute load profile and a
// few registers.
func benchDevice(b *testing.B) *Device {
	clk := objects.NewClock(lnClock, 0)
	clk.Now = func() time.Time { return traceClock }
	imp := objects.NewRegister(lnImport, axdr.Uint32(123456), axdr.ScalerUnit{Unit: axdr.UnitWattHour})
	exp := objects.NewRegister(lnExport, axdr.Uint32(7890), axdr.ScalerUnit{Unit: axdr.UnitWattHour})
	tree, err := objects.NewTree(clk, imp, exp)
	if err != nil {
		b.Fatal(err)
	}
	cols := []cosem.CaptureObject{
		{ClassID: cosem.ClassClock, LogicalName: lnClock, Attribute: 2},
		{ClassID: cosem.ClassRegister, LogicalName: lnImport, Attribute: 2},
		{ClassID: cosem.ClassRegister, LogicalName: lnExport, Attribute: 2},
	}
	pg := objects.NewProfileGeneric(lnDay, cols, 900, 96, tree)
	start := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	for i := range 96 {
		at := start.Add(time.Duration(i) * 15 * time.Minute)
		pg.Append(axdr.Structure(cosem.DateTimeData(at, 0), axdr.Uint32(uint32(1000+i)), axdr.Uint32(uint32(i))))
	}
	if err := tree.Add(pg); err != nil {
		b.Fatal(err)
	}
	return &Device{
		Tree: tree, Address: 1, SystemTitle: serverTitle,
		Associations: []Association{
			{ClientSAP: 16},
			{ClientSAP: 1, Authentication: security.MechanismHLSGMAC, Policy: security.PolicyAuthenticatedEncrypted, Keys: testKeys()},
		},
		Counter:   security.NewCounter(1, nil),
		Challenge: func(int) ([]byte, error) { return fuzzStoC, nil },
	}
}

// recorder keeps what a client sends.
type recorder struct {
	Transport
	sent [][]byte
}

func (r *recorder) Send(ctx context.Context, b []byte) error {
	r.sent = append(r.sent, append([]byte(nil), b...))
	return r.Transport.Send(ctx, b)
}

// recordSession runs one session live and returns the client's APDUs, so
// that the benchmark replays them without client-side costs.
func recordSession(b *testing.B, d *Device, secure bool) (uint16, [][]byte) {
	sap := uint16(16)
	if secure {
		sap = 1
	}
	p := newPipe()
	done := make(chan error, 1)
	go func() { done <- d.Serve(context.Background(), p, ClientInfo{ClientSAP: sap}) }()
	rec := &recorder{Transport: p.client()}
	c := &testClient{t: rec}
	if secure {
		c = hlsClient(rec)
		c.ctos = fuzzCtoS
	}
	ctx := context.Background()
	if _, err := c.associate(ctx); err != nil {
		b.Fatal(err)
	}
	rows, blocks, err := c.get(ctx, cosem.ClassProfileGeneric, lnDay, 2, nil)
	if err != nil || len(rows.Items) != 96 || blocks < 2 {
		b.Fatalf("profile: %d rows in %d blocks, %v", len(rows.Items), blocks, err)
	}
	for _, ln := range []obis.Code{lnImport, lnExport} {
		for _, a := range []int8{2, 3} {
			if _, _, err := c.get(ctx, cosem.ClassRegister, ln, a, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
	if _, _, err := c.get(ctx, cosem.ClassClock, lnClock, 2, nil); err != nil {
		b.Fatal(err)
	}
	if secure {
		c.ic++
		ui, _ := security.Wrap(nil, security.Global, 0x30, testKeys(), clientTitle, c.ic,
			mustHex("01000000065F1F0400401E5DFFFF"))
		if _, err := c.send(ctx, mustAppend(b, &apdu.RLRQ{HasReason: true, UserInformation: ui})); err != nil {
			b.Fatal(err)
		}
	} else if _, err := c.release(ctx); err != nil {
		b.Fatal(err)
	}
	p.Close()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	return sap, rec.sent
}

func BenchmarkSession(b *testing.B) {
	for _, secure := range []bool{false, true} {
		name := "plain"
		if secure {
			name = "hls-gmac-auth-enc"
		}
		b.Run(name, func(b *testing.B) {
			d := benchDevice(b)
			sap, reqs := recordSession(b, d, secure)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				// The recorded counters are replayed: forget them.
				d.mu.Lock()
				clear(d.guards)
				d.mu.Unlock()
				i := 0
				tr := &memTransport{
					next: func() ([]byte, error) {
						if i == len(reqs) {
							return nil, io.EOF
						}
						i++
						return reqs[i-1], nil
					},
					sent: func([]byte) {},
				}
				if err := d.Serve(ctx, tr, ClientInfo{ClientSAP: sap}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
