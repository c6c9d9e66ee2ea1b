// Package wrapper owns the DLMS/COSEM TCP-UDP transport layer of IEC
// 62056-47 (the "wrapper"): the 8-byte header of version, source wPort,
// destination wPort and APDU length, its codec, and Conn, which sends and
// receives whole APDUs over a stream with context deadlines, a bound on the
// accepted APDU length and wPort checks.
package wrapper

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Version is the only wrapper protocol version defined.
const Version = 0x0001

// HeaderLen is the size of the wrapper header.
const HeaderLen = 8

// Well-known wPorts: the public client SAP and the management logical device.
const (
	PublicClient     = 16
	ManagementDevice = 1
)

// Errors wrapped by the codec and Conn.
var (
	ErrTruncated = errors.New("wrapper: truncated frame")
	ErrVersion   = errors.New("wrapper: unsupported version")
	ErrTooLong   = errors.New("wrapper: APDU length exceeds limit")
	ErrPort      = errors.New("wrapper: unexpected wPort")
)

// Header is a decoded wrapper header.
type Header struct {
	Version  uint16
	Src, Dst uint16 // wPorts: client SAP or server logical device address
	Length   uint16 // APDU length in bytes
}

// Frame is one decoded wrapper frame.
type Frame struct {
	Src, Dst uint16
	// APDU aliases the input of ParseFrame.
	APDU []byte
}

// VersionError reports a header whose version is not 1.
type VersionError struct{ Got uint16 }

func (e *VersionError) Error() string {
	return fmt.Sprintf("wrapper: header version 0x%04X, want 0x0001", e.Got)
}

// Unwrap returns ErrVersion.
func (e *VersionError) Unwrap() error { return ErrVersion }

// LengthError reports a header announcing more APDU bytes than allowed.
type LengthError struct{ Length, Max int }

func (e *LengthError) Error() string {
	return fmt.Sprintf("wrapper: header announces %d APDU bytes, limit %d", e.Length, e.Max)
}

// Unwrap returns ErrTooLong.
func (e *LengthError) Unwrap() error { return ErrTooLong }

// PortError reports a frame between other wPorts than the Conn's.
type PortError struct{ Src, Dst, WantSrc, WantDst uint16 }

func (e *PortError) Error() string {
	return fmt.Sprintf("wrapper: frame from wPort %d to %d, expected %d to %d", e.Src, e.Dst, e.WantSrc, e.WantDst)
}

// Unwrap returns ErrPort.
func (e *PortError) Unwrap() error { return ErrPort }

// AppendFrame appends a wrapper header and apdu to b. An APDU longer than
// 65535 bytes cannot be described by the header and yields a *LengthError.
func AppendFrame(b []byte, src, dst uint16, apdu []byte) ([]byte, error) {
	if len(apdu) > 0xFFFF {
		return b, &LengthError{len(apdu), 0xFFFF}
	}
	b = binary.BigEndian.AppendUint16(b, Version)
	b = binary.BigEndian.AppendUint16(b, src)
	b = binary.BigEndian.AppendUint16(b, dst)
	b = binary.BigEndian.AppendUint16(b, uint16(len(apdu)))
	return append(b, apdu...), nil
}

// DecodeHeader decodes the header at the start of b.
func DecodeHeader(b []byte) (Header, error) {
	if len(b) < HeaderLen {
		return Header{}, fmt.Errorf("%w: %d of %d header bytes", ErrTruncated, len(b), HeaderLen)
	}
	h := Header{
		Version: binary.BigEndian.Uint16(b),
		Src:     binary.BigEndian.Uint16(b[2:]),
		Dst:     binary.BigEndian.Uint16(b[4:]),
		Length:  binary.BigEndian.Uint16(b[6:]),
	}
	if h.Version != Version {
		return h, &VersionError{h.Version}
	}
	return h, nil
}

// ParseFrame decodes one frame at the start of b and returns it with the
// number of bytes consumed.
func ParseFrame(b []byte) (Frame, int, error) {
	return ParseFrameLimit(b, 0xFFFF)
}

// ParseFrameLimit is ParseFrame rejecting APDUs longer than maxAPDU.
func ParseFrameLimit(b []byte, maxAPDU int) (Frame, int, error) {
	h, err := DecodeHeader(b)
	if err != nil {
		return Frame{}, 0, err
	}
	n := int(h.Length)
	if n > maxAPDU {
		return Frame{}, 0, &LengthError{n, maxAPDU}
	}
	if len(b)-HeaderLen < n {
		return Frame{}, 0, fmt.Errorf("%w: header announces %d APDU bytes, %d present", ErrTruncated, n, len(b)-HeaderLen)
	}
	return Frame{Src: h.Src, Dst: h.Dst, APDU: b[HeaderLen : HeaderLen+n]}, HeaderLen + n, nil
}
