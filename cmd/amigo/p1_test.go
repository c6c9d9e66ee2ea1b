package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/amigo-ami/amigo/dsmr"
	amanifest "github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/sim"
	"github.com/amigo-ami/amigo/testenv"
)

// p1Fleet serves DSMR meters' P1 ports, every one with gas behind it and
// half of them encrypted, on a frozen clock.
func p1Fleet(t *testing.T) *sim.Fleet {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := sim.ListenLoopback(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	loc, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 2, 10, 14, 7, 0, 0, loc)
	model := meter.NewFleet(5, loc, start.AddDate(0, 0, -30))
	model.Faults = meter.Faults{}
	clk := &sim.Clock{Start: start}
	f, err := sim.NewFleet(sim.Config{Meters: 8, Seed: 5, Now: clk.Now, Model: model, Gas: 1,
		P1Port: uint16(ln.Addr().(*net.TCPAddr).Port), P1Encrypted: 0.5, Models: []sim.ModelShare{{Model: sim.ModelDSMR5, Weight: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); f.ServeP1(ctx, ln) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return f
}

// modelKWh is meter i's import T1 as the P1 port writes it.
func modelKWh(t *testing.T, f *sim.Fleet, i int) (t1 string, gas string) {
	t.Helper()
	r, _, err := f.P1Reading(i)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := f.Meter(i)
	regs := m.RegistersAt(f.Now())
	if want := regs.ImportRate[0] + regs.ImportRate[2]; r.ImportWh[0] != want {
		t.Fatalf("P1 reading T1 %d Wh, model %d", r.ImportWh[0], want)
	}
	return fmt.Sprintf("%010.3f", float64(r.ImportWh[0])/1000), fmt.Sprintf("%09.3f", float64(r.MBus[0].Litres)/1000)
}

// TestP1CommandPrintsTheModel reads a plain and an encrypted simulated P1
// port with amigo p1: the JSON lines carry the model's registers.
func TestP1CommandPrintsTheModel(t *testing.T) {
	f := p1Fleet(t)
	plain, enc := -1, -1
	for i := range f.Len() {
		if f.P1Version(i) != dsmr.V50 {
			// A DSMR 4.2 port's second telegram is ten seconds away.
			continue
		}
		if _, ok := f.P1Key(i); ok && enc < 0 {
			enc = i
		} else if !ok && plain < 0 {
			plain = i
		}
	}
	if plain < 0 || enc < 0 {
		t.Fatalf("plain %d encrypted %d", plain, enc)
	}
	for _, i := range []int{plain, enc} {
		args := []string{"p1", "--count", "2", "tcp://" + f.P1Addr(i).String()}
		if i == enc {
			k, _ := f.P1Key(i)
			args = append(args, "--key", fmt.Sprintf("%x", k))
		}
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 0 {
			t.Fatalf("amigo %v: exit %d: %s", args, code, errb.String())
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if len(lines) != 2 {
			t.Fatalf("%d lines, want 2:\n%s\n%s", len(lines), out.String(), errb.String())
		}
		var got p1Line
		if err := json.Unmarshal([]byte(lines[1]), &got); err != nil {
			t.Fatal(err)
		}
		t1, gas := modelKWh(t, f, i)
		var seen string
		for _, o := range got.Objects {
			if o.OBIS == "1-0:1.8.1" {
				seen = o.Values[0].Value
			}
		}
		if seen != t1 || got.Version != "5.0" || len(got.MBus) != 1 || got.MBus[0].Value != strings.TrimLeft(gas, "0") {
			t.Errorf("meter %d: 1.8.1 %q gas %+v, model %s kWh and %s m3", i, seen, got.MBus, t1, gas)
		}
		if i == enc && (got.Counter == nil || *got.Counter == 0) {
			t.Errorf("encrypted port without a frame counter")
		}
		if !strings.Contains(errb.String(), `"telegrams":2`) {
			t.Errorf("stats: %s", errb.String())
		}
	}
}

// TestP1CommandToMQTT publishes a simulated P1 port to Mosquitto and
// reads it back as Home Assistant would: the discovery configs are
// retained and the energy state is the model's.
func TestP1CommandToMQTT(t *testing.T) {
	const broker = "127.0.0.1:1883"
	if c, err := net.DialTimeout("tcp", broker, 2*time.Second); err != nil {
		testenv.Service(t, "Mosquitto on "+broker, err)
	} else {
		c.Close()
	}
	f := p1Fleet(t)
	i := 0
	for ; i < f.Len(); i++ {
		if _, ok := f.P1Key(i); !ok && f.P1Version(i) == dsmr.V50 {
			break
		}
	}
	n := fmt.Sprintf("p1test-%d", time.Now().UnixNano())
	got := make(chan mqtt.Message, 256)
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + broker).SetClientID(n).SetAutoReconnect(false))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	if tok := c.Subscribe(n+"/#", 1, func(_ mqtt.Client, m mqtt.Message) { got <- m }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	var out, errb bytes.Buffer
	args := []string{"p1", "--count", "2", "--mqtt", "tcp://" + broker, "--discovery-prefix", n + "/ha", "--topic-prefix", n + "/amigo",
		"tcp://" + f.P1Addr(i).String()}
	if code := run(args, &out, &errb); code != 0 {
		t.Fatalf("amigo %v: exit %d: %s", args, code, errb.String())
	}
	t1, gas := modelKWh(t, f, i)
	want := map[string]string{"energy_import_t1": strings.TrimLeft(t1, "0"), "gas": strings.TrimLeft(gas, "0")}
	configs := 0
	timeout := time.After(10 * time.Second)
	for len(want) > 0 {
		select {
		case m := <-got:
			if strings.HasSuffix(m.Topic(), "/config") {
				configs++
				continue
			}
			for k, v := range want {
				if strings.HasSuffix(m.Topic(), "/"+k+"/state") {
					var s struct {
						Value json.Number `json:"value"`
					}
					d := json.NewDecoder(bytes.NewReader(m.Payload()))
					d.UseNumber()
					if err := d.Decode(&s); err != nil || s.Value.String() != strings.TrimRight(strings.TrimRight(v, "0"), ".") {
						t.Errorf("%s = %s, model %s", m.Topic(), m.Payload(), v)
					}
					delete(want, k)
				}
			}
		case <-timeout:
			t.Fatalf("states not seen: %v (configs %d; stderr %s)", want, configs, errb.String())
		}
	}
	if configs < 10 {
		t.Errorf("%d discovery configs, want one per entity", configs)
	}
}

// TestP1CommandFileWithGarbage reads a recorded file with a garbage line,
// a telegram with a bad CRC and a cut one between good telegrams: the good
// ones are printed, each bad piece is one line on stderr, the counts come
// at the end, and the exit is clean.
func TestP1CommandFileWithGarbage(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("..", "..", "dsmr", "testdata", "sim-3p-1sub-encfalse.txt"))
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Replace(good, []byte("1-0:1.8.1(0"), []byte("1-0:1.8.1(9"), 1)
	var rec bytes.Buffer
	rec.Write(good)
	rec.WriteString("~~ line noise ~~\r\n")
	rec.Write(bad)
	rec.Write(good[:200])
	rec.Write(good)
	name := filepath.Join(t.TempDir(), "p1.txt")
	if err := os.WriteFile(name, rec.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"p1", name}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if n := strings.Count(out.String(), "\n"); n != 2 {
		t.Errorf("%d telegrams printed, want 2", n)
	}
	for _, s := range []string{"bytes outside a telegram", "CRC mismatch", "cut before", `"telegrams":2`, `"bad_crc":1`, `"truncated":1`, `"garbage":1`} {
		if !strings.Contains(errb.String(), s) {
			t.Errorf("stderr lacks %q:\n%s", s, errb.String())
		}
	}
	if code := run([]string{"p1", "--key", "abc", name}, &out, &errb); code != 2 {
		t.Errorf("a short key: exit %d, want 2", code)
	}
}

// TestSimServesP1 runs amigo sim with DSMR meters and reads one's P1 port
// with amigo p1, each its own process, the key of an encrypted port taken
// from the manifest.
func TestSimServesP1(t *testing.T) {
	name := filepath.Join(t.TempDir(), "fleet.csv")
	p1port := strconv.Itoa(freePort(t))
	startModelSim(t, "--meters", "6", "--manifest", name, "--port", strconv.Itoa(freePort(t)), "--p1-port", p1port,
		"--models", "dsmr5", "--p1-encrypted", "0.5", "--speed", "0", "--offline", "0", "--outages", "0", "--log-format", "json")
	mf, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	rows, _, err := amanifest.Read(mf)
	mf.Close()
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[bool]bool{}
	for _, r := range rows {
		if r.Parent != 0 || kinds[r.Fields["p1_key"] != ""] {
			continue
		}
		enc := r.Fields["p1_key"] != ""
		kinds[enc] = true
		args := []string{"p1", "--count", "1", "tcp://" + r.Address.Addr().String() + ":" + p1port}
		if enc {
			args = append(args, "--key", r.Fields["p1_key"])
		}
		out, errs, code := amigo(t, args...)
		var got p1Line
		if code != 0 || json.Unmarshal([]byte(out), &got) != nil {
			t.Fatalf("amigo %v: exit %d %s %s", args, code, out, errs)
		}
		if got.Equipment != r.Serial || got.Version != "5.0" && got.Version != "4.2" || (got.Counter != nil) != enc {
			t.Errorf("meter %s: %+v", r.Serial, got)
		}
	}
	if len(kinds) != 2 {
		t.Errorf("the fleet has no plain or no encrypted P1 port: %v", kinds)
	}
}
