package main

import (
	"bytes"
	"database/sql"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite" // the attacker's own connection to the file
)

// TestAuditLogEditedOnDisk is the attack: a server's trail, made by real
// actions, edited in the database file with another connection. Verify
// names every edit by seq and kind, exits non-zero, and passes an intact
// log.
func TestAuditLogEditedOnDisk(t *testing.T) {
	dir := t.TempDir()
	tok := adminToken(t, dir) // user-change, token-issue
	p := serve(t, "--data", dir)
	base := "http://" + p.addr
	call := func(method, path, body, bearer string) int {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, c := range []struct {
		method, path, body, bearer string
		want                       int
	}{
		{"POST", "/api/v1/session", `{"user":"admin","password":"a wrong password"}`, "", 401},
		{"POST", "/api/v1/session", `{"user":"admin","password":"an administrator's password"}`, "", 201},
		{"GET", "/api/v1/users", "", "", 401},
		{"GET", "/api/v1/users", "", "amg_forged", 401},
		{"POST", "/api/v1/users", `{"name":"olga","password":"an operator's password","role":"operator"}`, tok, 201},
		{"POST", "/api/v1/users", `{"name":"sam","password":"an officer's password","role":"security-officer"}`, tok, 201},
		{"POST", "/api/v1/tokens", `{"user":"olga","label":"ops"}`, tok, 201},
		{"POST", "/api/v1/session", `{"user":"olga","password":"not olga's password"}`, "", 401},
		{"POST", "/api/v1/session", `{"user":"olga","password":"an operator's password"}`, "", 201},
		{"GET", "/api/v1/audit", "", tok, 200},
	} {
		if got := call(c.method, c.path, c.body, c.bearer); got != c.want {
			t.Fatalf("%s %s: %d, want %d", c.method, c.path, got, c.want)
		}
	}
	p.stop(t)

	verify := func(dir string, extra ...string) (int, string) {
		var out, errOut bytes.Buffer
		code := run(append([]string{"audit", "verify", "--data", dir}, extra...), &out, &errOut)
		return code, out.String() + errOut.String()
	}
	code, out := verify(dir)
	if code != 0 || !strings.Contains(out, "audit trail intact: 11 records") {
		t.Fatalf("intact log: exit %d\n%s", code, out)
	}
	var listed bytes.Buffer
	if code := run([]string{"audit", "list", "--data", dir, "--action", "sign-in"}, &listed, io.Discard); code != 0 ||
		strings.Count(listed.String(), "sign-in") != 4 || !strings.Contains(listed.String(), "failed") {
		t.Fatalf("list sign-ins: exit %d\n%s", code, listed.String())
	}

	for _, c := range []struct {
		name  string
		edits []string
		want  []string
	}{
		{"field changed", []string{`UPDATE audit_records SET actor = 'olga' WHERE seq = 3`}, []string{"seq 3: edited"}},
		{"detail changed", []string{`UPDATE audit_records SET details = '{"remote":"10.0.0.1"}' WHERE seq = 4`}, []string{"seq 4: edited"}},
		{"record deleted", []string{`DELETE FROM audit_records WHERE seq = 6`}, []string{"seq 5: deleted"}},
		{"two swapped", []string{`UPDATE audit_records SET seq = -8 WHERE seq = 8`, `UPDATE audit_records SET seq = 8 WHERE seq = 9`,
			`UPDATE audit_records SET seq = 9 WHERE seq = -8`}, []string{"seq 8: reordered", "seq 9: reordered"}},
		{"all three", []string{`UPDATE audit_records SET outcome = 'failed' WHERE seq = 2`, `DELETE FROM audit_records WHERE seq = 5`,
			`UPDATE audit_records SET seq = -10 WHERE seq = 10`, `UPDATE audit_records SET seq = 10 WHERE seq = 11`,
			`UPDATE audit_records SET seq = 11 WHERE seq = -10`}, []string{"seq 2: edited", "seq 4: deleted", "seq 10: reordered", "seq 11: reordered"}},
		{"tail cut", []string{`DELETE FROM audit_records WHERE seq >= 10`}, []string{"seq 11: truncated"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			copyDir := copyData(t, dir)
			db, err := sql.Open("sqlite", filepath.Join(copyDir, "amigo.db"))
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range c.edits {
				if _, err := db.Exec(e); err != nil {
					t.Fatalf("%s: %v", e, err)
				}
			}
			db.Close()
			code, out := verify(copyDir)
			if code != 1 {
				t.Fatalf("exit %d after the edit\n%s", code, out)
			}
			var faults []string
			for _, l := range strings.Split(out, "\n") {
				if f, ok := strings.CutPrefix(l, "FAULT "); ok {
					parts := strings.SplitN(f, ": ", 3)
					faults = append(faults, parts[0]+": "+parts[1])
				}
			}
			if strings.Join(faults, ", ") != strings.Join(c.want, ", ") {
				t.Fatalf("faults %q, want %q\n%s", faults, c.want, out)
			}
			if !strings.Contains(out, "amigo audit: audit trail verification failed") {
				t.Fatalf("no one-line verdict:\n%s", out)
			}
		})
	}

	// The binary, as an operator runs it: exit status 1 and the first
	// fault on stderr.
	copyDir := copyData(t, dir)
	db, _ := sql.Open("sqlite", filepath.Join(copyDir, "amigo.db"))
	if _, err := db.Exec(`UPDATE audit_records SET target = 'nobody' WHERE seq = 7`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	cmd := exec.Command(amigoBin, "audit", "verify", "--data", copyDir)
	outB, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(outB), "the first at seq 7 (edited)") {
		t.Fatalf("binary: %v\n%s", err, outB)
	}
}

// copyData copies a stopped server's data directory.
func copyData(t *testing.T, dir string) string {
	t.Helper()
	to := t.TempDir()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.IsDir() || !strings.HasPrefix(e.Name(), "amigo.db") && e.Name() != anchorFileName {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return to
}
