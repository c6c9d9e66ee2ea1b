package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestQuarantineCommand runs the CLI against a server that answers as
// the API does, and checks what it asks and prints.
func TestQuarantineCommand(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got = append(got, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery+" "+r.Header.Get("Authorization")+" "+string(body))
		switch r.URL.Path {
		case "/api/v1/quarantine":
			io.WriteString(w, `{"groups":[{"issuedBy":"mallory","type":"disconnect","count":49990,"first":"2026-03-31T00:00:00Z","last":"2026-03-31T00:05:00Z"}],`+
				`"items":[{"mRID":"c1","meter":"m1","type":"disconnect","issuedBy":"mallory","reason":"anomaly limit: 11 disconnect commands"}],"next":"c1"}`)
		case "/api/v1/quarantine/release":
			io.WriteString(w, `{"released":49990,"awaitingApproval":0,"discarded":0,"skipped":0}`)
		default:
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"error":{"code":"forbidden","message":"role operator may not release-quarantine"}}`)
		}
	}))
	defer srv.Close()
	t.Setenv("AMIGO_TOKEN", "tok")
	run := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := cmdQuarantine(append(args, "--server", srv.URL), &out, &errOut)
		return out.String(), err
	}
	out, err := run("list", "--issuer", "mallory")
	if err != nil || !strings.Contains(out, "mallory") || !strings.Contains(out, "49990") || !strings.Contains(out, "anomaly limit") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	if !strings.Contains(got[0], "issuer=mallory") || !strings.Contains(got[0], "Bearer tok") {
		t.Errorf("list asked %q", got[0])
	}
	out, err = run("release", "--issuer", "mallory", "--type", "disconnect")
	if err != nil || !strings.Contains(out, "released 49990") {
		t.Fatalf("release: %v %s", err, out)
	}
	body := got[1][strings.Index(got[1], "{"):]
	var req map[string]any
	if err := json.Unmarshal([]byte(body), &req); err != nil || req["issuedBy"] != "mallory" || req["type"] != "disconnect" {
		t.Errorf("release sent %s (%v)", body, err)
	}
	if _, err := run("discard", "--id", "c1", "--reason", "compromised"); err == nil || !strings.Contains(err.Error(), "may not release-quarantine") {
		t.Errorf("a refused discard: %v", err)
	}
	var ue usageError
	for _, args := range [][]string{{"release"}, {"discard", "--issuer", "x"}, {"bless"}, {"release", "--from", "yesterday", "--issuer", "x"}} {
		if _, err := run(args...); !errors.As(err, &ue) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
}
