package api

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/billing"
	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/tariff"
)

// touTariff: off-peak (register 1) at night, peak (register 2) from 07:00
// to 23:00, every day alike.
const touTariff = `id: tou
name: Two-rate
currency: EUR
effective_from: 2020-01-01
seasons:
  - name: all
    start: "01-01"
    days:
      - types: [working, saturday, sunday, holiday]
        periods:
          - {name: off-peak, from: "00:00", to: "07:00", price: 200000, register: 1}
          - {name: peak, from: "07:00", to: "23:00", price: 300000, register: 2}
          - {name: off-peak, from: "23:00", to: "24:00", price: 200000, register: 1}
`

// TestTariffToTheMeter: a tariff version goes to the meters on it as
// their activity calendar (once; the head-end's calendar limit holds the
// third for approval), and a meter whose TOU registers disagree with the
// MDM's buckets is reported with the numbers.
func TestTariffToTheMeter(t *testing.T) {
	r := newAuthRig(t)
	ctx := context.Background()
	b, err := bus.Open(ctx, bus.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close(context.Background()) })
	h, err := headend.New(headend.Options{Store: r.st, Bus: b, Secrets: openSecrets{}, Approvals: headend.ApprovalConfig{CalendarMeters: 2}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(Deps{Store: r.st, Auth: r.auth, HeadEnd: h, MaxBodyBytes: 1 << 16}))
	defer srv.Close()
	admin, olga, anna := r.login(t, "admin"), r.login(t, "olga"), r.login(t, "anna")
	for _, s := range []*session{admin, olga, anna} {
		s.base = srv.URL
	}
	// up-3 has a meter that was never read, up-4 none at all.
	if err := r.st.PutUsagePoints(ctx, cim.UsagePoint{MRID: "up-3", TimeZone: "UTC"}, cim.UsagePoint{MRID: "up-4", TimeZone: "UTC"}); err != nil {
		t.Fatal(err)
	}
	if err := r.st.PutMeters(ctx, cim.Meter{MRID: "m3", UsagePointID: "up-3"}); err != nil {
		t.Fatal(err)
	}
	if code, m, _ := admin.call("PUT", "/api/v1/tariffs/tou/versions/1", touTariff); code != 200 {
		t.Fatalf("file tariff: %d %v", code, m)
	}
	for _, up := range []string{"up-1", "up-2", "up-3", "up-4"} {
		if code, m, _ := admin.call("PUT", "/api/v1/usage-points/"+up+"/tariff-assignments", `{"tariffId": "tou", "from": "2019-06-01"}`); code != 200 {
			t.Fatalf("assign %s: %d %v", up, code, m)
		}
	}

	if code, m, _ := anna.call("POST", "/api/v1/tariffs/tou/versions/1/send", ""); code != 403 {
		t.Errorf("a household sends a calendar: %d %v", code, m)
	}
	if code, m, _ := olga.call("POST", "/api/v1/tariffs/tou/versions/7/send", ""); code != 404 {
		t.Errorf("an unfiled version: %d %v", code, m)
	}
	code, m, _ := olga.call("POST", "/api/v1/tariffs/tou/versions/1/send", "")
	if code != 200 || m["meters"] != 3.0 || m["issued"] != 2.0 || m["awaitingApproval"] != 1.0 || m["alreadyIssued"] != 0.0 ||
		len(m["failed"].([]any)) != 0 || len(m["unsupported"].([]any)) != 0 || len(m["noMeter"].([]any)) != 1 || m["noMeter"].([]any)[0] != "up-4" {
		t.Fatalf("send: %d %v", code, m)
	}
	_, _, body := olga.call("GET", "/api/v1/openapi.json", "")
	var doc map[string]any
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	props := documented(t, doc, "CalendarSend")
	for k := range m {
		if !props[k] {
			t.Errorf("send answers %q, which schema CalendarSend does not document", k)
		}
	}
	code, m, _ = olga.call("POST", "/api/v1/tariffs/tou/versions/1/send", "")
	if code != 200 || m["alreadyIssued"] != 3.0 || m["issued"] != 0.0 || m["awaitingApproval"] != 0.0 {
		t.Fatalf("send again: %d %v", code, m)
	}

	// Each meter has one command carrying the tariff's calendar, from
	// midnight of the effective date.
	tf, err := tariff.ParseTariff([]byte(touTariff))
	if err != nil {
		t.Fatal(err)
	}
	tf.Version = 1
	tc, err := tf.TOUCalendar(nil)
	if err != nil {
		t.Fatal(err)
	}
	mc, _, err := billing.NewMeterCalendar(tf, tc)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"m1", "m2", "m3"} {
		cs, err := r.st.Controls(ctx, store.ControlQuery{MeterID: id})
		if err != nil || len(cs) != 1 {
			t.Fatalf("%s: commands %+v, %v", id, cs, err)
		}
		c := cs[0]
		if c.Type != cim.ControlSetCalendar || c.Parameters["calendar"] != mc.JSON() || c.Parameters["activate"] != "2020-01-01T00:00:00Z" || c.IssuedBy != "olga" {
			t.Errorf("%s: command %+v, want calendar %s", id, c, mc.JSON())
		}
		if want := id == "m3"; (c.Status == cim.ControlAwaitingApproval) != want {
			t.Errorf("%s: status %s", id, c.Status)
		}
	}

	// Yesterday's 96 intervals of 40 Wh: 32 off-peak (1,280 Wh), 64 peak
	// (2,560 Wh). m1's registers agree; m2's peak register counted 500 Wh
	// more.
	day := cim.DateOf(time.Now(), time.UTC).AddDays(-1)
	var reads []store.RegisterRead
	for _, m := range []struct {
		id   string
		peak int64
	}{{"m1", 2560}, {"m2", 3060}} {
		for reg, used := range []int64{1280, m.peak, 0, 0} {
			rt := []string{"A+T1", "A+T2", "A+T3", "A+T4"}[reg]
			reads = append(reads, store.RegisterRead{MeterID: m.id, ReadingType: rt, TimeStamp: day.Start(time.UTC), Value: 10000},
				store.RegisterRead{MeterID: m.id, ReadingType: rt, TimeStamp: day.AddDays(1).Start(time.UTC), Value: 10000 + used})
		}
	}
	if _, err := r.st.PutRegisterReads(ctx, reads); err != nil {
		t.Fatal(err)
	}
	path := "/api/v1/tariffs/tou/versions/1/register-check?from=" + day.String() + "&to=" + day.AddDays(2).String()
	if code, m, _ := anna.call("GET", path, ""); code != 403 {
		t.Errorf("a household checks registers: %d %v", code, m)
	}
	if code, m, _ := olga.call("GET", "/api/v1/tariffs/tou/versions/1/register-check?from="+day.String()+"&to="+day.String(), ""); code != 400 {
		t.Errorf("an empty span: %d %v", code, m)
	}
	code, m, _ = olga.call("GET", path, "")
	if code != 200 || m["agree"] != 1.0 || m["disagree"] != 1.0 || m["unchecked"] != 1.0 || len(m["items"].([]any)) != 3 {
		t.Fatalf("register check: %d %v", code, m)
	}
	items := m["items"].([]any)
	m1, m2, m3 := items[0].(map[string]any), items[1].(map[string]any), items[2].(map[string]any)
	if m1["meter"] != "m1" || m1["verdict"] != "agrees" || m3["meter"] != "m3" || m3["verdict"] != "not-checked" || m3["problem"] == "" {
		t.Errorf("m1 %v, m3 %v", m1, m3)
	}
	peak := m2["registers"].([]any)[1].(map[string]any)
	if m2["meter"] != "m2" || m2["verdict"] != "disagrees" || peak["register"] != 2.0 || peak["meterWh"] != 3060.0 || peak["mdmWh"] != 2560.0 || peak["differenceWh"] != 500.0 {
		t.Errorf("m2 %v", m2)
	}
	// A tolerance of 20 % lets m2's register pass.
	if code, m, _ := olga.call("GET", path+"&tolerancePermille=200", ""); code != 200 || m["agree"] != 2.0 || m["disagree"] != 0.0 {
		t.Errorf("with 20 %%: %d %v", code, m)
	}
	checkShape(t, olga, map[string]string{path: "RegisterCheck"})
}
