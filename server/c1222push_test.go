package server

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/c1222"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/store"
)

// TestC1222PushListener: a node listens for C12.22 pushes at an address of
// its own, which /readyz reports beside the DLMS one; what arrives there
// is read by the C12.22 driver (a push from an ApTitle no meter has is
// recorded as such, under the C12.22 protocol). Without the setting there
// is no such listener, and the DLMS one stands alone.
func TestC1222PushListener(t *testing.T) {
	s := start(t, testConfig(t.TempDir()))
	defer s.Shutdown(context.Background())
	if s.C1222PushAddr == "" || s.C1222PushAddr == s.PushAddr {
		t.Fatalf("C12.22 push listener at %q, DLMS at %q", s.C1222PushAddr, s.PushAddr)
	}
	if code, body := get(t, "http://"+s.Addr()+"/readyz"); code != 200 || !strings.Contains(body, `"push":"ok"`) ||
		!strings.Contains(body, `"push-c12.22":"ok"`) {
		t.Fatalf("readyz %d %s, want both push listeners ok", code, body)
	}

	const stranger = "2.16.124.113620.1.22.77.1"
	a := &c1222.APDU{Calling: c1222.MustApTitle(stranger), CallingInvocation: 1, EPSEM: []byte{0x82, 0x01, 0x00}}
	b, err := a.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", s.C1222PushAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	deadline := time.Now().Add(10 * time.Second)
	for {
		evs, err := s.Store.Events(ctx, store.EventQuery{MeterID: headend.UnregisteredSender, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) > 0 {
			if d := evs[0].Details; d["push_id"] != stranger || d["protocol"] != "c12.22" {
				t.Fatalf("event details %v", d)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the unknown sender's push was not recorded")
		}
		time.Sleep(20 * time.Millisecond)
	}

	cfg := testConfig(t.TempDir())
	cfg.HeadEnd.C1222PushAddr = ""
	s2 := start(t, cfg)
	defer s2.Shutdown(context.Background())
	if s2.C1222PushAddr != "" {
		t.Errorf("C12.22 push listener at %q without the setting", s2.C1222PushAddr)
	}
	if code, body := get(t, "http://"+s2.Addr()+"/readyz"); code != 200 || strings.Contains(body, "push-c12.22") || !strings.Contains(body, `"push":"ok"`) {
		t.Errorf("readyz %d %s, want the DLMS listener alone", code, body)
	}
}
