package c1218

import (
	"fmt"

	"github.com/amigo-ami/amigo/linkio"
	"go.bug.st/serial"
)

// DefaultBaud is the rate a C12.18 optical port starts at, before a
// negotiate changes it.
const DefaultBaud = 9600

// OpenSerial opens an optical probe or serial line at baud (0: 9600) with
// 8N1 framing. Pass WithBaudSwitch(SerialBaudSwitch(port)) to the link so
// a negotiated rate takes effect.
func OpenSerial(name string, baud int) (*linkio.Serial, error) {
	if baud == 0 {
		baud = DefaultBaud
	}
	p, err := serial.Open(name, &serial.Mode{BaudRate: baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
	if err != nil {
		return nil, fmt.Errorf("c1218: open %s: %w", name, err)
	}
	return linkio.NewSerial(p), nil
}

// SerialBaudSwitch changes a serial port's rate, for WithBaudSwitch.
func SerialBaudSwitch(s *linkio.Serial) func(rate int) error {
	return func(rate int) error {
		return s.Port.SetMode(&serial.Mode{BaudRate: rate, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
	}
}
