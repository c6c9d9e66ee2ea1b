package dlms

import (
	"context"
	"errors"
	"testing"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/dlms/apdu"
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

// Without block transfer granted, a first block that is not the last one
// is the meter's problem: ErrTooLong, and no GET-request-next is sent. A
// single last block is taken, and a pdu-too-long exception is ErrTooLong.
func TestBlockTransferNotGranted(t *testing.T) {
	const noBlocks = serverConformance &^ apdu.ConformanceBlockTransferWithGetOrRead
	value := axdr.Encode(axdr.Uint16(9))
	for _, tc := range []struct {
		name    string
		answer  []byte
		tooMuch bool
	}{
		{"first of several blocks", block(1, false, value), true},
		{"one last block", block(1, true, value), false},
		{"pdu-too-long", enc(t, &apdu.ExceptionResponse{StateError: apdu.StateServiceNotAllowed, ServiceError: apdu.ServicePDUTooLong}), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			first := true
			s := &script{serve: func([]byte) ([]byte, error) {
				if first {
					first = false
					return plainAARE(t, noBlocks, 512), nil
				}
				return tc.answer, nil
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
			if len(s.sent) != 2 {
				t.Errorf("%d requests sent, want the AARQ and one GET", len(s.sent))
			}
		})
	}
}
