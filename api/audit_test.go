package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/audit"
	"github.com/amigo-ami/amigo/auth"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
)

// newAuditRig serves the API with an audit trail and a head-end stub, for
// an admin, an operator and an engineer.
func newAuditRig(t *testing.T) (*authRig, *audit.Log) {
	t.Helper()
	st, _ := storetest.OpenSQLite(t)
	ctx := context.Background()
	log := audit.New(st)
	svc, err := auth.New(st.(store.Users), auth.Options{Audit: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutUsagePoints(ctx, cim.UsagePoint{MRID: "up-1", TimeZone: "UTC"}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutMeters(ctx, cim.Meter{MRID: "m1", UsagePointID: "up-1"}); err != nil {
		t.Fatal(err)
	}
	date := cim.DateOf(time.Now(), time.UTC).AddDays(-1)
	d := interval.Day{MeterID: "m1", Channel: "A+15m", Date: date, Start: date.Start(time.UTC), Interval: 15 * time.Minute,
		Values: make([]int64, 96), Quality: make([]cim.Quality, 96)}
	if _, err := st.PutDays(ctx, []interval.Day{d}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []struct {
		name string
		role auth.Role
	}{{"admin", auth.Admin}, {"olga", auth.Operator}, {"eve", auth.Engineer}} {
		if _, err := svc.CreateUser(ctx, u.name, pw, u.role, nil); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(New(Deps{Store: st, Auth: svc, HeadEnd: stubHeadEnd{}, Audit: log}))
	t.Cleanup(srv.Close)
	return &authRig{srv: srv, st: st, auth: svc}, log
}

func TestAuditRoute(t *testing.T) {
	r, log := newAuditRig(t)
	olga, eve, admin := r.login(t, "olga"), r.login(t, "eve"), r.login(t, "admin")
	if code, _, _ := olga.call("GET", "/api/v1/audit", ""); code != 403 {
		t.Fatalf("operator reads the trail: %d", code)
	}
	if code, _, _ := olga.call("POST", "/api/v1/users", `{"name":"x","password":"`+pw+`","role":"operator"}`); code != 403 {
		t.Fatalf("operator makes a user: %d", code)
	}
	day := cim.DateOf(time.Now(), time.UTC).AddDays(-1).String()
	if code, _, _ := admin.call("GET", "/api/v1/usage-points/up-1/export?format=csv&from="+day+"&to="+day, ""); code != 200 {
		t.Fatalf("export: %d", code)
	}
	if code, m, _ := eve.call("POST", importPath, "mrid\n"); code >= 500 {
		t.Fatalf("import: %d %v", code, m)
	}
	code, m, body := admin.call("GET", "/api/v1/audit?limit=1000", "")
	if code != 200 {
		t.Fatalf("trail: %d %v", code, m)
	}
	var page struct {
		Items []audit.Record `json:"items"`
		Next  string         `json:"next"`
	}
	json.Unmarshal([]byte(body), &page)
	var got []string
	for _, rec := range page.Items {
		got = append(got, fmt.Sprintf("%s %s %s %s", rec.Actor, rec.Action, rec.Target, rec.Outcome))
	}
	for _, want := range []string{
		"olga denied GET /api/v1/audit refused",
		"olga denied POST /api/v1/users refused",
		"admin export up-1 ok",
		"eve config-change POST " + importPath + " refused", // a manifest without its columns
		"admin sign-in admin ok",
	} {
		if !strings.Contains(strings.Join(got, "\n"), want) {
			t.Errorf("the trail lacks %q:\n%s", want, strings.Join(got, "\n"))
		}
	}
	if len(page.Items) < 2 || page.Items[0].Seq < page.Items[1].Seq {
		t.Fatal("the trail is not newest first")
	}
	// Filters and paging.
	_, _, body = admin.call("GET", "/api/v1/audit?actor=olga&action=denied&limit=1", "")
	json.Unmarshal([]byte(body), &page)
	if len(page.Items) != 1 || page.Items[0].Target != "POST /api/v1/users" || page.Next == "" {
		t.Fatalf("filtered first page: %s", body)
	}
	_, _, body = admin.call("GET", "/api/v1/audit?actor=olga&action=denied&limit=1&before="+page.Next, "")
	json.Unmarshal([]byte(body), &page)
	if len(page.Items) != 1 || page.Items[0].Target != "GET /api/v1/audit" {
		t.Fatalf("second page: %s", body)
	}
	for _, q := range []string{"before=x", "from=yesterday", "limit=0", "colour=red"} {
		if code, _, _ := admin.call("GET", "/api/v1/audit?"+q, ""); code != 400 {
			t.Errorf("?%s: %d, want 400", q, code)
		}
	}
	// The answer carries only what the schema documents.
	_, _, docBody := admin.call("GET", "/api/v1/openapi.json", "")
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]any `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	json.Unmarshal([]byte(docBody), &doc)
	_, _, body = admin.call("GET", "/api/v1/audit", "")
	var raw struct {
		Items []map[string]any `json:"items"`
	}
	json.Unmarshal([]byte(body), &raw)
	for _, it := range raw.Items {
		for k := range it {
			if _, ok := doc.Components.Schemas["AuditRecord"].Properties[k]; !ok {
				t.Errorf("a record answers %q, which AuditRecord does not document", k)
			}
		}
	}
	rep, err := audit.Verify(context.Background(), r.st, audit.VerifyOptions{})
	if err != nil || !rep.OK() {
		t.Fatalf("the trail the API wrote: %v %v", rep.Faults, err)
	}
	if recs, _ := log.Records(context.Background(), audit.Query{Action: audit.Export}); len(recs) != 1 || recs[0].Details["query"] == "" {
		t.Fatalf("export records %+v", recs)
	}
}
