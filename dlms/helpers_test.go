package dlms

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/amigo-ami/amigo/dlms/apdu"
	"github.com/amigo-ami/amigo/dlms/security"
)

// traceDir is the shared reference traces, read in place.
var traceDir = filepath.Join("..", "..", "shared", "testdata", "dlms-traces")

type traceStep struct {
	Dir         string `json:"dir"`
	Note        string `json:"note"`
	APDU        string `json:"apdu_hex"`
	Decrypted   string `json:"decrypted_apdu_hex"`
	Association int    `json:"association"`
}

type trace struct {
	Transport string `json:"transport"`
	ClientSAP uint16 `json:"client_sap"`
	Keys      struct {
		EK string `json:"block_cipher_key_EK"`
		AK string `json:"authentication_key_AK"`
	} `json:"keys"`
	LLSPassword       string          `json:"lls_password"`
	ClientSystemTitle string          `json:"client_system_title"`
	ServerSystemTitle string          `json:"server_system_title"`
	Steps             []traceStep     `json:"steps"`
	DecodedValues     json.RawMessage `json:"decoded_values"`

	name string
	// cs and sc are the APDUs of each direction, in order.
	cs, sc [][]byte
}

type decodedOp struct {
	Op      string `json:"op"`
	DataHex string `json:"data_hex"`
	Entries int    `json:"entries"`
	First   string `json:"first_entry_hex"`
}

func (tr *trace) ops(t testing.TB) []decodedOp {
	var v struct {
		Ops []decodedOp `json:"from_apdus_in_order"`
	}
	if err := json.Unmarshal(tr.DecodedValues, &v); err != nil {
		t.Fatalf("%s: decoded_values: %v", tr.name, err)
	}
	return v.Ops
}

func loadTrace(t testing.TB, name string) *trace {
	t.Helper()
	if _, err := os.Stat(traceDir); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("reference traces not available at %s: %v", traceDir, err)
		}
		t.Skipf("reference traces not available at %s: %v", traceDir, err)
	}
	matches, _ := filepath.Glob(filepath.Join(traceDir, name+"*.json"))
	if len(matches) != 1 {
		t.Fatalf("trace %s: %d files match", name, len(matches))
	}
	b, err := os.ReadFile(matches[0])
	if err != nil {
		t.Fatal(err)
	}
	tr := &trace{name: filepath.Base(matches[0])}
	if err := json.Unmarshal(b, tr); err != nil {
		t.Fatalf("%s: %v", tr.name, err)
	}
	for _, s := range tr.Steps {
		if s.APDU == "" {
			continue
		}
		a := mustHex(t, s.APDU)
		if s.Dir == "C->S" {
			tr.cs = append(tr.cs, a)
		} else {
			tr.sc = append(tr.sc, a)
		}
	}
	return tr
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("hex %q: %v", s, err)
	}
	return b
}

// options returns the client options the Gurux client ran with.
func (tr *trace) options(t testing.TB) Options {
	o := Options{ClientSAP: tr.ClientSAP, Server: ServerAddress{Logical: 1}, Name: tr.name}
	if strings.Contains(tr.Transport, "hdlc") {
		o.Link = LinkHDLC
	}
	if tr.LLSPassword != "" {
		o.Authentication = AuthLLS
		o.Password = NewSecret([]byte(tr.LLSPassword))
	}
	if tr.Keys.EK != "" {
		o.Authentication = AuthHLSGMAC
		o.Policy = PolicyAuthenticatedEncrypted
		o.Keys = security.Keys{
			Unicast:        security.MustKey(mustHex(t, tr.Keys.EK)),
			Authentication: security.MustKey(mustHex(t, tr.Keys.AK)),
		}
		o.SystemTitle = mustHex(t, tr.ClientSystemTitle)
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
		t.Errorf("%s: client sent %d APDUs, trace has %d", tr.name, len(got), len(tr.cs))
	}
	for i := 0; i < min(len(got), len(tr.cs)); i++ {
		if !bytes.Equal(got[i], tr.cs[i]) {
			t.Errorf("%s: request %d differs\n got %X\nwant %X", tr.name, i, got[i], tr.cs[i])
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
