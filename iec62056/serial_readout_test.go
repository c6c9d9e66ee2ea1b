//go:build linux

package iec62056

import (
	"context"
	"testing"
	"time"
)

// TestReadoutSerialPTY reads a mode C meter and programs it through
// SerialPort on a pty, switching rates with SetReadoutBaudRate (7E1 kept),
// with the meter side on the pty master.
func TestReadoutSerialPTY(t *testing.T) {
	master, name := openPTY(t)
	port, err := OpenOpticalProbe(name)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	defer port.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m := newTestMeter()
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- ServeReadout(sctx, master, Identification{Manufacturer: "AMG", BaudChar: '5', Ident: "PTY"}, m)
	}()
	id, sets, err := Readout(ctx, port, "", WithBaudSwitch(port.SetReadoutBaudRate))
	if err != nil {
		t.Fatal(err)
	}
	if id.Ident != "PTY" || len(sets) != 3 || sets[1].Values[0].Value != "001234.567" {
		t.Fatalf("%+v %v", id, sets)
	}
	// Back to the sign-on rate, as a probe starts every session.
	if err := port.SetReadoutBaudRate(300); err != nil {
		t.Fatal(err)
	}
	p, err := Program(ctx, port, "", WithBaudSwitch(port.SetReadoutBaudRate))
	if err != nil {
		t.Fatal(err)
	}
	if d, err := p.Read(ctx, "0.9.1"); err != nil || d.Values[0].Value != "10:15:00" {
		t.Fatalf("%v %v", d, err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	stop()
	master.SetReadDeadline(time.Now()) // unblock the meter's read
	<-done
}
