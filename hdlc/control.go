package hdlc

import "fmt"

// Control is the one-byte HDLC control field.
type Control byte

// Kind identifies the frame type encoded in a Control field.
type Kind uint8

// Frame kinds used by IEC 62056-46.
const (
	KindUnknown Kind = iota
	KindI            // information
	KindRR           // receive ready
	KindRNR          // receive not ready
	KindSNRM         // set normal response mode
	KindDISC         // disconnect
	KindUA           // unnumbered acknowledge
	KindDM           // disconnected mode
	KindFRMR         // frame reject
	KindUI           // unnumbered information
)

var kindNames = [...]string{"unknown", "I", "RR", "RNR", "SNRM", "DISC", "UA", "DM", "FRMR", "UI"}

// String returns the standard abbreviation of the kind.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return kindNames[0]
}

const pfBit = 0x10

// Unnumbered frame codes with the P/F bit cleared.
const (
	ctrlSNRM = 0x83
	ctrlDISC = 0x43
	ctrlUA   = 0x63
	ctrlDM   = 0x0F
	ctrlFRMR = 0x87
	ctrlUI   = 0x03
	ctrlRR   = 0x01
	ctrlRNR  = 0x05
)

// IControl returns the control field of an I-frame.
func IControl(ns, nr uint8, pf bool) Control {
	return Control(nr&7<<5 | ns&7<<1 | pfByte(pf))
}

// RRControl returns the control field of an RR frame acknowledging up to nr-1.
func RRControl(nr uint8, pf bool) Control {
	return Control(nr&7<<5 | ctrlRR | pfByte(pf))
}

// RNRControl returns the control field of an RNR frame.
func RNRControl(nr uint8, pf bool) Control {
	return Control(nr&7<<5 | ctrlRNR | pfByte(pf))
}

// UControl returns the control field of an unnumbered frame of kind k (SNRM,
// DISC, UA, DM, FRMR or UI). It returns 0 for other kinds.
func UControl(k Kind, pf bool) Control {
	var c byte
	switch k {
	case KindSNRM:
		c = ctrlSNRM
	case KindDISC:
		c = ctrlDISC
	case KindUA:
		c = ctrlUA
	case KindDM:
		c = ctrlDM
	case KindFRMR:
		c = ctrlFRMR
	case KindUI:
		c = ctrlUI
	default:
		return 0
	}
	return Control(c | pfByte(pf))
}

func pfByte(pf bool) byte {
	if pf {
		return pfBit
	}
	return 0
}

// Kind decodes the frame type.
func (c Control) Kind() Kind {
	switch {
	case c&1 == 0:
		return KindI
	case c&3 == 1:
		switch c & 0x0F {
		case ctrlRR:
			return KindRR
		case ctrlRNR:
			return KindRNR
		}
		return KindUnknown
	}
	switch byte(c) &^ pfBit {
	case ctrlSNRM:
		return KindSNRM
	case ctrlDISC:
		return KindDISC
	case ctrlUA:
		return KindUA
	case ctrlDM:
		return KindDM
	case ctrlFRMR:
		return KindFRMR
	case ctrlUI:
		return KindUI
	}
	return KindUnknown
}

// PF reports the poll/final bit.
func (c Control) PF() bool { return c&pfBit != 0 }

// NS returns the send sequence number N(S) of an I-frame.
func (c Control) NS() uint8 { return uint8(c>>1) & 7 }

// NR returns the receive sequence number N(R) of an I, RR or RNR frame.
func (c Control) NR() uint8 { return uint8(c>>5) & 7 }

// String renders the control field like "I N(S)=1 N(R)=2 P".
func (c Control) String() string {
	k := c.Kind()
	pf := ""
	if c.PF() {
		pf = " P/F"
	}
	switch k {
	case KindI:
		return fmt.Sprintf("I N(S)=%d N(R)=%d%s", c.NS(), c.NR(), pf)
	case KindRR, KindRNR:
		return fmt.Sprintf("%s N(R)=%d%s", k, c.NR(), pf)
	case KindUnknown:
		return fmt.Sprintf("control 0x%02X", byte(c))
	}
	return k.String() + pf
}
