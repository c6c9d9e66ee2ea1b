package han

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
)

// bridgeRig is a store, an embedded bus, a bridge publishing to
// Mosquitto, and a watcher of everything it publishes.
type bridgeRig struct {
	t      *testing.T
	db     store.Store
	bus    *bus.Bus
	bridge *Bridge
	w      *watcher
	dp, tp string
}

func newBridgeRig(t *testing.T) *bridgeRig {
	broker := needBroker(t)
	dp, tp := prefixes(t)
	clearRetained(t, broker, dp, tp)
	db, _ := storetest.OpenSQLite(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var ns [5]byte
	rand.Read(ns[:])
	b, err := bus.Open(ctx, bus.Options{Dir: t.TempDir(), Namespace: "t" + hex.EncodeToString(ns[:]), DuplicateWindow: time.Minute, ConnectTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		b.Close(ctx)
	})
	if err := db.PutUsagePoints(ctx,
		cim.UsagePoint{MRID: "UP-A", Name: "Elm Street 1", TimeZone: "Europe/Amsterdam"},
		cim.UsagePoint{MRID: "UP-B", Name: "Elm Street 2", TimeZone: "Europe/Amsterdam"}); err != nil {
		t.Fatal(err)
	}
	if err := db.PutMeters(ctx, cim.Meter{MRID: "M-A", UsagePointID: "UP-A"}, cim.Meter{MRID: "M-B", UsagePointID: "UP-B"},
		cim.Meter{MRID: "G-B", UsagePointID: "UP-B", Kind: "gas", Parent: "M-B"}); err != nil {
		t.Fatal(err)
	}
	w := watch(t, broker, strings.TrimSuffix(dp, "/ha")+"/#")
	br, err := NewBridge(BridgeOptions{
		MQTT: Options{Broker: broker, ClientID: "bridge-" + hex.EncodeToString(ns[:]), DiscoveryPrefix: dp, TopicPrefix: tp, Timeout: 5 * time.Second},
		Bus:  b, Registry: db, Consents: db, Sweep: time.Hour, // withdrawals come from ConsentChanged here
	})
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- br.Run(rctx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	select {
	case <-br.Ready():
	case err := <-done:
		t.Fatalf("bridge stopped: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("bridge not consuming within 20 s")
	}
	return &bridgeRig{t: t, db: db, bus: b, bridge: br, w: w, dp: dp, tp: tp}
}

// publish puts what the head-end would on the bus for meter id: the
// quarter-hour ending at end, and the import register at end.
func (r *bridgeRig) publish(id string, m *meter.Meter, end time.Time) meter.Registers {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	now, before := m.RegistersAt(end), m.RegistersAt(end.Add(-15*time.Minute))
	ib := cim.IntervalBlock{MeterID: id, ReadingType: cim.EnergyImport15m,
		Readings: []cim.IntervalReading{{End: end, Value: now.Import - before.Import}}}
	if _, err := r.bus.Publish(ctx, bus.Intervals(ib)); err != nil {
		r.t.Fatal(err)
	}
	rr := bus.Registers{{MeterID: id, ReadingType: cim.EnergyImportRegister.ID, TimeStamp: end, Value: now.Import}}
	if _, err := r.bus.Publish(ctx, rr); err != nil {
		r.t.Fatal(err)
	}
	return now.Sub(before)
}

// upTopics are the topics of usage point up's device.
func (r *bridgeRig) stateTopic(up, key string) string {
	return r.tp + "/amigo-" + up + "/" + key + "/state"
}

func (r *bridgeRig) configTopic(up, key string) string {
	return r.dp + "/sensor/amigo-" + up + "/" + key + "/config"
}

// until returns the message on topic, failing on any message of
// usage point never on the way.
func (r *bridgeRig) until(topic, never string) message {
	r.t.Helper()
	for {
		m := r.w.next()
		if never != "" && strings.Contains(m.Topic, "/amigo-"+never+"/") && len(m.Payload) > 0 {
			r.t.Fatalf("published for %s, which has no consent: %s %s", never, m.Topic, m.Payload)
		}
		if m.Topic == topic {
			return m
		}
	}
}

func TestBridgeConsent(t *testing.T) {
	r := newBridgeRig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	fleet := meter.NewFleet(7, time.UTC, start)
	ma, err := fleet.NewMeter(1, meter.Electricity1P)
	if err != nil {
		t.Fatal(err)
	}
	mb, err := fleet.NewMeter(2, meter.Electricity1P)
	if err != nil {
		t.Fatal(err)
	}
	grant := func(up string) {
		t.Helper()
		if _, err := r.db.GrantConsent(ctx, store.Consent{UsagePoint: up, Purpose: store.ConsentHomeNetwork, GrantedBy: "household", GrantedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		r.bridge.ConsentChanged()
	}
	t1 := start.Add(9 * time.Hour)

	// Only B consented: A's readings go before B's on the bus, and
	// nothing of A arrives before B's states do.
	grant("UP-B")
	r.publish("M-A", ma, t1)
	dB := r.publish("M-B", mb, t1)
	// Each entity is announced with its first state: the interval's
	// power, then the register's energy.
	checkState(t, r.until(r.stateTopic("UP-B", KeyPowerImport), "UP-A"), float64(dB.Import*4), t1)
	cfg, err := ParseDiscoveryConfig(r.until(r.configTopic("UP-B", KeyEnergyImport), "UP-A").Payload)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Device.Name != "amigo Elm Street 2" || cfg.UniqueID != "amigo-UP-B_energy_import" {
		t.Errorf("config %+v", cfg)
	}
	checkState(t, r.until(r.stateTopic("UP-B", KeyEnergyImport), "UP-A"), float64(mb.RegistersAt(t1).Import)/1000, t1)

	// B's gas meter, in litres as its register's scaler says, is B's gas
	// entity in m³, announced with its first reading.
	if _, err := r.bus.Publish(ctx, bus.Registers{{MeterID: "G-B", ReadingType: "Ge-3", TimeStamp: t1, Value: 2345678}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseDiscoveryConfig(r.until(r.configTopic("UP-B", KeyGas), "UP-A").Payload); err != nil {
		t.Fatal(err)
	}
	checkState(t, r.until(r.stateTopic("UP-B", KeyGas), "UP-A"), 2345.678, t1)

	// A grants: its next readings are published, equal to the model's.
	grant("UP-A")
	t2 := t1.Add(15 * time.Minute)
	dA := r.publish("M-A", ma, t2)
	checkState(t, r.w.until(r.stateTopic("UP-A", KeyPowerImport)), float64(dA.Import*4), t2)
	checkState(t, r.w.until(r.stateTopic("UP-A", KeyEnergyImport)), float64(ma.RegistersAt(t2).Import)/1000, t2)

	// A revokes: its entities are withdrawn (empty retained configs), and
	// its later readings are not published while B's still are.
	if err := r.db.RevokeConsent(ctx, "UP-A", store.ConsentHomeNetwork); err != nil {
		t.Fatal(err)
	}
	r.bridge.ConsentChanged()
	if m := r.w.until(r.configTopic("UP-A", KeyEnergyImport)); len(m.Payload) != 0 {
		t.Fatalf("config after revoke: %s, want it deleted", m.Payload)
	}
	t3 := t2.Add(15 * time.Minute)
	r.publish("M-A", ma, t3)
	dB = r.publish("M-B", mb, t3)
	checkState(t, r.until(r.stateTopic("UP-B", KeyPowerImport), "UP-A"), float64(dB.Import*4), t3)
	checkState(t, r.until(r.stateTopic("UP-B", KeyEnergyImport), "UP-A"), float64(mb.RegistersAt(t3).Import)/1000, t3)

	// Nothing of A stays on the broker for a Home Assistant starting now.
	late := watch(t, "tcp://"+brokerAddr, r.tp+"/amigo-UP-A/#")
	end := r.tp + "/amigo-UP-A/zz-end"
	late.client.Publish(end, 1, false, "x").WaitTimeout(5 * time.Second)
	for m := late.next(); m.Topic != end; m = late.next() {
		if len(m.Payload) > 0 {
			t.Fatalf("retained after revoke: %s %s", m.Topic, m.Payload)
		}
	}
}

func checkState(t *testing.T, m message, want float64, at time.Time) {
	t.Helper()
	s, err := ParseState(m.Payload)
	if err != nil {
		t.Fatalf("%s: %v", m.Topic, err)
	}
	if s.Value != want {
		t.Errorf("%s: %v, want %v", m.Topic, s.Value, want)
	}
	if s.At != at.UTC().Format(time.RFC3339Nano) {
		t.Errorf("%s: at %s, want %s", m.Topic, s.At, at)
	}
}

func TestIntervalAndRegisterStates(t *testing.T) {
	end := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	ib := cim.IntervalBlock{MeterID: "m", ReadingType: cim.EnergyExport15m, Readings: []cim.IntervalReading{
		{End: end.Add(-15 * time.Minute), Value: 100},
		{End: end, Value: 999, Quality: cim.QualityMissing},
		{End: end.Add(-30 * time.Minute), Value: 50},
	}}
	ss := IntervalStates(ib)
	if len(ss) != 1 || ss[0].Key != KeyPowerExport || ss[0].Value != 400.0 || !ss[0].At.Equal(end.Add(-15*time.Minute)) {
		t.Fatalf("interval states %+v", ss)
	}
	rt := cim.EnergyImport15m
	rt.Multiplier = 3 // kWh
	if ss := IntervalStates(cim.IntervalBlock{ReadingType: rt, Readings: []cim.IntervalReading{{End: end, Value: 2}}}); len(ss) != 1 || ss[0].Value != 8000.0 {
		t.Fatalf("kWh intervals: %+v", ss)
	}
	if ss := IntervalStates(cim.IntervalBlock{ReadingType: cim.EnergyImportRegister, Readings: []cim.IntervalReading{{End: end, Value: 2}}}); ss != nil {
		t.Fatalf("a register block gave %+v", ss)
	}
	rs := RegisterStates([]cim.Reading{
		{ReadingType: "A+", TimeStamp: end, Value: 1500},
		{ReadingType: "A+", TimeStamp: end.Add(-time.Hour), Value: 1400},
		{ReadingType: "A-", TimeStamp: end, Value: 20},
		{ReadingType: "A+T1", TimeStamp: end, Value: 1000},
		{ReadingType: "Ge-3", TimeStamp: end, Value: 1234567},
		{ReadingType: "W", TimeStamp: end, Value: 0, Quality: cim.QualityDataNotValid},
		{ReadingType: "Ge99", TimeStamp: end, Value: 1},
	})
	if len(rs) != 3 || rs[0].Key != KeyEnergyImport || rs[0].Value != 1.5 || rs[1].Key != KeyEnergyExport || rs[1].Value != 0.02 ||
		rs[2].Key != KeyGas || rs[2].Value != 1234.567 {
		t.Fatalf("register states %+v", rs)
	}
	if rs := RegisterStates([]cim.Reading{{ReadingType: "A-e-2", TimeStamp: end, Value: 1350808300}}); len(rs) != 1 || rs[0].Value != 13508.083 {
		t.Fatalf("a register in 10^-2 Wh: %+v", rs)
	}
	for _, e := range UsagePointEntities {
		if err := Validate((&Publisher{o: Options{TopicPrefix: "amigo", DiscoveryPrefix: "homeassistant", ClientID: "x"}}).Config(UsagePointDevice(cim.UsagePoint{MRID: "UP1"}), e)); err != nil {
			t.Errorf("%s: %v", e.Key, err)
		}
	}
}
