package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/audit"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/dr"
)

// drIssuer stands in for the head-end: one command per correlation id.
type drIssuer struct {
	mu   sync.Mutex
	cmds map[string]cim.EndDeviceControl
}

func (i *drIssuer) Issue(_ context.Context, c cim.EndDeviceControl) (cim.EndDeviceControl, bool, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if old, ok := i.cmds[c.CorrelationID]; ok {
		return old, false, nil
	}
	i.cmds[c.CorrelationID] = c
	return c, true, nil
}

// TestDRRoutes drives demand response through the API: an engineer-only
// program, an operator's event approved by a second person, the
// household told of it and opting out (and no other household for it),
// results and cancellation; each answer in its documented shape.
func TestDRRoutes(t *testing.T) {
	r := newAuthRig(t)
	t0 := time.Now().UTC().Truncate(time.Second)
	var mu sync.Mutex
	now := t0
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	iss := &drIssuer{cmds: map[string]cim.EndDeviceControl{}}
	svc := dr.New(r.st, iss, dr.Config{Now: clock, Logger: slog.New(slog.DiscardHandler)})
	trail := audit.New(r.st)
	ts := httptest.NewServer(New(Deps{Store: r.st, Auth: r.auth, DR: svc, Audit: trail, MaxBodyBytes: 4096}))
	defer ts.Close()
	login := func(user string) *session {
		s := r.login(t, user)
		s.base = ts.URL
		return s
	}
	admin, olga, anna, bert := login("admin"), login("olga"), login("anna"), login("bert")
	_, _, doc := admin.call("GET", "/api/v1/openapi.json", "")
	var spec struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]any `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal([]byte(doc), &spec); err != nil {
		t.Fatal(err)
	}
	shape := func(what, schema string, m map[string]any) {
		t.Helper()
		props := spec.Components.Schemas[schema].Properties
		for k := range m {
			if _, ok := props[k]; !ok {
				t.Errorf("%s answers %q, which schema %s does not document", what, k, schema)
			}
		}
	}

	prog := `{"name":"Winter peak","kind":"load-limit","noticeSeconds":3600,"randomizeSeconds":300,"baseline":"10of10","adjust":true,"incentive":20,"currency":"EUR","floorW":1000,"approval":true}`
	if code, m, _ := olga.call("PUT", "/api/v1/dr/programs/peak", prog); code != 403 {
		t.Fatalf("an operator made a program: %d %v", code, m)
	}
	if code, m, _ := admin.call("PUT", "/api/v1/dr/programs/peak", `{"name":"x","kind":"load-limit","randomizeSeconds":700,"baseline":"10of10"}`); code != 422 {
		t.Fatalf("randomize over 600 s: %d %v", code, m)
	}
	code, m, _ := admin.call("PUT", "/api/v1/dr/programs/peak", prog)
	if code != 200 || m["id"] != "peak" || m["randomizeSeconds"] != 300.0 {
		t.Fatalf("program: %d %v", code, m)
	}
	shape("program", "DRProgram", m)
	if code, m, _ := olga.call("GET", "/api/v1/dr/programs", ""); code != 200 || len(m["items"].([]any)) != 1 {
		t.Fatalf("programs: %d %v", code, m)
	}
	for _, b := range []string{`{"usagePointId":"up-1","meterId":"m1"}`, `{"usagePointId":"up-2","meterId":"m2"}`} {
		if code, m, _ := admin.call("POST", "/api/v1/dr/programs/peak/enrolments", b); code != 201 {
			t.Fatalf("enrol: %d %v", code, m)
		}
	}
	if code, m, _ := admin.call("POST", "/api/v1/dr/programs/peak/enrolments", `{"usagePointId":"up-1","meterId":"m2"}`); code != 422 {
		t.Fatalf("enrol with another's meter: %d %v", code, m)
	}
	if code, m, _ := olga.call("GET", "/api/v1/dr/programs/peak/enrolments", ""); code != 200 || len(m["items"].([]any)) != 2 {
		t.Fatalf("enrolments: %d %v", code, m)
	}

	start, end := t0.Add(2*time.Hour), t0.Add(4*time.Hour)
	ev := func(w int) string {
		return `{"id":"E1","programId":"peak","start":"` + start.Format(time.RFC3339) + `","end":"` + end.Format(time.RFC3339) + `","signal":{"thresholdW":` + itoa(w) + `}}`
	}
	if code, m, _ := olga.call("POST", "/api/v1/dr/events", ev(500)); code != 422 {
		t.Fatalf("a limit below the floor: %d %v", code, m)
	}
	code, m, _ = olga.call("POST", "/api/v1/dr/events", ev(2000))
	if code != 201 || m["status"] != dr.StatusAwaitingApproval || m["createdBy"] != "olga" {
		t.Fatalf("event: %d %v", code, m)
	}
	shape("event", "DREvent", m)
	if code, _, _ := olga.call("POST", "/api/v1/dr/events", ev(2000)); code != 200 {
		t.Fatalf("event again: %d", code)
	}
	if code, m, _ := olga.call("POST", "/api/v1/dr/events/E1/approve", ""); code != 403 {
		t.Fatalf("the operator approved (or could try) their own: %d %v", code, m)
	}
	if code, m, _ := admin.call("POST", "/api/v1/dr/events/E1/approve", ""); code != 200 || m["status"] != dr.StatusScheduled || m["approvedBy"] != "admin" {
		t.Fatalf("approve: %d %v", code, m)
	}
	e2 := strings.Replace(ev(2000), `"id":"E1"`, `"id":"E2"`, 1)
	if code, m, _ := admin.call("POST", "/api/v1/dr/events", e2); code != 201 {
		t.Fatalf("admin's event: %d %v", code, m)
	}
	if code, m, _ := admin.call("POST", "/api/v1/dr/events/E2/approve", ""); code != 403 || authErrCode(m) != "self_approval" {
		t.Fatalf("the creator approved their own event: %d %v", code, m)
	}
	if code, m, _ := admin.call("POST", "/api/v1/dr/events/E1/approve", ""); code != 409 {
		t.Fatalf("approve twice: %d %v", code, m)
	}

	// Before the notice the household sees nothing; at it, its event.
	if code, m, _ := anna.call("GET", "/api/v1/usage-points/up-1/dr-events", ""); code != 200 || len(m["items"].([]any)) != 0 {
		t.Fatalf("before the notice: %d %v", code, m)
	}
	mu.Lock()
	now = start.Add(-time.Hour)
	mu.Unlock()
	if err := svc.Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	code, m, _ = anna.call("GET", "/api/v1/usage-points/up-1/dr-events", "")
	if code != 200 || len(m["items"].([]any)) != 1 {
		t.Fatalf("the household's events: %d %v", code, m)
	}
	it := m["items"].([]any)[0].(map[string]any)
	shape("household event", "DRParticipant", it)
	if it["event"].(map[string]any)["id"] != "E1" || it["notifiedAt"] == nil || it["dispatchedAt"] == nil {
		t.Fatalf("household event: %v", it)
	}
	if code, _, _ := bert.call("GET", "/api/v1/usage-points/up-1/dr-events", ""); code != 403 {
		t.Fatalf("another household read up-1's events: %d", code)
	}
	if code, _, _ := bert.call("POST", "/api/v1/usage-points/up-1/dr-events/E1/opt-out", ""); code != 403 {
		t.Fatalf("another household opted up-1 out: %d", code)
	}
	if code, _, _ := olga.call("POST", "/api/v1/usage-points/up-1/dr-events/E1/opt-out", ""); code != 403 {
		t.Fatalf("staff opted a household out: %d", code)
	}
	code, m, _ = anna.call("POST", "/api/v1/usage-points/up-1/dr-events/E1/opt-out", "")
	if code != 200 || m["optedOutAt"] == nil || m["countermandedAt"] == nil {
		t.Fatalf("opt-out: %d %v", code, m)
	}
	if code, _, _ := anna.call("POST", "/api/v1/usage-points/up-1/dr-events/E1/opt-out", ""); code != 409 {
		t.Fatalf("opt out twice: %d", code)
	}
	iss.mu.Lock()
	_, countermanded := iss.cmds[dr.CorrelationID("E1", "up-1")+"/countermand"]
	n := len(iss.cmds)
	iss.mu.Unlock()
	if !countermanded || n != 3 {
		t.Fatalf("%d commands, countermand %v", n, countermanded)
	}

	code, m, _ = olga.call("GET", "/api/v1/dr/events/E1/participants", "")
	if code != 200 || len(m["items"].([]any)) != 2 {
		t.Fatalf("participants: %d %v", code, m)
	}
	shape("participant", "DRParticipant", m["items"].([]any)[1].(map[string]any))
	code, m, _ = olga.call("GET", "/api/v1/dr/events/E1/results", "")
	if code != 200 || m["participants"] != 2.0 || m["optedOut"] != 1.0 || m["payment"] != 0.0 {
		t.Fatalf("results: %d %v", code, m)
	}
	shape("results", "DRResults", m)
	for _, x := range m["results"].([]any) {
		x := x.(map[string]any)
		shape("result", "DRResult", x)
		if x["usagePointId"] == "up-1" && x["status"] != dr.ResultOptedOut {
			t.Fatalf("up-1 settled: %v", x)
		}
	}
	if code, m, _ := olga.call("GET", "/api/v1/dr/events?program=peak&status=notified", ""); code != 200 || len(m["items"].([]any)) != 1 {
		t.Fatalf("events: %d %v", code, m)
	}
	if code, m, _ := olga.call("GET", "/api/v1/dr/events?from=yesterday", ""); code != 400 {
		t.Fatalf("bad from: %d %v", code, m)
	}
	if code, m, _ := olga.call("POST", "/api/v1/dr/events/E1/cancel", `{"reason":"grid recovered"}`); code != 200 || m["status"] != dr.StatusCancelled {
		t.Fatalf("cancel: %d %v", code, m)
	}
	if code, _, _ := olga.call("GET", "/api/v1/dr/events/nope", ""); code != 404 {
		t.Fatalf("missing event: %d", code)
	}
	// The decisions are on the audit trail, each with its person.
	for _, w := range []struct {
		action      audit.Action
		actor, path string
	}{{audit.CommandIssue, "olga", "POST /api/v1/dr/events"}, {audit.CommandApprove, "admin", "E1"},
		{audit.ConsentRevoke, "anna", "up-1"}, {audit.CommandIssue, "olga", "E1"}} {
		recs, err := trail.Records(context.Background(), audit.Query{Action: w.action, Actor: w.actor})
		found := false
		for _, rec := range recs {
			found = found || (rec.Target == w.path && rec.Outcome == audit.OK)
		}
		if err != nil || !found {
			t.Errorf("no %s by %s on %s in the trail: %+v %v", w.action, w.actor, w.path, recs, err)
		}
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
