package hdlc

import "fmt"

// Params are the HDLC link parameters negotiated by SNRM/UA (IEC 62056-46
// §6.4.4.4.3.2). TX and RX are seen from the sender of the frame that carries
// them.
type Params struct {
	MaxInfoTX int // maximum information field length transmitted
	MaxInfoRX int // maximum information field length received
	WindowTX  int // window size transmit (1..7)
	WindowRX  int // window size receive (1..7)
}

// Default parameter values that apply when a field is absent.
const (
	DefaultMaxInfo = 128
	DefaultWindow  = 1
)

// Parameter field identifiers.
const (
	paramFormat    = 0x81
	paramGroup     = 0x80
	paramMaxInfoTX = 0x05
	paramMaxInfoRX = 0x06
	paramWindowTX  = 0x07
	paramWindowRX  = 0x08
)

// DefaultParams returns the parameters that apply when none are negotiated.
func DefaultParams() Params {
	return Params{DefaultMaxInfo, DefaultMaxInfo, DefaultWindow, DefaultWindow}
}

// IsDefault reports whether p equals DefaultParams, in which case the
// parameter field may be left out of an SNRM.
func (p Params) IsDefault() bool { return p == DefaultParams() }

// Validate checks the ranges: information lengths 1..2032 (the 11-bit frame
// length minus the largest header) and windows 1..7.
func (p Params) Validate() error {
	const maxInfo = MaxFrameLength - 15 // format 2, addresses 4+4, control 1, HCS 2, FCS 2
	if p.MaxInfoTX < 1 || p.MaxInfoTX > maxInfo || p.MaxInfoRX < 1 || p.MaxInfoRX > maxInfo {
		return fmt.Errorf("%w: information length %d/%d outside 1..%d", ErrParams, p.MaxInfoTX, p.MaxInfoRX, maxInfo)
	}
	if p.WindowTX < 1 || p.WindowTX > 7 || p.WindowRX < 1 || p.WindowRX > 7 {
		return fmt.Errorf("%w: window %d/%d outside 1..7", ErrParams, p.WindowTX, p.WindowRX)
	}
	return nil
}

// Reverse swaps TX and RX, turning the view of one peer into the other's.
func (p Params) Reverse() Params {
	return Params{p.MaxInfoRX, p.MaxInfoTX, p.WindowRX, p.WindowTX}
}

// Negotiate combines our parameters with the peer's (as the peer sent them)
// and returns ours: we never send more than the peer receives, nor accept
// more than it sends.
func Negotiate(ours, peer Params) Params {
	return Params{
		MaxInfoTX: min(ours.MaxInfoTX, peer.MaxInfoRX),
		MaxInfoRX: min(ours.MaxInfoRX, peer.MaxInfoTX),
		WindowTX:  min(ours.WindowTX, peer.WindowRX),
		WindowRX:  min(ours.WindowRX, peer.WindowTX),
	}
}

// AppendParams appends the parameter negotiation field to b. Values take the
// fewest of 1, 2 or 4 bytes.
func AppendParams(b []byte, p Params) []byte {
	b = append(b, paramFormat, paramGroup, 0)
	lenAt := len(b) - 1
	b = appendParam(b, paramMaxInfoTX, uint32(p.MaxInfoTX))
	b = appendParam(b, paramMaxInfoRX, uint32(p.MaxInfoRX))
	b = appendParam(b, paramWindowTX, uint32(p.WindowTX))
	b = appendParam(b, paramWindowRX, uint32(p.WindowRX))
	b[lenAt] = byte(len(b) - lenAt - 1)
	return b
}

func appendParam(b []byte, id byte, v uint32) []byte {
	switch {
	case v <= 0xFF:
		return append(b, id, 1, byte(v))
	case v <= 0xFFFF:
		return append(b, id, 2, byte(v>>8), byte(v))
	}
	return append(b, id, 4, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// ParseParams decodes a SNRM or UA information field. An empty field yields
// the defaults; absent parameters keep their defaults and unknown parameter
// identifiers are skipped.
func ParseParams(info []byte) (Params, error) {
	p := DefaultParams()
	if len(info) == 0 {
		return p, nil
	}
	if len(info) < 3 || info[0] != paramFormat || info[1] != paramGroup {
		return p, &DecodeError{"params", 0, fmt.Errorf("%w: no format 0x81 group 0x80 header", ErrParams)}
	}
	n := int(info[2])
	if 3+n > len(info) {
		return p, &DecodeError{"params", 2, fmt.Errorf("%w: group length %d exceeds %d bytes", ErrParams, n, len(info)-3)}
	}
	g := info[3 : 3+n]
	for i := 0; i < len(g); {
		if i+2 > len(g) {
			return p, &DecodeError{"params", 3 + i, fmt.Errorf("%w: truncated parameter", ErrParams)}
		}
		id, l := g[i], int(g[i+1])
		if l > 4 || i+2+l > len(g) {
			return p, &DecodeError{"params", 3 + i, fmt.Errorf("%w: parameter 0x%02X length %d", ErrParams, id, l)}
		}
		var v int
		for _, x := range g[i+2 : i+2+l] {
			v = v<<8 | int(x)
		}
		switch id {
		case paramMaxInfoTX:
			p.MaxInfoTX = v
		case paramMaxInfoRX:
			p.MaxInfoRX = v
		case paramWindowTX:
			p.WindowTX = v
		case paramWindowRX:
			p.WindowRX = v
		}
		i += 2 + l
	}
	return p, nil
}
