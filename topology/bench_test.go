package topology

import (
	"bytes"
	"fmt"
	"testing"
)

// benchFile is a topology file of n services: 40 to a transformer, 25
// transformers to a feeder, 20 feeders to a substation.
func benchFile(n int) []byte {
	var b bytes.Buffer
	b.WriteString("usage_point,transformer,feeder,substation,region,lat,lon,phase,distance_m,transformer_distance_m\n")
	for i := range n {
		tr := i / 40
		fmt.Fprintf(&b, "UP%010d,TR-%d,FD-%d,SS-%d,region-%d,%.5f,%.5f,%d,%d,%d\n",
			i, tr, tr/25, tr/500, i/100000, 52+float64(i%1000)/1e4, 5+float64(i/1000)/1e4, 1+i%3, 10+i%90, 100+tr%25*150)
	}
	return b.Bytes()
}

// BenchmarkParseCSV reads a file of 100,000 services into a grid.
func BenchmarkParseCSV(b *testing.B) {
	in := benchFile(100_000)
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := ParseCSV(bytes.NewReader(in)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMerge lays a manifest of 1,000 services over a grid of
// 100,000.
func BenchmarkMerge(b *testing.B) {
	base, err := ParseCSV(bytes.NewReader(benchFile(100_000)))
	if err != nil {
		b.Fatal(err)
	}
	var rows []Row
	for i := range 1000 {
		rows = append(rows, Row{UsagePoint: fmt.Sprintf("UP%010d", i*97), Transformer: fmt.Sprintf("TR-%d", i%2500)})
	}
	nodes, err := NodesOf(rows)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Merge(base, nodes); err != nil {
			b.Fatal(err)
		}
	}
}
