package objects

import (
	"bytes"
	"testing"

	"github.com/amigo-ami/amigo/axdr"
)

// FuzzParseKeyData feeds A-XDR bytes through axdr.Decode and ParseKeyData,
// the decoder of the key_transfer parameter; what parses must encode back
// to the value it came from.
func FuzzParseKeyData(f *testing.F) {
	// One global unicast key, wrapped (24 bytes).
	f.Add(axdr.Encode(axdr.Array(axdr.Structure(axdr.Enum(0), axdr.OctetString(bytes.Repeat([]byte{0xA5}, 24))))))
	f.Add(axdr.Encode(axdr.Array()))
	f.Add(axdr.Encode(axdr.Array(axdr.Structure(axdr.Uint8(0), axdr.OctetString(nil)))))
	f.Fuzz(func(t *testing.T, in []byte) {
		d, _, err := axdr.Decode(in)
		if err != nil {
			return
		}
		keys, ok := ParseKeyData(d)
		if !ok {
			return
		}
		items := make([]axdr.Data, len(keys))
		for i, k := range keys {
			items[i] = axdr.Structure(axdr.Enum(k.ID), axdr.OctetString(k.Data))
		}
		if again := axdr.Array(items...); !again.Equal(d) {
			t.Fatalf("re-encode differs: %s vs %s", again, d)
		}
	})
}
