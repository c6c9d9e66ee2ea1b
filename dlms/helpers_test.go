package dlms

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/amigo-ami/amigo/dlms/apdu"
	"github.com/amigo-ami/amigo/dlms/dlmstrace"
	"github.com/amigo-ami/amigo/dlms/security"
)

// trace is one shared reference trace with the APDUs of each direction,
// in order.
type trace struct {
	*dlmstrace.File
	cs, sc [][]byte
}

// decodedOp is what checkValues compares of one decoded_values entry.
type decodedOp struct {
	Op      string
	DataHex string
	Entries int
	First   string
}

// ops returns the trace's values decoded from the APDUs, in order; the
// loader has already checked them, so nothing can fail here.
func (tr *trace) ops(testing.TB) []decodedOp {
	var out []decodedOp
	for _, op := range tr.DecodedValues.Ops {
		out = append(out, decodedOp{Op: op.Op, DataHex: op.DataHex, Entries: op.Entries, First: op.FirstEntryHex})
	}
	return out
}

// loadTrace reads the trace whose name starts with name ("04").
func loadTrace(t testing.TB, name string) *trace {
	t.Helper()
	tr := &trace{File: dlmstrace.Load(t, name)}
	for _, s := range tr.Steps {
		if s.APDUHex == "" {
			continue
		}
		if s.Dir == "C->S" {
			tr.cs = append(tr.cs, s.APDU())
		} else {
			tr.sc = append(tr.sc, s.APDU())
		}
	}
	return tr
}

// options returns the client options the Gurux client ran with.
func (tr *trace) options(testing.TB) Options {
	o := Options{ClientSAP: uint16(tr.ClientSAP), Server: ServerAddress{Logical: 1}, Name: tr.Name}
	if strings.Contains(tr.Transport, "hdlc") {
		o.Link = LinkHDLC
	}
	if tr.LLSPassword != "" {
		o.Authentication = security.MechanismLLS
		o.Password = NewSecret([]byte(tr.LLSPassword))
	}
	if tr.Keys.EK != "" {
		o.Authentication = security.MechanismHLSGMAC
		o.Policy = security.PolicyAuthenticatedEncrypted
		o.Keys = security.Keys{
			Unicast:        security.MustKey(tr.Keys.BlockCipherKey()),
			Authentication: security.MustKey(tr.Keys.AuthenticationKey()),
		}
		o.SystemTitle = tr.ClientTitle()
		o.GeneralProtection = true
		o.ReadInvocationCounter = true
		// The challenge is the one CtoS the recorded client drew.
		for _, req := range tr.cs {
			a, err := apdu.Decode(req)
			if err != nil {
				continue
			}
			if aarq, ok := a.(*apdu.AARQ); ok && aarq.ApplicationContext == apdu.ContextLNCiphered {
				o.Challenge = aarq.CallingAuthenticationValue
			}
		}
	}
	return o
}

// replay is a Transport that answers with the recorded server APDUs in
// order and records what the client sends.
type replay struct {
	mu      sync.Mutex
	answers [][]byte
	sent    [][]byte
	closed  bool
	// recvErr, when set, is returned by Recv once the answers run out.
	recvErr error
	// block makes Recv wait for the context.
	block bool
}

func newReplay(answers ...[]byte) *replay { return &replay{answers: answers} }

func (r *replay) Send(ctx context.Context, b []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return io.ErrClosedPipe
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	r.sent = append(r.sent, bytes.Clone(b))
	return nil
}

func (r *replay) Recv(ctx context.Context) ([]byte, error) {
	r.mu.Lock()
	if r.block {
		r.mu.Unlock()
		<-ctx.Done()
		return nil, ctx.Err()
	}
	defer r.mu.Unlock()
	if len(r.answers) == 0 {
		if r.recvErr != nil {
			return nil, r.recvErr
		}
		return nil, io.EOF
	}
	a := r.answers[0]
	r.answers = r.answers[1:]
	return bytes.Clone(a), nil
}

func (r *replay) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	return nil
}

// compareSent checks that the client sent exactly the recorded requests.
func compareSent(t *testing.T, tr *trace, got [][]byte) {
	t.Helper()
	if len(got) != len(tr.cs) {
		t.Errorf("%s: client sent %d APDUs, trace has %d", tr.Name, len(got), len(tr.cs))
	}
	for i := 0; i < min(len(got), len(tr.cs)); i++ {
		if !bytes.Equal(got[i], tr.cs[i]) {
			t.Errorf("%s: request %d differs\n got %X\nwant %X", tr.Name, i, got[i], tr.cs[i])
		}
	}
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}
