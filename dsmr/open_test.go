package dsmr

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/testenv"
)

// TestOpenSerial reads telegrams through a pseudo-terminal pair made by
// socat: Open takes the device for a serial port, and the reader gets
// what was written at the other end.
func TestOpenSerial(t *testing.T) {
	socat, err := exec.LookPath("socat")
	if err != nil {
		testenv.Service(t, "socat", err)
	}
	dir := t.TempDir()
	meterEnd, readerEnd := filepath.Join(dir, "meter"), filepath.Join(dir, "p1")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, socat, "-d", "-d", "pty,raw,echo=0,link="+meterEnd, "pty,raw,echo=0,link="+readerEnd)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); cmd.Wait() }()
	// socat says when both ends exist.
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "starting data transfer loop") {
			break
		}
	}
	go io.Copy(io.Discard, stderr)

	src, err := Open(ctx, readerEnd, SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	w, err := os.OpenFile(meterEnd, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	good := Build(sample(V50)).Encode()
	go func() {
		w.Write([]byte("\x00garbage\r\n"))
		w.Write(good)
		w.Write(good)
	}()
	r := NewReader(src, ReaderOptions{})
	n := 0
	for n < 2 {
		tg, err := r.Next()
		var se *StreamError
		if errors.As(err, &se) {
			continue
		}
		if err != nil {
			t.Fatalf("after %d telegrams: %v (stats %+v)", n, err, r.Stats())
		}
		wantNumber(t, tg, "1-0:1.8.1", 1234567, -3)
		n++
	}
	if r.Stats().Garbage != 1 {
		t.Errorf("stats %+v, want the garbage line counted", r.Stats())
	}
}

// TestOpenEndsWithContext: a bridge that accepts and says nothing holds a
// reader only until its context ends.
func TestOpenEndsWithContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			defer c.Close()
			io.Copy(io.Discard, c)
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	src, err := Open(ctx, "tcp://"+ln.Addr().String(), SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := NewReader(src, ReaderOptions{}).Next(); done <- err }()
	cancel()
	if err := <-done; err == nil {
		t.Fatal("Next returned no error after its context ended")
	}
	// And a dead address fails with what was asked for.
	if _, err := Open(context.Background(), "tcp://127.0.0.1:1", SourceOptions{DialTimeout: 2 * time.Second}); err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("dial error %v", err)
	}
	if _, err := Open(context.Background(), filepath.Join(t.TempDir(), "none"), SourceOptions{}); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}
