//go:build linux

package iec62056

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/amigo-ami/amigo/hdlc"
)

// openPTY returns the master side and the slave device name of a new
// pseudo-terminal, the stand-in for a serial line with an optical probe.
func openPTY(t *testing.T) (*os.File, string) {
	t.Helper()
	// Non-blocking, so that os.NewFile returns a file the runtime polls:
	// only then does SetReadDeadline end the meter side's read at the end
	// of a test, rather than leave it blocked in read(2) for ever.
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("no pseudo-terminals: %v", err)
	}
	m := os.NewFile(uintptr(fd), "/dev/ptmx")
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("ptsname: %v", err)
	}
	return m, fmt.Sprintf("/dev/pts/%d", n)
}

// TestSerialPTY runs the mode E sign-on and an HDLC link through SerialPort
// on a pty slave, with the meter side on the pty master.
func TestSerialPTY(t *testing.T) {
	master, name := openPTY(t)
	port, err := OpenOpticalProbe(name)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	defer port.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := AcceptModeE(ctx, master, Identification{Manufacturer: "AMG", BaudChar: '5', Ident: "PTY"}, WithEcho())
		if err != nil {
			done <- err
			return
		}
		srv, err := hdlc.NewServer(master, hdlc.ServerAddress(1, 0, 1))
		if err != nil {
			done <- err
			return
		}
		apdu, err := srv.Recv(ctx)
		if err == nil {
			err = srv.Send(ctx, apdu)
		}
		done <- err
	}()
	id, err := SignOnModeE(ctx, port, "", WithBaudSwitch(port.SetBaudRate))
	if err != nil {
		t.Fatal(err)
	}
	if id.Ident != "PTY" {
		t.Fatalf("%+v", id)
	}
	cl, err := hdlc.NewClient(port, hdlc.ClientAddress(16), hdlc.ServerAddress(1, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	req := bytes.Repeat([]byte{0x7E, 0x7D, 0x11}, 100)
	if err := cl.Send(ctx, req); err != nil {
		t.Fatal(err)
	}
	got, err := cl.Recv(ctx)
	if err != nil || !bytes.Equal(got, req) {
		t.Fatalf("%d bytes %v", len(got), err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// A read deadline in the past fails at once.
	_ = port.SetReadDeadline(time.Now().Add(-time.Second))
	if _, err := port.Read(make([]byte, 1)); !os.IsTimeout(err) {
		t.Fatalf("deadline: %v", err)
	}
}
