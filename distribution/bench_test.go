package distribution

import "testing"

// The meter model asks Cuts on every reachability check and VoltagePM on
// every instantaneous read: both must stay cheap for a large fleet.
func BenchmarkCuts(b *testing.B) {
	n := build(b, DefaultConfig(1, 20_000, month))
	lo := month.Unix()
	b.ResetTimer()
	for i := range b.N {
		id := uint64(i%20_000) + 1
		t := lo + int64(i%(30*86400))
		n.Cuts(id, t, t+1, func(a, b int64) {})
	}
}

func BenchmarkVoltagePM(b *testing.B) {
	n := build(b, DefaultConfig(1, 20_000, month))
	lo := month.Unix()
	b.ResetTimer()
	for i := range b.N {
		n.VoltagePM(uint64(i%20_000)+1, lo+int64(i))
	}
}
