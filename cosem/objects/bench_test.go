package objects

import (
	"testing"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
)

func BenchmarkObjectList(b *testing.B) {
	tree, _ := NewTree()
	for i := 0; i < 100; i++ {
		tree.Add(NewRegister([6]byte{1, 0, 1, 8, byte(i), 255}, axdr.Uint32(0), axdr.ScalerUnit{}))
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = axdr.Encode(tree.ObjectList(cosem.FullAccess))
	}
}

func BenchmarkGetRegister(b *testing.B) {
	r := NewRegister(mustLN("1.0.1.8.0.255"), axdr.Uint32(1), axdr.ScalerUnit{Unit: 30})
	req := &cosem.AttributeRequest{Attribute: 2}
	b.ReportAllocs()
	for b.Loop() {
		r.Get(bg, req)
	}
}
