package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/store/sqlite"
)

// TestWeatherImport: `amigo weather import` keeps a feed in a running
// server's store; a bad feed is refused naming its line, and nothing of
// it is kept.
func TestWeatherImport(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "amigo.yaml")
	if err := os.WriteFile(cfgFile, []byte("headend:\n  daily_at: -1s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := serve(t, "--data", dir, "--config", cfgFile)
	base := "http://" + p.addr
	tok := authorize(t, dir, base)
	feed := filepath.Join(dir, "weather.csv")
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(feed, []byte("region,time,temperature_c\nregion-0,2026-12-07T06:00:00Z,-4.5\nregion-0,2026-12-07T07:00:00Z,-3\nregion-1,2026-12-07T07:00:00Z,21\n"), 0o600)
	os.WriteFile(bad, []byte("region,time,temperature_c\nregion-0,2026-12-07T08:00:00Z,-30\nregion-0,2026-12-07T09:00:00Z,warm\n"), 0o600)
	run := func(file string) (string, error) {
		cmd := exec.Command(amigoBin, "weather", "import", file, "--server", base)
		cmd.Env = append(os.Environ(), "AMIGO_TOKEN="+tok)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run(feed); err != nil || !strings.Contains(out, "3 observations imported") {
		t.Fatalf("import: %v\n%s", err, out)
	}
	if out, err := run(bad); err == nil || !strings.Contains(out, "weather line 3, column temperature_c") {
		t.Fatalf("bad feed: %v\n%s", err, out)
	}
	p.stop(t)
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "amigo.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	o, err := st.LatestWeather(context.Background(), "region-0", at.Add(-24*time.Hour), at)
	if err != nil || o.TemperatureC != -3 || !o.At.Equal(at.Add(-5*time.Hour)) {
		t.Fatalf("latest of region-0 after a good and a bad feed: %+v %v", o, err)
	}
}
