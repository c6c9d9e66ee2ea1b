package server

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/dlms/apdu"
)

func plainAARQ(t *testing.T, conf apdu.Conformance) []byte {
	return mustAppend(t, &apdu.AARQ{ApplicationContext: apdu.ContextLN,
		UserInformation: mustAppend(t, &apdu.InitiateRequest{DLMSVersion: 6, Conformance: conf, ClientMaxReceivePDUSize: 0xFFFF})})
}

// TestListNeedsMultipleReferences: a GET-, SET- or ACTION-with-list is
// refused when the association did not grant multiple-references.
func TestListNeedsMultipleReferences(t *testing.T) {
	d := plainDevice(t, 1024)
	d.Associations[0].Conformance = apdu.ConformanceGet | apdu.ConformanceSet | apdu.ConformanceAction | apdu.ConformanceSelectiveAccess
	p := serve(t, d, 16)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := p.exchange(ctx, plainAARQ(t, 0x401E5D)); err != nil {
		t.Fatal(err)
	}
	refused := mustAppend(t, &apdu.ExceptionResponse{StateError: apdu.StateServiceNotAllowed, ServiceError: apdu.ServiceNotSupported})
	for _, req := range []apdu.APDU{
		&apdu.GetRequestWithList{InvokeID: 0xC1, Attributes: []apdu.AttributeRequest{{Attribute: attr(8, lnClock, 2)}, {Attribute: attr(3, lnRegister, 2)}}},
		&apdu.SetRequestWithList{InvokeID: 0xC1, Attributes: []apdu.AttributeRequest{{Attribute: attr(3, lnRegister, 2)}}, Values: []axdr.Data{axdr.Uint16(1)}},
		&apdu.ActionRequestWithList{InvokeID: 0xC1, Methods: []apdu.MethodDescriptor{method(70, lnDisconnect, 1)}, Parameters: []axdr.Data{axdr.Int8(0)}},
	} {
		resp, err := p.exchange(ctx, mustAppend(t, req))
		if err != nil || !bytes.Equal(resp, refused) {
			t.Fatalf("%s: % X %v", req.Kind(), resp, err)
		}
	}
	resp, err := p.exchange(ctx, mustAppend(t, &apdu.GetRequestNormal{InvokeID: 0xC1, Attribute: attr(3, lnRegister, 2)}))
	if want := mustAppend(t, &apdu.GetResponseNormal{InvokeID: 0xC1, Result: apdu.ResultData(axdr.Uint16(1234))}); err != nil || !bytes.Equal(resp, want) {
		t.Fatalf("single GET: % X %v", resp, err)
	}
}

// TestQuirks: Absent names a missing object, ListResults rewrites a
// list's answer, and an error from Request ends the connection unanswered.
func TestQuirks(t *testing.T) {
	d := plainDevice(t, 1024)
	crash := errors.New("firmware crash")
	d.Quirks = Quirks{
		Absent: apdu.ReadWriteDenied,
		ListResults: func(reqs []apdu.AttributeRequest, res []apdu.GetDataResult) {
			for i := range res {
				if i > 0 && res[i-1].IsAccessResult {
					res[i] = apdu.ResultError(apdu.ObjectUndefined)
				}
			}
		},
		Request: func(r apdu.APDU) error {
			if _, ok := r.(*apdu.SetRequestNormal); ok {
				return crash
			}
			return nil
		},
	}
	p := newPipe()
	done := make(chan error, 1)
	go func() { done <- d.Serve(context.Background(), p, ClientInfo{ClientSAP: 16}) }()
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := p.exchange(ctx, plainAARQ(t, 0x401E5D)); err != nil {
		t.Fatal(err)
	}
	absent := [6]byte{9, 9, 9, 9, 9, 9}
	for _, s := range []struct {
		req  apdu.APDU
		want apdu.APDU
	}{
		{&apdu.GetRequestNormal{InvokeID: 0xC1, Attribute: attr(1, absent, 2)},
			&apdu.GetResponseNormal{InvokeID: 0xC1, Result: apdu.ResultError(apdu.ReadWriteDenied)}},
		{&apdu.GetRequestWithList{InvokeID: 0xC2, Attributes: []apdu.AttributeRequest{{Attribute: attr(1, absent, 2)}, {Attribute: attr(3, lnRegister, 2)}}},
			&apdu.GetResponseWithList{InvokeID: 0xC2, Results: []apdu.GetDataResult{apdu.ResultError(apdu.ReadWriteDenied), apdu.ResultError(apdu.ObjectUndefined)}}},
	} {
		resp, err := p.exchange(ctx, mustAppend(t, s.req))
		if want := mustAppend(t, s.want); err != nil || !bytes.Equal(resp, want) {
			t.Fatalf("%s:\n got  % X\n want % X (%v)", s.req.Kind(), resp, want, err)
		}
	}
	select {
	case p.in <- mustAppend(t, &apdu.SetRequestNormal{InvokeID: 0xC1, Attribute: attr(3, lnRegister, 2), Value: axdr.Uint16(1)}):
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	select {
	case err := <-done:
		if !errors.Is(err, crash) {
			t.Fatalf("Serve ended with %v, want the hook's error", err)
		}
	case b := <-p.out:
		t.Fatalf("the crashing request was answered: % X", b)
	case <-ctx.Done():
		t.Fatal("Serve did not end")
	}
}
