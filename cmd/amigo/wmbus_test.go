package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	amanifest "github.com/amigo-ami/amigo/manifest"
)

// The published OMS telegram of wmbus/testdata, without CRCs.
const publishedTelegram = "a144c5142785895070078c20607a9d00902537ca231fa2da5889be8df3673ec136aebfb8" +
	"0d4ce395ba98f6b3844a115e4be1b1c9f0a2d5ffbb92906aa388deaa82c929310e9e5c4c" +
	"0922a784df89cf0ded833be8da996eb5885409b6c9867978dea24001d68c603408d758a1" +
	"e2b91c42ebad86a9b9d287880083bb0702850574d7b51e9c209ed68e0374e9b01febfd92" +
	"b4cb9410fdeaf7fb526b742dc9a8d0682653"

func TestWMBusDecode(t *testing.T) {
	var out, errb strings.Builder
	if code := run([]string{"wmbus", "decode", publishedTelegram, "--key", "4255794d3dccfd46953146e701b7db68"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var got telegramJSON
	if err := json.Unmarshal([]byte(out.String()), &got); err != nil {
		t.Fatalf("%q: %v", out.String(), err)
	}
	// The records after the unset date (FF FF) are read too.
	if got.Meter != "EFE50898527" || got.Security != 5 || got.Access != 0x9D || len(got.Records) != 21 || got.Error != "" {
		t.Fatalf("decoded %+v", got)
	}
	vol := got.Records[1]
	if vol.Quantity != "volume" || vol.Unit != "m³" || vol.Value != "4.480" {
		t.Fatalf("volume record %+v", vol)
	}

	out.Reset()
	errb.Reset()
	code := run([]string{"wmbus", "decode", publishedTelegram, "--key", "00000000000000000000000000000000"}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "wrong key") || !strings.Contains(errb.String(), "50898527") {
		t.Fatalf("wrong key: exit %d, %q", code, errb.String())
	}
	if code := run([]string{"wmbus", "decode", "zz"}, &out, &errb); code != 2 {
		t.Fatalf("bad hex: exit %d", code)
	}
}

// TestWMBusListenToSim runs the simulator's radio meters and reads them
// with amigo wmbus listen and the manifest's keys: every radio meter of
// the manifest is heard, its volume in m³. One meter's key replaced by a
// wrong one is counted and the stream goes on.
func TestWMBusListenToSim(t *testing.T) {
	dir := t.TempDir()
	manifest := filepath.Join(dir, "fleet.csv")
	port := strconv.Itoa(freePort(t))
	radioAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	cmd := exec.Command(amigoBin, "sim", "--meters", "20", "--manifest", manifest, "--port", port,
		"--offline", "0", "--intermittent", "0", "--garbage", "0", "--outages", "0", "--gas", "1", "--water", "0.5",
		"--speed", "240", "--wmbus", radioAddr, "--wmbus-interval", "4m", "--log-format", "json")
	pr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	ready := make(chan struct{}, 1)
	done := make(chan error, 1)
	var logs strings.Builder
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			logs.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), `"fleet serving"`) {
				ready <- struct{}{}
			}
		}
		done <- cmd.Wait()
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("amigo sim exited: %v\n%s", err, logs.String())
	case <-time.After(30 * time.Second):
		t.Fatal("no \"fleet serving\" log line")
	}

	f, err := os.Open(manifest)
	if err != nil {
		t.Fatal(err)
	}
	rows, _, err := amanifest.Read(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	radio := map[string]bool{}
	var keyring strings.Builder
	var wrong string
	for _, r := range rows {
		if r.Fields["wmbus_key"] == "" {
			continue
		}
		addr, key := r.Fields["wmbus_address"], r.Fields["wmbus_key"]
		if wrong == "" {
			wrong, key = addr, "ffeeddccbbaa99887766554433221100"
		} else {
			radio[addr] = true
		}
		keyring.WriteString(addr + " " + key + "\n")
	}
	if len(radio) < 25 {
		t.Fatalf("%d radio meters in the manifest", len(radio))
	}
	keys := filepath.Join(dir, "keys")
	if err := os.WriteFile(keys, []byte(keyring.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	// Twice as many as there are meters: every meter sends once an
	// interval, so each is heard at least once.
	out, errs, code := amigo(t, "wmbus", "listen", radioAddr, "--keys", keys, "--count", strconv.Itoa(2*len(radio)))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	heard := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var tg telegramJSON
		if err := json.Unmarshal([]byte(line), &tg); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if !radio[tg.Meter] {
			t.Fatalf("telegram of %s, not a radio meter of the manifest", tg.Meter)
		}
		if len(tg.Records) != 2 || tg.Records[0].Quantity != "volume" || tg.Records[0].Unit != "m³" || tg.Records[0].Value == "" || tg.Records[1].Time == "" {
			t.Fatalf("records of %s: %+v", tg.Meter, tg.Records)
		}
		heard[tg.Meter] = true
	}
	if len(heard) != len(radio) {
		t.Fatalf("heard %d of %d radio meters", len(heard), len(radio))
	}
	if !strings.Contains(errs, "wrong key") || !strings.Contains(errs, wrong[3:]) || strings.Contains(errs, "wrong key 0,") {
		t.Fatalf("the meter with the wrong key is not reported: %s", errs)
	}

	// The manifest itself is a keyring.
	out, errs, code = amigo(t, "wmbus", "listen", radioAddr, "--keys", manifest, "--count", "3")
	if code != 0 || strings.Count(out, "\n") != 3 || !strings.Contains(errs, "telegrams 3, errors 0") {
		t.Fatalf("with the manifest's keys: exit %d, %d lines: %s", code, strings.Count(out, "\n"), errs)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("amigo sim did not stop on SIGTERM")
	}
}
