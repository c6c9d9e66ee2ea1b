package wmbus

// crcTable is CRC-16 with the polynomial of EN 13757-4 (x^16 + x^13 +
// x^12 + x^11 + x^10 + x^8 + x^6 + x^5 + x^2 + 1, 0x3D65), MSB first.
var crcTable = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x3D65
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

// CRC returns the EN 13757-4 CRC of b: initial value 0, complemented at
// the end. It is sent high byte first.
func CRC(b []byte) uint16 {
	var c uint16
	for _, x := range b {
		c = c<<8 ^ crcTable[byte(c>>8)^x]
	}
	return ^c
}

func putCRC(dst []byte, block []byte) []byte {
	c := CRC(block)
	return append(dst, byte(c>>8), byte(c))
}

func crcOK(block []byte, hi, lo byte) bool {
	c := CRC(block)
	return byte(c>>8) == hi && byte(c) == lo
}
