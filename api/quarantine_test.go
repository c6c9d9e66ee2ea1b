package api

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/amigo-ami/amigo/auth"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/store"
)

// fakeQuarantine answers the quarantine routes and keeps what it was
// asked to decide.
type fakeQuarantine struct {
	stubHeadEnd
	mu    sync.Mutex
	asked []string
}

func (f *fakeQuarantine) Quarantine(_ context.Context, q headend.QuarantineFilter, after string, limit int) ([]store.QuarantineGroup, []cim.EndDeviceControl, error) {
	return []store.QuarantineGroup{{IssuedBy: "mallory", Type: cim.ControlDisconnect, Count: 2}},
		[]cim.EndDeviceControl{{MRID: "c1", MeterID: "m1", Type: cim.ControlDisconnect, Status: cim.ControlQuarantined, IssuedBy: "mallory"}}[:min(limit, 1)], nil
}

func (f *fakeQuarantine) decide(what string, q headend.QuarantineFilter, by string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if q.IssuedBy == "" && q.Type == "" && len(q.IDs) == 0 && q.From.IsZero() && q.To.IsZero() {
		return headend.ErrNoFilter
	}
	f.asked = append(f.asked, what+" "+q.IssuedBy+" by "+by)
	return nil
}

func (f *fakeQuarantine) Release(_ context.Context, q headend.QuarantineFilter, by string) (headend.QuarantineDecision, error) {
	return headend.QuarantineDecision{Released: 2}, f.decide("release", q, by)
}

func (f *fakeQuarantine) Discard(_ context.Context, q headend.QuarantineFilter, by, reason string) (headend.QuarantineDecision, error) {
	return headend.QuarantineDecision{Discarded: 2}, f.decide("discard", q, by)
}

// TestQuarantineRoutes: anyone who reads the fleet sees the quarantine;
// only a security officer releases or discards, with a filter, and a
// discard gives its reason.
func TestQuarantineRoutes(t *testing.T) {
	r := newAuthRig(t)
	if _, err := r.auth.CreateUser(context.Background(), "sid", pw, auth.SecurityOfficer, nil); err != nil {
		t.Fatal(err)
	}
	fq := &fakeQuarantine{}
	ts := httptest.NewServer(New(Deps{Store: r.st, Auth: r.auth, HeadEnd: fq}))
	defer ts.Close()
	as := func(user string) *session { s := r.login(t, user); s.base = ts.URL; return s }
	olga, admin, sid := as("olga"), as("admin"), as("sid")

	code, m, body := olga.call("GET", "/api/v1/quarantine?issuer=mallory&limit=1", "")
	if code != 200 || m["next"] != "c1" {
		t.Fatalf("list: %d %s", code, body)
	}
	var page quarantinePage
	if err := json.Unmarshal([]byte(body), &page); err != nil || len(page.Groups) != 1 || page.Groups[0].Count != 2 || page.Items[0].MRID != "c1" {
		t.Fatalf("page %+v %v", page, err)
	}
	if code, _, _ := olga.call("GET", "/api/v1/quarantine?from=yesterday", ""); code != 400 {
		t.Errorf("a bad time: %d", code)
	}
	for _, s := range []*session{olga, admin} {
		if code, _, _ := s.call("POST", "/api/v1/quarantine/release", `{"issuedBy":"mallory"}`); code != 403 {
			t.Errorf("release without the permission: %d", code)
		}
	}
	code, m, _ = sid.call("POST", "/api/v1/quarantine/release", `{"issuedBy":"mallory","type":"disconnect"}`)
	if code != 200 || m["released"] != 2.0 {
		t.Fatalf("release: %d %v", code, m)
	}
	if code, m, _ := sid.call("POST", "/api/v1/quarantine/release", `{}`); code != 422 || m["error"].(map[string]any)["code"] != "bad_decision" {
		t.Errorf("release of everything: %d %v", code, m)
	}
	if code, _, _ := sid.call("POST", "/api/v1/quarantine/discard", `{"ids":["c1"]}`); code != 400 {
		t.Errorf("discard without a reason: %d", code)
	}
	if code, _, _ := sid.call("POST", "/api/v1/quarantine/discard", `{"ids":["c1"],"surprise":1,"reason":"x"}`); code != 400 {
		t.Errorf("an unknown field: %d", code)
	}
	code, m, _ = sid.call("POST", "/api/v1/quarantine/discard", `{"issuedBy":"eve","reason":"not planned"}`)
	if code != 200 || m["discarded"] != 2.0 {
		t.Fatalf("discard: %d %v", code, m)
	}
	fq.mu.Lock()
	defer fq.mu.Unlock()
	if len(fq.asked) != 2 || fq.asked[0] != "release mallory by sid" || fq.asked[1] != "discard eve by sid" {
		t.Errorf("decisions asked: %v", fq.asked)
	}
}
