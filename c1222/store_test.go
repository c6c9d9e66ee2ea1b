package c1222_test

import (
	"bytes"
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/c1219"
	"github.com/amigo-ami/amigo/c1222"
	"github.com/amigo-ami/amigo/psem"
)

// TestPSEMOverC1222 reads and writes a c1219.Store through psem.Client
// and psem.Server over C12.22 on loopback TCP, in each security mode,
// with tables large enough to be segmented both ways.
func TestPSEMOverC1222(t *testing.T) {
	f := c1219.DefaultFormat
	meterAP := c1222.MustApTitle("2.16.124.113620.1.22.1.42")
	clientAP := c1222.MustApTitle("2.16.124.113620.1.22.0.1")
	key := bytes.Repeat([]byte{0xA5}, 16)
	id := c1219.MfgID{Manufacturer: "AMGO", Model: "C1222SIM", HWVersion: 1, FWVersion: 2, SerialNo: "0000000000004242"}
	profile := make([]byte, 4000)
	for i := range profile {
		profile[i] = byte(i * 13)
	}

	for _, mode := range []c1222.SecurityMode{c1222.ModeClear, c1222.ModeAuthenticated, c1222.ModeCiphertext} {
		t.Run(mode.String(), func(t *testing.T) {
			store := c1219.NewStore(f)
			store.Set(c1219.ST1, id.Encode(f))
			store.Set(c1219.TableID(64), profile)
			store.Set(c1219.TableID(2048+10), make([]byte, 1500))
			var resets atomic.Int32
			store.HandleProc(c1219.SPRemoteReset, c1219.LevelPublic, func(req c1219.ProcInitiate) (c1219.Result, []byte) {
				r, err := c1219.DecodeRemoteReset(req.Params)
				if err != nil || !r.Demand {
					return c1219.ResultInvalidParam, nil
				}
				resets.Add(1)
				return c1219.ResultCompleted, nil
			})
			srv := psem.NewServer(store, psem.ServerConfig{Sessionless: true})
			m, err := c1222.NewMeter(c1222.MeterConfig{ApTitle: meterAP, Keys: map[uint8][]byte{0: key}, MinMode: mode, MaxAPDU: 1024}, srv)
			if err != nil {
				t.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			done := make(chan struct{})
			lctx, lcancel := context.WithCancel(ctx)
			go func() { m.Listen(lctx, ln); close(done) }()
			defer func() { lcancel(); <-done }()

			link, err := c1222.Dial(ctx, ln.Addr().String(), c1222.Config{Called: meterAP, Calling: clientAP, Mode: mode, KeyID: 0, Key: key, MaxAPDU: 1024})
			if err != nil {
				t.Fatal(err)
			}
			defer link.Close()
			pc := psem.NewClient(link)

			b, err := pc.Read(ctx, uint16(c1219.ST1))
			if err != nil {
				t.Fatal(err)
			}
			got, err := c1219.DecodeST1(b, f)
			if err != nil || got != id {
				t.Fatalf("ST1 %+v %v, want %+v", got, err, id)
			}
			b, err = pc.Read(ctx, 64)
			if err != nil || !bytes.Equal(b, profile) {
				t.Fatalf("table 64: %d octets, %v", len(b), err)
			}
			b, err = pc.ReadOffset(ctx, 64, 1000, 200)
			if err != nil || !bytes.Equal(b, profile[1000:1200]) {
				t.Fatalf("offset read: %v", err)
			}
			// A write larger than the negotiated APDU size goes in
			// segments, and reads back.
			w := bytes.Repeat([]byte("amigo"), 300)
			if err := pc.Write(ctx, 2048+10, w); err != nil {
				t.Fatal(err)
			}
			if b, err := pc.Read(ctx, 2048+10); err != nil || !bytes.Equal(b, w) {
				t.Fatalf("read back: %v", err)
			}
			if _, err := pc.Procedure(ctx, uint16(c1219.SPRemoteReset), c1219.RemoteReset{Demand: true}.Encode()); err != nil {
				t.Fatal(err)
			}
			if resets.Load() != 1 {
				t.Fatalf("%d demand resets, want 1", resets.Load())
			}
			if _, err := pc.Read(ctx, 99); err == nil {
				t.Fatal("a missing table read")
			}
		})
	}
}
