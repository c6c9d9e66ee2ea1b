package osgpdriver_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/netip"
	"testing"

	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/headend/osgpdriver"
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/store/storetest"
	"github.com/amigo-ami/amigo/vault"
	"github.com/prometheus/client_golang/prometheus"
)

// TestExposure: meters imported on the legacy suite are exposed in the
// registry, and amigo_meters_exposed counts them; moving one to AES-128
// by a new manifest clears its exposure.
func TestExposure(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, _ := storetest.OpenSQLite(t)
	v, err := vault.New("test", make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	keys := vault.NewKeyring(v)
	d := osgpdriver.New(osgpdriver.Config{})
	rows := func(legacy int) []manifest.Row {
		var rs []manifest.Row
		for i := range 5 {
			r := row("aes", hex.EncodeToString(aesKey))
			if i < legacy {
				r = row("legacy", hex.EncodeToString(legacyKey))
			}
			r.Line, r.MeterID, r.Serial, r.UsagePointID = i+2, uint64(i+1), fmt.Sprintf("AMGO%05d", i+1), fmt.Sprintf("UPO%05d", i+1)
			r.Address = netip.MustParseAddrPort(fmt.Sprintf("127.0.0.%d:1629", i+1))
			r.TimeZone, r.Segment = "Europe/Amsterdam", "cell-o"
			rs = append(rs, r)
		}
		return rs
	}
	if rep, err := headend.Import(ctx, st, keys, []headend.Driver{d}, rows(3)); err != nil || rep.Created != 5 {
		t.Fatalf("import: %+v %v", rep, err)
	}
	for i, want := range []string{"osgp-legacy", "osgp-legacy", "osgp-legacy", "", ""} {
		m, err := st.Meter(ctx, fmt.Sprintf("AMGO%05d", i+1))
		if err != nil || m.Exposure != want {
			t.Fatalf("meter %d: exposure %q %v, want %q", i+1, m.Exposure, err, want)
		}
	}
	b, err := bus.Open(ctx, bus.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(context.Background())
	reg := prometheus.NewRegistry()
	if _, err := headend.New(headend.Options{Store: st, Bus: b, Secrets: keys, Drivers: []headend.Driver{d}, Metrics: reg}); err != nil {
		t.Fatal(err)
	}
	gauge := func() (float64, bool) {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != "amigo_meters_exposed" {
				continue
			}
			for _, m := range mf.GetMetric() {
				l := map[string]string{}
				for _, p := range m.GetLabel() {
					l[p.GetName()] = p.GetValue()
				}
				if l["protocol"] == "osgp" && l["exposure"] == "osgp-legacy" {
					return m.GetGauge().GetValue(), true
				}
			}
		}
		return 0, false
	}
	if n, ok := gauge(); !ok || n != 3 {
		t.Fatalf("amigo_meters_exposed = %v (%v), want 3", n, ok)
	}
	found := map[string]bool{}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		found[mf.GetName()] = true
	}
	if !found["amigo_osgp_digest_alarms_total"] || !found["amigo_osgp_digest_failures_total"] {
		t.Fatal("the driver's guard metrics are not registered")
	}
	// Two meters move to AES-128: their exposure goes.
	if rep, err := headend.Import(ctx, st, keys, []headend.Driver{d}, rows(1)); err != nil || rep.Updated != 2 {
		t.Fatalf("re-import: %+v %v", rep, err)
	}
	if m, _ := st.Meter(ctx, "AMGO00002"); m.Exposure != "" {
		t.Fatalf("meter 2 still exposed: %q", m.Exposure)
	}
}
