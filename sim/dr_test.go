package sim

import (
	"errors"
	"testing"
	"time"
)

func TestPriceMessageRoundTrip(t *testing.T) {
	p := PriceMessage{Price: 750_000, Currency: "EUR", Start: time.Date(2026, 12, 7, 17, 0, 0, 0, time.UTC), Duration: 2 * time.Hour}
	got, err := ParsePriceMessage(p.String())
	if err != nil || got != p {
		t.Fatalf("round trip of %q: %+v, %v", p.String(), got, err)
	}
	if _, err := ParsePriceMessage("Onderhoud op 8 december"); !errors.Is(err, ErrNotPrice) {
		t.Fatalf("plain text: %v", err)
	}
	for _, bad := range []string{"price=1", "price=x;currency=EUR;start=2026-12-07T17:00:00Z;duration=1",
		"price=1;currency=EUR;start=2026-12-07T17:00:00Z;duration=0", "price=1;currency=EUR;start=2026-12-07T17:00:00Z;duration=1;colour=red"} {
		if _, err := ParsePriceMessage(bad); err == nil || errors.Is(err, ErrNotPrice) {
			t.Errorf("%q: %v, want a field error", bad, err)
		}
	}
}

func FuzzPriceMessage(f *testing.F) {
	f.Add("price=750000;currency=EUR;start=2026-12-07T17:00:00Z;duration=7200")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePriceMessage(s)
		if err != nil {
			return
		}
		q, err := ParsePriceMessage(p.String())
		if err != nil || !q.Start.Equal(p.Start) || q.Price != p.Price || q.Duration != p.Duration || q.Currency != p.Currency {
			t.Fatalf("%q parses to %+v, which reads back as %+v, %v", s, p, q, err)
		}
	})
}
