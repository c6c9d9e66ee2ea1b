package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
)

func TestSafeguardsSettings(t *testing.T) {
	dir := t.TempDir()
	hol := filepath.Join(dir, "holidays.txt")
	if err := os.WriteFile(hol, []byte("# national\n*:2026-12-25\n\nnorth:2026-06-24  # midsummer\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "amigo.yaml")
	write := func(s string) {
		if err := os.WriteFile(file, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("safeguards:\n  cold_c: -2.5\n  hot_c: 32\n  weather_max_age: 3h\n  calendar: false\n  holidays: [\"south:2026-05-01\", \"*:2026-01-01\"]\n  holidays_file: " + hol + "\n  reconnect_window: 10m\n")
	c, err := Load(file, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	s := c.Safeguards
	if s.ColdC != -2.5 || s.HotC != 32 || s.WeatherMaxAge != 3*time.Hour || s.Calendar || !s.Weather || !s.Protection || s.ReconnectWindow != 600*time.Second {
		t.Fatalf("loaded %+v", s)
	}
	days, err := s.HolidayDates()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]cim.Date{"south": {{Year: 2026, Month: 5, Day: 1}}, "*": {{Year: 2026, Month: 1, Day: 1}, {Year: 2026, Month: 12, Day: 25}},
		"north": {{Year: 2026, Month: 6, Day: 24}}}
	for r, ds := range want {
		if len(days[r]) != len(ds) {
			t.Fatalf("holidays %v, want %v", days, want)
		}
		for i := range ds {
			if days[r][i] != ds[i] {
				t.Fatalf("holidays %v, want %v", days, want)
			}
		}
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}

	// Refused at load, each saying what is wrong.
	for in, says := range map[string]string{
		"safeguards:\n  reconnect_window: 601s\n":           "reconnect_window 10m1s: want 0 to 10m0s",
		"safeguards:\n  reconnect_window: -1s\n":            "reconnect_window -1s",
		"safeguards:\n  cold_c: 20\n  hot_c: 10\n":          "cold_c 20 is not below hot_c 10",
		"safeguards:\n  weather_max_age: 0s\n":              "weather_max_age 0s",
		"safeguards:\n  holidays: [\"2026-12-25\"]\n":       "holidays[0]: holiday \"2026-12-25\": want region:YYYY-MM-DD",
		"safeguards:\n  holidays: [\"north:25/12/2026\"]\n": "want YYYY-MM-DD",
		"safeguards:\n  holidays: [\":2026-12-25\"]\n":      "no region",
		"safeguards:\n  holidays_file: " + hol + ".gone\n":  "holidays file",
		"safeguards:\n  reconect_window: 5m\n":              "reconect_window",
	} {
		write(in)
		if _, err := Load(file, env(nil)); err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("%q: %v, want it to say %q", in, err, says)
		}
	}
	if err := os.WriteFile(hol, []byte("*:2026-12-25\nnorth 2026-06-24\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	write("safeguards:\n  holidays_file: " + hol + "\n")
	if _, err := Load(file, env(nil)); err == nil || !strings.Contains(err.Error(), "line 2: holiday") {
		t.Errorf("bad holidays file: %v", err)
	}
}

// FuzzParseHolidays: any holidays file parses or is refused with an
// error, and what parses has a region and a real date.
func FuzzParseHolidays(f *testing.F) {
	f.Add("*:2026-12-25\nnorth:2026-06-24 # midsummer\n")
	f.Add("a:b:2026-01-01\n\n#\n")
	f.Add("north 2026-06-24\n")
	f.Fuzz(func(t *testing.T, in string) {
		days, err := ParseHolidays(strings.NewReader(in))
		if err != nil {
			return
		}
		for r, ds := range days {
			if r == "" {
				t.Fatal("a holiday without a region")
			}
			for _, d := range ds {
				if _, err := cim.ParseDate(d.String()); err != nil {
					t.Fatalf("holiday %v: %v", d, err)
				}
			}
		}
	})
}
