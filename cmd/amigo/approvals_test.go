package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/store/sqlite"
)

// userToken adds a user with the CLI and returns an API token for them.
func userToken(t *testing.T, dir, name, role string) string {
	t.Helper()
	add := exec.Command(amigoBin, "user", "add", name, "--role", role, "--data", dir)
	add.Stdin = strings.NewReader("a password long enough\n")
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("user add %s: %v\n%s", name, err, out)
	}
	out, err := exec.Command(amigoBin, "token", name, "--data", dir).Output()
	if err != nil {
		t.Fatalf("token %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}

// TestApprovalsCLI: an operator's disconnect is listed as awaiting, an
// administrator's approval of their own is refused with the reason, a
// security officer approves one and rejects the other.
func TestApprovalsCLI(t *testing.T) {
	dir := t.TempDir()
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "amigo.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.PutMeters(context.Background(), cim.Meter{MRID: "m-1"}, cim.Meter{MRID: "m-2"}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	p := serve(t, "--data", dir)
	base := "http://" + p.addr
	admin := adminToken(t, dir)
	olga := userToken(t, dir, "olga", "operator")
	sam := userToken(t, dir, "sam", "security-officer")

	issue := func(tok, meter string) string {
		t.Helper()
		tokens.Store(p.addr, tok)
		code, body := postJSON(t, base+"/api/v1/commands", `{"meter":"`+meter+`","type":"disconnect"}`)
		var c struct{ MRID, Status string }
		if code != 201 || json.Unmarshal([]byte(body), &c) != nil || c.Status != "awaiting-approval" {
			t.Fatalf("issue: %d %s", code, body)
		}
		return c.MRID
	}
	first := issue(olga, "m-1")
	own := issue(admin, "m-2")

	amigo := func(tok string, args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(amigoBin, append([]string{"approvals"}, args...)...)
		cmd.Env = append(os.Environ(), "AMIGO_TOKEN="+tok, "AMIGO_SERVER="+base)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return string(out), ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}
	out, code := amigo(sam, "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[0], "COMMAND") || !strings.Contains(lines[1], first) ||
		!strings.Contains(lines[1], "olga") || !strings.Contains(lines[2], "admin") || !strings.Contains(lines[1], "disconnect") {
		t.Fatalf("list (%d):\n%s", code, out)
	}
	t.Logf("list:\n%s", out)
	if out, code := amigo(olga, "list"); code != 1 || !strings.Contains(out, "lacks the approve permission") {
		t.Fatalf("an operator's list (%d): %s", code, out)
	}
	out, code = amigo(admin, "approve", own)
	if code != 1 || !strings.Contains(out, "may not be approved by its issuer") || !strings.Contains(out, "self_approval") {
		t.Fatalf("self-approval (%d): %s", code, out)
	}
	t.Logf("self-approval: %s", strings.TrimSpace(out))
	if out, code := amigo(sam, "approve", first); code != 0 || !strings.Contains(out, "approved by sam: now queued") {
		t.Fatalf("approve (%d): %s", code, out)
	}
	if out, code := amigo(sam, "reject", own); code != 2 || !strings.Contains(out, "--reason") {
		t.Fatalf("reject without a reason (%d): %s", code, out)
	}
	if out, code := amigo(sam, "reject", own, "--reason", "no work order"); code != 0 || !strings.Contains(out, "rejected by sam: now rejected") {
		t.Fatalf("reject (%d): %s", code, out)
	}
	if out, code := amigo(sam, "approve", own); code != 1 || !strings.Contains(out, "not_awaiting") {
		t.Fatalf("approving a rejected command (%d): %s", code, out)
	}
	if out, code := amigo(sam, "list"); code != 0 || strings.TrimSpace(out) != "no commands awaiting approval" {
		t.Fatalf("list after deciding (%d): %s", code, out)
	}
	if out, code := amigo(sam, "approve"); code != 2 {
		t.Fatalf("approve without an id (%d): %s", code, out)
	}
}
