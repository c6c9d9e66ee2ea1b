package headend_test

import (
	"context"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/store"
)

// A meter that hangs up on the first attempt (busy with another client,
// say) has not failed its key change: RotateKeys tries again, like a
// collection, and the rotation completes.
func TestRotateKeysRetriesALinkFailure(t *testing.T) {
	ctx := context.Background()
	r := newKeyRig(t, 1, nil)
	id := r.mrids[0]
	old := r.creds(t, id)
	m, err := r.st.Meter(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	// More hang-ups than one session survives on its own.
	const hangUps = 3
	conns := r.scriptedProxy(t, &m, func(n int32) bool { return n > hangUps })
	res, err := r.h.RotateKeys(ctx, id)
	if err != nil {
		t.Fatalf("a hang-up on the first attempt failed the rotation: %v", err)
	}
	if res != "keys changed" || conns.Load() <= hangUps {
		t.Fatalf("%q after %d connections", res, conns.Load())
	}
	if err := r.answers(ctx, id, old); err == nil {
		t.Fatal("the meter still answers its old keys")
	}
	if err := r.answers(ctx, id, r.creds(t, id)); err != nil {
		t.Fatalf("new keys: %v", err)
	}
}

// A meter that takes its new keys and then drops every probe of them,
// while it refuses the old keys outright, may hold the new ones: the
// rotation is not failed as refused, it is tried again, finds the pending
// keys answering, and completes.
func TestRotateKeysUnsettledByALinkFailureIsTriedAgain(t *testing.T) {
	ctx := context.Background()
	r := newKeyRig(t, 1, nil)
	id := r.mrids[0]
	old := r.creds(t, id)
	m, err := r.st.Meter(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	// Connection 1 carries the key transfer; the next three (every try of
	// the new keys' probe) are hung up; then the old keys' probe reaches the
	// meter, which refuses them, and so does everything after.
	const attempts = 3
	conns := r.scriptedProxy(t, &m, func(n int32) bool { return n == 1 || n > 1+attempts })
	res, err := r.h.RotateKeys(ctx, id)
	if err != nil {
		t.Fatalf("a link failure on the new keys' probe failed the rotation: %v", err)
	}
	if !strings.Contains(res, "the new keys answer") || conns.Load() <= 1+attempts {
		t.Fatalf("%q after %d connections", res, conns.Load())
	}
	if err := r.answers(ctx, id, old); err == nil {
		t.Fatal("the meter still answers its old keys")
	}
	if err := r.answers(ctx, id, r.creds(t, id)); err != nil {
		t.Fatalf("new keys: %v", err)
	}
}

// scriptedProxy puts a proxy in front of meter m and registers m at it:
// its n-th connection (from 1) reaches the meter when pass(n), and is hung
// up at once otherwise. It returns the count of connections.
func (r *keyRig) scriptedProxy(t *testing.T, m *cim.Meter, pass func(n int32) bool) *atomic.Int32 {
	t.Helper()
	meterAddr := strings.TrimPrefix(m.Address, "tcp://")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var conns atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if !pass(conns.Add(1)) {
				c.Close() // hung up at once
				continue
			}
			go func() {
				defer c.Close()
				up, err := net.Dial("tcp", meterAddr)
				if err != nil {
					t.Logf("dial %s: %v", meterAddr, err)
					return
				}
				defer up.Close()
				go func() {
					io.Copy(up, c)
					up.Close() // the meter's session ends with ours
				}()
				io.Copy(c, up)
			}()
		}
	}()
	m.Address = "tcp://" + ln.Addr().String()
	if err := r.st.PutRegistry(context.Background(), store.RegistryBatch{Meters: []cim.Meter{*m}}); err != nil {
		t.Fatal(err)
	}
	return &conns
}
