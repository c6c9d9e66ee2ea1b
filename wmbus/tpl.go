package wmbus

import (
	"crypto/hmac"
	"encoding/binary"
	"fmt"
)

// CI fields (EN 13757-4, -7; OMS) of the layers this package reads.
const (
	CIShort   = 0x7A // transport layer, short header: ACC ST CF
	CILong    = 0x72 // transport layer, long header: ID M Ver Type ACC ST CF
	CINone    = 0x78 // application data, no transport header
	CIELLI    = 0x8C // extended link layer I: CC ACC
	CIELLII   = 0x8D // extended link layer II: CC ACC SN CRC, maybe AES-CTR
	CIAFL     = 0x90 // authentication and fragmentation layer
	ellEncCTR = 1    // SN's ENC field: AES-128-CTR
)

// AFL fragmentation control bits and the message control's authentication
// type (OMS Vol. 2, 6.3).
const (
	aflMoreFragments = 0x4000
	aflHasMCL        = 0x2000
	aflHasML         = 0x1000
	aflHasMCR        = 0x0800
	aflHasMAC        = 0x0400
	aflHasKI         = 0x0200
	mclHasMCR        = 0x20
	mclHasML         = 0x10
	atCMAC8          = 5 // AES-CMAC-128, 8 bytes
)

// ELL is an extended link layer's fields.
type ELL struct {
	CI  byte
	CC  byte // communication control
	ACC byte
	SN  uint32 // session number (ELL II only)
}

// AFL is an authentication and fragmentation layer's fields.
type AFL struct {
	FC  uint16 // fragmentation control
	MCL byte   // message control
	MCR uint32 // message counter
	MAC []byte
}

// Telegram is a decoded telegram: its layers, and its application data in
// the clear.
type Telegram struct {
	Mode   Mode
	Format Format
	C      byte
	Link   Address // M and A fields
	ELL    *ELL
	AFL    *AFL
	CI     byte // of the transport layer
	// Meter is the meter the data is from: the long header's address,
	// else the link's.
	Meter     Address
	ACC       byte
	Status    byte
	Config    uint16 // configuration field
	ConfigExt byte   // mode 7's configuration field extension
	Security  int    // SecurityNone, SecurityMode5 or SecurityMode7
	// Data are the application data (EN 13757-3 records), decrypted,
	// without the 2F2F check bytes.
	Data []byte
}

// KeyFunc returns the AES-128 key of a meter, or false.
type KeyFunc func(Address) ([]byte, bool)

// Parse decodes a frame's layers, decrypting with keys; the error wraps
// ErrFrame, ErrUnknownMeter, ErrWrongKey or ErrUnsupported and names the
// meter.
func Parse(f Frame, keys KeyFunc) (Telegram, error) {
	t := Telegram{C: f.C, Link: f.Address, Meter: f.Address}
	err := t.parse(f.Payload, keys)
	if err != nil {
		return t, fmt.Errorf("meter %v: %w", t.Meter, err)
	}
	return t, nil
}

func short(layer string, need, have int) error {
	return fmt.Errorf("%w: %s needs %d bytes, has %d", ErrFrame, layer, need, have)
}

func (t *Telegram) parse(p []byte, keys KeyFunc) error {
	if len(p) == 0 {
		return fmt.Errorf("%w: no CI field", ErrFrame)
	}
	if p[0] == CIELLI || p[0] == CIELLII {
		n := 3
		if p[0] == CIELLII {
			n = 9
		}
		if len(p) < n {
			return short("ELL", n, len(p))
		}
		e := &ELL{CI: p[0], CC: p[1], ACC: p[2]}
		t.ELL = e
		if p[0] == CIELLI {
			p = p[3:]
		} else {
			e.SN = binary.LittleEndian.Uint32(p[3:])
			rest := append([]byte(nil), p[7:]...)
			if enc := e.SN >> 29; enc == ellEncCTR {
				key, ok := keys.get(t.Link)
				if !ok {
					return ErrUnknownMeter
				}
				if err := ellCTR(key, t.Link, e.CC, e.SN, rest); err != nil {
					return err
				}
			} else if enc != 0 {
				return fmt.Errorf("%w: ELL encryption %d", ErrUnsupported, enc)
			}
			if !crcOK(rest[2:], rest[0], rest[1]) {
				if e.SN>>29 == ellEncCTR {
					return fmt.Errorf("%w: ELL payload CRC after AES-CTR", ErrWrongKey)
				}
				return fmt.Errorf("%w: ELL payload", ErrCRC)
			}
			p = rest[2:]
		}
		if len(p) == 0 {
			return nil
		}
	}
	if p[0] == CIAFL {
		rest, err := t.parseAFL(p)
		if err != nil {
			return err
		}
		p = rest
	}
	return t.parseTPL(p, keys)
}

func (k KeyFunc) get(a Address) ([]byte, bool) {
	if k == nil {
		return nil, false
	}
	return k(a)
}

func (t *Telegram) parseAFL(p []byte) ([]byte, error) {
	if len(p) < 4 {
		return nil, short("AFL", 4, len(p))
	}
	l := int(p[1])
	if len(p) < 2+l || l < 2 {
		return nil, short("AFL", 2+l, len(p))
	}
	body := p[2 : 2+l]
	a := &AFL{FC: binary.LittleEndian.Uint16(body)}
	t.AFL = a
	if a.FC&aflMoreFragments != 0 || a.FC&0xFF > 1 {
		return nil, fmt.Errorf("%w: AFL fragment %d", ErrUnsupported, a.FC&0xFF)
	}
	q := body[2:]
	take := func(n int, what string) ([]byte, error) {
		if len(q) < n {
			return nil, short("AFL."+what, n, len(q))
		}
		b := q[:n]
		q = q[n:]
		return b, nil
	}
	if a.FC&aflHasMCL != 0 {
		b, err := take(1, "MCL")
		if err != nil {
			return nil, err
		}
		a.MCL = b[0]
	}
	if a.FC&aflHasKI != 0 {
		if _, err := take(2, "KI"); err != nil {
			return nil, err
		}
	}
	if a.FC&aflHasMCR != 0 {
		b, err := take(4, "MCR")
		if err != nil {
			return nil, err
		}
		a.MCR = binary.LittleEndian.Uint32(b)
	}
	if a.FC&aflHasMAC != 0 {
		if a.MCL&0x0F != atCMAC8 {
			return nil, fmt.Errorf("%w: AFL authentication type %d", ErrUnsupported, a.MCL&0x0F)
		}
		b, err := take(8, "MAC")
		if err != nil {
			return nil, err
		}
		a.MAC = append([]byte(nil), b...)
	}
	if a.FC&aflHasML != 0 {
		if _, err := take(2, "ML"); err != nil {
			return nil, err
		}
	}
	return p[2+l:], nil
}

// macInput is what the AFL MAC covers: MCL || MCR || [ML] || the
// transport layer from its CI to the end.
func aflMACInput(a *AFL, ml []byte, tpl []byte) []byte {
	in := []byte{a.MCL}
	in = binary.LittleEndian.AppendUint32(in, a.MCR)
	in = append(in, ml...)
	return append(in, tpl...)
}

func (t *Telegram) parseTPL(p []byte, keys KeyFunc) error {
	if len(p) == 0 {
		return fmt.Errorf("%w: no transport layer CI", ErrFrame)
	}
	t.CI = p[0]
	tpl := p
	var h []byte
	switch p[0] {
	case CINone:
		t.Data = append([]byte(nil), p[1:]...)
		return nil
	case CIShort:
		if len(p) < 5 {
			return short("short header", 5, len(p))
		}
		h, p = p[1:5], p[5:]
	case CILong:
		if len(p) < 13 {
			return short("long header", 13, len(p))
		}
		long := p[1:13]
		// The long header's address puts the id before the manufacturer.
		t.Meter = Address{ID: binary.LittleEndian.Uint32(long), Manufacturer: binary.LittleEndian.Uint16(long[4:]), Version: long[6], Type: long[7]}
		h, p = long[8:], p[13:]
	default:
		return fmt.Errorf("%w: CI %02x", ErrUnsupported, tpl[0])
	}
	t.ACC, t.Status = h[0], h[1]
	t.Config = binary.LittleEndian.Uint16(h[2:])
	t.Security = int(t.Config>>8) & 0x1F
	blocks := int(t.Config>>4) & 0x0F
	switch t.Security {
	case SecurityNone:
		t.Data = append([]byte(nil), p...)
		return nil
	case SecurityMode5:
		key, ok := keys.get(t.Meter)
		if !ok {
			return ErrUnknownMeter
		}
		return t.decrypt(key, mode5IV(t.Meter, t.ACC), blocks, p)
	case SecurityMode7:
		if len(p) < 1 {
			return short("configuration field extension", 1, 0)
		}
		t.ConfigExt, p = p[0], p[1:]
		if kdf := t.ConfigExt >> 4 & 3; kdf != 1 {
			return fmt.Errorf("%w: mode 7 key derivation %d", ErrUnsupported, kdf)
		}
		if t.AFL == nil || t.AFL.FC&aflHasMCR == 0 {
			return fmt.Errorf("%w: mode 7 without an AFL message counter", ErrFrame)
		}
		key, ok := keys.get(t.Meter)
		if !ok {
			return ErrUnknownMeter
		}
		kenc, err := DeriveKey(key, dcEncFromMeter, t.AFL.MCR, t.Meter.ID)
		if err != nil {
			return err
		}
		if t.AFL.MAC != nil {
			kmac, err := DeriveKey(key, dcMACFromMeter, t.AFL.MCR, t.Meter.ID)
			if err != nil {
				return err
			}
			mac, _ := CMAC(kmac[:], aflMACInput(t.AFL, nil, tpl))
			if !hmac.Equal(mac[:8], t.AFL.MAC) {
				return fmt.Errorf("%w: AFL MAC does not verify", ErrWrongKey)
			}
		}
		return t.decrypt(kenc[:], make([]byte, 16), blocks, p)
	}
	return fmt.Errorf("%w: security mode %d", ErrUnsupported, t.Security)
}

func (t *Telegram) decrypt(key, iv []byte, blocks int, p []byte) error {
	n := 16 * blocks
	if n == 0 || len(p) < n {
		return fmt.Errorf("%w: %d encrypted blocks announced, %d bytes follow", ErrFrame, blocks, len(p))
	}
	plain, err := cbcDecrypt(key, iv, p[:n])
	if err != nil {
		return err
	}
	if plain[0] != 0x2F || plain[1] != 0x2F {
		return fmt.Errorf("%w: mode %d: no 2F2F after decryption", ErrWrongKey, t.Security)
	}
	t.Data = append(plain[2:], p[n:]...)
	return nil
}

// Message is what a meter sends, before it is sealed into a frame.
type Message struct {
	C byte // 0: SND_NR
	// Meter is the meter's address, in the link layer (the short header
	// is used).
	Meter    Address
	ACC      byte
	Status   byte
	Security int // SecurityNone, SecurityMode5 or SecurityMode7
	// Counter is mode 7's AFL message counter; a meter never repeats one.
	Counter uint32
	// CC, when not zero, puts an ELL I with this communication control
	// before the rest, as OMS meters do in mode 7.
	CC   byte
	Data []byte // EN 13757-3 records
}

// Frame seals m under key (unused without security).
func (m *Message) Frame(key []byte) (Frame, error) {
	c := m.C
	if c == 0 {
		c = CSndNR
	}
	var p []byte
	if m.CC != 0 {
		p = append(p, CIELLI, m.CC, m.ACC)
	}
	switch m.Security {
	case SecurityNone:
		p = append(p, CIShort, m.ACC, m.Status, 0, 0)
		p = append(p, m.Data...)
	case SecurityMode5, SecurityMode7:
		// 2F2F first, so the receiver knows its key was right; 2F idle
		// fill to the block.
		plain := append([]byte{0x2F, 0x2F}, m.Data...)
		for len(plain)%16 != 0 {
			plain = append(plain, 0x2F)
		}
		blocks := len(plain) / 16
		if blocks > 15 {
			return Frame{}, fmt.Errorf("wmbus: meter %v: %d bytes of data do not fit 15 blocks", m.Meter, len(m.Data))
		}
		cf := uint16(m.Security)<<8 | uint16(blocks)<<4
		var enc []byte
		var err error
		tpl := []byte{CIShort, m.ACC, m.Status, byte(cf), byte(cf >> 8)}
		if m.Security == SecurityMode5 {
			enc, err = cbcEncrypt(key, mode5IV(m.Meter, m.ACC), plain)
			if err != nil {
				return Frame{}, err
			}
			p = append(append(p, tpl...), enc...)
			break
		}
		tpl = append(tpl, 0x10) // CFE: key derivation function 1, key id 0
		kenc, err := DeriveKey(key, dcEncFromMeter, m.Counter, m.Meter.ID)
		if err != nil {
			return Frame{}, err
		}
		kmac, _ := DeriveKey(key, dcMACFromMeter, m.Counter, m.Meter.ID)
		if enc, err = cbcEncrypt(kenc[:], make([]byte, 16), plain); err != nil {
			return Frame{}, err
		}
		tpl = append(tpl, enc...)
		a := &AFL{FC: aflHasMCL | aflHasMCR | aflHasMAC, MCL: mclHasMCR | atCMAC8, MCR: m.Counter}
		mac, _ := CMAC(kmac[:], aflMACInput(a, nil, tpl))
		afl := []byte{CIAFL, 15, byte(a.FC), byte(a.FC >> 8), a.MCL}
		afl = binary.LittleEndian.AppendUint32(afl, a.MCR)
		afl = append(afl, mac[:8]...)
		p = append(append(p, afl...), tpl...)
	default:
		return Frame{}, fmt.Errorf("%w: security mode %d", ErrUnsupported, m.Security)
	}
	return Frame{C: c, Address: m.Meter, Payload: p}, nil
}
