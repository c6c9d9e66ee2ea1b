package dlms_test

import (
	"context"
	"errors"
	"testing"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/dlms"
	"github.com/amigo-ami/amigo/dlms/apdu"
	"github.com/amigo-ami/amigo/dlms/security"
)

// TestSignedRequestsClientSide: a signed request goes out as
// general-signing (a meter not provisioned answers it as an unknown
// service); one that needs blocks, or has no signing function, or whose
// signing fails, is not sent.
func TestSignedRequestsClientSide(t *testing.T) {
	f := startMeter(t)
	ctx := context.Background()
	c, err := dlms.Dial(ctx, f.wrapper, f.options(matrix[3], dlms.LinkWrapper))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	clock := dlms.Method{Class: 8, OBIS: [6]byte{0, 0, 1, 0, 0, 255}, Method: 1}
	var signed []byte
	sign := func(_ context.Context, data []byte) ([]byte, error) {
		signed = data
		return make([]byte, security.SignatureSize), nil
	}
	_, err = c.ActionSigned(ctx, clock, axdr.Int8(0), dlms.Signing{Counter: 7, Sign: sign})
	var ee *dlms.ExceptionError
	if !errors.As(err, &ee) || ee.ServiceError != apdu.ServiceNotSupported {
		t.Fatalf("signed request to a meter not provisioned: %v", err)
	}
	g, perr := security.ParseGeneralSigning(append(append(signed, security.SignatureSize), make([]byte, security.SignatureSize)...))
	if perr != nil || len(g.TransactionID) != 8 || g.TransactionID[7] != 7 || string(g.Originator) != "AMGTEST1" ||
		string(g.Recipient) != "AMI\x00\x00\x00\x00\x09" || len(g.DateTime) != 12 || !security.IsCiphered(g.Content[0]) {
		t.Fatalf("signed data %X: %+v %v", signed, g, perr)
	}

	// The association lives on: the refusal did not cost it.
	if _, err := c.Get(ctx, dlms.Attr{Class: 8, OBIS: [6]byte{0, 0, 1, 0, 0, 255}, Attribute: 2}, nil); err != nil {
		t.Fatalf("after the refusal: %v", err)
	}
	long := axdr.OctetString(make([]byte, 4000))
	if err := c.SetSigned(ctx, dlms.Attr{Class: 1, OBIS: [6]byte{0, 0, 96, 1, 0, 255}, Attribute: 2}, long, dlms.Signing{Counter: 8, Sign: sign}); !errors.Is(err, dlms.ErrSignedTooLong) {
		t.Errorf("signed request in blocks: %v, want ErrSignedTooLong", err)
	}
	if _, err := c.ActionSigned(ctx, clock, axdr.Int8(0), dlms.Signing{Counter: 9}); err == nil {
		t.Error("a signed request without a signing function was sent")
	}
	boom := errors.New("HSM unavailable")
	if _, err := c.ActionSigned(ctx, clock, axdr.Int8(0), dlms.Signing{Counter: 10, Sign: func(context.Context, []byte) ([]byte, error) {
		return nil, boom
	}}); !errors.Is(err, boom) {
		t.Errorf("signing failure: %v", err)
	}
}
