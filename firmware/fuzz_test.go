package firmware

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode feeds bytes through Decode: what decodes must encode back to
// the same bytes, and nothing panics.
func FuzzDecode(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.amfw"))
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("AMFW\x01"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		img, err := Decode(in)
		if err != nil {
			return
		}
		out, err := img.Encode()
		if err != nil {
			t.Fatalf("decoded image does not encode: %v", err)
		}
		if !bytes.Equal(out, in) {
			t.Fatalf("re-encode differs")
		}
	})
}
