package dlms

import (
	"bytes"
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/hdlc"
	"github.com/amigo-ami/amigo/iec62056"
	"github.com/amigo-ami/amigo/wrapper"
)

// apduServer is the meter end of a loopback test: it answers each request
// with the next recorded answer.
type apduServer interface {
	Recv(ctx context.Context) ([]byte, error)
	Send(ctx context.Context, apdu []byte) error
}

type served struct {
	reqs [][]byte
	saps []uint16 // client address of each request
	err  error
}

// serveRecorded answers with tr.sc, tolerating HDLC disconnects between
// associations, and returns once the client has gone.
func serveRecorded(ctx context.Context, s apduServer, sap func() uint16, answers [][]byte) served {
	var out served
	for {
		req, err := s.Recv(ctx)
		if errors.Is(err, hdlc.ErrDisconnected) {
			continue
		}
		if err != nil {
			if len(answers) != 0 {
				out.err = err
			}
			return out
		}
		out.reqs = append(out.reqs, req)
		out.saps = append(out.saps, sap())
		if len(answers) == 0 {
			out.err = errors.New("request after the recorded session")
			return out
		}
		if err := s.Send(ctx, answers[0]); err != nil {
			out.err = err
			return out
		}
		answers = answers[1:]
	}
}

func TestLoopback(t *testing.T) {
	cases := []struct {
		file string
		// saps is the client SAP the server saw for each request.
		saps []uint16
	}{
		{file: "01"},
		{file: "02"},
		{file: "04", saps: []uint16{16, 16, 16, 1, 1, 1, 1, 1, 1}},
		{file: "05", saps: []uint16{16, 16, 1, 1, 1, 1, 1, 1}},
		{file: "07"},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			tr := loadTrace(t, tc.file)
			o := tr.options(t)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			done := make(chan served, 1)
			go func() {
				var s apduServer
				var sap func() uint16
				switch tr.Transport {
				case "wrapper":
					conn, err := wrapper.Accept(ln, 1)
					if err != nil {
						done <- served{err: err}
						return
					}
					defer conn.Close()
					s, sap = conn, conn.Remote
				default:
					nc, err := ln.Accept()
					if err != nil {
						done <- served{err: err}
						return
					}
					defer nc.Close()
					if tr.Transport == "modeE+hdlc" {
						id := iec62056.Identification{Manufacturer: "GRX", BaudChar: '5', Ident: "12345678"}
						if _, err := iec62056.AcceptModeE(ctx, nc, id, iec62056.WithEcho()); err != nil {
							done <- served{err: err}
							return
						}
					}
					srv, err := hdlc.NewServer(nc, hdlc.ServerAddress(1, 0, 1))
					if err != nil {
						done <- served{err: err}
						return
					}
					s, sap = srv, func() uint16 { return srv.Client().Upper }
				}
				done <- serveRecorded(ctx, s, sap, tr.sc)
			}()
			if tr.Transport == "modeE+hdlc" {
				o.ModeE = true
			}
			c, err := Dial(ctx, ln.Addr().String(), o)
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			if got := threeGets(ctx, t, c); len(got) != 3 {
				t.Fatalf("%d values", len(got))
			}
			if err := c.Release(ctx); err != nil {
				t.Fatalf("release: %v", err)
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			res := <-done
			if res.err != nil {
				t.Fatalf("server: %v", res.err)
			}
			if len(res.reqs) != len(tr.cs) {
				t.Fatalf("server got %d APDUs, want %d", len(res.reqs), len(tr.cs))
			}
			for i := range res.reqs {
				if !bytes.Equal(res.reqs[i], tr.cs[i]) {
					t.Errorf("request %d: %X, want %X", i, res.reqs[i], tr.cs[i])
				}
				want := o.clientSAP()
				if tc.saps != nil {
					want = tc.saps[i]
				}
				if res.saps[i] != want {
					t.Errorf("request %d from client %d, want %d", i, res.saps[i], want)
				}
			}
		})
	}
}

func TestDialRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = Dial(context.Background(), addr, Options{Timeout: time.Second})
	var oe *OpError
	if !errors.As(err, &oe) || oe.Op != "dial" || oe.Meter == "" {
		t.Errorf("dial to closed port: %v", err)
	}
}
