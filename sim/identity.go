package sim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
)

// Manufacturer is the three-letter flag of simulated meters, the first
// three bytes of their system titles.
const Manufacturer = "AMG"

// Identity is what a meter is known by: derived from the fleet seed and
// the meter index alone, so it costs nothing to hold for idle meters.
type Identity struct {
	Index       int    // 0-based position in the fleet
	ID          uint64 // meter id in the model: Index+1
	SystemTitle [8]byte
	EK, AK      [16]byte // global unicast encryption and authentication keys of client 1
	KEK         [16]byte // master key: key_transfer wraps new keys under it
	Password    string   // LLS password of client 17
	Addr        netip.AddrPort
}

// derive returns HMAC-SHA256(seed, label || id): reproducible per-meter
// secrets for a simulator, not a key-management scheme.
func derive(seed uint64, label string, id uint64) [32]byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seed)
	h := hmac.New(sha256.New, k[:])
	h.Write([]byte("amigo-sim/"))
	h.Write([]byte(label))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], id)
	h.Write(b[:])
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// addrOf places meter index i on 127.0.0.0/8: i+2 in the lower 24 bits, so
// the first meter is 127.0.0.2 and 127.0.0.1 stays free for other services.
func addrOf(i int, port uint16) netip.AddrPort {
	v := uint32(i) + 2
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, byte(v >> 16), byte(v >> 8), byte(v)}), port)
}

// indexOf inverts addrOf; false for anything outside 127.0.0.0/8 or the
// fleet.
func indexOf(a netip.Addr, n int) (int, bool) {
	a = a.Unmap()
	if !a.Is4() {
		return 0, false
	}
	b := a.As4()
	if b[0] != 127 {
		return 0, false
	}
	v := int(b[1])<<16 | int(b[2])<<8 | int(b[3])
	i := v - 2
	if i < 0 || i >= n {
		return 0, false
	}
	return i, true
}

func identity(seed uint64, i int, port uint16, flag string) Identity {
	id := uint64(i) + 1
	in := Identity{Index: i, ID: id, Addr: addrOf(i, port)}
	copy(in.SystemTitle[:3], flag)
	// 5 bytes of serial: ids beyond 2^40 do not occur in a simulator.
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], id)
	copy(in.SystemTitle[3:], b[3:])
	ek := derive(seed, "ek", id)
	ak := derive(seed, "ak", id)
	pw := derive(seed, "lls", id)
	copy(in.EK[:], ek[:16])
	copy(in.AK[:], ak[:16])
	kek := derive(seed, "kek", id)
	copy(in.KEK[:], kek[:16])
	in.Password = hex.EncodeToString(pw[:6])
	return in
}
