package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/dr"
)

// TestDemandResponseIsServed: the node runs the demand-response service
// and serves its routes over it.
func TestDemandResponseIsServed(t *testing.T) {
	s := start(t, testConfig(t.TempDir()))
	defer s.Shutdown(context.Background())
	if _, err := s.DR.PutProgram(context.Background(), dr.Program{ID: "peak", Name: "Winter peak", Kind: dr.KindLoadLimit,
		Randomize: 300 * time.Second, Baseline: dr.Method10of10}); err != nil {
		t.Fatal(err)
	}
	code, body := get(t, "http://"+s.Addr()+"/api/v1/dr/programs")
	if code != 200 || !strings.Contains(body, `"id":"peak"`) {
		t.Fatalf("programs: %d %s", code, body)
	}
}
