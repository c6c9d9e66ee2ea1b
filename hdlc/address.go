package hdlc

import (
	"fmt"
	"strconv"
)

// Address is an HDLC address field. Client addresses are one byte carrying the
// client SAP. Server addresses are one, two or four bytes: an upper (logical
// device) and an optional lower (physical device) part, 7 bits per byte with
// the least significant bit of each byte used as the extension bit.
type Address struct {
	// Upper is the client SAP or the server's upper (logical) address.
	Upper uint16
	// Lower is the server's lower (physical) address; unused when Size is 1.
	Lower uint16
	// Size is the encoded length in bytes: 1, 2 or 4.
	Size int
}

// Well-known address values from IEC 62056-46.
const (
	// NoStation is the reserved "no station" address.
	NoStation = 0x00
	// AllStation1 is the one-byte broadcast (all-station) address.
	AllStation1 = 0x7F
	// AllStation2 is the 14-bit broadcast (all-station) address used in four-byte addresses.
	AllStation2 = 0x3FFF
)

// ClientAddress returns the one-byte address of client SAP sap (0..127).
func ClientAddress(sap uint8) Address {
	return Address{Upper: uint16(sap), Size: 1}
}

// ServerAddress returns a server address with the given logical (upper) and
// physical (lower) parts encoded on size bytes (1, 2 or 4). With size 1 the
// physical part is not transmitted.
func ServerAddress(logical, physical uint16, size int) Address {
	if size == 1 {
		physical = 0
	}
	return Address{Upper: logical, Lower: physical, Size: size}
}

// String formats the address as upper, or upper/lower for multi-byte forms.
func (a Address) String() string {
	if a.Size <= 1 {
		return strconv.Itoa(int(a.Upper))
	}
	return fmt.Sprintf("%d/%d(%dB)", a.Upper, a.Lower, a.Size)
}

func (a Address) valid() error {
	switch a.Size {
	case 1:
		if a.Upper > 0x7F {
			return fmt.Errorf("%w: %d does not fit in 7 bits", ErrAddress, a.Upper)
		}
	case 2:
		if a.Upper > 0x7F || a.Lower > 0x7F {
			return fmt.Errorf("%w: %d/%d does not fit in 7+7 bits", ErrAddress, a.Upper, a.Lower)
		}
	case 4:
		if a.Upper > 0x3FFF || a.Lower > 0x3FFF {
			return fmt.Errorf("%w: %d/%d does not fit in 14+14 bits", ErrAddress, a.Upper, a.Lower)
		}
	default:
		return fmt.Errorf("%w: size %d is not 1, 2 or 4", ErrAddress, a.Size)
	}
	return nil
}

// AppendAddress appends the encoded address to b.
func AppendAddress(b []byte, a Address) ([]byte, error) {
	if err := a.valid(); err != nil {
		return b, err
	}
	switch a.Size {
	case 1:
		return append(b, byte(a.Upper)<<1|1), nil
	case 2:
		return append(b, byte(a.Upper)<<1, byte(a.Lower)<<1|1), nil
	default:
		return append(b,
			byte(a.Upper>>7)<<1, byte(a.Upper&0x7F)<<1,
			byte(a.Lower>>7)<<1, byte(a.Lower&0x7F)<<1|1), nil
	}
}

// DecodeAddress decodes an address at the start of b and returns it with the
// number of bytes used. The field ends at the first byte whose low bit is set.
func DecodeAddress(b []byte) (Address, int, error) {
	n := 0
	for i := 0; i < len(b) && i < 4; i++ {
		if b[i]&1 != 0 {
			n = i + 1
			break
		}
	}
	if n == 0 {
		if len(b) < 4 {
			return Address{}, 0, ErrTruncated
		}
		return Address{}, 0, fmt.Errorf("%w: field longer than 4 bytes", ErrAddress)
	}
	if n == 3 {
		return Address{}, 0, fmt.Errorf("%w: 3-byte address field", ErrAddress)
	}
	switch n {
	case 1:
		return Address{Upper: uint16(b[0] >> 1), Size: 1}, 1, nil
	case 2:
		return Address{Upper: uint16(b[0] >> 1), Lower: uint16(b[1] >> 1), Size: 2}, 2, nil
	default:
		return Address{
			Upper: uint16(b[0]>>1)<<7 | uint16(b[1]>>1),
			Lower: uint16(b[2]>>1)<<7 | uint16(b[3]>>1),
			Size:  4,
		}, 4, nil
	}
}
