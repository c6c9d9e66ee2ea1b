package cim

import (
	"fmt"
	"testing"
	"time"
)

func TestDateStringAsSprintf(t *testing.T) {
	for _, d := range []Date{{}, {2026, 1, 5}, {999, 12, 31}, {9999, 9, 9}, {10000, 1, 1}, {-1, 1, 1}, {2026, time.Month(13), 40}, {2026, 1, 100}, {2026, -1, -2}} {
		if got, want := d.String(), fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day); got != want {
			t.Errorf("%#v: %q, want %q", d, got, want)
		}
	}
}
