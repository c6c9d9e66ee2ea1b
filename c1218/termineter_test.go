package c1218

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/c1219"
	"github.com/amigo-ami/amigo/testenv"
)

// termineter runs the independent C12.18 client non-interactively with
// the resource file lines, against the meter at addr, and returns what it
// printed.
func termineter(t *testing.T, addr string, lines ...string) string {
	t.Helper()
	bin, err := exec.LookPath("termineter")
	if err != nil {
		testenv.Service(t, "termineter", err)
	}
	// termineter 1.0.4 runs ~/.termineter/console.rc whatever -r names
	// (its check takes any file name for "yes"), so the resource file
	// goes there, under a home of the test's own, and -r names it too.
	home := t.TempDir()
	if err := os.Mkdir(filepath.Join(home, ".termineter"), 0o700); err != nil {
		t.Fatal(err)
	}
	rc := filepath.Join(home, ".termineter", "console.rc")
	head := []string{
		"set SERIAL_CONNECTION socket://" + addr,
		"set USERNAME amigo",
		"set USER_ID 2",
		"set PASSWORD " + hex.EncodeToString(testPassword),
		"connect",
	}
	all := append(append(head, lines...), "exit")
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
	return string(out)
}

// field returns the value termineter printed for a get_info key.
func field(t *testing.T, out, key string) string {
	t.Helper()
	m := regexp.MustCompile(regexp.QuoteMeta(key) + `\.+\.(.*)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("termineter printed no %q:\n%s", key, out)
	}
	return strings.TrimSpace(m[1])
}

// hexdump reads back termineter's hex dump after "Read N bytes": lines
// of an offset, sixteen octets in two groups of eight, and their text.
func hexdump(t *testing.T, out string, n int) []byte {
	t.Helper()
	return hexdumpAfter(t, out, fmt.Sprintf("Read %d bytes", n), n)
}

// hexdumpAfter reads back n octets of the hex dump after marker.
func hexdumpAfter(t *testing.T, out, marker string, n int) []byte {
	t.Helper()
	i := strings.Index(out, marker)
	if i < 0 {
		t.Fatalf("termineter did not print %q:\n%s", marker, out)
	}
	var got []byte
	for _, line := range strings.Split(out[i:], "\n")[1:] {
		if len(got) >= n || !regexp.MustCompile(`^[0-9a-f]{4}    `).MatchString(line) {
			break
		}
		cols := line[8:min(len(line), 8+16*3+1)]
		for _, f := range strings.Fields(cols) {
			b, err := hex.DecodeString(f)
			if err != nil || len(b) != 1 {
				t.Fatalf("hex dump line %q", line)
			}
			got = append(got, b[0])
		}
	}
	return got
}

var ansi = regexp.MustCompile(`\x1b\[[0-9;]*m`)

// termineter's get_info, read_table (one packet, and a table that takes
// two of its 512-octet packets), table enumeration, run_procedure and
// write_table (an offset write, verified by its own read) against the
// meter side over loopback: what it prints is what the store holds, and
// what it writes is what the store then holds.
func TestTermineterReadsTheMeter(t *testing.T) {
	m := newMeterTables()
	// What the enumeration should find: the tables a master session reads.
	m.SetLevel(c1219.LevelMaster)
	var readable []string
	for id := range uint16(11) {
		if _, err := m.ReadTable(id); err == nil {
			readable = append(readable, strconv.Itoa(int(id)))
		}
	}
	m.SetLevel(c1219.LevelPublic)
	long, _ := m.Table(c1219.MfgFlag | 2) // before termineter writes to it
	addr := startMeterWith(t, m.server)
	out := termineter(t, addr,
		"use get_info", "run",
		"use read_table", "set TABLE_ID 1", "run",
		"set TABLE_ID 2050", "run",
		"use enum_tables", "set LOWER 0", "set UPPER 10", "run",
		"use run_procedure", "set PROC_NUMBER 9", "set PARAMS 01", "run",
		"use write_table", "set TABLE_ID 2050", "set OFFSET 16", "set DATA cafe0001", "run",
	)
	out = ansi.ReplaceAllString(out, "")
	if strings.Contains(out, "[!]") || strings.Contains(out, "[-]") || strings.Contains(out, "Traceback") {
		t.Errorf("termineter reported an error:\n%s", out)
	}
	for key, want := range map[string]string{
		"Manufacturer":       testManufacturer,
		"Model":              testModel,
		"Serial Number":      testSerial,
		"Hardware Version":   "3.1",
		"Firmware Version":   "7.12",
		"Device ID":          strings.TrimSpace(testDeviceID),
		"Device Type":        "Electric",
		"Character Encoding": "ISO 8859/1 (Latin 1)",
		"C12.19 Version":     "C12.19-2008",
		"Mode Flags":         "Metering",
	} {
		if got := field(t, out, key); got != want {
			t.Errorf("%s: termineter printed %q, want %q", key, got, want)
		}
	}
	st1, _ := m.Table(1)
	if got := hexdump(t, out, len(st1)); !bytes.Equal(got, st1) {
		t.Errorf("ST1 through termineter:\n% x\nwant\n% x", got, st1)
	}
	if got := hexdump(t, out, len(long)); !bytes.Equal(got, long) {
		t.Errorf("a %d-octet table through termineter differs from the store's", len(long))
	}
	var found []string
	for _, f := range regexp.MustCompile(`Found readable table, ID: (\d+)`).FindAllStringSubmatch(out, -1) {
		found = append(found, f[1])
	}
	if strings.Join(found, " ") != strings.Join(readable, " ") ||
		!strings.Contains(out, fmt.Sprintf("Found %d tables in range 0-10", len(readable))) {
		t.Errorf("enum_tables found %v, want %v:\n%s", found, readable, out)
	}
	if !strings.Contains(out, "Received response from procedure: Procedure completed") {
		t.Errorf("run_procedure did not complete:\n%s", out)
	}
	if got := hexdumpAfter(t, out, "Received data output from procedure", 1); !bytes.Equal(got, []byte{1}) {
		t.Errorf("remote reset answered % x, want the count 01", got)
	}
	if !strings.Contains(out, "Successfully Wrote Data") || !strings.Contains(out, "Table Write Verification Passed") {
		t.Errorf("write_table did not write and verify:\n%s", out)
	}
	if img, _ := m.Table(c1219.MfgFlag | 2); !bytes.Equal(img[16:20], []byte{0xCA, 0xFE, 0x00, 0x01}) || !bytes.Equal(img[:16], long[:16]) || !bytes.Equal(img[20:], long[20:]) {
		t.Errorf("MT2 after termineter's write at 16: % x…", img[:24])
	}
	m.mu.Lock()
	resets := m.resets
	m.mu.Unlock()
	if resets != 1 {
		t.Errorf("the store ran remote reset %d times, want once", resets)
	}
	if m.Level() != c1219.LevelPublic {
		t.Errorf("the store kept level %d after termineter's sessions ended", m.Level())
	}
}
