package headend_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
	"github.com/amigo-ami/amigo/vault"
)

// shipment returns n electricity meters, every tenth with a gas meter
// behind it on M-Bus channel 1, as manifest rows.
func shipment(n int) []manifest.Row {
	rows := make([]manifest.Row, 0, n+n/10)
	for i := range n {
		id := uint64(i + 1)
		st := []byte{'A', 'M', 'G', 0, 0, 0, byte(id >> 8), byte(id)}
		ek := bytes.Repeat([]byte{byte(id)}, 16)
		ak := bytes.Repeat([]byte{byte(id >> 8)}, 16)
		addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(id >> 16), byte(id >> 8), byte(id)}), 4059)
		r := manifest.Row{
			Line: len(rows) + 2, MeterID: id, Serial: fmt.Sprintf("AMG1%09d", id), Manufacturer: "AMG", Model: "AMG-E1",
			Kind: "electricity-1p", Protocol: "dlms", Address: addr,
			Fields:       dlmsFields("wrapper", 1, "hls-gmac", "authenticated-encrypted", st, ek, ak, "pw"),
			UsagePointID: fmt.Sprintf("UP%010d", id), TimeZone: "Europe/Amsterdam",
			Segment: fmt.Sprintf("cell-%d", id/1000), Region: "region-0", Archetype: "family",
		}
		rows = append(rows, r)
		if i%10 == 0 {
			g := r
			g.Line, g.MeterID, g.Serial, g.Kind, g.Model, g.Archetype = len(rows)+2, id+1<<40, fmt.Sprintf("AMG4%09d", id), "gas", "AMG-gas", ""
			g.UsagePointID += "-gas"
			g.Parent, g.Fields = id, maps.Clone(r.Fields)
			g.Fields["mbus_channel"] = "1"
			rows = append(rows, g)
		}
	}
	return rows
}

func testKeys(t testing.TB, id string, b byte) *vault.Vault {
	t.Helper()
	v, err := vault.New(id, bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestImportRegistersMetersAndSealsKeys(t *testing.T) {
	ctx := context.Background()
	st, _ := storetest.OpenSQLite(t)
	keys := vault.NewKeyring(testKeys(t, "k1", 1))
	rows := shipment(12) // meters 1 and 11 have gas meters
	rep, err := headend.Import(ctx, st, keys, dlmsDrivers, rows)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Created != 14 || rep.Updated != 0 || rep.Unchanged != 0 || len(rep.Bad) != 0 {
		t.Fatalf("report %+v", rep)
	}
	if n, _ := st.CountMeters(ctx, store.MeterQuery{}); n != 14 {
		t.Fatalf("%d meters registered, want 14", n)
	}

	e := rows[0]
	m, err := st.Meter(ctx, headend.MeterID(e))
	if err != nil {
		t.Fatal(err)
	}
	if m.MRID != "AMG1000000001" || m.SerialNumber != e.Serial || m.Protocol != "dlms" || m.Address != "tcp://10.0.0.1:4059" ||
		m.Segment != "cell-0" || m.Region != "region-0" || m.Status != "installed" || m.UsagePointID != "UP0000000001" ||
		m.Kind != "electricity-1p" || m.Archetype != "family" || m.ManifestID != "1" ||
		m.PushID != "414d470000000001" || m.Parent != "" || m.Tags != nil {
		t.Fatalf("electricity meter %+v", m)
	}
	up, err := st.UsagePoint(ctx, "UP0000000001")
	if err != nil || up.TimeZone != "Europe/Amsterdam" || up.ServiceCategory != cim.CommodityElectricity {
		t.Fatalf("usage point %+v %v", up, err)
	}

	g := rows[1]
	gm, err := st.Meter(ctx, headend.MeterID(g))
	if err != nil {
		t.Fatal(err)
	}
	if gm.Kind != "gas" || gm.Parent != m.MRID || gm.ManifestID != strconv.FormatUint(g.MeterID, 10) ||
		gm.Address != m.Address || gm.PushID != "" {
		t.Fatalf("gas meter %+v", gm)
	}
	if gsec := openDLMS(t, st, keys, gm.MRID); gsec.MBusChannel != 1 {
		t.Fatalf("gas meter credentials %v channel %d", gsec, gsec.MBusChannel)
	}
	if up, err := st.UsagePoint(ctx, g.UsagePointID); err != nil || up.ServiceCategory != cim.CommodityGas {
		t.Fatalf("gas usage point %+v %v", up, err)
	}

	sec := openDLMS(t, st, keys, m.MRID)
	if !bytes.Equal(sec.EK, rowField(e, "ek")) || !bytes.Equal(sec.AK, rowField(e, "ak")) || !bytes.Equal(sec.SystemTitle, rowField(e, "system_title")) ||
		string(sec.Password) != "pw" || sec.ClientSAP != 1 || sec.Authentication.String() != "hls-gmac" || sec.Transport.String() != "wrapper" {
		t.Fatalf("secrets %+v", sec)
	}
	// At rest nothing of the keys shows.
	sealed, err := st.MeterSecret(ctx, m.MRID)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, rowField(e, "ek")) || bytes.Contains(sealed, rowField(e, "ak")) || bytes.Contains(sealed, []byte("hls-gmac")) {
		t.Fatal("sealed secrets show key material")
	}
	// A sealed record copied onto another meter does not open there.
	other := headend.MeterID(rows[2])
	if err := st.PutMeterSecret(ctx, other, sealed); err != nil {
		t.Fatal(err)
	}
	if _, err := headend.OpenCredentials(ctx, st, keys, other); !errors.Is(err, vault.ErrOpen) {
		t.Fatalf("moved secret opened for %s: %v", other, err)
	}
	if _, err := headend.OpenCredentials(ctx, st, keys, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown meter: %v", err)
	}
	// Another master key does not open them.
	if _, err := headend.OpenCredentials(ctx, st, vault.NewKeyring(testKeys(t, "k2", 2)), m.MRID); !errors.Is(err, vault.ErrUnknownKey) {
		t.Fatalf("other master key: %v", err)
	}
}

// TestImportIdempotent: the same file twice changes nothing, not even the
// sealed bytes; a changed row updates its meter and keeps its status.
func TestImportIdempotent(t *testing.T) {
	ctx := context.Background()
	st, _ := storetest.OpenSQLite(t)
	keys := vault.NewKeyring(testKeys(t, "k1", 1))
	rows := shipment(1200) // more than one batch
	if _, err := headend.Import(ctx, st, keys, dlmsDrivers, rows); err != nil {
		t.Fatal(err)
	}
	snap := func() map[string]string {
		out := map[string]string{}
		var after string
		for {
			ms, err := st.Meters(ctx, store.MeterQuery{After: after, Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			if len(ms) == 0 {
				return out
			}
			for _, m := range ms {
				sealed, err := st.MeterSecret(ctx, m.MRID)
				if err != nil {
					t.Fatal(err)
				}
				out[m.MRID] = fmt.Sprintf("%+v %x", m, sealed)
			}
			after = ms[len(ms)-1].MRID
		}
	}
	before := snap()
	rep, err := headend.Import(ctx, st, keys, dlmsDrivers, rows)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Created != 0 || rep.Updated != 0 || rep.Unchanged != len(rows) {
		t.Fatalf("second import %+v, want %d unchanged", rep, len(rows))
	}
	after := snap()
	if len(after) != len(before) {
		t.Fatalf("%d meters, then %d", len(before), len(after))
	}
	for k, v := range before {
		if after[k] != v {
			t.Fatalf("meter %s changed on re-import:\n%s\n%s", k, v, after[k])
		}
	}

	// The utility activates a meter; then a new shipment moves one meter,
	// re-keys another and adds a third.
	moved, rekeyed := rows[5], rows[7]
	m, _ := st.Meter(ctx, headend.MeterID(moved))
	m.Status = "active"
	if err := st.PutMeters(ctx, m); err != nil {
		t.Fatal(err)
	}
	changed := append([]manifest.Row(nil), rows...)
	changed[5].Address = netip.MustParseAddrPort("10.9.9.9:4059")
	changed[7].Fields = maps.Clone(changed[7].Fields)
	changed[7].Fields["ek"] = hex.EncodeToString(bytes.Repeat([]byte{0xee}, 16))
	extra := shipment(1201)[len(rows):]
	changed = append(changed, extra...)
	rep, err = headend.Import(ctx, st, keys, dlmsDrivers, changed)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Created != len(extra) || rep.Updated != 2 || rep.Unchanged != len(rows)-2 {
		t.Fatalf("changed import %+v", rep)
	}
	m, _ = st.Meter(ctx, headend.MeterID(moved))
	if m.Address != "tcp://10.9.9.9:4059" || m.Status != "active" {
		t.Fatalf("moved meter %+v", m)
	}
	if sec := openDLMS(t, st, keys, headend.MeterID(rekeyed)); !bytes.Equal(sec.EK, rowField(changed[7], "ek")) {
		t.Fatalf("re-keyed meter: %x", sec.EK)
	}
}

// TestImportRotatedKey: after the master key is rotated, an unchanged
// meter whose secrets are still under the old key is re-sealed under the
// new one and counted as updated; the next import finds it unchanged.
func TestImportRotatedKey(t *testing.T) {
	ctx := context.Background()
	st, _ := storetest.OpenSQLite(t)
	old := testKeys(t, "2025", 1)
	rows := shipment(3)
	if _, err := headend.Import(ctx, st, vault.NewKeyring(old), dlmsDrivers, rows); err != nil {
		t.Fatal(err)
	}
	ring := vault.NewKeyring(testKeys(t, "2026", 2), old)
	rep, err := headend.Import(ctx, st, ring, dlmsDrivers, rows)
	if err != nil || rep.Updated != len(rows) {
		t.Fatalf("import after rotation %+v %v", rep, err)
	}
	if _, err := headend.OpenCredentials(ctx, st, vault.NewKeyring(testKeys(t, "2026", 2)), headend.MeterID(rows[0])); err != nil {
		t.Fatalf("not under the new key: %v", err)
	}
	if rep, err := headend.Import(ctx, st, ring, dlmsDrivers, rows); err != nil || rep.Unchanged != len(rows) {
		t.Fatalf("third import %+v %v", rep, err)
	}
}

// TestImportBadRows: rows Import cannot register are reported by line and
// the others are registered.
func TestImportBadRows(t *testing.T) {
	ctx := context.Background()
	st, _ := storetest.OpenSQLite(t)
	keys := vault.NewKeyring(testKeys(t, "k1", 1))
	rows := shipment(3)
	rows[0].TimeZone = "Mars/Olympus_Mons" // rows[1] is its gas meter
	orphan := rows[1]
	orphan.Line, orphan.MeterID, orphan.Serial, orphan.Parent = 40, 99, "AMG4ORPHAN", 98
	dup := rows[2]
	dup.Line, dup.MeterID = 41, 77
	rows = append(rows, orphan, dup)
	rep, err := headend.Import(ctx, st, keys, dlmsDrivers, rows)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		line   int
		column string
	}{{2, "time_zone"}, {3, "parent_meter_id"}, {40, "parent_meter_id"}, {41, "serial"}}
	if len(rep.Bad) != len(want) {
		t.Fatalf("bad %v", rep.Bad)
	}
	for i, w := range want {
		if b := rep.Bad[i]; b.Line != w.line || b.Column != w.column || !errors.Is(b, manifest.ErrManifest) {
			t.Errorf("bad[%d] = %d %q (%v), want %d %q", i, b.Line, b.Column, b, w.line, w.column)
		}
	}
	if rep.Created != 2 {
		t.Fatalf("report %+v", rep)
	}
	if _, err := st.Meter(ctx, headend.MeterID(rows[0])); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("meter with a bad time zone registered: %v", err)
	}
	// A sub-meter whose parent was registered by an earlier import is fine.
	rows = shipment(3)
	if _, err := headend.Import(ctx, st, keys, dlmsDrivers, rows[:1]); err != nil {
		t.Fatal(err)
	}
	rep, err = headend.Import(ctx, st, keys, dlmsDrivers, rows[1:2])
	if err != nil || rep.Created != 1 || len(rep.Bad) != 0 {
		t.Fatalf("gas meter after its parent: %+v %v", rep, err)
	}
	if m, _ := st.Meter(ctx, headend.MeterID(rows[1])); m.Parent != headend.MeterID(rows[0]) {
		t.Fatalf("parent %q", m.Parent)
	}
}

func TestImportCancelled(t *testing.T) {
	st, _ := storetest.OpenSQLite(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := headend.Import(ctx, st, vault.NewKeyring(testKeys(t, "k1", 1)), dlmsDrivers, shipment(10)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled import: %v", err)
	}
}

// BenchmarkImport registers 100,000 electricity meters and 10,000 gas
// meters into an empty SQLite registry (one op), then imports the same
// file again (everything unchanged). Reported: rows/s of each.
func BenchmarkImport(b *testing.B) {
	ctx := context.Background()
	rows := shipment(100_000)
	keys := vault.NewKeyring(testKeys(b, "k1", 1))
	var fresh, again float64
	for b.Loop() {
		b.StopTimer()
		st, _ := storetest.OpenSQLite(b)
		b.StartTimer()
		d, err := timed(func() error {
			rep, err := headend.Import(ctx, st, keys, dlmsDrivers, rows)
			if err == nil && rep.Created != len(rows) {
				err = fmt.Errorf("report %+v", rep)
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		fresh += d
		d, err = timed(func() error {
			rep, err := headend.Import(ctx, st, keys, dlmsDrivers, rows)
			if err == nil && rep.Unchanged != len(rows) {
				err = fmt.Errorf("report %+v", rep)
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		again += d
		b.StopTimer()
		st.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(len(rows)*b.N)/fresh, "new-rows/s")
	b.ReportMetric(float64(len(rows)*b.N)/again, "unchanged-rows/s")
}

// timed runs f and returns its wall time in seconds.
func timed(f func() error) (float64, error) {
	start := time.Now()
	err := f()
	return time.Since(start).Seconds(), err
}
