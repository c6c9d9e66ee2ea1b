package iec62056

import (
	"fmt"

	"github.com/amigo-ami/amigo/linkio"
	"go.bug.st/serial"
)

// SerialPort is an optical probe or serial line with the read deadline
// the HDLC, mode E and readout sessions expect (linkio.Serial), and the
// baud rate switches of IEC 62056-21.
type SerialPort struct{ *linkio.Serial }

// OpenSerial opens a serial port at baud with 8 data bits, no parity and one
// stop bit: direct HDLC lines, and mode E after the baud switch.
func OpenSerial(name string, baud int) (*SerialPort, error) {
	return openMode(name, &serial.Mode{BaudRate: baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
}

// OpenOpticalProbe opens an optical probe for the IEC 62056-21 sign-on: 300
// baud, 7 data bits, even parity, one stop bit. Pass (*SerialPort).SetBaudRate
// to SignOnModeE via WithBaudSwitch to move to 8N1 for HDLC.
func OpenOpticalProbe(name string) (*SerialPort, error) {
	return openMode(name, &serial.Mode{BaudRate: 300, DataBits: 7, Parity: serial.EvenParity, StopBits: serial.OneStopBit})
}

func openMode(name string, m *serial.Mode) (*SerialPort, error) {
	p, err := serial.Open(name, m)
	if err != nil {
		return nil, fmt.Errorf("iec62056: open %s: %w", name, err)
	}
	return &SerialPort{linkio.NewSerial(p)}, nil
}

// SetBaudRate waits for pending output to leave, then switches the line to
// baud with 8N1 framing, as IEC 62056-21 mode E requires for HDLC.
func (s *SerialPort) SetBaudRate(baud int) error {
	if err := s.Port.Drain(); err != nil {
		return fmt.Errorf("iec62056: drain before baud switch: %w", err)
	}
	return s.Port.SetMode(&serial.Mode{BaudRate: baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
}

// SetReadoutBaudRate waits for pending output to leave, then switches the
// line to baud keeping the sign-on's 7E1 framing, as the readout and
// programming modes B and C do after their switch.
func (s *SerialPort) SetReadoutBaudRate(baud int) error {
	if err := s.Port.Drain(); err != nil {
		return fmt.Errorf("iec62056: drain before baud switch: %w", err)
	}
	return s.Port.SetMode(&serial.Mode{BaudRate: baud, DataBits: 7, Parity: serial.EvenParity, StopBits: serial.OneStopBit})
}
