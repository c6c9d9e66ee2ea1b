package api

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/auth"
	"github.com/amigo-ami/amigo/campaign"
)

// TestCampaignRoutes drives a campaign through the API: an engineer's
// role may not create one, the creator may not approve their own, a
// security officer approves it, it runs to completion, and its report
// says so.
func TestCampaignRoutes(t *testing.T) {
	r := newAuthRig(t)
	if _, err := r.auth.CreateUser(context.Background(), "sofia", pw, auth.SecurityOfficer, nil); err != nil {
		t.Fatal(err)
	}
	eng := campaign.New(r.st, campaign.Options{Poll: 20 * time.Millisecond, Steps: map[string]campaign.Step{
		"firmware": func(context.Context, campaign.Campaign, string) (string, error) { return "image active", nil }}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); eng.Run(ctx) }()
	defer func() { cancel(); <-done }()
	ts := httptest.NewServer(New(Deps{Store: r.st, Auth: r.auth, Campaigns: eng, MaxBodyBytes: 4096}))
	defer ts.Close()
	login := func(user string) *session {
		s := r.login(t, user)
		s.base = ts.URL
		return s
	}
	admin, olga, sofia := login("admin"), login("olga"), login("sofia")

	body := `{"name":"fw 2.1","kind":"firmware","meters":["m1","m2"],"pilot":1}`
	if code, m, _ := olga.call("POST", "/api/v1/campaigns", body); code != 403 {
		t.Fatalf("an operator created a campaign: %d %v", code, m)
	}
	if code, m, _ := admin.call("POST", "/api/v1/campaigns", `{"kind":"firmware","meters":[]}`); code != 422 {
		t.Fatalf("a campaign of no meters: %d %v", code, m)
	}
	if code, m, _ := admin.call("POST", "/api/v1/campaigns", `{"kind":"key-rotation","meters":["m1"]}`); code != 422 {
		t.Fatalf("a kind this node does not run: %d %v", code, m)
	}
	code, m, _ := admin.call("POST", "/api/v1/campaigns", body)
	if code != 201 || m["status"] != "awaiting-approval" || m["createdBy"] != "admin" {
		t.Fatalf("create: %d %v", code, m)
	}
	id := m["id"].(string)
	if code, m, _ := admin.call("POST", "/api/v1/campaigns/"+id+"/approve", ""); code != 403 || fmt.Sprint(m["error"]) == "" {
		t.Fatalf("the creator approved their own campaign: %d %v", code, m)
	}
	if code, m, _ := sofia.call("POST", "/api/v1/campaigns/"+id+"/approve", ""); code != 200 || m["approvedBy"] != "sofia" {
		t.Fatalf("approve: %d %v", code, m)
	}
	if code, m, _ := sofia.call("POST", "/api/v1/campaigns/"+id+"/approve", ""); code != 409 {
		t.Fatalf("a second approval: %d %v", code, m)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		code, m, _ := sofia.call("GET", "/api/v1/campaigns/"+id, "")
		if code != 200 {
			t.Fatalf("report: %d %v", code, m)
		}
		c := m["campaign"].(map[string]any)
		if c["status"] == "completed" {
			if k := c["counts"].(map[string]any); k["done"] != 2.0 {
				t.Fatalf("completed with counts %v", k)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("campaign still %v", c["status"])
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, m, _ := sofia.call("GET", "/api/v1/campaigns?status=completed", ""); code != 200 || len(m["items"].([]any)) != 1 {
		t.Fatalf("list: %d %v", code, m)
	}
	if code, _, _ := sofia.call("GET", "/api/v1/campaigns/nope", ""); code != 404 {
		t.Fatalf("an unknown campaign: %d", code)
	}
}
