package hdlc

// crcTable is the byte-wise table for CRC-16/X-25 (reflected polynomial 0x8408).
var crcTable = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i)
		for range 8 {
			if c&1 != 0 {
				c = c>>1 ^ 0x8408
			} else {
				c >>= 1
			}
		}
		t[i] = c
	}
	return t
}()

// CRC16 returns the CRC-16/X-25 of b (init 0xFFFF, reflected, xorout 0xFFFF),
// the checksum used for both the HCS and the FCS. It is transmitted least
// significant byte first.
func CRC16(b []byte) uint16 {
	c := uint16(0xFFFF)
	for _, x := range b {
		c = c>>8 ^ crcTable[byte(c)^x]
	}
	return ^c
}

func appendCRC(b []byte, c uint16) []byte {
	return append(b, byte(c), byte(c>>8))
}
