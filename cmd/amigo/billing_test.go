package main

import (
	"context"
	"encoding/csv"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/store/sqlite"
)

// TestBillCommands: a tariff filed and assigned, accounts imported, a
// cycle run and exported with the CLI against a running server.
func TestBillCommands(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	day := cim.Date{Year: 2026, Month: 1, Day: 5}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "amigo.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutUsagePoints(ctx, cim.UsagePoint{MRID: "up-1", TimeZone: "UTC"}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutMeters(ctx, cim.Meter{MRID: "m-1", UsagePointID: "up-1"}); err != nil {
		t.Fatal(err)
	}
	d := interval.Day{MeterID: "m-1", Channel: "A+15m", Date: day, Start: day.Start(time.UTC), Interval: 15 * time.Minute,
		Values: make([]int64, 96), Quality: make([]cim.Quality, 96)}
	for i := range d.Values {
		d.Values[i] = 100
	}
	if _, err := st.PutDays(ctx, []interval.Day{d}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	cfgFile := filepath.Join(dir, "amigo.yaml")
	if err := os.WriteFile(cfgFile, []byte("headend:\n  daily_at: -1s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := serve(t, "--data", dir, "--config", cfgFile)
	base := "http://" + p.addr
	tok := authorize(t, dir, base)
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(amigoBin, append(args, "--server", base)...)
		cmd.Env = append(os.Environ(), "AMIGO_TOKEN="+tok)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("amigo %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	tf := filepath.Join(dir, "flat.yaml")
	os.WriteFile(tf, []byte("id: flat\nname: Flat\ncurrency: EUR\neffective_from: 2020-01-01\nbase: {name: all, price: 250000}\n"), 0o600)
	accts := filepath.Join(dir, "accounts.csv")
	os.WriteFile(accts, []byte("id,usage_point,group,cycle_day\nacc-1,up-1,g,6\n"), 0o600)

	if out := run("tariff", "put", tf, "--version", "1"); !strings.Contains(out, "tariff flat version 1 in force from 2020-01-01") {
		t.Fatalf("tariff put: %s", out)
	}
	if out := run("tariff", "assign", "up-1", "flat", "--from", "2020-01-01"); !strings.Contains(out, "on tariff flat") {
		t.Fatalf("tariff assign: %s", out)
	}
	if out := run("bill", "accounts", accts); !strings.Contains(out, "1 accounts imported") {
		t.Fatalf("bill accounts: %s", out)
	}
	// Cycle day 6 as of the 6th: the month to the 6th, of which one day is stored.
	out := run("bill", "run", "--group", "g", "--from", "2026-01-05", "--to", "2026-01-06")
	if !strings.Contains(out, "finished, 1 billed (0 held, 0 flagged), 0 skipped, 0 failed") {
		t.Fatalf("bill run: %s", out)
	}
	if out := run("bill", "run", "--group", "g", "--from", "2026-01-05", "--to", "2026-01-06"); !strings.Contains(out, "1 billed") {
		t.Fatalf("bill run again: %s", out)
	}
	// 100 Wh × 96 = 9.6 kWh at 0.25 = 2.40.
	rows, err := csv.NewReader(strings.NewReader(run("bill", "export", "--format", "lines"))).ReadAll()
	if err != nil || len(rows) != 2 || rows[1][3] != "acc-1" || rows[1][21] != "240" {
		t.Fatalf("export %v, %v", rows, err)
	}
	if out := run("bill", "rebill", "--account", "acc-1"); !strings.Contains(out, "1 bills checked, 0 rebilled") {
		t.Fatalf("rebill: %s", out)
	}

	// The tariff to the meter: its calendar sent once; m-1's registers
	// were never read, so it is not checked.
	if out := run("tariff", "send", "flat", "--version", "1"); !strings.Contains(out, "1 meters, 1 issued, 0 awaiting approval, 0 already issued, 0 unsupported, 0 failed") {
		t.Fatalf("tariff send: %s", out)
	}
	if out := run("tariff", "send", "flat", "--version", "1"); !strings.Contains(out, "1 meters, 0 issued, 0 awaiting approval, 1 already issued") {
		t.Fatalf("tariff send again: %s", out)
	}
	if out := run("tariff", "check", "flat", "--version", "1", "--from", "2026-01-05", "--to", "2026-01-06"); !strings.Contains(out, "0 agree, 0 disagree, 1 not checked") ||
		!strings.Contains(out, "meter m-1 not checked: register A+T1: 0 reads") {
		t.Fatalf("tariff check: %s", out)
	}
}
