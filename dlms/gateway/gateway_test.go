package gateway

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	// A GET request for the clock (class 8, 0.0.1.0.0.255, attribute 2)
	// to the meter at physical address 12 34 56 78 on network 1.
	get := []byte{0xC0, 0x01, 0xC1, 0x00, 0x08, 0, 0, 1, 0, 0, 0xFF, 0x02, 0x00}
	b, err := Append(nil, PDU{NetworkID: 1, Address: []byte{0x12, 0x34, 0x56, 0x78}, APDU: get})
	if err != nil {
		t.Fatal(err)
	}
	want := append([]byte{0xE6, 0x01, 0x04, 0x12, 0x34, 0x56, 0x78}, get...)
	if !bytes.Equal(b, want) {
		t.Fatalf("encoded % X, want % X", b, want)
	}
	p, err := Decode(b)
	if err != nil || p.Response || p.NetworkID != 1 || !bytes.Equal(p.Address, want[3:7]) || !bytes.Equal(p.APDU, get) {
		t.Fatalf("decoded %+v %v", p, err)
	}
	r, _ := Append(nil, PDU{Response: true, APDU: []byte{0xC4}})
	if r[0] != TagResponse || r[2] != 0 {
		t.Fatalf("response % X", r)
	}
}

func TestBadInput(t *testing.T) {
	for _, b := range [][]byte{nil, {0xE6}, {0xE6, 0, 5, 1, 2}, {0xE6, 0, 1, 9}, {0xC0, 0, 0, 1}} {
		if _, err := Decode(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("% X: %v, want ErrMalformed", b, err)
		}
	}
	if _, err := Append(nil, PDU{Address: make([]byte, 256), APDU: []byte{1}}); err == nil {
		t.Error("an address of 256 bytes encoded")
	}
	if _, err := Append(nil, PDU{}); err == nil {
		t.Error("a gateway APDU without an APDU encoded")
	}
}

// pipe is one end of an in-memory APDU link.
type pipe struct{ in, out chan []byte }

func (p pipe) Send(_ context.Context, b []byte) error { p.out <- append([]byte(nil), b...); return nil }
func (p pipe) Recv(ctx context.Context) ([]byte, error) {
	select {
	case b := <-p.in:
		return b, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
func (p pipe) Close() error { return nil }

func TestClientChecksTheResponder(t *testing.T) {
	a, b := make(chan []byte, 1), make(chan []byte, 1)
	c := &Client{T: pipe{in: b, out: a}, NetworkID: 2, Address: []byte("M1")}
	ctx := context.Background()
	if err := c.Send(ctx, []byte{0xC0, 1}); err != nil {
		t.Fatal(err)
	}
	if p, err := Decode(<-a); err != nil || p.NetworkID != 2 || string(p.Address) != "M1" {
		t.Fatalf("request %+v %v", p, err)
	}
	b <- mustAppend(t, PDU{Response: true, NetworkID: 2, Address: []byte("M1"), APDU: []byte{0xC4, 1}})
	if got, err := c.Recv(ctx); err != nil || !bytes.Equal(got, []byte{0xC4, 1}) {
		t.Fatalf("Recv % X %v", got, err)
	}
	b <- mustAppend(t, PDU{Response: true, NetworkID: 2, Address: []byte("M2"), APDU: []byte{0xC4, 1}})
	if _, err := c.Recv(ctx); err == nil {
		t.Fatal("a response from another meter was taken")
	}
	b <- mustAppend(t, PDU{NetworkID: 2, Address: []byte("M1"), APDU: []byte{0xC4, 1}})
	if _, err := c.Recv(ctx); !errors.Is(err, ErrMalformed) {
		t.Fatalf("a request as the response: %v", err)
	}
}

func mustAppend(t *testing.T, p PDU) []byte {
	t.Helper()
	b, err := Append(nil, p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzDecode: decoding never panics, and what decodes re-encodes to the
// same bytes.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{0xE6, 0x01, 0x04, 0x12, 0x34, 0x56, 0x78, 0xC0, 0x01, 0xC1, 0x00, 0x08, 0, 0, 1, 0, 0, 0xFF, 0x02, 0x00})
	f.Add([]byte{0xE7, 0x00, 0x00, 0xC4, 0x01, 0xC1, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Decode(b)
		if err != nil {
			_ = err.Error()
			return
		}
		again, err := Append(nil, p)
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", p, err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("% X re-encodes to % X", b, again)
		}
	})
}

// TestLongAddressRefused: an address length of 128 or more would be an
// A-XDR length of more than one byte; it is refused, not misread.
func TestLongAddressRefused(t *testing.T) {
	b := append([]byte{TagRequest, 1, 0x81, 200}, make([]byte, 210)...)
	if _, err := Decode(b); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Decode of a two-byte length: %v", err)
	}
	if _, err := Append(nil, PDU{Address: make([]byte, 128), APDU: []byte{0xC0}}); err == nil {
		t.Fatal("Append of a 128-byte address: no error")
	}
}
