package headend_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/audit"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/store"
	"github.com/prometheus/client_golang/prometheus"
)

// noSafeguards turns the disconnect guards and the reconnect spread off,
// for rigs whose clock is the real one (a weekend would refuse their
// disconnects) and that wait for a reconnect to be carried out.
var noSafeguards = &headend.SafeguardConfig{}

// last is the latest record of one action (auditLog is in
// approve_test.go).
func (l *auditLog) last(a audit.Action) (audit.Record, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.rs) - 1; i >= 0; i-- {
		if l.rs[i].Action == a {
			return l.rs[i], true
		}
	}
	return audit.Record{}, false
}

// guardRig is a head-end with the safeguards cfg over a store with usage
// points in two zones, one flagged medical, and meters in three regions.
type guardRig struct {
	*rig
	h     *headend.HeadEnd
	audit *auditLog
	now   time.Time
}

func newGuardRig(t *testing.T, cfg headend.SafeguardConfig, now time.Time) *guardRig {
	t.Helper()
	r := newRig(t, 1, 1, headend.CollectionConfig{})
	ctx := context.Background()
	if err := r.st.PutUsagePoints(ctx,
		cim.UsagePoint{MRID: "up-ams", TimeZone: "Europe/Amsterdam"},
		cim.UsagePoint{MRID: "up-utc", TimeZone: "UTC"},
		cim.UsagePoint{MRID: "up-med", TimeZone: "Europe/Amsterdam", Protection: headend.ProtectionMedical},
	); err != nil {
		t.Fatal(err)
	}
	if err := r.st.PutMeters(ctx,
		cim.Meter{MRID: "north-ams", UsagePointID: "up-ams", Region: "north", Protocol: "fake", Status: "installed"},
		cim.Meter{MRID: "south-utc", UsagePointID: "up-utc", Region: "south", Protocol: "fake", Status: "installed"},
		cim.Meter{MRID: "west-ams", UsagePointID: "up-ams", Region: "west", Protocol: "fake", Status: "installed"},
		cim.Meter{MRID: "west-med", UsagePointID: "up-med", Region: "west", Protocol: "fake", Status: "installed"},
	); err != nil {
		t.Fatal(err)
	}
	g := &guardRig{rig: r, audit: &auditLog{}, now: now}
	var err error
	g.h, err = headend.New(headend.Options{Store: r.st, Bus: r.bus, Secrets: plainSecrets{}, Drivers: []headend.Driver{r.drv},
		Now: func() time.Time { return g.now }, Metrics: prometheus.NewRegistry(), Audit: g.audit, Safeguards: &cfg})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func (g *guardRig) disconnect(t *testing.T, meter, override string) (cim.EndDeviceControl, error) {
	t.Helper()
	c, _, err := g.h.Issue(context.Background(), cim.EndDeviceControl{MeterID: meter, Type: cim.ControlDisconnect, Override: override, IssuedBy: "olga", ApprovedBy: "sam"})
	return c, err
}

// refused checks that err is a refusal naming each of want, and that the
// refusal is in the audit trail with its reason.
func (g *guardRig) refused(t *testing.T, err error, meter string, want ...string) {
	t.Helper()
	if !errors.Is(err, headend.ErrRefused) {
		t.Fatalf("disconnect of %s: %v, want a refusal", meter, err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("refusal %q does not say %q", err, w)
		}
	}
	r, ok := g.audit.last(audit.CommandRefuse)
	if !ok || r.Target != meter || r.Actor != "olga" || r.Outcome != audit.Refused || r.Details["reason"] != err.Error() || r.Details["type"] != "disconnect" {
		t.Errorf("audit record of the refusal: %+v (found %v)", r, ok)
	}
}

// A Monday at 10:00 in Amsterdam, in winter.
var monday = time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)

func TestSafeguardProtectedUsagePoint(t *testing.T) {
	cfg := headend.DefaultSafeguards()
	g := newGuardRig(t, cfg, monday)
	ctx := context.Background()
	_, err := g.disconnect(t, "west-med", "")
	g.refused(t, err, "west-med", "usage point up-med is flagged medical", "no override given")
	_, err = g.disconnect(t, "west-med", "  too short ")
	g.refused(t, err, "west-med", "flagged medical", "at least 10 characters, not 9")
	if cs, _ := g.st.Controls(ctx, store.ControlQuery{MeterID: "west-med"}); len(cs) != 0 {
		t.Fatalf("refused disconnects stored: %+v", cs)
	}

	// The neighbour on an unflagged usage point is disconnected.
	if c, err := g.disconnect(t, "west-ams", ""); err != nil || c.Status != cim.ControlQueued {
		t.Fatalf("unprotected disconnect: %+v %v", c, err)
	}

	// An override with a reason lets it through; the reason is kept with
	// the command and in the audit trail.
	why := "court order 2026/118, care provider informed"
	c, err := g.disconnect(t, "west-med", why)
	if err != nil || c.Status != cim.ControlQueued {
		t.Fatalf("overridden disconnect: %+v %v", c, err)
	}
	stored, err := g.st.Control(ctx, c.MRID)
	if err != nil || stored.Override != why || !strings.Contains(stored.Reason, "safeguards overridden (usage point up-med is flagged medical)") {
		t.Fatalf("stored %+v %v", stored, err)
	}
	r, ok := g.audit.last(audit.CommandIssue)
	if !ok || r.Target != c.MRID || r.Details["override"] != why || r.Actor != "olga" {
		t.Fatalf("audit record of the override: %+v", r)
	}

	// With the guard off, the flag does not stop it.
	cfg.Protection = false
	g2 := newGuardRig(t, cfg, monday)
	if _, err := g2.disconnect(t, "west-med", ""); err != nil {
		t.Fatalf("protection guard off: %v", err)
	}
}

func TestSafeguardWeather(t *testing.T) {
	g := newGuardRig(t, headend.DefaultSafeguards(), monday)
	ctx := context.Background()
	feed := "region,time,temperature_c\n" +
		"north,2026-12-07T04:00:00Z,1.5\n" +
		"north,2026-12-07T08:00:00Z,-3.5\n" + // the latest: too cold
		"north,2026-12-07T12:00:00Z,4\n" + // a forecast: not observed yet
		"south,2026-12-07T08:30:00Z,38.2\n" +
		"west,2026-12-07T02:30:00Z,-8\n" // older than 6 hours: not counted
	if n, err := g.h.ImportWeather(ctx, strings.NewReader(feed), "ops"); err != nil || n != 5 {
		t.Fatalf("import: %d %v", n, err)
	}
	if r, ok := g.audit.last(audit.ConfigChange); !ok || r.Actor != "ops" || r.Target != "weather" || r.Details["observations"] != "5" {
		t.Fatalf("audit record of the import: %+v", r)
	}
	_, err := g.disconnect(t, "north-ams", "")
	g.refused(t, err, "north-ams", `region "north" is at -3.5 °C (observed 2026-12-07T08:00:00Z), below 0 °C`)
	_, err = g.disconnect(t, "south-utc", "")
	g.refused(t, err, "south-utc", `region "south" is at 38.2 °C`, "above 35 °C")

	c, err := g.disconnect(t, "west-ams", "")
	if err != nil || !strings.Contains(c.Reason, `no temperature observed in region "west" within 6h0m0s: weather guard not applied`) {
		t.Fatalf("disconnect without a recent observation: %+v %v", c, err)
	}
	c, err = g.disconnect(t, "north-ams", "cold, but the customer asked in writing")
	if err != nil || c.Override == "" || !strings.Contains(c.Reason, "overridden") {
		t.Fatalf("overridden cold disconnect: %+v %v", c, err)
	}
	// A milder observation later lifts the guard.
	if _, err := g.h.ImportWeather(ctx, strings.NewReader("region,time,temperature_c\nnorth,2026-12-07T08:45:00Z,2\n"), "ops"); err != nil {
		t.Fatal(err)
	}
	if c, err := g.disconnect(t, "north-ams", ""); err != nil || c.Reason != "" {
		t.Fatalf("mild disconnect: %+v %v", c, err)
	}
	// A bad feed names its line and stores nothing.
	_, err = g.h.ImportWeather(ctx, strings.NewReader("region,time,temperature_c\nnorth,2026-12-07T08:50:00Z,-9\nnorth,yesterday,3\n"), "ops")
	var we *headend.WeatherError
	if !errors.As(err, &we) || we.Line != 3 || we.Column != "time" || !errors.Is(err, headend.ErrBadWeather) {
		t.Fatalf("bad feed: %v", err)
	}
	if _, err := g.disconnect(t, "north-ams", ""); err != nil {
		t.Fatalf("the bad feed's good line was kept: %v", err)
	}
}

func TestSafeguardWeekendsAndHolidays(t *testing.T) {
	cfg := headend.DefaultSafeguards()
	cfg.Holidays = map[string][]cim.Date{"west": {{Year: 2026, Month: 12, Day: 8}}, headend.AllRegions: {{Year: 2026, Month: 12, Day: 25}}}
	// Friday 23:30 UTC is already Saturday in Amsterdam.
	friday := time.Date(2026, 12, 11, 23, 30, 0, 0, time.UTC)
	g := newGuardRig(t, cfg, friday)
	_, err := g.disconnect(t, "west-ams", "")
	g.refused(t, err, "west-ams", "Saturday 2026-12-12 is a weekend day in Europe/Amsterdam")
	if _, err := g.disconnect(t, "south-utc", ""); err != nil {
		t.Fatalf("Friday in UTC: %v", err)
	}
	g.now = time.Date(2026, 12, 13, 12, 0, 0, 0, time.UTC)
	_, err = g.disconnect(t, "south-utc", "")
	g.refused(t, err, "south-utc", "Sunday 2026-12-13 is a weekend day in UTC")

	// A regional holiday holds only in its region; a national one in all.
	g.now = time.Date(2026, 12, 8, 10, 0, 0, 0, time.UTC)
	_, err = g.disconnect(t, "west-ams", "")
	g.refused(t, err, "west-ams", `2026-12-08 is a holiday in region "west"`)
	if _, err := g.disconnect(t, "south-utc", ""); err != nil {
		t.Fatalf("holiday of another region: %v", err)
	}
	g.now = time.Date(2026, 12, 25, 10, 0, 0, 0, time.UTC)
	_, err = g.disconnect(t, "south-utc", "")
	g.refused(t, err, "south-utc", `2026-12-25 is a holiday in region "south"`)

	// A disconnect scheduled for Monday, issued on a Sunday, is judged by
	// Monday.
	g.now = time.Date(2026, 12, 13, 12, 0, 0, 0, time.UTC)
	if _, _, err := g.h.Issue(context.Background(), cim.EndDeviceControl{MeterID: "south-utc", Type: cim.ControlDisconnect,
		ScheduledAt: time.Date(2026, 12, 14, 9, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatalf("disconnect scheduled for a Monday: %v", err)
	}
	c, err := g.disconnect(t, "south-utc", "meter swap booked with the customer")
	if err != nil || !strings.Contains(c.Reason, "weekend day") {
		t.Fatalf("overridden weekend disconnect: %+v %v", c, err)
	}
	// Other commands are not guarded.
	if _, _, err := g.h.Issue(context.Background(), cim.EndDeviceControl{MeterID: "south-utc", Type: cim.ControlPing}); err != nil {
		t.Fatalf("ping on a Sunday: %v", err)
	}
}

// TestSafeguardsAllNamed: a refusal names every guard that applies.
func TestSafeguardsAllNamed(t *testing.T) {
	g := newGuardRig(t, headend.DefaultSafeguards(), time.Date(2026, 12, 12, 9, 0, 0, 0, time.UTC))
	if _, err := g.h.ImportWeather(context.Background(), strings.NewReader("region,time,temperature_c\nwest,2026-12-12T08:00:00Z,-12\n"), "ops"); err != nil {
		t.Fatal(err)
	}
	_, err := g.disconnect(t, "west-med", "")
	g.refused(t, err, "west-med", "flagged medical", "-12 °C", "Saturday 2026-12-12")
}

func TestReconnectSpread(t *testing.T) {
	g := newGuardRig(t, headend.DefaultSafeguards(), monday)
	ctx := context.Background()
	const n = 1000
	window := 300
	perSecond := make([]int, window+1)
	for i := range n {
		typ := cim.ControlReconnect
		if i%2 == 1 {
			typ = cim.ControlArmReconnect
		}
		c, _, err := g.h.Issue(ctx, cim.EndDeviceControl{MeterID: "west-ams", Type: typ})
		if err != nil {
			t.Fatal(err)
		}
		d := c.ScheduledAt.Sub(monday)
		if d < 0 || d > time.Duration(window)*time.Second {
			t.Fatalf("reconnect %d scheduled %s after its issue, outside the window", i, d)
		}
		perSecond[int(d/time.Second)]++
	}
	busiest, used := 0, 0
	for _, k := range perSecond {
		busiest = max(busiest, k)
		if k > 0 {
			used++
		}
	}
	t.Logf("%d reconnects over %d s: %d seconds used, the busiest holds %d", n, window, used, busiest)
	if busiest > n*3/100 {
		t.Errorf("one second holds %d of %d reconnects", busiest, n)
	}
	if used < window*3/4 {
		t.Errorf("only %d of %d seconds used", used, window)
	}
	// A reconnect scheduled later is spread after its own time; one that
	// expires soon stays within its life.
	at := monday.Add(time.Hour)
	c, _, err := g.h.Issue(ctx, cim.EndDeviceControl{MeterID: "west-ams", Type: cim.ControlReconnect, ScheduledAt: at})
	if err != nil || c.ScheduledAt.Before(at) || c.ScheduledAt.After(at.Add(300*time.Second)) {
		t.Fatalf("scheduled reconnect moved to %s (%v)", c.ScheduledAt, err)
	}
	c, _, err = g.h.Issue(ctx, cim.EndDeviceControl{MeterID: "west-ams", Type: cim.ControlReconnect, ExpiresAt: monday.Add(time.Minute)})
	if err != nil || c.ScheduledAt.After(monday.Add(30*time.Second)) {
		t.Fatalf("short-lived reconnect moved to %s (%v)", c.ScheduledAt, err)
	}
	// Disconnects and other commands keep their time.
	if c, _, err := g.h.Issue(ctx, cim.EndDeviceControl{MeterID: "west-ams", Type: cim.ControlPing}); err != nil || c.ScheduledAt.After(monday) {
		t.Fatalf("ping moved to %s (%v)", c.ScheduledAt, err)
	}
}

func TestSafeguardSettingsChecked(t *testing.T) {
	r := newRig(t, 1, 1, headend.CollectionConfig{})
	for _, cfg := range []headend.SafeguardConfig{
		{ReconnectWindow: 601 * time.Second},
		{ReconnectWindow: -time.Second},
		{Weather: true, ColdC: 10, HotC: 5, WeatherMaxAge: time.Hour},
		{Weather: true, ColdC: 0, HotC: 30},
	} {
		if _, err := headend.New(headend.Options{Store: r.st, Bus: r.bus, Secrets: plainSecrets{}, Safeguards: &cfg}); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}
