package mbus

import (
	"errors"
	"fmt"
)

// CI fields (EN 13757-3 table 2) a wired master or slave uses, and the ones
// a wireless M-Bus stack shares with it.
const (
	CIApplicationReset     = 0x50 // master to slave: application reset
	CIDataSend             = 0x51 // master to slave: data send (records)
	CISelect               = 0x52 // master to slave: selection of a secondary address
	CISelectLong           = 0x56 // selection with the enhanced identification
	CISynchronize          = 0x5C // synchronize action
	CIResponseLong         = 0x72 // slave to master: variable data, long header
	CIResponseShort        = 0x7A // slave to master: variable data, short header
	CIResponseNone         = 0x78 // slave to master: variable data, no header
	CIResponseFixed        = 0x73 // slave to master: fixed data structure
	CIAlarm                = 0x71 // slave to master: alarm status
	CIDataSendLong         = 0x5B // master to slave: data send with long header
	CIDataSendShort        = 0x5A // master to slave: data send with short header
	CIBaudRate300          = 0xB8 // switch baud rate: 0xB8..0xBF for 300..38400 Bd
	CIBaudRate2400         = 0xBB
	CIBaudRate9600         = 0xBD
	CIManufacturerSpecific = 0xA0 // 0xA0..0xB7
)

// Medium (device type) codes of the fixed header (EN 13757-3 table 3).
const (
	MediumOther       = 0x00
	MediumOil         = 0x01
	MediumElectricity = 0x02
	MediumGas         = 0x03
	MediumHeat        = 0x04 // heat, return temperature
	MediumSteam       = 0x05
	MediumWarmWater   = 0x06
	MediumWater       = 0x07
	MediumHCA         = 0x08
	MediumCompressed  = 0x09
	MediumCoolingOut  = 0x0A
	MediumCoolingIn   = 0x0B
	MediumHeatIn      = 0x0C // heat, flow temperature
	MediumHeatCooling = 0x0D
	MediumBus         = 0x0E
	MediumUnknown     = 0x0F
	MediumHotWater    = 0x15
	MediumColdWater   = 0x16
	MediumPressure    = 0x18
)

// LongHeaderLen and ShortHeaderLen are the sizes of the data header after CI
// 0x72 and 0x7A.
const (
	LongHeaderLen  = 12
	ShortHeaderLen = 4
)

// Status byte bits of the data header (EN 13757-3 table 5).
const (
	StatusApplicationBusy  = 0x01
	StatusApplicationError = 0x02
	StatusPowerLow         = 0x04
	StatusPermanentError   = 0x08
	StatusTemporaryError   = 0x10
)

// ErrHeader reports a data header that cannot be decoded.
var ErrHeader = errors.New("mbus: bad data header")

// Header is the fixed 12-byte data header after CI 0x72: the meter's
// identification (its secondary address), then the access number, status
// and configuration (signature) word. ID is the 8-digit identification
// number as a decimal value.
type Header struct {
	ID           uint32
	Manufacturer string // three upper-case letters (FLAG association code)
	Version      byte
	Medium       byte
	Access       byte
	Status       byte
	Signature    uint16 // configuration word; 0 when unencrypted
}

// ShortHeader is the 4-byte header after CI 0x7A.
type ShortHeader struct {
	Access    byte
	Status    byte
	Signature uint16
}

// Address returns the header's secondary address.
func (h Header) Address() Secondary {
	return Secondary{ID: h.ID, Manufacturer: h.Manufacturer, Version: h.Version, Medium: h.Medium}
}

// DecodeLongHeader decodes the 12-byte header at the start of b.
func DecodeLongHeader(b []byte) (Header, error) {
	if len(b) < LongHeaderLen {
		return Header{}, fmt.Errorf("%w: %d bytes, need %d", ErrHeader, len(b), LongHeaderLen)
	}
	id, err := decodeBCDID(b[0:4])
	if err != nil {
		return Header{}, fmt.Errorf("%w: identification: %v", ErrHeader, err)
	}
	return Header{
		ID:           id,
		Manufacturer: ManufacturerString(uint16(b[4]) | uint16(b[5])<<8),
		Version:      b[6],
		Medium:       b[7],
		Access:       b[8],
		Status:       b[9],
		Signature:    uint16(b[10]) | uint16(b[11])<<8,
	}, nil
}

// AppendLong appends the header's 12 bytes to dst.
func (h Header) AppendLong(dst []byte) ([]byte, error) {
	if h.ID > 99999999 {
		return dst, fmt.Errorf("%w: identification %d has more than 8 digits", ErrHeader, h.ID)
	}
	m, err := ManufacturerCode(h.Manufacturer)
	if err != nil {
		return dst, err
	}
	dst = appendBCD(dst, uint64(h.ID), 4)
	return append(dst, byte(m), byte(m>>8), h.Version, h.Medium, h.Access, h.Status,
		byte(h.Signature), byte(h.Signature>>8)), nil
}

// DecodeShortHeader decodes the 4-byte header at the start of b.
func DecodeShortHeader(b []byte) (ShortHeader, error) {
	if len(b) < ShortHeaderLen {
		return ShortHeader{}, fmt.Errorf("%w: %d bytes, need %d", ErrHeader, len(b), ShortHeaderLen)
	}
	return ShortHeader{Access: b[0], Status: b[1], Signature: uint16(b[2]) | uint16(b[3])<<8}, nil
}

// AppendShort appends the header's 4 bytes to dst.
func (h ShortHeader) AppendShort(dst []byte) []byte {
	return append(dst, h.Access, h.Status, byte(h.Signature), byte(h.Signature>>8))
}

// ManufacturerString returns the three letters a manufacturer field codes
// (EN 13757-3 clause 6.3.2: 5 bits a letter, 'A' is 1).
func ManufacturerString(m uint16) string {
	b := [3]byte{byte(m>>10&0x1F) + 64, byte(m>>5&0x1F) + 64, byte(m&0x1F) + 64}
	return string(b[:])
}

// ManufacturerCode returns the field for three upper-case letters.
func ManufacturerCode(s string) (uint16, error) {
	if len(s) != 3 {
		return 0, fmt.Errorf("%w: manufacturer %q is not three letters", ErrHeader, s)
	}
	var m uint16
	for i := 0; i < 3; i++ {
		c := s[i]
		if c < 'A' || c > 'Z' {
			return 0, fmt.Errorf("%w: manufacturer %q is not three letters A-Z", ErrHeader, s)
		}
		m = m<<5 | uint16(c-64)
	}
	return m, nil
}

// decodeBCDID decodes a 4-byte, least significant byte first BCD number.
func decodeBCDID(b []byte) (uint32, error) {
	v, neg, err := decodeBCD(b)
	if err != nil || neg {
		return 0, fmt.Errorf("% X is not 8 BCD digits", b)
	}
	return uint32(v), nil
}
