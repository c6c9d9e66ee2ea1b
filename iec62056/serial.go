package iec62056

import (
	"fmt"
	"os"
	"sync"
	"time"

	"go.bug.st/serial"
)

// SerialPort adapts a serial port to the io.ReadWriteCloser with
// SetReadDeadline that the HDLC and mode E sessions expect. The underlying
// driver only has a per-read timeout, so reads are sliced to notice a
// deadline moved by a cancelled context.
type SerialPort struct {
	port serial.Port
	mu   sync.Mutex
	dl   time.Time
}

// readSlice bounds one driver read so that deadline changes take effect.
const readSlice = 50 * time.Millisecond

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
	return &SerialPort{port: p}, nil
}

// SetBaudRate waits for pending output to leave, then switches the line to
// baud with 8N1 framing, as IEC 62056-21 mode E requires for HDLC.
func (s *SerialPort) SetBaudRate(baud int) error {
	if err := s.port.Drain(); err != nil {
		return fmt.Errorf("iec62056: drain before baud switch: %w", err)
	}
	return s.port.SetMode(&serial.Mode{BaudRate: baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
}

// SetReadDeadline sets the time after which Read fails with
// os.ErrDeadlineExceeded; zero means no deadline.
func (s *SerialPort) SetReadDeadline(t time.Time) error {
	s.mu.Lock()
	s.dl = t
	s.mu.Unlock()
	return nil
}

// Read reads at least one byte, or fails when the read deadline passes.
func (s *SerialPort) Read(p []byte) (int, error) {
	for {
		s.mu.Lock()
		dl := s.dl
		s.mu.Unlock()
		wait := readSlice
		if !dl.IsZero() {
			left := time.Until(dl)
			if left <= 0 {
				return 0, os.ErrDeadlineExceeded
			}
			wait = min(wait, left)
		}
		if err := s.port.SetReadTimeout(wait); err != nil {
			return 0, err
		}
		n, err := s.port.Read(p)
		if n > 0 || err != nil {
			return n, err
		}
	}
}

// Write writes p to the port.
func (s *SerialPort) Write(p []byte) (int, error) { return s.port.Write(p) }

// Close closes the port.
func (s *SerialPort) Close() error { return s.port.Close() }
