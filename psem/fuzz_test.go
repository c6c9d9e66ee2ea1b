package psem

import (
	"bytes"
	"reflect"
	"testing"
)

// A request that decodes encodes back to the same octets.
func FuzzParseRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRequest(b)
		if err != nil {
			return
		}
		out, err := r.Marshal()
		if err != nil {
			t.Fatalf("% x decoded to %+v, which does not encode: %v", b, r, err)
		}
		if r.Code == ReqLogon {
			return // trailing spaces and NULs of the user are padding
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("% x decoded and encoded to % x", b, out)
		}
	})
}

// Response decoders refuse what they cannot read, never panic, and an
// ident that decodes encodes back.
func FuzzParseResponse(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		if id, err := ParseIdent(b); err == nil {
			if !bytes.Equal(id.Marshal(), b) {
				t.Fatalf("ident % x encodes back to % x", b, id.Marshal())
			}
			id.Auth()
		}
		if data, err := ParseTableResponse(b); err == nil && !bytes.Equal(TableResponse(data), b) {
			t.Fatalf("read response % x encodes back differently", b)
		}
		if n, err := ParseNegotiated(b); err == nil && !bytes.Equal(n.Marshal(), b) {
			t.Fatalf("negotiate response % x encodes back differently", b)
		}
		if tm, err := ParseTiming(b); err == nil && !reflect.DeepEqual(tm.Marshal(), b) {
			t.Fatalf("timing response % x encodes back differently", b)
		}
		if id, v, err := ParseAuthenticateResponse(b); err == nil && !bytes.Equal(AuthenticateResponse(id, v), b) {
			t.Fatalf("authenticate response % x encodes back differently", b)
		}
		ParseStatus(b, "fuzz")
	})
}

// The meter side answers any sequence of requests with at least a code.
func FuzzServer(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		s := newTestServer(memTables{1: []byte("AMGO"), 8: make([]byte, 4)})
		for _, req := range [][]byte{{ReqIdent}, {ReqLogon, 0, 1, 'a', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '}, b, b} {
			if r := s.Handle(req); len(r.Data) == 0 {
				t.Fatalf("no answer to % x", req)
			}
		}
	})
}
