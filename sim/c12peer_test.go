package sim_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/c1219"
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/sim"
	"github.com/amigo-ami/amigo/testenv"
)

// runTermineter has termineter, an independent C12.18 client, run the
// resource file lines against C12.18 meter r after logging on with the
// manifest's user and password, and returns what it printed without its
// colours.
func runTermineter(t *testing.T, r manifest.Row, lines ...string) string {
	t.Helper()
	bin, err := exec.LookPath("termineter")
	if err != nil {
		testenv.Service(t, "termineter", err)
	}
	// termineter 1.0.4 runs ~/.termineter/console.rc whatever file -r
	// names (it takes any name for "yes, run the default one"): the
	// resource file goes there, under a home of the test's own.
	home := t.TempDir()
	if err := os.Mkdir(filepath.Join(home, ".termineter"), 0o700); err != nil {
		t.Fatal(err)
	}
	rc := filepath.Join(home, ".termineter", "console.rc")
	all := append([]string{
		"set USE_COLOR False",
		"set SERIAL_CONNECTION socket://" + r.Address.String(),
		"set USERNAME " + r.Fields["c12_user"],
		"set USER_ID " + r.Fields["c12_user_id"],
		"set PASSWORD " + r.Fields["c12_password"],
		"connect",
	}, lines...)
	all = append(all, "exit")
	if err := os.WriteFile(rc, []byte(strings.Join(all, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-r", rc)
	cmd.Env = append(os.Environ(), "HOME="+home)
	cmd.Stdin = strings.NewReader("")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("termineter: %v\n%s", err, out)
	}
	return regexp.MustCompile(`\x1b\[[0-9;]*m`).ReplaceAllString(string(out), "")
}

// infoField is the value termineter's get_info printed for key.
func infoField(t *testing.T, out, key string) string {
	t.Helper()
	m := regexp.MustCompile(`\] +` + regexp.QuoteMeta(key) + `\.+\.(.*)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("termineter printed no %q:\n%s", key, out)
	}
	return strings.TrimSpace(m[1])
}

// hexDump reads back the n octets of termineter's hex dump after marker:
// lines of a 4-digit offset, then up to sixteen octets.
func hexDump(t *testing.T, out, marker string, n int) []byte {
	t.Helper()
	i := strings.Index(out, marker)
	if i < 0 {
		t.Fatalf("termineter did not print %q:\n%s", marker, out)
	}
	line := regexp.MustCompile(`^[0-9a-f]{4}    `)
	var got []byte
	for _, l := range strings.Split(out[i:], "\n")[1:] {
		if len(got) >= n || !line.MatchString(l) {
			break
		}
		for _, f := range strings.Fields(l[8:min(len(l), 8+16*3+1)]) {
			b, err := hex.DecodeString(f)
			if err != nil || len(b) != 1 {
				t.Fatalf("hex dump line %q", l)
			}
			got = append(got, b[0])
		}
	}
	if len(got) != n {
		t.Fatalf("%d octets in the hex dump after %q, want %d", len(got), marker, n)
	}
	return got
}

// TestTermineterReadsC1218Meter has termineter log on to a simulated
// C12.18 meter with the manifest's credentials, read its identification
// (get_info), its current registers (ST23, decoded from termineter's hex
// dump) and its clock, and run a demand reset: what it prints equals the
// meter model, and the reset reaches the model.
func TestTermineterReadsC1218Meter(t *testing.T) {
	f := startC12Fleet(t, 20, 1, 0, 0)
	i, r := meterOf(t, f, sim.ProtocolC1218)
	m, _ := f.Meter(i)
	f.Lock(i).Lock()
	regs := m.RegistersAt(f.Now())
	md := m.MaxDemand(f.Now())
	clock := m.Clock(f.Now())
	f.Lock(i).Unlock()
	if md.MaxW == 0 {
		t.Fatal("the model has no demand to reset")
	}

	f1 := c1219.DefaultFormat
	ar := c1219.ActRegs{Func1: c1219.RegDateTime | c1219.RegDemandResetCtr, NbrSelfReads: sim.C12SelfReads, NbrSummations: 4,
		NbrDemands: 1, NbrOccur: 1, NbrTiers: 4, NbrPresentDemands: 1, NbrPresentValues: 2}
	st23 := len(c1219.RegisterData{}.Encode(f1, ar))
	st52 := len(c1219.Clock{}.Encode(f1))

	out := runTermineter(t, r,
		"use get_info", "run",
		"use read_table", "set TABLE_ID 21", "run",
		"set TABLE_ID 23", "run",
		"set TABLE_ID 52", "run",
		"use run_procedure", "set PROC_NUMBER 9", "set PARAMS 01", "run",
	)
	if strings.Contains(out, "[!]") || strings.Contains(out, "Traceback") {
		t.Errorf("termineter reported an error:\n%s", out)
	}
	for key, want := range map[string]string{
		"Manufacturer":     sim.Manufacturer,
		"Model":            r.Model,
		"Serial Number":    r.Serial,
		"Hardware Version": "1.0",
		"Firmware Version": "1.3",
		"Device ID":        r.Serial,
		"Device Type":      "Electric",
		"C12.19 Version":   "C12.19-2008",
		"Mode Flags":       "Metering",
	} {
		if got := infoField(t, out, key); got != want {
			t.Errorf("%s: termineter printed %q, want %q", key, got, want)
		}
	}

	gotAR, err := c1219.DecodeST21(hexDump(t, out, "Read 10 bytes", 10), f1)
	if err != nil || gotAR != ar {
		t.Fatalf("ST21 through termineter %+v %v, want %+v", gotAR, err, ar)
	}
	rd, err := c1219.DecodeST23(hexDump(t, out, fmt.Sprintf("Read %d bytes", st23), st23), f1, ar)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{float64(regs.Import), float64(regs.Export), float64(regs.ImportVarh), float64(regs.ExportVarh)}
	for k, w := range want {
		if rd.Total.Summations[k] != w {
			t.Errorf("ST23 summation %d through termineter: %v, want %v", k, rd.Total.Summations[k], w)
		}
	}
	if rd.Total.Demands[0].Values[0] != float64(md.MaxW) {
		t.Errorf("ST23 maximum demand through termineter: %v, want %d", rd.Total.Demands[0].Values, md.MaxW)
	}
	ck, err := c1219.DecodeST52(hexDump(t, out, fmt.Sprintf("Read %d bytes", st52), st52), f1)
	if err != nil || !ck.Time.Equal(clock.Truncate(time.Second)) {
		t.Errorf("ST52 through termineter: %v %v, want %v", ck.Time, err, clock.UTC())
	}

	if !strings.Contains(out, "Procedure completed") {
		t.Errorf("the demand reset did not complete:\n%s", out)
	}
	f.Lock(i).Lock()
	after := m.MaxDemand(f.Now())
	f.Lock(i).Unlock()
	if after.MaxW != 0 {
		t.Errorf("maximum demand %d after termineter's remote reset", after.MaxW)
	}
}
