package dlms

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/dlms/apdu"
	"github.com/amigo-ami/amigo/obis"
)

// A meter may give the counter it expects inside a rejecting AARE.
func TestAARECarriesExpectedCounter(t *testing.T) {
	ui := enc(t, &apdu.ExceptionResponse{StateError: apdu.StateServiceUnknown, ServiceError: apdu.ServiceInvocationCounterError, InvocationCounter: 5001})
	aare := enc(t, &apdu.AARE{ApplicationContext: apdu.ContextLN, Result: apdu.ResultRejectedPermanent, Diagnostic: apdu.Diagnostic{Value: 1}, UserInformation: ui})
	c, err := NewClient(newReplay(aare), Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Associate(context.Background())
	var ice *InvocationCounterError
	if !errors.As(err, &ice) || ice.Expected != 5001 || !errors.Is(err, ErrInvocationCounter) {
		t.Fatalf("associate: %v", err)
	}
}

// Without block transfer granted, a meter that starts one anyway is
// followed (it serves GET-request-next, as the Gurux C server example does
// for its public client), a single last block is taken, and a pdu-too-long
// exception is ErrTooLong.
func TestBlockTransferNotGranted(t *testing.T) {
	const noBlocks = serverConformance &^ apdu.ConformanceBlockTransferWithGetOrRead
	value := axdr.Encode(axdr.Uint16(9))
	for _, tc := range []struct {
		name    string
		answers [][]byte
		tooMuch bool
	}{
		{"several blocks", [][]byte{block(1, false, value[:1]), block(2, true, value[1:])}, false},
		{"one last block", [][]byte{block(1, true, value)}, false},
		{"pdu-too-long", [][]byte{enc(t, &apdu.ExceptionResponse{StateError: apdu.StateServiceNotAllowed, ServiceError: apdu.ServicePDUTooLong})}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			answers := append([][]byte{plainAARE(t, noBlocks, 512)}, tc.answers...)
			s := &script{serve: func([]byte) ([]byte, error) {
				a := answers[0]
				answers = answers[1:]
				return a, nil
			}}
			c, err := NewClient(s, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Associate(context.Background()); err != nil {
				t.Fatal(err)
			}
			if c.Negotiated().BlockTransferGet() {
				t.Fatal("block transfer granted")
			}
			d, err := c.Get(context.Background(), registerValue, nil)
			if tc.tooMuch {
				if !errors.Is(err, ErrTooLong) || errors.Is(err, ErrLinkDropped) {
					t.Fatalf("get: %v", err)
				}
			} else if v, ok := d.Uint(); err != nil || !ok || v != 9 {
				t.Fatalf("get: %v %v", d, err)
			}
			if want := 1 + len(tc.answers); len(s.sent) != want {
				t.Errorf("%d requests sent, want the AARQ and %d", len(s.sent), want-1)
			}
		})
	}
}

// Rows captured within one second share their time (the Gurux server
// captures so when asked in a burst): all are kept, by entry as by range.
func TestProfileEqualTimesKept(t *testing.T) {
	at := axdr.DateTimeOctets(axdr.DateTime{Year: 2026, Month: 12, Day: 6, DayOfWeek: 7, Hour: 20, Minute: 46, Second: 45})
	row := func(v uint16) axdr.Data { return axdr.Structure(at, axdr.Uint16(v)) }
	cols := axdr.Array(
		axdr.Structure(axdr.Uint16(8), axdr.OctetString([]byte{0, 0, 1, 0, 0, 255}), axdr.Int8(2), axdr.Uint16(0)),
		axdr.Structure(axdr.Uint16(3), axdr.OctetString([]byte{1, 1, 21, 25, 0, 255}), axdr.Int8(2), axdr.Uint16(0)))
	get := func(d axdr.Data) []byte {
		return enc(t, &apdu.GetResponseNormal{InvokeID: 0xC1, Result: apdu.ResultData(d)})
	}
	link := &fuzzLink{answers: [][]byte{plainAARE(t, serverConformance, 512), get(cols), get(axdr.Uint32(3)), get(axdr.Uint32(0)),
		get(axdr.Array(row(12))), get(axdr.Array(row(10), row(11), row(12)))}}
	c, err := NewClient(link, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Associate(ctx); err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 12, 6, 20, 0, 0, 0, time.UTC)
	got, err := c.ReadProfileFrom(ctx, obis.Code{1, 0, 99, 1, 0, 255}, from, from.Add(time.Hour), ByEntry)
	if err != nil || len(got.Rows) != 3 || got.Method != ByEntry {
		t.Fatalf("%v: %d rows by %s", err, len(got.Rows), got.Method)
	}
}
