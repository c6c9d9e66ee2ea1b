package api

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/amigo-ami/amigo/auth"
	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
)

type openSecrets struct{}

func (openSecrets) Open(sealed, _ []byte) ([]byte, error) { return sealed, nil }

// newApprovalRig serves the API with a real head-end over SQLite and an
// embedded bus, and users: an operator, an administrator (who may both
// command and approve) and a security officer.
func newApprovalRig(t *testing.T) *authRig {
	t.Helper()
	st, _ := storetest.OpenSQLite(t)
	ctx := context.Background()
	b, err := bus.Open(ctx, bus.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close(context.Background()) })
	if err := st.PutMeters(ctx, cim.Meter{MRID: "m1"}, cim.Meter{MRID: "m2"}); err != nil {
		t.Fatal(err)
	}
	h, err := headend.New(headend.Options{Store: st, Bus: b, Secrets: openSecrets{}})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := auth.New(st.(store.Users), auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []struct {
		name string
		role auth.Role
	}{{"admin", auth.Admin}, {"olga", auth.Operator}, {"sam", auth.SecurityOfficer}} {
		if _, err := svc.CreateUser(ctx, u.name, pw, u.role, nil); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(New(Deps{Store: st, Auth: svc, HeadEnd: h, MaxBodyBytes: 4096}))
	t.Cleanup(srv.Close)
	return &authRig{srv: srv, st: st, auth: svc}
}

// documented lists the properties a schema of the OpenAPI document
// names, through allOf.
func documented(t *testing.T, doc map[string]any, name string) map[string]bool {
	t.Helper()
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	out := map[string]bool{}
	var walk func(s map[string]any)
	walk = func(s map[string]any) {
		if ref, ok := s["$ref"].(string); ok {
			walk(schemas[strings.TrimPrefix(ref, "#/components/schemas/")].(map[string]any))
		}
		parts, _ := s["allOf"].([]any)
		for _, part := range parts {
			walk(part.(map[string]any))
		}
		props, _ := s["properties"].(map[string]any)
		for k := range props {
			out[k] = true
		}
	}
	s, ok := schemas[name].(map[string]any)
	if !ok {
		t.Fatalf("no schema %s", name)
	}
	walk(s)
	return out
}

func TestApprovalsAPI(t *testing.T) {
	r := newApprovalRig(t)
	olga, admin, sam := r.login(t, "olga"), r.login(t, "admin"), r.login(t, "sam")
	issue := func(s *session, meter string) string {
		t.Helper()
		code, _, body := s.call("POST", "/api/v1/commands", `{"meter":"`+meter+`","type":"disconnect","approvedBy":"olga"}`)
		if code != 400 {
			t.Fatalf("a client setting approvedBy: %d %s", code, body)
		}
		code, m, body := s.call("POST", "/api/v1/commands", `{"meter":"`+meter+`","type":"disconnect"}`)
		if code != 201 || m["status"] != string(cim.ControlAwaitingApproval) {
			t.Fatalf("issue: %d %s", code, body)
		}
		return m["mRID"].(string)
	}
	first := issue(olga, "m1")
	own := issue(admin, "m2")

	// Only who may approve sees the queue, oldest first, with the issuer.
	if code, m, _ := olga.call("GET", "/api/v1/approvals", ""); code != 403 || authErrCode(m) != "forbidden" {
		t.Fatalf("an operator listing approvals: %d %v", code, m)
	}
	code, m, body := sam.call("GET", "/api/v1/approvals", "")
	if code != 200 {
		t.Fatalf("list: %d %s", code, body)
	}
	items := m["items"].([]any)
	if len(items) != 2 || items[0].(map[string]any)["mRID"] != first || items[0].(map[string]any)["issuedBy"] != "olga" ||
		items[1].(map[string]any)["issuedBy"] != "admin" || items[0].(map[string]any)["approvalDeadline"] == nil {
		t.Fatalf("approvals: %s", body)
	}
	var doc map[string]any
	_, _, raw := sam.call("GET", "/api/v1/openapi.json", "")
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		t.Fatal(err)
	}
	approval, command := documented(t, doc, "Approval"), documented(t, doc, "Command")
	for k := range items[0].(map[string]any) {
		if !approval[k] {
			t.Errorf("an approval answers %q, which the Approval schema does not document", k)
		}
	}

	// The insider: the administrator may command and approve, but not
	// their own command.
	code, m, body = admin.call("POST", "/api/v1/commands/"+own+"/approve", "")
	if code != 403 || authErrCode(m) != "self_approval" {
		t.Fatalf("self-approval: %d %s", code, body)
	}
	if c, _ := r.st.Control(context.Background(), own); c.Status != cim.ControlAwaitingApproval {
		t.Fatalf("self-approved command is %s", c.Status)
	}
	evs, err := r.st.Events(context.Background(), store.EventQuery{MeterID: "m2", Type: headend.EventSelfApproval, Limit: 5})
	if err != nil || len(evs) != 1 {
		t.Fatalf("security event: %v %v", evs, err)
	}
	// An operator cannot approve at all.
	if code, m, _ := olga.call("POST", "/api/v1/commands/"+own+"/approve", ""); code != 403 || authErrCode(m) != "forbidden" {
		t.Fatalf("an operator approving: %d %v", code, m)
	}

	// A second person approves: queued, approved by them.
	code, m, body = admin.call("POST", "/api/v1/commands/"+first+"/approve", "")
	if code != 200 || m["status"] != string(cim.ControlQueued) || m["approvedBy"] != "admin" || m["issuedBy"] != "olga" {
		t.Fatalf("approve: %d %s", code, body)
	}
	for k := range m {
		if !command[k] {
			t.Errorf("an approval answers %q, which the Command schema does not document", k)
		}
	}
	if code, m, _ := sam.call("POST", "/api/v1/commands/"+first+"/approve", ""); code != 409 || authErrCode(m) != "not_awaiting" {
		t.Fatalf("second approval: %d %v", code, m)
	}
	if code, m, _ := sam.call("POST", "/api/v1/commands/nope/approve", ""); code != 404 || authErrCode(m) != "not_found" {
		t.Fatalf("unknown command: %d %v", code, m)
	}

	// Reject: a reason is required, then the command is rejected.
	if code, m, _ := sam.call("POST", "/api/v1/commands/"+own+"/reject", `{}`); code != 422 {
		t.Fatalf("reject without a reason: %d %v", code, m)
	}
	if code, m, _ := sam.call("POST", "/api/v1/commands/"+own+"/reject", `{"reason":"x","colour":"red"}`); code != 400 {
		t.Fatalf("reject with an unknown field: %d %v", code, m)
	}
	if code, m, _ := sam.call("POST", "/api/v1/commands/"+own+"/reject", `{"reason":"`+strings.Repeat("x", 1001)+`"}`); code != 400 || authErrCode(m) != "bad_field" {
		t.Fatalf("reject with a long reason: %d %v", code, m)
	}
	code, m, body = sam.call("POST", "/api/v1/commands/"+own+"/reject", `{"reason":"no work order"}`)
	if code != 200 || m["status"] != string(cim.ControlRejected) || m["approvedBy"] != "sam" || !strings.Contains(m["reason"].(string), "no work order") {
		t.Fatalf("reject: %d %s", code, body)
	}
	if code, m, _ := sam.call("GET", "/api/v1/approvals", ""); code != 200 || len(m["items"].([]any)) != 0 {
		t.Fatalf("approvals after deciding both: %v", m)
	}
}
