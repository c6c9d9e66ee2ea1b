package sim_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/mbus"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/sim"
	"github.com/amigo-ami/amigo/wmbus"
)

// TestWMBusTransmittersEqualModel receives the radio meters of a fleet
// over a receiver stream on loopback, decrypts each with its key from the
// manifest, and finds every volume equal to the model's register at the
// instant it was sent. A meter whose key the receiver has wrong is
// counted, and the others still arrive.
func TestWMBusTransmittersEqualModel(t *testing.T) {
	model := meter.NewFleet(11, ams, start)
	var mu sync.Mutex
	now := start
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	f, err := sim.NewFleet(sim.Config{Meters: 40, Seed: 11, Now: clock, Model: model, Gas: 0.6, Water: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := sim.WriteManifest(&buf, f); err != nil {
		t.Fatal(err)
	}
	rows, bad, err := manifest.Read(&buf)
	if err != nil || len(bad) != 0 {
		t.Fatalf("manifest: %v %v", bad, err)
	}
	keys := wmbus.NewKeyring()
	var txs []sim.Transmitter
	for i := range f.Len() {
		txs = append(txs, f.Transmitters(i)...)
	}
	wrong := txs[3]
	radio := 0
	for _, r := range rows {
		if r.Fields["wmbus_key"] == "" {
			if manifest.SubKind(r.Kind) {
				t.Fatalf("radio meter %d without a key", r.MeterID)
			}
			continue
		}
		radio++
		key := r.Fields["wmbus_key"]
		if r.MeterID == wrong.MeterID {
			key = "00000000000000000000000000000000"
		}
		if err := keys.AddText(r.Fields["wmbus_address"], key); err != nil {
			t.Fatal(err)
		}
	}
	if radio != len(txs) || radio < 20 {
		t.Fatalf("%d radio meters in the manifest, %d transmitters", radio, len(txs))
	}
	seen := map[string]int{}
	for _, tx := range txs {
		seen[tx.Mode.String()+tx.Format.String()]++
		seen["mode"+string(rune('0'+tx.Security))]++
	}
	for _, k := range []string{"T1A", "C1A", "C1B", "S1A", "mode5", "mode7"} {
		if seen[k] == 0 {
			t.Fatalf("no radio meter in %s: %v", k, seen)
		}
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	accepted := make(chan struct{}, 1)
	interval := 4 * time.Minute
	served := make(chan error, 1)
	go func() {
		served <- f.ServeWMBus(ctx, ln, sim.WMBusConfig{Interval: interval, From: start,
			Accepted: func(net.Addr) { accepted <- struct{}{} }})
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	select {
	case <-accepted:
	case <-ctx.Done():
		t.Fatal("receiver not accepted")
	}
	// One interval on: every meter sends once.
	mu.Lock()
	now = start.Add(interval)
	mu.Unlock()

	byAddr := map[uint32]sim.Transmitter{}
	for _, tx := range txs {
		byAddr[tx.Address.ID] = tx
	}
	rc := wmbus.NewReceiver(conn, keys.Key)
	got := map[uint64]bool{}
	for len(got) < len(txs)-1 {
		tg, err := rc.Next(ctx)
		var te *wmbus.TelegramError
		if errors.As(err, &te) {
			if !errors.Is(err, wmbus.ErrWrongKey) {
				t.Fatalf("telegram: %v", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("receiver: %v (stats %+v)", err, rc.Stats())
		}
		tx, ok := byAddr[tg.Meter.ID]
		if !ok || tg.Mode != tx.Mode || tg.Format != tx.Format || tg.Security != tx.Security {
			t.Fatalf("telegram from %v in %v%v mode %d: transmitter %+v", tg.Meter, tg.Mode, tg.Format, tg.Security, tx)
		}
		recs, err := mbus.DecodeRecords(tg.Data)
		if err != nil || len(recs) != 2 {
			t.Fatalf("meter %v: records %+v, %v", tg.Meter, recs, err)
		}
		at := tx.NextSend(start, interval)
		subs, err := f.SubMeters(tx.Parent)
		if err != nil {
			t.Fatal(err)
		}
		m := subs[tx.Sub]
		want := m.RegistersAt(at).Import
		if recs[0].Quantity != mbus.Volume || recs[0].Unit != "m³" || recs[0].Exponent != -3 || recs[0].Value.Int != want {
			t.Fatalf("meter %v: volume %+v, model %d litres at %v", tg.Meter, recs[0], want, at)
		}
		ts := m.Tamper(at)
		if tampered := ts.MagneticField || ts.MeterCoverOpen || ts.TerminalCoverOpen; tampered != (tg.Status == 0x10) || tg.Status&^0x10 != 0 {
			t.Fatalf("meter %v: status %02x, model's tamper state %+v", tg.Meter, tg.Status, ts)
		}
		clk := m.Clock(at).In(ams)
		if recs[1].Quantity != mbus.DateTime || recs[1].Value.Time.Hour() != clk.Hour() || recs[1].Value.Time.Minute() != clk.Minute() {
			t.Fatalf("meter %v: clock %v, model %v", tg.Meter, recs[1].Value.Time, clk)
		}
		got[tx.MeterID] = true
	}
	if got[wrong.MeterID] {
		t.Fatal("the meter with the wrong key was read")
	}
	st := rc.Stats()
	if st.WrongKey != 1 || st.Telegrams != len(txs)-1 {
		t.Fatalf("stats %+v", st)
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}
