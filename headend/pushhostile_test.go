package headend_test

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/dlms/apdu"
	"github.com/amigo-ami/amigo/dlms/security"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/headend/dlmsdriver"
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/sim"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/wrapper"
)

// pushRig is a fleet rig with a second head-end whose metrics can be read,
// and its push listener serving on loopback.
type pushRig struct {
	*fleetRig
	h    *headend.HeadEnd
	reg  *prometheus.Registry
	pl   *headend.PushListener
	addr string
}

func newPushRig(t *testing.T, n int, cfg headend.PushConfig) *pushRig {
	t.Helper()
	r := &pushRig{fleetRig: newFleetRig(t, n, meter.Faults{}, headend.CollectionConfig{}), reg: prometheus.NewRegistry()}
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := headend.Import(ctx, r.st, r.keys, dlmsDrivers, r.rows); err != nil {
		t.Fatal(err)
	}
	var err error
	r.h, err = headend.New(headend.Options{Store: r.st, Bus: r.bus, Safeguards: noSafeguards, Secrets: r.keys, Now: r.clk.Now,
		Drivers: []headend.Driver{dlmsdriver.New(dlmsdriver.Config{})}, Metrics: r.reg})
	if err != nil {
		t.Fatal(err)
	}
	r.pl = r.h.NewPushListener(dlmsdriver.New(dlmsdriver.Config{}), cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	done := make(chan struct{})
	go func() { defer close(done); r.pl.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

// metric returns a counter or gauge of the head-end's registry, summed
// over the series whose label has the value ("" for all).
func (r *pushRig) metric(t *testing.T, name, label, value string) float64 {
	t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			ok := label == ""
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					ok = true
				}
			}
			if !ok {
				continue
			}
			if c := m.GetCounter(); c != nil {
				sum += c.GetValue()
			}
			if g := m.GetGauge(); g != nil {
				sum += g.GetValue()
			}
		}
	}
	return sum
}

// pushAPDU is meter row's alarm with invocation counter ic, ciphered under
// its keys as the meter sends it.
func pushAPDU(t *testing.T, row manifest.Row, ic uint32, code uint16, at time.Time) []byte {
	t.Helper()
	ek, _ := security.NewKey(rowField(row, "ek"))
	ak, _ := security.NewKey(rowField(row, "ak"))
	n := &apdu.DataNotification{Body: sim.PushBody(sim.PushSetupLN, row.Serial, code, at)}
	plain, err := n.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := security.WrapGeneral(nil, security.Global, security.NewSecurityControl(0, security.AuthenticatedEncryption),
		security.Keys{Unicast: ek, Authentication: ak}, rowField(row, "system_title"), ic, plain)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// dialFrom opens a connection to addr from the loopback address src.
func dialFrom(ctx context.Context, src netip.Addr, addr string) (net.Conn, error) {
	d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0)), Timeout: 5 * time.Second}
	return d.DialContext(ctx, "tcp", addr)
}

// sendOnce dials from src, sends one wrapper frame, says it has no more
// and waits until the listener hangs up: the push has been handled and
// its slot given back when it returns.
func sendOnce(ctx context.Context, src netip.Addr, addr string, b []byte) error {
	c, err := dialFrom(ctx, src, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := wrapper.NewConn(c, 1, 1).Send(ctx, b); err != nil {
		return err
	}
	c.(*net.TCPConn).CloseWrite()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF && !errors.Is(err, syscall.ECONNRESET) {
		return fmt.Errorf("listener did not hang up after a push: %v", err)
	}
	return nil
}

// pushEvents counts the bus events of source "push" by meter.
func pushEvents(t *testing.T, r *pushRig) map[string]int {
	out := map[string]int{}
	for _, e := range busEvents(t, r.bus) {
		if e.Details["source"] == "push" {
			out[e.MeterID]++
		}
	}
	return out
}

// TestPushListenerCannotBeStarved: hundreds of connections from sixty
// source addresses trickle a frame one byte at a time and reconnect as
// soon as they are dropped, and ten more sources send garbage, while
// twenty genuine meters push alarms from their own addresses. Every
// genuine push is accepted and reaches the bus, and every refusal is
// counted by its cause.
func TestPushListenerCannotBeStarved(t *testing.T) {
	const meters, tricklers, perTrickler, garblers = 20, 60, 6, 10
	r := newPushRig(t, meters, headend.PushConfig{MaxConns: 128, MaxPerSource: 4, FirstFrameTimeout: time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	var attacks atomic.Int64
	// Attackers come back a moment after each refusal: at once would only
	// measure how fast this machine refuses.
	pause := func() {
		tm := time.NewTimer(200 * time.Millisecond)
		defer tm.Stop()
		select {
		case <-tm.C:
		case <-ctx.Done():
		}
	}
	// A trickler announces a frame and sends it a byte at a time, far
	// slower than a meter.
	trickle := func(src netip.Addr) {
		defer wg.Done()
		for ctx.Err() == nil {
			c, err := dialFrom(ctx, src, r.addr)
			if err != nil {
				pause()
				continue
			}
			attacks.Add(1)
			stop := context.AfterFunc(ctx, func() { c.Close() })
			frame, _ := wrapper.AppendFrame(nil, 1, 1, make([]byte, 200))
			for _, b := range frame {
				if _, err := c.Write([]byte{b}); err != nil {
					break
				}
				tm := time.NewTimer(100 * time.Millisecond)
				select {
				case <-tm.C:
				case <-ctx.Done():
				}
				tm.Stop()
				if ctx.Err() != nil {
					break
				}
			}
			stop()
			c.Close()
			pause()
		}
	}
	// A garbler sends bytes that are no wrapper frame, and reconnects.
	garble := func(src netip.Addr) {
		defer wg.Done()
		junk := make([]byte, 64)
		for ctx.Err() == nil {
			c, err := dialFrom(ctx, src, r.addr)
			if err != nil {
				pause()
				continue
			}
			attacks.Add(1)
			rand.Read(junk)
			junk[0], junk[1] = 0x47, 0x45 // "GE": not version 1
			c.Write(junk)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			c.Read(make([]byte, 1)) // until the listener hangs up
			c.Close()
			pause()
		}
	}
	for i := range tricklers {
		src := netip.AddrFrom4([4]byte{127, 0, 2, byte(i + 1)})
		for range perTrickler {
			wg.Add(1)
			go trickle(src)
		}
	}
	for i := range garblers {
		wg.Add(1)
		go garble(netip.AddrFrom4([4]byte{127, 0, 3, byte(i + 1)}))
	}
	// The attack holds every slot before the meters push.
	pollUntil(t, 20*time.Second, "the listener full of slow connections", func() bool {
		return r.metric(t, "amigo_push_connections", "", "") >= 128 && r.metric(t, "amigo_push_refused_total", "cause", "per-source") > 0
	})

	var failed atomic.Int64
	var pushers sync.WaitGroup
	for i := range meters {
		pushers.Add(1)
		go func() {
			defer pushers.Done()
			src := netip.AddrFrom4([4]byte{127, 0, 1, byte(i + 1)})
			if err := sendOnce(ctx, src, r.addr, pushAPDU(t, r.rows[i], 1, 44, r.clk.Now())); err != nil {
				failed.Add(1)
				t.Errorf("meter %d: push: %v", i, err)
			}
		}()
	}
	pushers.Wait()
	pollUntil(t, 20*time.Second, "every genuine push on the bus", func() bool {
		ev := pushEvents(t, r)
		for i := range meters {
			if ev[headend.MeterID(r.rows[i])] != 1 {
				return false
			}
		}
		return true
	})
	// Let the attack run into every refusal the listener counts.
	pollUntil(t, 20*time.Second, "refusals of every cause counted", func() bool {
		for _, cause := range []string{"per-source", "evicted", "framing"} {
			if r.metric(t, "amigo_push_refused_total", "cause", cause) == 0 {
				return false
			}
		}
		return true
	})
	cancel()
	if got := r.metric(t, "amigo_pushes_total", "result", "accepted"); got != meters {
		t.Errorf("%v pushes accepted, want %d", got, meters)
	}
	if got := r.metric(t, "amigo_pushes_total", "result", "rate-limited"); got != 0 {
		t.Errorf("%v genuine pushes rate-limited", got)
	}
	t.Logf("%d hostile connections; refused: per-source %v, evicted %v, first-frame-timeout %v, framing %v, busy %v",
		attacks.Load(), r.metric(t, "amigo_push_refused_total", "cause", "per-source"), r.metric(t, "amigo_push_refused_total", "cause", "evicted"),
		r.metric(t, "amigo_push_refused_total", "cause", "first-frame-timeout"), r.metric(t, "amigo_push_refused_total", "cause", "framing"),
		r.metric(t, "amigo_push_refused_total", "cause", "busy"))
}

// TestFirstFrameHasOneDeadline: a connection that sends a frame one byte
// at a time is cut off when its first frame is not complete in time,
// however regularly its bytes come, and the refusal is counted.
func TestFirstFrameHasOneDeadline(t *testing.T) {
	r := newPushRig(t, 1, headend.PushConfig{FirstFrameTimeout: 300 * time.Millisecond, IdleTimeout: time.Hour})
	c, err := dialFrom(context.Background(), netip.AddrFrom4([4]byte{127, 0, 6, 1}), r.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	frame, _ := wrapper.AppendFrame(nil, 1, 1, make([]byte, 100))
	sent := 0
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for ; sent < len(frame); sent++ {
		if _, err := c.Write(frame[sent : sent+1]); err != nil {
			break
		}
		<-tick.C
	}
	if sent == len(frame) {
		t.Fatalf("the whole frame trickled in (%d bytes, a byte every 20 ms) without being cut off", sent)
	}
	pollUntil(t, 5*time.Second, "the first-frame timeout counted", func() bool {
		return r.metric(t, "amigo_push_refused_total", "cause", "first-frame-timeout") == 1
	})
}

// TestReplaysDoNotSpendTheMetersRateLimit: a captured push replayed again
// and again between the meter's genuine alarms is refused before it costs
// the meter a token, so every genuine alarm gets through a tight limit.
func TestReplaysDoNotSpendTheMetersRateLimit(t *testing.T) {
	const genuine, replaysEach = 5, 4
	r := newPushRig(t, 2, headend.PushConfig{PerMeterBurst: genuine, PerMeterEvery: time.Hour})
	ctx := context.Background()
	row := r.rows[0]
	src := netip.AddrFrom4([4]byte{127, 0, 4, 1})
	captured := pushAPDU(t, row, 1, 44, r.clk.Now())
	for ic := uint32(1); ic <= genuine; ic++ {
		if err := sendOnce(ctx, src, r.addr, pushAPDU(t, row, ic, 44, r.clk.Now().Add(time.Duration(ic)*time.Minute))); err != nil {
			t.Fatal(err)
		}
		pollUntil(t, 10*time.Second, fmt.Sprintf("genuine alarm %d accepted", ic), func() bool {
			return r.metric(t, "amigo_pushes_total", "result", "accepted") == float64(ic)
		})
		for range replaysEach {
			if err := sendOnce(ctx, src, r.addr, captured); err != nil {
				t.Fatal(err)
			}
		}
	}
	pollUntil(t, 10*time.Second, "every replay refused", func() bool {
		return r.metric(t, "amigo_pushes_total", "result", "replay") == genuine*replaysEach
	})
	if got := r.metric(t, "amigo_pushes_total", "result", "rate-limited"); got != 0 {
		t.Fatalf("%v genuine alarms rate-limited", got)
	}
	pollUntil(t, 10*time.Second, "every genuine alarm on the bus", func() bool {
		return pushEvents(t, r)[headend.MeterID(row)] == genuine
	})
	replayed := 0
	for _, e := range busEvents(t, r.bus) {
		if e.Type == headend.EventPushReplayed && e.MeterID == headend.MeterID(row) {
			replayed++
		}
	}
	if replayed != 1 {
		t.Errorf("%d replay events for %d replays, want one", replayed, genuine*replaysEach)
	}
}

// TestRefusedPushesRaiseBoundedEvents: pushes from system titles no meter
// has, and pushes under a registered title with a bad tag, raise
// authentication-failure events, one per sender per period however many
// arrive, and a bounded number across senders.
func TestRefusedPushesRaiseBoundedEvents(t *testing.T) {
	r := newPushRig(t, 2, headend.PushConfig{})
	ctx := context.Background()
	start := time.Now()
	row := r.rows[0]
	src := netip.AddrFrom4([4]byte{127, 0, 5, 1})
	forged := row
	forged.Fields = maps.Clone(row.Fields)
	forged.Fields["ak"] = hex.EncodeToString(make([]byte, 16)) // the right title, the wrong key: the tag fails
	for ic := uint32(1); ic <= 30; ic++ {
		if err := sendOnce(ctx, src, r.addr, pushAPDU(t, forged, ic, 44, r.clk.Now())); err != nil {
			t.Fatal(err)
		}
	}
	const strangers = 100
	for i := range strangers {
		src := netip.AddrFrom4([4]byte{127, 0, 7, byte(i + 1)})
		stranger := row
		stranger.Fields = maps.Clone(row.Fields)
		stranger.Fields["system_title"] = hex.EncodeToString(binary.BigEndian.AppendUint64(nil, 0x5859_5A00_0000_0000+uint64(i)))
		for ic := uint32(1); ic <= 3; ic++ {
			if err := sendOnce(ctx, src, r.addr, pushAPDU(t, stranger, ic, 44, r.clk.Now())); err != nil {
				t.Fatal(err)
			}
		}
	}
	pollUntil(t, 10*time.Second, "every refusal counted", func() bool {
		return r.metric(t, "amigo_pushes_total", "result", "auth") == 30 &&
			r.metric(t, "amigo_pushes_total", "result", "unknown-sender") == 3*strangers
	})
	var auth []cim.EndDeviceEvent
	pollUntil(t, 10*time.Second, "the bad-tag event on the bus", func() bool {
		auth = auth[:0]
		for _, e := range busEvents(t, r.bus) {
			if e.Type == headend.EventAuthFailure && e.MeterID == headend.MeterID(row) {
				auth = append(auth, e)
			}
		}
		return len(auth) > 0
	})
	if len(auth) != 1 || auth[0].Details["cause"] != "auth" || auth[0].Details["push_id"] == "" {
		t.Fatalf("bad-tag events %+v, want one naming the cause and title", auth)
	}
	unknown, err := r.st.Events(ctx, store.EventQuery{MeterID: headend.UnregisteredSender, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	// One event per sender, for the first of a hundred strangers: the
	// rest wait for the global bound (a burst of 20, then one per 6 s,
	// one of them spent on the bad tag) to refill.
	if bound := 20 + int(time.Since(start)/(6*time.Second)); len(unknown) < 1 || len(unknown) > bound {
		t.Fatalf("%d unknown-sender events for %d strangers, want between 1 and %d", len(unknown), strangers, bound)
	}
	titles := map[string]bool{}
	for _, e := range unknown {
		if e.Type != headend.EventAuthFailure || !strings.HasPrefix(e.Details["push_id"], "58595a") || e.Details["cause"] != "unknown-sender" {
			t.Fatalf("unknown-sender event %+v", e)
		}
		if titles[e.Details["push_id"]] {
			t.Fatalf("two events for title %s within a period", e.Details["push_id"])
		}
		titles[e.Details["push_id"]] = true
	}
}

// pollUntil polls cond until it holds or the time runs out.
func pollUntil(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(limit)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}

// emfileListener fails its first n accepts as a process out of
// descriptors does, then accepts for real.
type emfileListener struct {
	net.Listener
	n atomic.Int32
}

func (l *emfileListener) Accept() (net.Conn, error) {
	if l.n.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

// TestPushListenerOutlivesEMFILE: accepts failing with EMFILE are counted
// and retried, and the listener then takes pushes and stays ready.
func TestPushListenerOutlivesEMFILE(t *testing.T) {
	r := newPushRig(t, 1, headend.PushConfig{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fl := &emfileListener{Listener: ln}
	fl.n.Store(5)
	pl := r.h.NewPushListener(dlmsdriver.New(dlmsdriver.Config{}), headend.PushConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pl.Serve(ctx, fl) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	if err := sendOnce(ctx, netip.AddrFrom4([4]byte{127, 0, 8, 1}), ln.Addr().String(), pushAPDU(t, r.rows[0], 1, 44, r.clk.Now())); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, 10*time.Second, "the push accepted", func() bool {
		return r.metric(t, "amigo_pushes_total", "result", "accepted") == 1
	})
	if got := r.metric(t, "amigo_push_accept_errors_total", "cause", "emfile"); got != 5 {
		t.Errorf("%v EMFILE accepts counted, want 5", got)
	}
	if err := pl.Ready(ctx); err != nil {
		t.Errorf("not ready after accepting again: %v", err)
	}
}
