package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	amanifest "github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/sqlite"
)

// writeShipment writes a manifest of n electricity meters, all at one
// closed port on loopback, so that their first collection fails fast.
func writeShipment(t *testing.T, n int) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "shipment.csv")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	addr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(freePort(t)))
	fields := []string{"transport", "client_sap", "authentication", "security_policy", "system_title", "ek", "ak", "lls_password"}
	err = amanifest.Write(f, fields, func(yield func(amanifest.Row) bool) error {
		for i := range n {
			id := uint64(i + 1)
			r := amanifest.Row{MeterID: id, Serial: fmt.Sprintf("KIL%011d", id), Manufacturer: "AMG", Model: "AMG-E1",
				Kind: "electricity-1p", Protocol: "dlms", Address: addr,
				Fields: map[string]string{"transport": "wrapper", "client_sap": "1", "authentication": "hls-gmac",
					"security_policy": "authenticated-encrypted",
					"system_title":    hex.EncodeToString([]byte{'A', 'M', 'G', 0, byte(id >> 24), byte(id >> 16), byte(id >> 8), byte(id)}),
					"ek":              hex.EncodeToString(bytes.Repeat([]byte{byte(id)}, 16)),
					"ak":              hex.EncodeToString(bytes.Repeat([]byte{byte(id >> 8)}, 16))},
				UsagePointID: fmt.Sprintf("UPK%010d", id), TimeZone: "Europe/Amsterdam", Segment: fmt.Sprintf("cell-%d", id/1000),
				Region: "region-0", Archetype: "family"}
			if !yield(r) {
				break
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return file
}

// metersTotal asks the server how many meters it has registered.
func metersTotal(t *testing.T, base string) int {
	t.Helper()
	code, body := httpGet(t, base+"/api/v1/meters?limit=1")
	var p struct{ Total int }
	if code != http.StatusOK || json.Unmarshal([]byte(body), &p) != nil {
		t.Fatalf("meters: %d %s", code, body)
	}
	return p.Total
}

// registryKeys opens the stopped server's store and reports how many
// meters it holds, failing the test for any meter without its keys.
func registryKeys(t *testing.T, dir string) int {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "amigo.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	n := 0
	for after := ""; ; {
		ms, err := st.Meters(ctx, store.MeterQuery{After: after, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if b, err := st.MeterSecret(ctx, m.MRID); err != nil || len(b) == 0 {
				t.Errorf("meter %s stored without its keys: %v", m.MRID, err)
			}
		}
		n += len(ms)
		if len(ms) < 1000 {
			return n
		}
		after = ms[len(ms)-1].MRID
	}
}

// TestKillDuringImportLeavesNoMeterWithoutKeys kills the server with
// SIGKILL while it imports a 28,001-meter manifest, seven times the
// request body limit: every meter stored has its keys, and importing the
// file again registers the rest.
func TestKillDuringImportLeavesNoMeterWithoutKeys(t *testing.T) {
	const n = 28001
	file := writeShipment(t, n)
	const bodyLimit = 1 << 20
	if fi, err := os.Stat(file); err != nil || fi.Size() <= 4*bodyLimit {
		t.Fatalf("manifest of %v bytes is not well over the body limit (%v)", fi.Size(), err)
	}
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "amigo.yaml")
	cfg := fmt.Sprintf("http:\n  max_body_bytes: %d\nheadend:\n  daily_at: -1s\n", bodyLimit)
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := serve(t, "--data", dir, "--config", cfgFile)
	base := "http://" + p.addr
	authorize(t, dir, base)

	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	req, err := http.NewRequest(http.MethodPost, base+"/api/v1/meters/import", f)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/csv")
	withToken(req)
	answered := make(chan string, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			answered <- err.Error()
			return
		}
		resp.Body.Close()
		answered <- resp.Status
	}()
	deadline := time.Now().Add(3 * time.Minute)
	for total := 0; total < 2000; total = metersTotal(t, base) {
		select {
		case a := <-answered:
			t.Fatalf("import answered %s before it could be killed", a)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("import does not progress: %d meters", total)
		}
	}
	p.cmd.Process.Signal(os.Kill)
	<-p.done
	t.Logf("killed mid-import; the client saw: %s", <-answered)
	stored := registryKeys(t, dir)
	if stored == 0 || stored >= n {
		t.Fatalf("%d meters stored after the kill", stored)
	}

	p = serve(t, "--data", dir, "--config", cfgFile)
	base = "http://" + p.addr
	imp := exec.Command(amigoBin, "import", file, "--server", base)
	imp.Env = append(os.Environ(), "AMIGO_TOKEN="+authorize(t, dir, base))
	out, err := imp.CombinedOutput()
	want := fmt.Sprintf("%d created, 0 updated, %d unchanged, 0 bad rows", n-stored, stored)
	if err != nil || !strings.Contains(string(out), want) {
		t.Fatalf("import again: %v\n%s\nwant %q", err, out, want)
	}
	p.stop(t)
	if got := registryKeys(t, dir); got != n {
		t.Fatalf("%d meters after importing again, want %d", got, n)
	}
	t.Logf("%d of %d meters were in, each with its keys, when the server was killed; importing again added the rest", stored, n)
}
