//go:build !race

// The chaos test runs without the race detector only: the nodes it breaks
// are separate processes, which the detector does not see, and the test
// itself only starts, waits and compares.

package cluster_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/cluster"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/headend/dlmsdriver"
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/store"
	_ "github.com/amigo-ami/amigo/store/engines"
	"github.com/amigo-ami/amigo/store/storetest"
	"github.com/amigo-ami/amigo/testenv"
	"github.com/amigo-ami/amigo/vault"
)

// The faults the chaos test injects: alone, each at about 30 % of a
// collection's progress, or all in one collection (faultAll, planOf).
const (
	faultHeadEnd  = "headend-kill" // SIGKILL a head-end node; its leases expire and are taken over
	faultNATSKill = "nats-kill"    // SIGKILL a NATS node, restarted after the run
	faultNATSStop = "nats-stop"    // SIGSTOP a NATS node for 30 s, then SIGCONT
	faultMDM      = "mdm-kill"     // SIGKILL an MDM node while its ingest holds unacknowledged messages
	// faultAll is every fault above in one collection: a head-end killed,
	// a NATS node killed and started again, another frozen for 30 s, an
	// MDM node killed, one after another as the collection goes on.
	faultAll = "all"
	// natsRestart starts the killed NATS node again (within faultAll).
	natsRestart = "nats-restart"
)

// step is one fault of a plan: injected once `at` of the fleet has a
// result, on NATS node `nats` for the NATS faults.
type step struct {
	fault string
	at    float64
	nats  int
}

// planOf is the steps a fault injects during a collection.
func planOf(fault string) []step {
	switch fault {
	case "":
		return nil
	case faultAll:
		return []step{{faultHeadEnd, 0.15, 0}, {faultNATSKill, 0.3, 2}, {natsRestart, 0.4, 2}, {faultNATSStop, 0.5, 1}, {faultMDM, 0.7, 0}}
	}
	return []step{{fault, 0.3, 2}}
}

// fleetMeters is the fleet's size: chaosMeters, or AMIGO_CHAOS_METERS.
// AMIGO_CHAOS_FAULTS (a comma-separated list) names the cluster
// collections to run instead of chaosFaults.
var fleetMeters = func() int {
	var n int
	if _, err := fmt.Sscan(os.Getenv("AMIGO_CHAOS_METERS"), &n); err == nil && n > 0 {
		return n
	}
	return chaosMeters
}()

// chaosLeaseTTL is short so a dead head-end's meters are taken over
// within the test's time.
const chaosLeaseTTL = 5 * time.Second

var (
	buildOnce sync.Once
	amigoBin  string
	buildErr  error
)

// amigo builds cmd/amigo once for every test of the package.
func amigo(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "amigo-cluster-bin-")
		if err != nil {
			buildErr = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		amigoBin, buildErr = cluster.Build(ctx, dir)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return amigoBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if amigoBin != "" {
		os.RemoveAll(filepath.Dir(amigoBin))
	}
	os.Exit(code)
}

// chaosFleet is what every run of the chaos test shares: the binary, the
// simulated fleet and the master key its meter keys are sealed with.
type chaosFleet struct {
	bin       string
	sim       *cluster.Sim
	masterKey string
	day       cim.Date
}

// dayResult is one run's stored day: per meter and channel, how many
// versions the day has and a digest of the latest one.
type dayResult struct {
	days     map[string]dayDigest
	meters   int // meters with at least one stored channel
	wall     time.Duration
	takeover []string // "lease taken over" lines of the surviving nodes
	takeSecs float64  // amigo_lease_takeover_seconds sum over the survivors
	takes    float64  // amigo_lease_takeovers_total over the survivors
	summary  store.CollectionSummary
}

type dayDigest struct {
	versions int
	latest   string
}

func TestChaos(t *testing.T) {
	if _, err := os.Stat(cluster.NATSServer); err != nil {
		testenv.Service(t, "nats-server", err)
	}
	storetest.PostgresSchema(t) // skips, or fails where required, without PostgreSQL
	bin := amigo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute+time.Duration(fleetMeters)*90*time.Millisecond)
	defer cancel()

	var key [32]byte
	rand.Read(key[:])
	dir := t.TempDir()
	// One fleet for every run: the meters' clocks run in real time from
	// now, so yesterday is a whole, fixed day of load profile.
	sim, err := cluster.StartSim(ctx, bin, "--meters", fmt.Sprint(fleetMeters), "--seed", "23", "--manifest", filepath.Join(dir, "fleet.csv"),
		"--history", "2", "--tz", "UTC", "--offline", "0", "--intermittent", "0", "--garbage", "0", "--outages", "0",
		"--gas", "0", "--water", "0", "--log-format", "json")
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	f := &chaosFleet{bin: bin, sim: sim, masterKey: hex.EncodeToString(key[:]), day: cim.DateOf(time.Now().UTC(), time.UTC).AddDays(-1)}

	base := f.run(t, ctx, "baseline", "")
	t.Logf("chaos baseline: %d meters stored for %s by one node in %s (%d of %d meters read, %d readings)",
		base.meters, f.day, base.wall.Round(time.Second), base.summary.OK, base.summary.Total, base.summary.Readings)
	if base.meters < fleetMeters*9/10 {
		t.Fatalf("the baseline stored %d of %d meters: the fleet is not being read", base.meters, fleetMeters)
	}
	faults := chaosFaults
	if v := os.Getenv("AMIGO_CHAOS_FAULTS"); v != "" {
		faults = strings.Split(v, ",")
	}
	for _, fault := range faults {
		t.Run(fault, func(t *testing.T) {
			got := f.run(t, ctx, fault, fault)
			compared, problems := compareDays(base, got)
			take := "no takeover logged"
			if len(got.takeover) > 0 {
				take = fmt.Sprintf("%d shards taken over, %.1f s from the last renewal on average (metric), at most %s (log)",
					len(got.takeover), got.takeSecs/max(got.takes, 1), longestAfter(got.takeover))
			}
			t.Logf("chaos %s: collection and ingest %s, %d meters compared with the baseline, %s", fault, got.wall.Round(time.Second), compared, take)
			for i, p := range problems {
				if i == 20 {
					t.Errorf("... and %d more", len(problems)-20)
					break
				}
				t.Error(p)
			}
		})
	}
}

// run collects f.day on a fresh schema and a fresh NATS cluster, injecting
// the steps of fault's plan as the collection goes (none for the baseline,
// which is one node running every role).
func (f *chaosFleet) run(t *testing.T, ctx context.Context, name, fault string) dayResult {
	t.Helper()
	dir := t.TempDir()
	url := storetest.PostgresSchema(t)
	nats, err := cluster.StartNATS(ctx, filepath.Join(dir, "nats"), 3)
	if err != nil {
		t.Fatal(err)
	}
	defer nats.Close()
	st, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	f.importFleet(t, ctx, st)
	token := f.adminToken(t, url)

	common := cluster.NodeConfig{Store: url, Bus: nats.URLs(), Replicas: 3, MasterKey: f.masterKey, LeaseTTL: chaosLeaseTTL,
		Concurrency: 256, PerSegment: 256, Attempts: 3, JobTimeout: 30 * time.Second, DailyAt: -time.Second, BackfillDays: 1}
	node := func(n string, roles ...string) cluster.NodeConfig {
		c := common
		c.Name, c.Roles, c.Dir = n, roles, filepath.Join(dir, n)
		return c
	}
	var specs []cluster.NodeConfig
	if fault == "" {
		specs = append(specs, node("solo"))
	} else {
		specs = append(specs, node("mdm-1", "mdm", "api"), node("he-1", "headend"), node("he-2", "headend"), node("mdm-2", "mdm"))
	}
	// One after another: nodes starting together each create the streams
	// at once, and JetStream answers some of them only after the bus's
	// deadline (see docs/scale-out.md, Chaos tests).
	nodes := map[string]*cluster.Node{}
	defer func() {
		for _, n := range nodes {
			if err := n.Close(); err != nil {
				t.Logf("%s: %v", name, err)
			}
		}
	}()
	for _, s := range specs {
		n, err := cluster.StartNode(ctx, f.bin, s)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		nodes[s.Name] = n
	}
	api := nodes[specs[0].Name]
	b, err := bus.Open(ctx, bus.Options{URL: nats.URLs(), Replicas: 3})
	if err != nil {
		t.Fatalf("%s: the test's bus client: %v", name, err)
	}
	defer b.Close(context.Background())

	started := time.Now()
	if _, err := api.Do(ctx, http.MethodPost, "/api/v1/collection/runs", token, nil, ""); err != nil {
		t.Fatalf("%s: starting the collection of %s: %v", name, f.day, err)
	}
	plan := planOf(fault)
	type watch struct {
		fault string
		total int
		at    time.Time
	}
	var moving []watch
	var resume *time.Timer
	// The MDM's ingest into PostgreSQL sets the pace (a day block of a
	// meter a few milliseconds each, slower on a shared machine).
	deadline := time.Now().Add(2*time.Minute + time.Duration(fleetMeters)*60*time.Millisecond)
	var last store.CollectionSummary
	for {
		sum, serr := summary(ctx, st, f.day)
		if serr == nil {
			last = sum
		}
		status, berr := ingestStatus(ctx, b)
		if len(plan) > 0 && last.Total >= int(plan[0].at*float64(fleetMeters)) && (plan[0].fault != faultMDM || status.AckPending > 0) {
			f.inject(t, ctx, plan[0], nodes, nats, &resume)
			t.Logf("%s: %s injected at %d of %d meters collected, %s after the start", name, plan[0].fault, last.Total, fleetMeters, time.Since(started).Round(time.Millisecond))
			moving = append(moving, watch{plan[0].fault, last.Total, time.Now()})
			plan = plan[1:]
		}
		// After each fault, how long until another 1 % of the fleet has a
		// result: the collection going on through it, or stalled.
		moving = slices.DeleteFunc(moving, func(w watch) bool {
			if last.Total < w.total+max(1, fleetMeters/100) {
				return false
			}
			t.Logf("%s: after %s, another 1 %% of the fleet had a result in %s", name, w.fault, time.Since(w.at).Round(100*time.Millisecond))
			return true
		})
		if len(plan) == 0 && last.Total >= fleetMeters && berr == nil && status.Idle() {
			break
		}
		if time.Now().After(deadline) {
			var tails []string
			for n, nd := range nodes {
				tails = append(tails, fmt.Sprintf("--- %s:\n%s", n, nd.LogTail(8)))
			}
			sort.Strings(tails)
			t.Fatalf("%s: after %s, %d of %d meters have a result for %s and the ingest is %+v (bus: %v)\n%s", name, time.Since(started).Round(time.Second),
				last.Total, fleetMeters, f.day, status, berr, strings.Join(tails, "\n"))
		}
		time.Sleep(200 * time.Millisecond) // polling the store and the bus
	}
	res := dayResult{wall: time.Since(started), summary: last}
	if resume != nil {
		resume.Stop()
	}
	killed := map[string]bool{} // amigo nodes the plan killed
	natsDown := map[int]bool{}  // NATS nodes the plan left killed
	for _, st := range planOf(fault) {
		switch st.fault {
		case faultHeadEnd:
			killed["he-1"] = true
		case faultMDM:
			killed["mdm-2"] = true
		case faultNATSKill:
			natsDown[st.nats] = true
		case natsRestart:
			delete(natsDown, st.nats)
		case faultNATSStop:
			nats.Node(st.nats).Cont() // in case the run ended inside the 30 s
		}
	}
	for i := range natsDown {
		if err := nats.Node(i).Restart(ctx); err != nil {
			t.Errorf("%s: restarting the killed NATS node: %v", name, err)
		}
	}
	for n, nd := range nodes {
		if killed[n] {
			continue
		}
		res.takeover = append(res.takeover, nd.LogLines("lease taken over")...)
		if m, err := nd.Metrics(ctx); err == nil {
			res.takeSecs += cluster.Sum(m, "amigo_lease_takeover_seconds_sum")
			res.takes += cluster.Sum(m, "amigo_lease_takeovers_total")
		}
	}
	if killed["he-1"] && len(res.takeover) == 0 {
		t.Errorf("%s: no surviving node logged \"lease taken over\" after he-1 was killed", name)
	}
	res.days, res.meters = storedDays(t, ctx, url, f.day)
	// Days still arriving after the ingest looked idle would be late, not
	// lost: wait until two reads 5 s apart agree, and say so.
	first := len(res.days)
	for settle := time.Now().Add(time.Minute); time.Now().Before(settle); {
		time.Sleep(5 * time.Second) // letting late messages show, then polling the store
		days, meters := storedDays(t, ctx, url, f.day)
		if len(days) == len(res.days) {
			break
		}
		res.days, res.meters = days, meters
	}
	if len(res.days) != first {
		t.Logf("%s: %d meter days arrived after every meter had a result and the ingest was idle", name, len(res.days)-first)
	}
	return res
}

// inject breaks the cluster the way st names. A SIGSTOP is undone by a
// timer after 30 s, kept in resume.
func (f *chaosFleet) inject(t *testing.T, ctx context.Context, st step, nodes map[string]*cluster.Node, nats *cluster.NATS, resume **time.Timer) {
	t.Helper()
	var err error
	switch st.fault {
	case faultHeadEnd:
		err = nodes["he-1"].Kill()
	case faultNATSKill:
		err = nats.Node(st.nats).Kill()
	case natsRestart:
		err = nats.Node(st.nats).Restart(ctx)
	case faultNATSStop:
		nd := nats.Node(st.nats)
		if err = nd.Stop(); err == nil {
			*resume = time.AfterFunc(30*time.Second, func() { nd.Cont() })
		}
	case faultMDM:
		err = nodes["mdm-2"].Kill()
	default:
		err = fmt.Errorf("no fault %q", st.fault)
	}
	if err != nil {
		t.Fatalf("injecting %s: %v", st.fault, err)
	}
}

// importFleet registers the simulator's meters and seals their keys
// under the cluster's master key, straight into the store, so that no
// import-triggered collection competes with the run the test starts.
func (f *chaosFleet) importFleet(t *testing.T, ctx context.Context, st store.Store) {
	t.Helper()
	v, _, err := vault.Load(func(k string) string {
		if k == "AMIGO_MASTER_KEY" {
			return f.masterKey
		}
		return ""
	}, "", false)
	if err != nil {
		t.Fatal(err)
	}
	rows := append([]manifest.Row(nil), f.sim.Rows...)
	if _, err := headend.Import(ctx, st, vault.NewKeyring(v), []headend.Driver{dlmsdriver.New(dlmsdriver.Config{})}, rows); err != nil {
		t.Fatalf("importing %d meters: %v", len(rows), err)
	}
}

// adminToken makes an administrator and an API token for it with the
// amigo CLI against the store at url.
func (f *chaosFleet) adminToken(t *testing.T, url string) string {
	t.Helper()
	add := exec.Command(f.bin, "user", "add", "admin", "--role", "admin", "--store", url)
	add.Stdin = strings.NewReader("an administrator's password\n")
	add.Env = append(os.Environ(), "AMIGO_MASTER_KEY="+f.masterKey)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("amigo user add: %v\n%s", err, out)
	}
	tok := exec.Command(f.bin, "token", "admin", "--store", url, "--label", "chaos")
	tok.Env = add.Env
	out, err := tok.Output()
	if err != nil {
		t.Fatalf("amigo token: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// summary adds up the day's collection results over every segment.
func summary(ctx context.Context, st store.Store, day cim.Date) (store.CollectionSummary, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	segs, err := st.CollectionSummary(ctx, day, "")
	if err != nil {
		return store.CollectionSummary{}, err
	}
	var s store.CollectionSummary
	for _, g := range segs {
		s.Total += g.Total
		s.OK += g.OK
		s.Complete += g.Complete
		s.Readings += g.Readings
	}
	return s, nil
}

// ingestStatus is the MDM ingest consumer's state on the readings stream
// (the one collection fills).
func ingestStatus(ctx context.Context, b *bus.Bus) (bus.ConsumerStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return b.ConsumerStatus(ctx, bus.Readings, "mdm-ingest")
}

// storedDays reads every stored interval day of day straight from
// PostgreSQL: per meter and channel, the number of versions and a digest
// of the latest one's values.
func storedDays(t *testing.T, ctx context.Context, url string, day cim.Date) (map[string]dayDigest, int) {
	t.Helper()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT meter_id, channel, version, start_us, interval_s, n, data FROM interval_days WHERE day = $1 ORDER BY meter_id, channel, version`, day.String())
	if err != nil {
		t.Fatalf("reading the stored days of %s: %v", day, err)
	}
	defer rows.Close()
	out := map[string]dayDigest{}
	meters := map[string]bool{}
	for rows.Next() {
		var meter, channel string
		var version, interval, n int
		var start int64
		var data []byte
		if err := rows.Scan(&meter, &channel, &version, &start, &interval, &n, &data); err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(append([]byte(fmt.Sprintf("%d/%d/%d/", start, interval, n)), data...))
		k := meter + " " + channel
		d := out[k]
		d.versions++
		d.latest = hex.EncodeToString(h[:8])
		out[k] = d
		meters[meter] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out, len(meters)
}

// compareDays lists how got differs from the baseline: a meter's day
// missing, stored more often, or with other values.
func compareDays(base, got dayResult) (meters int, problems []string) {
	seen := map[string]bool{}
	keys := make([]string, 0, len(base.days))
	for k := range base.days {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b := base.days[k]
		g, ok := got.days[k]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("meter/channel %s: the baseline stored the day, the cluster did not", k))
		case g.versions != b.versions:
			problems = append(problems, fmt.Sprintf("meter/channel %s: %d versions of the day, the baseline %d", k, g.versions, b.versions))
		case g.latest != b.latest:
			problems = append(problems, fmt.Sprintf("meter/channel %s: the latest version's values differ from the baseline's", k))
		}
		m, _, _ := strings.Cut(k, " ")
		seen[m] = true
	}
	for k := range got.days {
		if _, ok := base.days[k]; !ok {
			problems = append(problems, fmt.Sprintf("meter/channel %s: stored by the cluster, not by the baseline", k))
		}
	}
	return len(seen), problems
}

// longestAfter is the longest "after" of "lease taken over" log lines
// (JSON; a duration as text or in seconds).
func longestAfter(lines []string) string {
	var longest time.Duration
	for _, l := range lines {
		var rec struct {
			After any `json:"after"`
		}
		if json.Unmarshal([]byte(l), &rec) != nil {
			continue
		}
		var d time.Duration
		switch v := rec.After.(type) {
		case string:
			d, _ = time.ParseDuration(v)
		case float64:
			d = time.Duration(v * float64(time.Second))
		}
		longest = max(longest, d)
	}
	if longest == 0 {
		return "unknown"
	}
	return longest.Round(10 * time.Millisecond).String()
}
