package linkio

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

func pipe(t *testing.T) (net.Conn, net.Conn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c, s
}

func TestDeadlineInterruptsRead(t *testing.T) {
	c, _ := pipe(t)
	d := New(c)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := d.SetRead(ctx, time.Time{}); err != nil {
		t.Fatal(err)
	}
	_, err := c.Read(make([]byte, 1))
	if err = Error(ctx, "test", "read", err); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want deadline exceeded", err)
	}
}

func TestCancelInterruptsBlockedRead(t *testing.T) {
	c, _ := pipe(t)
	d := New(c)
	ctx, cancel := context.WithCancel(context.Background())
	stop := d.Watch(ctx)
	defer stop()
	if err := d.SetRead(ctx, time.Time{}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		done <- Error(ctx, "test", "read", err)
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want canceled", err)
	}
	if err := d.SetWrite(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("SetWrite after cancel: %v", err)
	}
}

func TestWithoutDeadlineSupport(t *testing.T) {
	d := New(struct{}{})
	if err := d.SetRead(context.Background(), time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := d.SetWrite(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestServeClosesEverythingWhenContextEnds(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	accepted := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, ln, "test", func(ctx context.Context, c net.Conn) error {
			close(accepted)
			_, err := c.Read(make([]byte, 1)) // blocks until Serve closes c
			return err
		}, nil)
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	<-accepted
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve returned %v after cancel", err)
	}
	// The server side closed the connection: the client reads EOF.
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("connection still open after Serve returned")
	}
}
