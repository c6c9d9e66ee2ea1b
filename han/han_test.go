package han

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// p1Device and p1Entities are what a DSMR 5 meter's P1 port gives.
var p1Device = Device{ID: "E0044007123456789", Name: "Electricity meter", Manufacturer: "Kaifa", Model: "DSMR 5.0", SWVersion: "50"}

var p1Entities = []Entity{
	{Key: "power_import", Name: "Power import", DeviceClass: "power", StateClass: Measurement, Unit: "W", ExpireAfter: 30 * time.Second},
	{Key: "power_export", Name: "Power export", DeviceClass: "power", StateClass: Measurement, Unit: "W", ExpireAfter: 30 * time.Second},
	{Key: "energy_import_t1", Name: "Energy import tariff 1", DeviceClass: "energy", StateClass: TotalIncreasing, Unit: "kWh"},
	{Key: "energy_import_t2", Name: "Energy import tariff 2", DeviceClass: "energy", StateClass: TotalIncreasing, Unit: "kWh"},
	{Key: "energy_export_t1", Name: "Energy export tariff 1", DeviceClass: "energy", StateClass: TotalIncreasing, Unit: "kWh"},
	{Key: "energy_export_t2", Name: "Energy export tariff 2", DeviceClass: "energy", StateClass: TotalIncreasing, Unit: "kWh"},
	{Key: "gas", Name: "Gas", DeviceClass: "gas", StateClass: TotalIncreasing, Unit: "m³"},
	{Key: "voltage_l1", Name: "Voltage L1", DeviceClass: "voltage", StateClass: Measurement, Unit: "V"},
	{Key: "voltage_l2", Name: "Voltage L2", DeviceClass: "voltage", StateClass: Measurement, Unit: "V"},
	{Key: "voltage_l3", Name: "Voltage L3", DeviceClass: "voltage", StateClass: Measurement, Unit: "V"},
	{Key: "power_failures", Name: "Power failures", StateClass: Total, Icon: "mdi:flash-off"},
	{Key: "long_power_failures", Name: "Long power failures", StateClass: Total, Icon: "mdi:flash-off"},
	{Key: "tariff", Name: "Tariff", Icon: "mdi:clock"},
}

func TestDiscoveryConfigsValidateThroughBroker(t *testing.T) {
	broker := needBroker(t)
	dp, tp := prefixes(t)
	clearRetained(t, broker, dp, tp)
	w := watch(t, broker, dp+"/#")
	p := newPublisher(t, Options{Broker: broker, DiscoveryPrefix: dp, TopicPrefix: tp})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Announce(ctx, p1Device, p1Entities); err != nil {
		t.Fatal(err)
	}

	var cfgs []DiscoveryConfig
	for range p1Entities {
		m := w.next()
		c, err := ParseDiscoveryConfig(m.Payload)
		if err != nil {
			t.Fatalf("%s: %v\n%s", m.Topic, err, m.Payload)
		}
		cfgs = append(cfgs, c)
		e := p1Entities[len(cfgs)-1]
		want := dp + "/sensor/" + p1Device.ID + "/" + e.Key + "/config"
		if m.Topic != want {
			t.Errorf("config topic %s, want %s", m.Topic, want)
		}
		if c.UniqueID != p1Device.ID+"_"+e.Key || c.ObjectID != c.UniqueID {
			t.Errorf("%s: unique_id %q object_id %q", e.Key, c.UniqueID, c.ObjectID)
		}
		if c.StateTopic != tp+"/"+p1Device.ID+"/"+e.Key+"/state" {
			t.Errorf("%s: state_topic %s", e.Key, c.StateTopic)
		}
		if c.AvailabilityTopic != p.AvailabilityTopic() || c.PayloadAvailable != Online || c.PayloadNotAvail != Offline {
			t.Errorf("%s: availability %s %q/%q", e.Key, c.AvailabilityTopic, c.PayloadAvailable, c.PayloadNotAvail)
		}
		if c.DeviceClass != e.DeviceClass || c.StateClass != e.StateClass || c.Unit != e.Unit {
			t.Errorf("%s: classes %q %q %q, want %q %q %q", e.Key, c.DeviceClass, c.StateClass, c.Unit, e.DeviceClass, e.StateClass, e.Unit)
		}
		if c.Device.Identifiers[0] != p1Device.ID || c.Device.Manufacturer != "Kaifa" || c.Device.Model != "DSMR 5.0" {
			t.Errorf("%s: device %+v", e.Key, c.Device)
		}
		if c.ValueTemplate != "{{ value_json.value }}" {
			t.Errorf("%s: value_template %q", e.Key, c.ValueTemplate)
		}
		if want := int(e.ExpireAfter / time.Second); c.ExpireAfter != want {
			t.Errorf("%s: expire_after %d, want %d", e.Key, c.ExpireAfter, want)
		}
	}
	if err := ValidateAll(cfgs); err != nil {
		t.Fatal(err)
	}

	// Home Assistant starting later gets every config from the broker.
	late := watch(t, broker, dp+"/#")
	got := map[string]bool{}
	for len(got) < len(p1Entities) {
		m := late.next()
		if !m.Retained {
			t.Fatalf("%s delivered to a late subscriber without the retain flag", m.Topic)
		}
		got[m.Topic] = true
	}
}

func TestStatesArrive(t *testing.T) {
	broker := needBroker(t)
	dp, tp := prefixes(t)
	clearRetained(t, broker, dp, tp)
	p := newPublisher(t, Options{Broker: broker, DiscoveryPrefix: dp, TopicPrefix: tp})
	w := watch(t, broker, tp+"/"+p1Device.ID+"/#")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Announce(ctx, p1Device, p1Entities); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 7, 5, 0, 10, 0, time.UTC)
	states := []State{
		{Key: "power_import", Value: 1234.0, At: at},
		{Key: "energy_import_t1", Value: 12345.678, At: at},
		{Key: "gas", Value: 2345.125, At: at},
		{Key: "voltage_l2", Value: float32(231.5), At: at},
		{Key: "power_failures", Value: 7, At: at},
		{Key: "tariff", Value: "normal", At: at},
	}
	if err := p.Publish(ctx, p1Device, states); err != nil {
		t.Fatal(err)
	}
	for _, s := range states {
		m := w.until(p.StateTopic(p1Device, s.Key))
		sp, err := ParseState(m.Payload)
		if err != nil {
			t.Fatalf("%s: %v", m.Topic, err)
		}
		var want any
		switch v := s.Value.(type) {
		case float64:
			want = v
		case float32:
			want = float64(v)
		case int:
			want = float64(v)
		default:
			want = v
		}
		if sp.Value != want {
			t.Errorf("%s: value %v, want %v", s.Key, sp.Value, want)
		}
		if sp.At != "2026-12-07T05:00:10Z" {
			t.Errorf("%s: at %q", s.Key, sp.At)
		}
	}

	if err := p.Publish(ctx, p1Device, []State{{Key: "nope", Value: 1.0}}); err == nil || !strings.Contains(err.Error(), "not announced") {
		t.Errorf("state of an unannounced entity: %v", err)
	}
	if err := p.Publish(ctx, p1Device, []State{{Key: "power_import", Value: "high"}}); err == nil {
		t.Error("text accepted for a power entity")
	}
}

func TestAvailabilityWillAndReconnect(t *testing.T) {
	broker := needBroker(t)
	dp, tp := prefixes(t)
	clearRetained(t, broker, dp, tp)
	px := newProxy(t)
	p := newPublisher(t, Options{Broker: px.url(), DiscoveryPrefix: dp, TopicPrefix: tp,
		ReconnectBase: 50 * time.Millisecond, ReconnectCeiling: 200 * time.Millisecond})
	w := watch(t, broker, p.AvailabilityTopic())
	if m := w.next(); string(m.Payload) != Online {
		t.Fatalf("availability %q after connecting, want online", m.Payload)
	}

	// The connection dies without a DISCONNECT: the broker publishes the
	// will. Mosquitto notices at once, as the socket closes.
	px.cut()
	if m := w.next(); string(m.Payload) != Offline {
		t.Fatalf("availability %q after the connection died, want offline", m.Payload)
	}
	// The publisher reconnects by itself and says online again.
	if m := w.next(); string(m.Payload) != Online {
		t.Fatalf("availability %q after reconnecting, want online", m.Payload)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sw := watch(t, broker, tp+"/"+p1Device.ID+"/#")
	if err := p.Announce(ctx, p1Device, p1Entities[:1]); err != nil {
		t.Fatal(err)
	}
	if err := p.Publish(ctx, p1Device, []State{{Key: "power_import", Value: 500.0}}); err != nil {
		t.Fatal(err)
	}
	if sp, err := ParseState(sw.until(p.StateTopic(p1Device, "power_import")).Payload); err != nil || sp.Value != 500.0 {
		t.Fatalf("state after reconnect: %+v %v", sp, err)
	}

	// A clean close says offline itself: a DISCONNECT discards the will.
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if m := w.next(); string(m.Payload) != Offline {
		t.Fatalf("availability %q after Close, want offline", m.Payload)
	}
}

func TestBadEntityRefused(t *testing.T) {
	broker := needBroker(t)
	dp, tp := prefixes(t)
	clearRetained(t, broker, dp, tp)
	w := watch(t, broker, dp+"/#")
	p := newPublisher(t, Options{Broker: broker, DiscoveryPrefix: dp, TopicPrefix: tp})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	bad := []struct {
		name string
		e    Entity
		want string
	}{
		{"power counting up", Entity{Key: "p", Name: "P", DeviceClass: "power", StateClass: TotalIncreasing, Unit: "W"}, "not allowed for device_class power"},
		{"energy in watts", Entity{Key: "e", Name: "E", DeviceClass: "energy", StateClass: TotalIncreasing, Unit: "W"}, `"W" is not one of device_class energy's`},
		{"unknown class", Entity{Key: "x", Name: "X", DeviceClass: "electricity", Unit: "kWh"}, "not a sensor device class"},
		{"count up without class", Entity{Key: "n", Name: "N", StateClass: TotalIncreasing}, "only energy, gas and water"},
		{"voltage without unit", Entity{Key: "v", Name: "V", DeviceClass: "voltage", StateClass: Measurement}, "needs a unit_of_measurement"},
		{"no name", Entity{Key: "v", DeviceClass: "voltage", StateClass: Measurement, Unit: "V"}, "no name"},
		{"key with a slash", Entity{Key: "a/b", Name: "AB"}, "only letters"},
		{"no key", Entity{Name: "AB"}, "without a key"},
	}
	for _, b := range bad {
		err := p.Announce(ctx, p1Device, []Entity{p1Entities[0], b.e})
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%s: error %v, want one saying %q", b.name, err, b.want)
		}
	}
	dup := []Entity{p1Entities[0], p1Entities[0]}
	if err := p.Announce(ctx, p1Device, dup); err == nil || !strings.Contains(err.Error(), "announced twice") {
		t.Errorf("duplicate unique id: %v", err)
	}
	// Another device whose id sanitises to the same topic id collides.
	if err := p.Announce(ctx, p1Device, p1Entities[:1]); err != nil {
		t.Fatal(err)
	}
	other := Device{ID: p1Device.ID[:3] + "." + p1Device.ID[4:]}
	clash := Device{ID: p1Device.ID[:3] + "/" + p1Device.ID[4:]}
	if err := p.Announce(ctx, other, p1Entities[:1]); err != nil {
		t.Fatal(err)
	}
	if err := p.Announce(ctx, clash, p1Entities[:1]); err == nil || !strings.Contains(err.Error(), "already belongs") {
		t.Errorf("clashing unique id across devices: %v", err)
	}

	// Nothing of the refused announcements reached the broker: the first
	// config it carries is the good one published after them.
	first := w.next()
	if want := p.ConfigTopic(p1Device, p1Entities[0].Key); first.Topic != want {
		t.Fatalf("first config on the broker %s, want %s", first.Topic, want)
	}
}

func TestNewFailsClearly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := New(ctx, Options{Broker: "tcp://127.0.0.1:1", Timeout: 2 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("connect to a closed port: %v", err)
	}
	if _, err := New(ctx, Options{Broker: "tcp://127.0.0.1:1", TopicPrefix: "a/#"}); err == nil || !strings.Contains(err.Error(), "wildcard") {
		t.Fatalf("wildcard prefix: %v", err)
	}
}

func TestValidateRules(t *testing.T) {
	good := DiscoveryConfig{Name: "E", UniqueID: "m_e", StateTopic: "a/b", Device: DiscoveryDevice{Identifiers: []string{"m"}}}
	cases := []struct {
		dc, sc, unit string
		ok           bool
	}{
		{"energy", TotalIncreasing, "kWh", true},
		{"energy", Total, "Wh", true},
		{"energy", Measurement, "kWh", false},
		{"gas", TotalIncreasing, "m³", true},
		{"gas", TotalIncreasing, "m3", false},
		{"water", TotalIncreasing, "L", true},
		{"power", Measurement, "kW", true},
		{"power", Total, "kW", false},
		{"voltage", Measurement, "V", true},
		{"voltage", "", "V", true},
		{"current", Measurement, "A", true},
		{"power_factor", Measurement, "", true},
		{"monetary", Total, "EUR", true},
		{"monetary", TotalIncreasing, "EUR", false},
		{"timestamp", "", "", true},
		{"timestamp", Measurement, "", false},
		{"timestamp", "", "s", false},
		{"", TotalIncreasing, "kWh", false},
		{"", Total, "", true},
		{"", "rising", "", false},
	}
	for _, c := range cases {
		cfg := good
		cfg.DeviceClass, cfg.StateClass, cfg.Unit = c.dc, c.sc, c.unit
		err := Validate(cfg)
		if (err == nil) != c.ok {
			t.Errorf("%q %q %q: %v, want ok=%v", c.dc, c.sc, c.unit, err, c.ok)
		}
	}
	if err := Validate(DiscoveryConfig{}); err == nil || !strings.Contains(err.Error(), "unique_id") {
		t.Errorf("empty config: %v", err)
	}
	if err := ValidateAll([]DiscoveryConfig{good, good}); err == nil || !strings.Contains(err.Error(), "already used") {
		t.Errorf("repeated unique id: %v", err)
	}
}

func TestEncodeState(t *testing.T) {
	e := p1Entities[0]
	if _, err := EncodeState(e, State{Key: e.Key, Value: math.NaN()}); err == nil {
		t.Error("NaN accepted")
	}
	if _, err := EncodeState(e, State{Key: e.Key}); err == nil {
		t.Error("nil accepted")
	}
	b, err := EncodeState(Entity{Key: "ts", Name: "T", DeviceClass: "timestamp"}, State{Key: "ts", Value: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	var sp StatePayload
	if err := json.Unmarshal(b, &sp); err != nil || sp.Value != "2026-01-02T03:04:05Z" {
		t.Errorf("timestamp state %s: %v", b, err)
	}
	if _, err := ParseState([]byte(`{"value":{}}`)); err == nil {
		t.Error("object value accepted")
	}
	if _, err := ParseDiscoveryConfig([]byte(`{"name":"x","unique_id":"u","state_topic":"t","device":{"identifiers":["d"]},"untit":"W"}`)); err == nil {
		t.Error("misspelt field accepted")
	}
	if errors.Is(err, ErrNotConnected) {
		t.Fatal(err)
	}
}
