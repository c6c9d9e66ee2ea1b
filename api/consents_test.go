package api

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/amigo-ami/amigo/audit"
	"github.com/amigo-ami/amigo/store"
)

// TestConsentsByTheHousehold: a household grants and revokes its own
// consent, nobody else can, each decision is in the audit trail, and the
// bridge hears of it.
func TestConsentsByTheHousehold(t *testing.T) {
	r := newAuthRig(t)
	trail := audit.New(r.st)
	var mu sync.Mutex
	var heard []string
	srv := httptest.NewServer(New(Deps{Store: r.st, Auth: r.auth, Audit: trail, ConsentChanged: func(up, purpose string) {
		mu.Lock()
		heard = append(heard, up+" "+purpose)
		mu.Unlock()
	}}))
	defer srv.Close()
	anna, bert, olga := r.login(t, "anna"), r.login(t, "bert"), r.login(t, "olga")
	for _, s := range []*session{anna, bert, olga} {
		s.base = srv.URL
	}
	const hn = "/api/v1/usage-points/up-1/consents/home-network"

	if code, m, _ := anna.call("GET", "/api/v1/usage-points/up-1/consents", ""); code != 200 || len(m["items"].([]any)) != 0 {
		t.Fatalf("no consents yet: %d %v", code, m)
	}
	// Another household, and staff, cannot consent for anna's home.
	if code, m, _ := bert.call("PUT", hn, ""); code != 403 {
		t.Errorf("bert grants for up-1: %d %v", code, m)
	}
	if code, m, _ := olga.call("PUT", hn, ""); code != 403 || authErrCode(m) != "forbidden" {
		t.Errorf("an operator grants for up-1: %d %v", code, m)
	}
	if code, m, _ := anna.call("PUT", "/api/v1/usage-points/up-1/consents/marketing", ""); code != 404 {
		t.Errorf("unknown purpose: %d %v", code, m)
	}
	code, m, _ := anna.call("PUT", hn, "")
	if code != 200 || m["usagePoint"] != "up-1" || m["purpose"] != store.ConsentHomeNetwork || m["grantedBy"] != "anna" {
		t.Fatalf("anna grants: %d %v", code, m)
	}
	if ok, err := r.st.HasConsent(context.Background(), "up-1", store.ConsentHomeNetwork); err != nil || !ok {
		t.Fatalf("stored: %v %v", ok, err)
	}
	// Staff see it; the household lists it.
	if code, m, _ := olga.call("GET", "/api/v1/usage-points/up-1/consents", ""); code != 200 || len(m["items"].([]any)) != 1 {
		t.Errorf("olga lists: %d %v", code, m)
	}
	if code, _, _ := bert.call("GET", "/api/v1/usage-points/up-1/consents", ""); code != 403 {
		t.Errorf("bert lists up-1's consents: %d", code)
	}
	if code, m, _ := anna.call("DELETE", hn, ""); code != 204 {
		t.Fatalf("anna revokes: %d %v", code, m)
	}
	if ok, _ := r.st.HasConsent(context.Background(), "up-1", store.ConsentHomeNetwork); ok {
		t.Fatal("consent still in force after revoke")
	}
	if code, m, _ := anna.call("DELETE", hn, ""); code != 204 {
		t.Errorf("revoke again: %d %v", code, m)
	}

	mu.Lock()
	if len(heard) != 2 || heard[0] != "up-1 home-network" || heard[1] != "up-1 home-network" {
		t.Errorf("the bridge heard %v", heard)
	}
	mu.Unlock()
	for _, want := range []audit.Action{audit.ConsentGrant, audit.ConsentRevoke} {
		recs, err := trail.Records(context.Background(), audit.Query{Action: want})
		if err != nil || len(recs) != 1 || recs[0].Actor != "anna" || recs[0].Target != "up-1" || recs[0].Details["purpose"] != "home-network" || recs[0].Outcome != audit.OK {
			t.Errorf("%s in the trail: %+v %v", want, recs, err)
		}
	}
	// Refusals are in the trail as denied.
	denied, err := trail.Records(context.Background(), audit.Query{Action: audit.Denied})
	if err != nil || len(denied) < 2 {
		t.Errorf("denied records %+v %v", denied, err)
	}
}
