package c1218

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Link octets.
const (
	STP = 0xEE // start of packet
	ACK = 0x06
	NAK = 0x15
)

// Control octet bits.
const (
	CtrlMulti  = 0x80 // part of a multi-packet transmission
	CtrlFirst  = 0x40 // the first packet of a multi-packet transmission
	CtrlToggle = 0x20 // alternates between packets, for duplicate detection
)

// HeaderLen is the octets before a packet's data: STP, identity, control,
// sequence number and the two-octet length; CRCLen follows the data.
const (
	HeaderLen = 6
	CRCLen    = 2
	// MaxData is the most data one packet carries: its length field is
	// two octets but the standard bounds a packet at 8192 octets.
	MaxData = 8192 - HeaderLen - CRCLen
)

// Packet is one C12.18 packet. Seq counts the packets that follow it in
// a multi-packet transmission, down to zero on the last.
type Packet struct {
	Identity byte
	Ctrl     byte
	Seq      byte
	Data     []byte
}

// CRC returns the CRC-16/X-25 (the HDLC frame check: reflected 0x1021,
// preset and final complement) of b.
func CRC(b []byte) uint16 {
	crc := uint16(0xFFFF)
	for _, x := range b {
		crc ^= uint16(x)
		for range 8 {
			if crc&1 != 0 {
				crc = crc>>1 ^ 0x8408
			} else {
				crc >>= 1
			}
		}
	}
	return ^crc
}

// Marshal encodes the packet with its CRC, low octet first.
func (p Packet) Marshal() []byte {
	b := make([]byte, 0, HeaderLen+len(p.Data)+CRCLen)
	b = append(b, STP, p.Identity, p.Ctrl, p.Seq)
	b = binary.BigEndian.AppendUint16(b, uint16(len(p.Data)))
	b = append(b, p.Data...)
	return binary.LittleEndian.AppendUint16(b, CRC(b))
}

// ErrCRC is wrapped by the error of a packet whose CRC does not match.
var ErrCRC = errors.New("c1218: packet CRC mismatch")

// ParsePacket decodes the packet at the start of b and returns how many
// octets it took. A packet cut short is an error that says so; a packet
// with a bad CRC returns its length too, so a reader can skip it.
func ParsePacket(b []byte) (Packet, int, error) {
	if len(b) < HeaderLen+CRCLen {
		return Packet{}, 0, fmt.Errorf("c1218: packet of %d octets, shorter than a header and CRC", len(b))
	}
	if b[0] != STP {
		return Packet{}, 0, fmt.Errorf("c1218: packet starts with 0x%02X, not 0xEE", b[0])
	}
	n := int(binary.BigEndian.Uint16(b[4:]))
	if n > MaxData {
		return Packet{}, 0, fmt.Errorf("c1218: packet length %d over %d", n, MaxData)
	}
	end := HeaderLen + n + CRCLen
	if len(b) < end {
		return Packet{}, 0, fmt.Errorf("c1218: packet of length %d cut short at %d octets", n, len(b))
	}
	if got, want := binary.LittleEndian.Uint16(b[HeaderLen+n:]), CRC(b[:HeaderLen+n]); got != want {
		return Packet{}, end, fmt.Errorf("%w: 0x%04X, want 0x%04X", ErrCRC, got, want)
	}
	return Packet{Identity: b[1], Ctrl: b[2], Seq: b[3], Data: append([]byte(nil), b[HeaderLen:HeaderLen+n]...)}, end, nil
}

// ErrTooLarge is wrapped when a message needs more packets than were
// negotiated.
var ErrTooLarge = errors.New("c1218: message too large")

// Split cuts a message into the packets that carry it, at most size
// octets each (header and CRC included), alternating the toggle bit from
// toggle on. It fails when the message needs more than max packets.
func Split(msg []byte, identity byte, size uint16, max uint8, toggle bool) ([]Packet, error) {
	per := int(size) - HeaderLen - CRCLen
	if per <= 0 {
		return nil, fmt.Errorf("c1218: packet size %d leaves no room for data", size)
	}
	per = min(per, MaxData)
	n := max1((len(msg) + per - 1) / per)
	if n > int(max) || n > 256 {
		return nil, fmt.Errorf("%w: %d octets need %d packets of %d, over the %d negotiated", ErrTooLarge, len(msg), n, size, max)
	}
	ps := make([]Packet, n)
	for i := range ps {
		p := Packet{Identity: identity, Seq: byte(n - 1 - i), Data: msg[i*per : min((i+1)*per, len(msg))]}
		if n > 1 {
			p.Ctrl |= CtrlMulti
			if i == 0 {
				p.Ctrl |= CtrlFirst
			}
		}
		if toggle {
			p.Ctrl |= CtrlToggle
		}
		toggle = !toggle
		ps[i] = p
	}
	return ps, nil
}

func max1(n int) int {
	if n < 1 {
		return 1
	}
	return n
}
