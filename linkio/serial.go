package linkio

import (
	"os"
	"sync"
	"time"

	"go.bug.st/serial"
)

// Serial gives a serial port the read deadline that sessions set from
// their context. The driver has only a per-read timeout, so a read waits
// in slices short enough to notice a deadline moved by a cancelled
// context.
type Serial struct {
	// Port is the open port, for what only its driver does (baud rate
	// and framing changes, draining output).
	Port serial.Port
	mu   sync.Mutex
	dl   time.Time
}

// readSlice bounds one driver read, so that deadline changes take effect.
const readSlice = 50 * time.Millisecond

// NewSerial wraps an open port.
func NewSerial(p serial.Port) *Serial { return &Serial{Port: p} }

// SetReadDeadline sets the time after which Read fails with
// os.ErrDeadlineExceeded; zero means none.
func (s *Serial) SetReadDeadline(t time.Time) error {
	s.mu.Lock()
	s.dl = t
	s.mu.Unlock()
	return nil
}

// Read reads at least one byte, or fails when the read deadline passes.
func (s *Serial) Read(p []byte) (int, error) {
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
		if err := s.Port.SetReadTimeout(wait); err != nil {
			return 0, err
		}
		n, err := s.Port.Read(p)
		if n > 0 || err != nil {
			return n, err
		}
	}
}

// Write writes p to the port.
func (s *Serial) Write(p []byte) (int, error) { return s.Port.Write(p) }

// Close closes the port.
func (s *Serial) Close() error { return s.Port.Close() }
