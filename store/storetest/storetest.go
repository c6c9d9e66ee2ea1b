// Package storetest is the one behavioural test suite every store engine
// must pass, and the helpers that open each engine for a test: a fresh
// SQLite file, or a fresh schema in the PostgreSQL named by
// AMIGO_TEST_POSTGRES_URL (default: the local server's database "test").
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver for schema set-up

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/store"
	_ "github.com/amigo-ami/amigo/store/engines" // what store.Open opens
	"github.com/amigo-ami/amigo/testenv"
)

// PostgresURL is the server tests use.
func PostgresURL() string {
	if u := os.Getenv("AMIGO_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// OpenSQLite opens a new SQLite store in a temporary directory, and
// returns it with its file's path.
func OpenSQLite(t testing.TB) (store.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "amigo.db")
	return Reopen(t, path), path
}

// Reopen opens the store at where, a path or URL store.Open takes (what
// OpenSQLite and OpenPostgres return), and closes it when the test ends.
func Reopen(t testing.TB, where string) store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), where)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// PostgresSchema creates an empty schema for one test and returns a URL
// whose connections use it. The schema is dropped when the test ends. The
// test fails, rather than skips, under CI when the server does not answer.
func PostgresSchema(t testing.TB) string {
	t.Helper()
	base := PostgresURL()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		admin.Close()
		testenv.Service(t, "PostgreSQL at "+base, err)
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	schema := "amigo_test_" + hex.EncodeToString(rnd[:])
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		admin.Close()
	})
	sep := "?"
	if containsQuery(base) {
		sep = "&"
	}
	return base + sep + "search_path=" + schema
}

func containsQuery(u string) bool {
	for _, c := range u {
		if c == '?' {
			return true
		}
	}
	return false
}

// OpenPostgres opens a store on a fresh schema, and returns it with its
// URL.
func OpenPostgres(t testing.TB) (store.Store, string) {
	t.Helper()
	url := PostgresSchema(t)
	return Reopen(t, url), url
}

// Opener opens a fresh store, and reopens it at the same location.
type Opener struct {
	Open   func(t testing.TB) (store.Store, string)
	Reopen func(t testing.TB, where string) store.Store
}

// Run runs the whole suite against one engine.
func Run(t *testing.T, o Opener) {
	t.Run("Migrations", func(t *testing.T) { testMigrations(t, o) })
	t.Run("Registry", func(t *testing.T) { testRegistry(t, o) })
	t.Run("MeterPaging", func(t *testing.T) { testMeterPaging(t, o) })
	t.Run("DayVersions", func(t *testing.T) { testDayVersions(t, o) })
	t.Run("DSTDays", func(t *testing.T) { testDSTDays(t, o) })
	t.Run("ConcurrentDayWriters", func(t *testing.T) { testConcurrentDays(t, o) })
	t.Run("DaysIfLatest", func(t *testing.T) { testDaysIfLatest(t, o) })
	t.Run("Events", func(t *testing.T) { testEvents(t, o) })
	t.Run("EventPaging", func(t *testing.T) { testEventPaging(t, o) })
	t.Run("BatchReads", func(t *testing.T) { testBatchReads(t, o) })
	t.Run("MeterResults", func(t *testing.T) { testMeterResults(t, o) })
	t.Run("BadInputKeepsData", func(t *testing.T) { testBadInput(t, o) })
	t.Run("Counters", func(t *testing.T) { testCounters(t, o) })
	t.Run("SecretsCursorsRegisters", func(t *testing.T) { testSecretsCursorsRegisters(t, o) })
	t.Run("CollectionResults", func(t *testing.T) { testCollectionResults(t, o) })
	t.Run("RegistryBatch", func(t *testing.T) { testRegistryBatch(t, o) })
	t.Run("Controls", func(t *testing.T) { testControls(t, o) })
	t.Run("Approvals", func(t *testing.T) { testApprovals(t, o) })
	t.Run("Exceptions", func(t *testing.T) { testExceptions(t, o) })
	t.Run("Users", func(t *testing.T) { testUsers(t, o) })
	t.Run("ObjectModels", func(t *testing.T) { testObjectModels(t, o) })
	t.Run("Campaigns", func(t *testing.T) { testCampaigns(t, o) })
	t.Run("Audit", func(t *testing.T) { testAudit(t, o) })
	t.Run("AuditConcurrentNodes", func(t *testing.T) { testAuditConcurrent(t, o) })
	t.Run("Quarantine", func(t *testing.T) { testQuarantine(t, o) })
	t.Run("Weather", func(t *testing.T) { testWeather(t, o) })
	t.Run("FirmwareImages", func(t *testing.T) { testFirmwareImages(t, o) })
	t.Run("KeyStaging", func(t *testing.T) { testKeyStaging(t, o) })
	t.Run("Consents", func(t *testing.T) { testConsents(t, o) })
	t.Run("DemandResponse", func(t *testing.T) { testDemandResponse(t, o) })
	t.Run("Billing", func(t *testing.T) { testBilling(t, o) })
	t.Run("Topology", func(t *testing.T) { testTopology(t, o) })
	t.Run("Outages", func(t *testing.T) { testOutages(t, o) })
	t.Run("Limits", func(t *testing.T) { testLimits(t, o) })
	t.Run("LimitsConcurrentNodes", func(t *testing.T) { testLimitsConcurrentNodes(t, o) })
}

var ctx = context.Background()

func testMigrations(t *testing.T, o Opener) {
	s, where := o.Open(t)
	v, err := s.SchemaVersion(ctx)
	if err != nil || v < 1 {
		t.Fatalf("schema version %d, %v", v, err)
	}
	if err := s.PutMeters(ctx, cim.Meter{MRID: "m1"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Reopening applies nothing twice and keeps the data.
	s2 := o.Reopen(t, where)
	v2, err := s2.SchemaVersion(ctx)
	if err != nil || v2 != v {
		t.Fatalf("reopened schema version %d (%v), want %d", v2, err, v)
	}
	if _, err := s2.Meter(ctx, "m1"); err != nil {
		t.Fatalf("data lost across reopen: %v", err)
	}
}

func testRegistry(t *testing.T, o Opener) {
	s, _ := o.Open(t)
	up := cim.UsagePoint{MRID: "up1", Name: "Keizersgracht 1", ServiceCategory: cim.CommodityElectricity, TimeZone: "Europe/Amsterdam", TariffID: "tou-2"}
	if err := s.PutUsagePoints(ctx, up); err != nil {
		t.Fatal(err)
	}
	if got, err := s.UsagePoint(ctx, "up1"); err != nil || got != up {
		t.Fatalf("got %+v, %v", got, err)
	}
	if err := s.PutUsagePoints(ctx, cim.UsagePoint{MRID: "bad", TimeZone: "Mars/Olympus"}); err == nil {
		t.Fatal("accepted an unknown time zone")
	}
	m := cim.Meter{MRID: "m1", SerialNumber: "SN1", UsagePointID: "up1", Protocol: "dlms", Address: "tcp://127.0.0.1:4059",
		Segment: "cell-7", Region: "north", Tags: map[string]string{"feeder": "F12"}, Status: "active",
		Kind: "gas", Archetype: "family", Parent: "m0", PushID: "414d470000000001", ManifestID: "7", Exposure: "osgp-legacy"}
	if err := s.PutMeters(ctx, m); err != nil {
		t.Fatal(err)
	}
	got, err := s.Meter(ctx, "m1")
	if err != nil || got.Tags["feeder"] != "F12" || got.Segment != "cell-7" || got.Address != m.Address ||
		got.Kind != m.Kind || got.Archetype != m.Archetype || got.Parent != m.Parent || got.PushID != m.PushID || got.ManifestID != m.ManifestID || got.Exposure != m.Exposure {
		t.Fatalf("got %+v, %v", got, err)
	}
	m.Address = "tcp://127.0.0.1:4060"
	if err := s.PutMeters(ctx, m); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Meter(ctx, "m1"); got.Address != m.Address {
		t.Fatalf("upsert did not update: %+v", got)
	}
	if subs, err := s.Meters(ctx, store.MeterQuery{Parent: "m0"}); err != nil || len(subs) != 1 || subs[0].MRID != "m1" {
		t.Fatalf("meters behind m0: %+v, %v", subs, err)
	}
	if subs, err := s.Meters(ctx, store.MeterQuery{Parent: "m1"}); err != nil || len(subs) != 0 {
		t.Fatalf("meters behind m1: %+v, %v", subs, err)
	}
	if _, err := s.Meter(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing meter: %v", err)
	}
	if _, err := s.UsagePoint(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing usage point: %v", err)
	}
}

func testMeterPaging(t *testing.T, o Opener) {
	s, _ := o.Open(t)
	var ms []cim.Meter
	for i := range 250 {
		seg := "cell-a"
		if i%5 == 0 {
			seg = "cell-b"
		}
		ms = append(ms, cim.Meter{MRID: fmt.Sprintf("m%04d", i), Segment: seg})
	}
	if err := s.PutMeters(ctx, ms...); err != nil {
		t.Fatal(err)
	}
	n, err := s.CountMeters(ctx, store.MeterQuery{Segment: "cell-b"})
	if err != nil || n != 50 {
		t.Fatalf("count %d, %v", n, err)
	}
	seen := 0
	after := ""
	for {
		page, err := s.Meters(ctx, store.MeterQuery{Segment: "cell-a", After: after, Limit: 64})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, m := range page {
			if m.Segment != "cell-a" || m.MRID <= after {
				t.Fatalf("page out of order or filter: %+v after %s", m, after)
			}
			after = m.MRID
			seen++
		}
	}
	if seen != 200 {
		t.Fatalf("paged %d meters, want 200", seen)
	}
}

func day(meter string, date cim.Date, loc *time.Location, base int64) interval.Day {
	n := date.Intervals(loc, 15*time.Minute)
	d := interval.Day{MeterID: meter, Channel: "A+15m", Date: date, Start: date.Start(loc).UTC(), Interval: 15 * time.Minute,
		Values: make([]int64, n), Quality: make([]cim.Quality, n)}
	for i := range d.Values {
		d.Values[i] = base + int64(i%9)
	}
	return d
}

func testDayVersions(t *testing.T, o Opener) {
	s, _ := o.Open(t)
	loc, _ := time.LoadLocation("Europe/Amsterdam")
	date := cim.Date{Year: 2026, Month: 6, Day: 1}
	d := day("m1", date, loc, 100)
	v, err := s.PutDays(ctx, []interval.Day{d})
	if err != nil || v[0] != 1 {
		t.Fatalf("first put: %v %v", v, err)
	}
	// Redelivery of the same data is not a new version.
	if v, err := s.PutDays(ctx, []interval.Day{d}); err != nil || v[0] != 1 {
		t.Fatalf("redelivery made version %v, %v", v, err)
	}
	// An estimate, then an edit: each a new version, the original kept.
	est := d
	est.Values = append([]int64(nil), d.Values...)
	est.Quality = append([]cim.Quality(nil), d.Quality...)
	est.Values[10], est.Quality[10] = 55, cim.QualityEstimated
	est.Source, est.Reason = interval.SourceEstimate, "linear interpolation"
	if v, err := s.PutDays(ctx, []interval.Day{est}); err != nil || v[0] != 2 {
		t.Fatalf("estimate version %v, %v", v, err)
	}
	ed := est
	ed.Values = append([]int64(nil), est.Values...)
	ed.Values[11] = 1
	ed.Source, ed.User, ed.Reason = interval.SourceEdit, "alice", "meter swap"
	if v, err := s.PutDays(ctx, []interval.Day{ed}); err != nil || v[0] != 3 {
		t.Fatalf("edit version %v, %v", v, err)
	}
	latest, err := s.Day(ctx, "m1", "A+15m", date)
	if err != nil || latest.Version != 3 || latest.Values[11] != 1 || latest.User != "alice" || latest.Source != interval.SourceEdit {
		t.Fatalf("latest %+v, %v", latest, err)
	}
	if !latest.Start.Equal(d.Start) || latest.Interval != d.Interval || latest.Quality[10] != cim.QualityEstimated {
		t.Fatalf("latest lost its shape: %+v", latest)
	}
	hist, err := s.DayVersions(ctx, "m1", "A+15m", date)
	if err != nil || len(hist) != 3 || hist[0].Values[10] != d.Values[10] || hist[0].Source != interval.SourceMeter {
		t.Fatalf("history %d versions, %v", len(hist), err)
	}
	// A range returns the latest version of each day, in date order.
	next := day("m1", date.AddDays(1), loc, 300)
	if _, err := s.PutDays(ctx, []interval.Day{next, day("m2", date, loc, 7)}); err != nil {
		t.Fatal(err)
	}
	r, err := s.Days(ctx, "m1", "A+15m", date, date.AddDays(5))
	if err != nil || len(r) != 2 || r[0].Version != 3 || r[1].Date != date.AddDays(1) || r[1].Values[0] != 300 {
		t.Fatalf("range: %d days, %v", len(r), err)
	}
	if _, err := s.Day(ctx, "m1", "A+15m", date.AddDays(-1)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing day: %v", err)
	}
}

func testDSTDays(t *testing.T, o Opener) {
	s, _ := o.Open(t)
	loc, _ := time.LoadLocation("Europe/Amsterdam")
	spring := cim.Date{Year: 2026, Month: 3, Day: 29}
	autumn := cim.Date{Year: 2026, Month: 10, Day: 25}
	if _, err := s.PutDays(ctx, []interval.Day{day("m1", spring, loc, 1), day("m1", autumn, loc, 1)}); err != nil {
		t.Fatal(err)
	}
	for date, want := range map[cim.Date]int{spring: 92, autumn: 100} {
		d, err := s.Day(ctx, "m1", "A+15m", date)
		if err != nil || len(d.Values) != want {
			t.Fatalf("%s: %d intervals, %v", date, len(d.Values), err)
		}
		if end := d.End(len(d.Values) - 1); !end.Equal(date.AddDays(1).Start(loc)) {
			t.Fatalf("%s: last interval ends %v", date, end)
		}
	}
}

func testConcurrentDays(t *testing.T, o Opener) {
	s, _ := o.Open(t)
	date := cim.Date{Year: 2026, Month: 1, Day: 5}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.PutDays(ctx, []interval.Day{day("m1", date, time.UTC, int64(w*1000))})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	hist, err := s.DayVersions(ctx, "m1", "A+15m", date)
	if err != nil || len(hist) != 8 {
		t.Fatalf("%d versions from 8 distinct writers, %v", len(hist), err)
	}
	for i, h := range hist {
		if h.Version != i+1 {
			t.Fatalf("versions not dense: %d at %d", h.Version, i)
		}
	}
}

func testEvents(t *testing.T, o Opener) {
	s, _ := o.Open(t)
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	evs := []cim.EndDeviceEvent{
		{MRID: "m1/std/1", MeterID: "m1", Type: cim.EventPowerOff, CreatedAt: t0, Code: 1, Details: map[string]string{"phase": "L1"}},
		{MRID: "m1/std/2", MeterID: "m1", Type: cim.EventPowerRestored, CreatedAt: t0.Add(time.Minute), Code: 2},
		{MRID: "m2/std/1", MeterID: "m2", Type: cim.EventPowerOff, CreatedAt: t0.Add(2 * time.Minute)},
	}
	if n, err := s.AppendEvents(ctx, evs); err != nil || n != 3 {
		t.Fatalf("appended %d, %v", n, err)
	}
	if n, err := s.AppendEvents(ctx, evs[:2]); err != nil || n != 0 {
		t.Fatalf("re-append stored %d, %v", n, err)
	}
	got, err := s.Events(ctx, store.EventQuery{MeterID: "m1"})
	if err != nil || len(got) != 2 || got[0].MRID != "m1/std/2" || got[1].Details["phase"] != "L1" || !got[1].CreatedAt.Equal(t0) {
		t.Fatalf("events %+v, %v", got, err)
	}
	got, _ = s.Events(ctx, store.EventQuery{Type: cim.EventPowerOff, From: t0.Add(time.Second)})
	if len(got) != 1 || got[0].MeterID != "m2" {
		t.Fatalf("filtered events %+v", got)
	}
	got, _ = s.Events(ctx, store.EventQuery{MeterID: "m1", Types: []cim.EndDeviceEventType{cim.EventPowerRestored, "9.9.9.9"}, Limit: 5})
	if len(got) != 1 || got[0].MRID != "m1/std/2" {
		t.Fatalf("events of several types %+v", got)
	}
}

func testBadInput(t *testing.T, o Opener) {
	s, _ := o.Open(t)
	date := cim.Date{Year: 2026, Month: 2, Day: 2}
	good := day("m1", date, time.UTC, 5)
	if _, err := s.PutDays(ctx, []interval.Day{good}); err != nil {
		t.Fatal(err)
	}
	bad := day("m1", date, time.UTC, 9)
	bad.Quality = bad.Quality[:3]
	// A batch with one bad day stores none of it and keeps what was there.
	if _, err := s.PutDays(ctx, []interval.Day{day("m1", date.AddDays(1), time.UTC, 1), bad}); err == nil {
		t.Fatal("accepted mismatched values and quality")
	}
	if _, err := s.Day(ctx, "m1", "A+15m", date.AddDays(1)); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("half a bad batch was stored")
	}
	if d, err := s.Day(ctx, "m1", "A+15m", date); err != nil || d.Version != 1 || d.Values[0] != 5 {
		t.Fatalf("stored day damaged: %+v %v", d, err)
	}
	if err := s.PutMeters(ctx, cim.Meter{MRID: "ok"}, cim.Meter{}); err == nil {
		t.Fatal("accepted a meter without mRID")
	}
	if _, err := s.Meter(ctx, "ok"); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("half a bad meter batch was stored")
	}
}

// PutDaysIfLatest writes a day only over the version its writer merged
// over; of eight writers racing over the same base, exactly one wins.
func testDaysIfLatest(t *testing.T, o Opener) {
	s, _ := o.Open(t)
	date := cim.Date{Year: 2026, Month: 1, Day: 6}
	a, b := day("m1", date, time.UTC, 1), day("m1", date, time.UTC, 2)
	if ws, err := s.PutDaysIfLatest(ctx, []interval.Day{a}, []int{0}); err != nil || ws[0] != (store.DayWrite{Version: 1}) {
		t.Fatalf("first write: %v %v", ws, err)
	}
	// Another writer that read the day before it existed is stale...
	if ws, err := s.PutDaysIfLatest(ctx, []interval.Day{b}, []int{0}); err != nil || ws[0] != (store.DayWrite{Version: 1, Stale: true}) {
		t.Fatalf("write over an overtaken base: %v %v", ws, err)
	}
	// ...unless what it would write is already there.
	if ws, err := s.PutDaysIfLatest(ctx, []interval.Day{a}, []int{0}); err != nil || ws[0] != (store.DayWrite{Version: 1}) {
		t.Fatalf("same content over an overtaken base: %v %v", ws, err)
	}
	// Stale days are skipped, the others of the call written.
	other := day("m2", date, time.UTC, 3)
	ws, err := s.PutDaysIfLatest(ctx, []interval.Day{b, other}, []int{0, 0})
	if err != nil || ws[0] != (store.DayWrite{Version: 1, Stale: true}) || ws[1] != (store.DayWrite{Version: 1}) {
		t.Fatalf("mixed call: %v %v", ws, err)
	}
	if _, err := s.PutDaysIfLatest(ctx, []interval.Day{b}, nil); err == nil {
		t.Error("days without their bases accepted")
	}
	var wg sync.WaitGroup
	results := make(chan store.DayWrite, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ws, err := s.PutDaysIfLatest(ctx, []interval.Day{day("m1", date, time.UTC, int64(100+w))}, []int{1})
			if err != nil {
				t.Error(err)
				return
			}
			results <- ws[0]
		}()
	}
	wg.Wait()
	close(results)
	won := 0
	for r := range results {
		if !r.Stale {
			won++
			if r.Version != 2 {
				t.Errorf("the winner wrote version %d, want 2", r.Version)
			}
		}
	}
	if won != 1 {
		t.Fatalf("%d of 8 racing writers over version 1 wrote", won)
	}
	if hist, err := s.DayVersions(ctx, "m1", "A+15m", date); err != nil || len(hist) != 2 {
		t.Fatalf("%d versions after the race, %v", len(hist), err)
	}
}
