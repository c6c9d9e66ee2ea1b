package billing_test

import (
	"strings"
	"testing"

	"github.com/amigo-ami/amigo/billing"
)

func TestParseAccounts(t *testing.T) {
	as, err := billing.ParseAccounts(strings.NewReader("id,usage_point,group,cycle_day\nacc-1,up-1,north,1\nacc-2, up-2, north, 28\n"))
	if err != nil || len(as) != 2 || as[1].UsagePointID != "up-2" || as[1].CycleDay != 28 {
		t.Fatalf("%+v, %v", as, err)
	}
	for _, bad := range []string{"acc-1,up-1,north,29\n", "acc-1,up-1,north\n", ",up-1,g,1\n", "a,b,c,1\n\"x\n"} {
		if _, err := billing.ParseAccounts(strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "line") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestParsePrices(t *testing.T) {
	ps, err := billing.ParsePrices("epex", strings.NewReader("time,price\n2026-01-01T01:00:00+01:00,120000\n2026-01-01T01:00:00Z,-5\n"))
	if err != nil || len(ps) != 2 || ps[0].At.Hour() != 0 || ps[1].Price != -5 || ps[0].Feed != "epex" {
		t.Fatalf("%+v, %v", ps, err)
	}
	for _, bad := range []string{"2026-01-01T01:30:00Z,1\n", "yesterday,1\n", "2026-01-01T01:00:00Z,1.5\n"} {
		if _, err := billing.ParsePrices("f", strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func FuzzParseAccounts(f *testing.F) {
	f.Add([]byte("id,usage_point,group,cycle_day\nacc-1,up-1,north,1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		as, err := billing.ParseAccounts(strings.NewReader(string(b)))
		if err != nil {
			return
		}
		for _, a := range as {
			if a.ID == "" || a.UsagePointID == "" || a.CycleDay < 1 || a.CycleDay > 28 {
				t.Fatalf("accepted %+v", a)
			}
		}
	})
}

func FuzzParsePrices(f *testing.F) {
	f.Add([]byte("time,price\n2026-01-01T00:00:00Z,120000\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ps, err := billing.ParsePrices("f", strings.NewReader(string(b)))
		if err != nil {
			return
		}
		for _, p := range ps {
			if p.At.Minute() != 0 || p.At.Second() != 0 || p.At.Nanosecond() != 0 {
				t.Fatalf("accepted %+v", p)
			}
		}
	})
}
