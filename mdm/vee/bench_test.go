package vee_test

import (
	"testing"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/mdm/vee"
)

// BenchmarkValidate validates a clean household day against four weeks of
// history and its registers, as ingest does for every day it stores.
func BenchmarkValidate(b *testing.B) {
	days, _ := golden(b, 30)
	d := days[29]
	c := vee.Context{History: days[1:29], RegisterStart: reg(5000), RegisterEnd: reg(5000 + total(d))}
	rules := vee.DefaultRules()
	b.ReportAllocs()
	for b.Loop() {
		if fs := vee.Validate(d, rules, c); len(fs) != 0 {
			b.Fatal(fs)
		}
	}
	b.ReportMetric(float64(len(d.Values))*float64(b.N)/b.Elapsed().Seconds(), "readings/s")
}

// BenchmarkValidateDefects validates a day with a gap, a spike and a
// negative value: the path that formats reasons.
func BenchmarkValidateDefects(b *testing.B) {
	days, _ := golden(b, 30)
	d := days[29]
	d.Values = append([]int64(nil), d.Values...)
	d.Quality = append([]cim.Quality(nil), d.Quality...)
	for i := 10; i < 14; i++ {
		d.Values[i], d.Quality[i] = 0, cim.QualityMissing
	}
	d.Values[40], d.Values[5] = 4000, -3
	c := vee.Context{History: days[1:29]}
	rules := vee.DefaultRules()
	b.ReportAllocs()
	for b.Loop() {
		if fs := vee.Validate(d, rules, c); len(fs) != 3 {
			b.Fatal(fs)
		}
	}
}
