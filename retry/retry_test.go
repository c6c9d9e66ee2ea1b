package retry

import (
	"context"
	"testing"
	"time"
)

func TestBackoffStaysUnderItsCap(t *testing.T) {
	for n := 1; n < 70; n++ {
		want := min(time.Second<<min(n-1, 20), time.Minute)
		for range 200 {
			if d := Backoff(time.Second, time.Minute, n); d <= 0 || d > want {
				t.Fatalf("Backoff(1s, 1m, %d) = %v, want in (0, %v]", n, d, want)
			}
		}
	}
	if d := Backoff(time.Second, time.Minute, 0); d <= 0 || d > time.Second {
		t.Fatalf("Backoff before any failure = %v, want in (0, 1s]", d)
	}
}

func TestWaitEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Wait(ctx, time.Hour); err != context.Canceled {
		t.Fatalf("Wait on a cancelled context = %v, want context.Canceled", err)
	}
	if err := Wait(context.Background(), time.Millisecond); err != nil {
		t.Fatalf("Wait(1ms) = %v", err)
	}
	if err := Wait(context.Background(), -time.Second); err != nil {
		t.Fatalf("Wait(-1s) = %v", err)
	}
}
