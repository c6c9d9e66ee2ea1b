package osgp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Errors of the framing.
var (
	ErrFrame  = errors.New("osgp: malformed frame")
	ErrLength = errors.New("osgp: frame length out of range")
)

// Node is an ISO/IEC 14908-1 subnet/node address within a domain.
type Node struct {
	Subnet uint8 // 1..255
	Node   uint8 // 1..127
}

func (n Node) String() string { return fmt.Sprintf("%d/%d", n.Subnet, n.Node) }

// The addresses used when none is configured: a meter reached over TCP is
// alone on its connection, so amigo's meters default to node 1/2 and the
// head-end to 1/1, both in the empty domain.
var (
	DefaultMeterNode   = Node{Subnet: 1, Node: 2}
	DefaultHeadEndNode = Node{Subnet: 1, Node: 1}
)

func orNode(n, def Node) Node {
	if n == (Node{}) {
		return def
	}
	return n
}

// Valid reports whether n can be a source or destination.
func (n Node) Valid() bool { return n.Subnet != 0 && n.Node != 0 && n.Node <= 127 }

// PDU formats of the NPDU header (ISO/IEC 14908-1, network layer).
const (
	formatTPDU = 0
	formatSPDU = 1
	formatAPDU = 3
)

// Address formats of the NPDU header: 2 is subnet/node, 3 names the
// destination by its 48-bit unique (Neuron) ID.
const (
	addrSubnetNode = 2
	addrUniqueID   = 3
)

// SPDU types: a request and its response share the transaction ID.
const (
	spduRequest  = 0
	spduResponse = 2
)

// Kind is the session role of a frame: a request, its response, or an
// unacknowledged APDU.
type Kind uint8

const (
	KindRequest Kind = iota
	KindResponse
	KindUnacked
)

// Frame is one ISO/IEC 14908-1 packet as OSGP uses it: layer 2's header
// octet, the network layer's addressing within a domain, the session
// layer's request/response header, and the APDU. Layer 2's CRC is not
// carried: on TCP the stream has its own integrity, and on the power line
// the modem adds it.
type Frame struct {
	Priority bool
	Src, Dst Node
	// UniqueID, when 6 octets, addresses the destination by its Neuron ID
	// (address format 3) within Dst.Subnet instead of by Dst.Node.
	UniqueID []byte
	// Domain is the domain ID: 0, 1, 3 or 6 octets.
	Domain []byte
	Kind   Kind
	TID    uint8 // transaction ID 0..15 of a request and its response
	APDU   []byte
}

func domainCode(n int) (byte, bool) {
	switch n {
	case 0:
		return 0, true
	case 1:
		return 1, true
	case 3:
		return 2, true
	case 6:
		return 3, true
	}
	return 0, false
}

var domainLens = [4]int{0, 1, 3, 6}

// AppendFrame appends f's octets to b.
func AppendFrame(b []byte, f Frame) ([]byte, error) {
	dc, ok := domainCode(len(f.Domain))
	if !ok {
		return b, fmt.Errorf("%w: domain of %d octets", ErrFrame, len(f.Domain))
	}
	if !f.Src.Valid() || f.Dst.Subnet == 0 || (f.UniqueID == nil && !f.Dst.Valid()) {
		return b, fmt.Errorf("%w: address %s -> %s", ErrFrame, f.Src, f.Dst)
	}
	if f.UniqueID != nil && len(f.UniqueID) != 6 {
		return b, fmt.Errorf("%w: unique ID of %d octets", ErrFrame, len(f.UniqueID))
	}
	if f.TID > 15 || f.Kind > KindUnacked {
		return b, fmt.Errorf("%w: transaction %d kind %d", ErrFrame, f.TID, f.Kind)
	}
	var l2 byte
	if f.Priority {
		l2 = 0x80
	}
	format := byte(formatSPDU)
	if f.Kind == KindUnacked {
		format = formatAPDU
	}
	addr := byte(addrSubnetNode)
	if f.UniqueID != nil {
		addr = addrUniqueID
	}
	b = append(b, l2, format<<4|addr<<2|dc, f.Src.Subnet, 0x80|f.Src.Node, f.Dst.Subnet)
	if f.UniqueID != nil {
		b = append(b, f.UniqueID...)
	} else {
		b = append(b, 0x80|f.Dst.Node)
	}
	b = append(b, f.Domain...)
	switch f.Kind {
	case KindRequest:
		b = append(b, spduRequest<<4|f.TID)
	case KindResponse:
		b = append(b, spduResponse<<4|f.TID)
	}
	return append(b, f.APDU...), nil
}

// ParseFrame decodes one frame. The APDU aliases b.
func ParseFrame(b []byte) (Frame, error) {
	var f Frame
	if len(b) < 6 {
		return f, fmt.Errorf("%w: %d octets", ErrFrame, len(b))
	}
	f.Priority = b[0]&0x80 != 0
	h := b[1]
	if h>>6 != 0 {
		return f, fmt.Errorf("%w: NPDU version %d", ErrFrame, h>>6)
	}
	format, addr, dl := h>>4&3, h>>2&3, domainLens[h&3]
	if b[3]&0x80 == 0 {
		return f, fmt.Errorf("%w: source address is not subnet/node", ErrFrame)
	}
	f.Src = Node{b[2], b[3] & 0x7F}
	f.Dst.Subnet = b[4]
	p := 5
	switch addr {
	case addrSubnetNode:
		f.Dst.Node = b[5] & 0x7F
		p = 6
	case addrUniqueID:
		if len(b) < 11 {
			return f, fmt.Errorf("%w: unique ID cut short", ErrFrame)
		}
		f.UniqueID = append([]byte(nil), b[5:11]...)
		p = 11
	default:
		return f, fmt.Errorf("%w: address format %d is not for one node", ErrFrame, addr)
	}
	if len(b) < p+dl {
		return f, fmt.Errorf("%w: domain cut short", ErrFrame)
	}
	if dl > 0 {
		f.Domain = append([]byte(nil), b[p:p+dl]...)
	}
	p += dl
	switch format {
	case formatAPDU:
		f.Kind = KindUnacked
	case formatSPDU:
		if len(b) <= p {
			return f, fmt.Errorf("%w: no session header", ErrFrame)
		}
		s := b[p]
		p++
		f.TID = s & 0x0F
		switch s >> 4 & 7 {
		case spduRequest:
			f.Kind = KindRequest
		case spduResponse:
			f.Kind = KindResponse
		default:
			return f, fmt.Errorf("%w: session PDU type %d", ErrFrame, s>>4&7)
		}
		if s&0x80 != 0 {
			return f, fmt.Errorf("%w: 14908-1 authentication is not OSGP's", ErrFrame)
		}
	default:
		return f, fmt.Errorf("%w: PDU format %d", ErrFrame, format)
	}
	if !f.Src.Valid() || f.Dst.Subnet == 0 || (f.UniqueID == nil && !f.Dst.Valid()) {
		return f, fmt.Errorf("%w: address %s -> %s", ErrFrame, f.Src, f.Dst)
	}
	f.APDU = b[p:]
	return f, nil
}

// header returns the octets of f before its APDU: what the security
// suites authenticate besides the message itself, so a message cannot be
// redirected to another node or domain.
func header(f Frame) []byte {
	g := f
	g.APDU = nil
	b, _ := AppendFrame(nil, g)
	if len(b) > 0 {
		b[0] = 0 // layer 2's priority may change on the way
	}
	return b
}

// MaxFrame is the largest frame the TCP stream framing carries.
const MaxFrame = 0xFFFF

// WriteFrame writes one frame to a stream: its length in two octets, most
// significant first, then the frame. This is amigo's framing of OSGP on
// TCP (port 1629); on the power line the modem delimits packets.
func WriteFrame(w io.Writer, frame []byte) error {
	if len(frame) == 0 || len(frame) > MaxFrame {
		return fmt.Errorf("%w: %d octets", ErrLength, len(frame))
	}
	b := make([]byte, 2+len(frame))
	binary.BigEndian.PutUint16(b, uint16(len(frame)))
	copy(b[2:], frame)
	_, err := w.Write(b)
	return err
}

// ReadFrame reads one length-prefixed frame from a stream; a frame longer
// than limit (0: MaxFrame) is refused before it is read.
func ReadFrame(r io.Reader, limit int) ([]byte, error) {
	if limit <= 0 || limit > MaxFrame {
		limit = MaxFrame
	}
	var l [2]byte
	if _, err := io.ReadFull(r, l[:]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(l[:]))
	if n == 0 || n > limit {
		return nil, fmt.Errorf("%w: %d octets (limit %d)", ErrLength, n, limit)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return b, nil
}
