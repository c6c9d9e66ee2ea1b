package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/headend/dlmsdriver"
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/sim"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/vault"
)

// keyFleet is a simulated fleet served by this test process, its meters
// keeping their keys in a directory.
type keyFleet struct {
	f    *sim.Fleet
	rows []manifest.Row
}

func startKeyFleet(t *testing.T, n int) *keyFleet {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := sim.ListenLoopback(ctx, 0)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	start := time.Date(2026, 6, 10, 9, 0, 0, 0, time.UTC)
	model := meter.NewFleet(11, time.UTC, start)
	model.HistoryDays = 2
	model.Install = start.AddDate(0, 0, -2)
	model.Faults = meter.Faults{}
	clock := &sim.Clock{Start: start}
	f, err := sim.NewFleet(sim.Config{Meters: n, Seed: 11, Port: uint16(ln.Addr().(*net.TCPAddr).Port), Now: clock.Now,
		Model: model, KeyStore: sim.DirKeys(t.TempDir())})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	kf := &keyFleet{f: f}
	for i := range n {
		r, err := f.Row(i)
		if err != nil {
			t.Fatal(err)
		}
		kf.rows = append(kf.rows, r)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); f.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return kf
}

// rekeyed counts the meters answering to other keys than they were
// shipped with.
func (kf *keyFleet) rekeyed(t *testing.T) int {
	n := 0
	for i, r := range kf.rows {
		ek, _, err := kf.f.Keys(i)
		if err != nil {
			t.Fatal(err)
		}
		if string(ek[:]) != string(hexOf(t, r.Fields["ek"])) {
			n++
		}
	}
	return n
}

func hexOf(t *testing.T, s string) []byte {
	t.Helper()
	b := make([]byte, len(s)/2)
	for i := range b {
		var v byte
		for _, c := range s[2*i : 2*i+2] {
			v <<= 4
			switch {
			case c >= '0' && c <= '9':
				v |= byte(c - '0')
			case c >= 'a' && c <= 'f':
				v |= byte(c-'a') + 10
			default:
				t.Fatalf("not hex: %q", s)
			}
		}
		b[i] = v
	}
	return b
}

// importKeyFleet registers the fleet in the data directory's store under
// the data directory's vault, as the server will find them, without a
// catch-up collection competing with the campaign.
func importKeyFleet(t *testing.T, dir string, rows []manifest.Row) {
	t.Helper()
	ctx := context.Background()
	v, _, err := vault.Load(func(string) string { return "" }, filepath.Join(dir, "master.key"), true)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, filepath.Join(dir, "amigo.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rep, err := headend.Import(ctx, st, vault.NewKeyring(v), []headend.Driver{dlmsdriver.New(dlmsdriver.Config{})}, rows)
	if err != nil || rep.Created != len(rows) {
		t.Fatalf("import: %+v %v", rep, err)
	}
}

// checkKeys asserts that every meter answers to the keys the head-end
// keeps for it, and refuses those it was shipped with.
func checkKeys(t *testing.T, dir string, kf *keyFleet) {
	t.Helper()
	ctx := context.Background()
	v, _, err := vault.Load(func(string) string { return "" }, filepath.Join(dir, "master.key"), false)
	if err != nil {
		t.Fatal(err)
	}
	keys := vault.NewKeyring(v)
	st, err := store.Open(ctx, filepath.Join(dir, "amigo.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	d := dlmsdriver.New(dlmsdriver.Config{SystemTitle: []byte("AMGTEST1")})
	shipped := map[string][]byte{}
	for _, r := range kf.rows {
		reg, err := d.Register(r)
		if err != nil {
			t.Fatal(err)
		}
		shipped[headend.MeterID(r)] = reg.Credentials
	}
	ms, err := allMeters(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != len(kf.rows) {
		t.Fatalf("%d meters registered, want %d", len(ms), len(kf.rows))
	}
	var failures atomic.Int64
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if failures.Load() > 10 {
					continue // enough said
				}
				m := ms[i]
				if _, err := st.PendingMeterSecret(ctx, m.MRID); err == nil {
					t.Errorf("meter %s: pending credentials left", m.MRID)
				}
				cur, err := headend.OpenCredentials(ctx, st, keys, m.MRID)
				if err != nil {
					t.Error(err)
					failures.Add(1)
					continue
				}
				c, _ := dlmsdriver.ParseCredentials(cur)
				if c.KeyGeneration == 0 {
					t.Errorf("meter %s: keys never changed", m.MRID)
				}
				target := headend.Target{Meter: m, Counters: storeCounters{st, m.MRID}}
				target.Credentials = shipped[m.MRID]
				if s, err := d.Open(ctx, target); err == nil {
					s.Close(ctx)
					t.Errorf("meter %s still associates with its shipped keys", m.MRID)
					failures.Add(1)
				}
				target.Credentials = cur
				s, err := d.Open(ctx, target)
				if err == nil {
					_, err = s.Clock(ctx)
					s.Close(ctx)
				}
				if err != nil {
					t.Errorf("meter %s: new keys: %v", m.MRID, err)
					failures.Add(1)
				}
			}
		}()
	}
	for i := range ms {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
}

type storeCounters struct {
	st      store.Store
	meterID string
}

func (c storeCounters) Reserve(ctx context.Context, name string, n uint32) (uint64, error) {
	return c.st.ReserveCounter(ctx, c.meterID, name, n)
}

func allMeters(ctx context.Context, st store.Store) ([]cim.Meter, error) {
	var out []cim.Meter
	after := ""
	for {
		ms, err := st.Meters(ctx, store.MeterQuery{After: after, Limit: 1000})
		if err != nil {
			return nil, err
		}
		out = append(out, ms...)
		if len(ms) < 1000 {
			return out, nil
		}
		after = ms[len(ms)-1].MRID
	}
}

// TestKeyRotationCampaignSurvivesKill rotates the keys of a fleet in a
// campaign, kills the server with SIGKILL when about 30 % of the meters
// have new keys, starts it again on the same data directory, and waits
// for the campaign to finish. Afterwards every meter answers to its new
// keys only.
func TestKeyRotationCampaignSurvivesKill(t *testing.T) {
	n := keyRotationFleet
	kf := startKeyFleet(t, n)
	dir := t.TempDir()
	importKeyFleet(t, dir, kf.rows)
	cfgFile := filepath.Join(dir, "amigo.yaml")
	// No collection competes with the campaign; sessions are limited only
	// per segment.
	if err := os.WriteFile(cfgFile, []byte("headend:\n  daily_at: -1s\n  concurrency: 256\n  per_segment: 64\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The administrator and their token are made before the server runs:
	// the token outlives the kill, and no CLI writes to the SQLite file
	// while a campaign's transactions hold it.
	tok := adminToken(t, dir)
	p := serve(t, "--data", dir, "--config", cfgFile)
	base := "http://" + p.addr
	useToken(base, tok)
	started := time.Now()
	id := startKeyRotation(t, dir, base, kf.rows)

	deadline := time.Now().Add(3 * time.Minute)
	for kf.rekeyed(t) < n*3/10 {
		if time.Now().After(deadline) {
			_, rep := httpGet(t, base+"/api/v1/campaigns/"+id)
			t.Fatalf("the campaign does not progress: %d of %d meters rekeyed\n%s\n%s", kf.rekeyed(t), n, rep, tail(p.stderr.String()))
		}
		time.Sleep(20 * time.Millisecond) // polling the fleet, not synchronising
	}
	p.cmd.Process.Signal(os.Kill)
	<-p.done
	atKill := kf.rekeyed(t)
	t.Logf("killed the server with %d of %d meters rekeyed", atKill, n)

	p = serve(t, "--data", dir, "--config", cfgFile)
	base = "http://" + p.addr
	useToken(base, tok)
	waitCampaign(t, base, id, deadline)
	p.stop(t)
	ran := time.Since(started)
	if got := kf.rekeyed(t); got != n {
		t.Fatalf("%d of %d meters rekeyed", got, n)
	}
	checkKeys(t, dir, kf)
	t.Logf("campaign of %d meters done in %s with a kill and a restart; every meter checked in %s", n,
		ran.Round(time.Second), (time.Since(started) - ran).Round(time.Second))
}

func tail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}

// startKeyRotation creates the key-rotation campaign of every meter with
// amigo keys rotate, as an administrator, and has a security officer
// approve it; it returns the campaign's id.
func startKeyRotation(t *testing.T, dir, base string, rows []manifest.Row) string {
	t.Helper()
	list := filepath.Join(t.TempDir(), "meters.txt")
	var b strings.Builder
	b.WriteString("# every meter of the fleet\n")
	for _, r := range rows {
		b.WriteString(headend.MeterID(r) + "\n")
	}
	if err := os.WriteFile(list, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	rot := exec.Command(amigoBin, "keys", "rotate", "--meters", list, "--server", base, "--concurrency", "128", "--name", "field keys")
	rot.Env = append(os.Environ(), "AMIGO_TOKEN="+adminToken(t, dir))
	out, err := rot.CombinedOutput()
	if err != nil {
		t.Fatalf("amigo keys rotate: %v\n%s", err, out)
	}
	f := strings.Fields(string(out))
	if len(f) < 2 || f[0] != "campaign" || !strings.Contains(string(out), fmt.Sprintf("key rotation of %d meters", len(rows))) {
		t.Fatalf("amigo keys rotate: %s", out)
	}
	id := strings.TrimSuffix(f[1], ":")
	// The creator may not approve their own campaign; an officer does.
	add := exec.Command(amigoBin, "user", "add", "officer", "--role", "security-officer", "--data", dir)
	add.Stdin = strings.NewReader("an officer's long password\n")
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	tok, err := exec.Command(amigoBin, "token", "officer", "--data", dir, "--label", "tests").Output()
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/campaigns/"+id+"/approve", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("approve: %s %s", resp.Status, body)
	}
	return id
}

// waitCampaign waits until campaign id completed.
func waitCampaign(t *testing.T, base, id string, deadline time.Time) {
	t.Helper()
	for {
		code, body := httpGet(t, base+"/api/v1/campaigns/"+id)
		var rep struct {
			Campaign struct {
				Status string `json:"status"`
			} `json:"campaign"`
		}
		if code == http.StatusOK && json.Unmarshal([]byte(body), &rep) == nil {
			switch rep.Campaign.Status {
			case "completed":
				return
			case "stopped", "cancelled":
				t.Fatalf("campaign %s: %s", rep.Campaign.Status, body)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("campaign not completed: %d %s", code, body)
		}
		time.Sleep(100 * time.Millisecond) // polling the server, not synchronising
	}
}
