package c1222

import (
	"bytes"
	"context"
	"encoding/hex"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/testenv"
)

// TestTermineterRequest sends a request whose ACSE elements termineter's
// c1222 module encoded to the meter side, and checks the answer: an
// independent encoder of the APDU, if not of the EPSEM (termineter's EPSEM
// encoder fails under Python 3, so the test gives it the EPSEM octets).
func TestTermineterRequest(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import c1222.data").Run(); err != nil {
		testenv.Service(t, "termineter's c1222 module for "+py, err)
	}
	h := tableHandler{tables: map[uint16][]byte{1: []byte("AMIGO-C1222-0001")}}
	ref := newRefusals()
	addr, _ := startMeter(t, MeterConfig{ApTitle: meterAP, Refused: ref.add}, h)
	host, port, _ := net.SplitHostPort(addr)
	epsem, _ := (&EPSEM{Services: [][]byte{{0x30, 0x00, 0x01}}}).Marshal()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, py, "testdata/termineter_request.py", host, port,
		meterAP.String(), clientAP.String(), strconv.Itoa(4711), hex.EncodeToString(epsem)).CombinedOutput()
	if err != nil {
		t.Fatalf("termineter: %v\n%s", err, out)
	}
	lines := strings.Fields(string(out))
	if len(lines) != 2 {
		t.Fatalf("termineter printed %q", out)
	}
	sent, _ := hex.DecodeString(lines[0])
	req, err := ParseAPDU(sent)
	if err != nil {
		t.Fatalf("termineter's request % x: %v", sent, err)
	}
	if !req.Called.Equal(meterAP, Root) || !req.Calling.Equal(clientAP, Root) || req.CallingInvocation != 4711 {
		t.Fatalf("termineter's request decoded as %+v", req)
	}
	got, _ := hex.DecodeString(lines[1])
	resp, err := ParseAPDU(got)
	if err != nil {
		t.Fatalf("response % x: %v", got, err)
	}
	if !resp.HasCalledInvocation || resp.CalledInvocation != 4711 || !resp.Called.Equal(clientAP, Root) {
		t.Fatalf("response %+v", resp)
	}
	e, err := Open(resp, nil, Root)
	if err != nil || len(e.Services) != 1 || !bytes.Equal(e.Services[0], h.handle([]byte{0x30, 0, 1})) {
		t.Fatalf("response EPSEM %+v %v", e, err)
	}
}
