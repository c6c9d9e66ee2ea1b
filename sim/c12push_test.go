package sim_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/c1219"
	"github.com/amigo-ami/amigo/c1222"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/psem"
	"github.com/amigo-ami/amigo/sim"
)

// c12Push is one push a test listener received, opened.
type c12Push struct {
	from    netip.Addr
	apdu    *c1222.APDU
	epsem   *c1222.EPSEM
	entries []c1219.LogEntry
	gmt     bool
}

// TestC1222MetersPush: simulated C12.22 meters push their power cuts and
// tamper attempts, each from its own address, calling ApTitle its own,
// sealed in security mode 2 under its own key, answered by nothing; the
// full writes of ST0, ST71, ST52 and ST76 carry every entry the meter
// logged since it began pushing exactly once, in order, a last gasp's
// urgently.
func TestC1222MetersPush(t *testing.T) {
	const n = 24
	f := startC12Fleet(t, n, 0, 1, 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var mu sync.Mutex
	var got []c12Push
	var bad []error
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				from := c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap()
				br := bufio.NewReader(c)
				for {
					p, err := readC12Push(f.Fleet, from, br)
					mu.Lock()
					if err != nil {
						if err != io.EOF {
							bad = append(bad, err)
						}
						mu.Unlock()
						return
					}
					got = append(got, p)
					mu.Unlock()
				}
			}()
		}
	}()

	// The power cuts and tamper attempts of the next 40 days.
	until := start.Add(40 * 24 * time.Hour)
	gasps, tampers := 0, 0
	for i := range n {
		m, _ := f.Meter(i)
		for at, ev := m.NextEvent(start); at.Before(until); at, ev = m.NextEvent(at) {
			switch ev.Kind {
			case meter.EventLastGasp:
				gasps++
			case meter.EventTamper:
				tampers++
			}
		}
	}
	if gasps == 0 || tampers == 0 {
		t.Fatalf("%d power cuts and %d tamper attempts in the horizon", gasps, tampers)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	stats := &sim.PushStats{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		f.RunPushes(ctx, sim.PushConfig{Destination: "127.0.0.1:1", C1222Destination: ln.Addr().String(), From: start}, stats)
	}()
	f.clock.Set(until)

	urgent := func() int {
		mu.Lock()
		defer mu.Unlock()
		k := 0
		for _, p := range got {
			if p.apdu.AEQualifier&c1222.QualifierUrgent != 0 {
				k++
			}
		}
		return k
	}
	received := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(got)
	}
	deadline := time.Now().Add(30 * time.Second)
	for urgent() < gasps || int(stats.Sent.Load()) != received() {
		if time.Now().After(deadline) {
			t.Fatalf("%d last gasps of %d arrived; %d pushes sent, %d failed, %d received", urgent(), gasps, stats.Sent.Load(), stats.Failed.Load(), received())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	for _, err := range bad {
		t.Error(err)
	}
	// A meter's bursts of pushes travel on connections of their own, which
	// the listener may read in any order: a push's entries are in order,
	// and a meter's entries across its pushes are each there exactly once,
	// with no gap.
	seqs := map[string][]uint16{}
	codes := map[c1219.Event]int{}
	for _, p := range got {
		ap := p.apdu.Calling.String()
		if p.epsem.Response != c1222.RespondNever || p.apdu.AEQualifier&c1222.QualifierNotification == 0 || !p.gmt {
			t.Errorf("%s: response control %d, qualifier %b, GMT %v", ap, p.epsem.Response, p.apdu.AEQualifier, p.gmt)
		}
		for k, e := range p.entries {
			if k > 0 && e.Seq != p.entries[k-1].Seq+1 {
				t.Errorf("%s: entry %d follows entry %d in one push", ap, e.Seq, p.entries[k-1].Seq)
			}
			seqs[ap] = append(seqs[ap], e.Seq)
			codes[e.Code]++
			if e.Time.Before(f.Fleet.Now().Add(-50*24*time.Hour)) || e.Time.After(until.Add(time.Hour)) {
				t.Errorf("%s: entry %d at %s, outside the pushing", ap, e.Seq, e.Time)
			}
		}
		last := p.entries[len(p.entries)-1]
		if p.apdu.AEQualifier&c1222.QualifierUrgent != 0 && last.Code != c1219.EventPowerDown {
			t.Errorf("%s: urgent push whose newest entry is %v", ap, last.Code)
		}
	}
	for ap, ss := range seqs {
		slices.Sort(ss)
		for k := 1; k < len(ss); k++ {
			if ss[k] != ss[k-1]+1 {
				t.Errorf("%s: entry %d then %d: one pushed twice, or some never", ap, ss[k-1], ss[k])
			}
		}
	}
	t.Logf("%d pushes: %d power cuts, %d tamper attempts; entries by code %v", len(got), gasps, tampers, codes)
	if codes[c1219.EventPowerDown] != gasps || codes[c1219.EventPowerUp] == 0 || codes[c1219.EventTamper] != tampers {
		t.Errorf("pushed entries by code %v; %d power cuts, %d tamper attempts", codes, gasps, tampers)
	}
}

// readC12Push reads and opens one push, checking its sender against the
// address it came from.
func readC12Push(f *sim.Fleet, from netip.Addr, br *bufio.Reader) (c12Push, error) {
	p := c12Push{from: from}
	hdr, err := br.Peek(2)
	if err != nil {
		return p, err
	}
	size := 2 + int(hdr[1])
	if hdr[1]&0x80 != 0 {
		k := int(hdr[1] & 0x7F)
		lb, err := br.Peek(2 + k)
		if err != nil {
			return p, err
		}
		size = 0
		for _, c := range lb[2:] {
			size = size<<8 | int(c)
		}
		size += 2 + k
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(br, b); err != nil {
		return p, err
	}
	if p.apdu, err = c1222.ParseAPDU(b); err != nil {
		return p, err
	}
	i, ok := f.Index(from)
	if !ok || f.C1222ApTitle(i) != p.apdu.Calling.String() || f.C1222Addr(i).Addr() != from {
		return p, fmt.Errorf("push from %s claims %s", from, p.apdu.Calling)
	}
	id, key := f.C1222Key(i)
	keys, err := c1222.NewKeys(map[uint8][]byte{id: key[:]})
	if err != nil {
		return p, err
	}
	if p.epsem, err = c1222.Open(p.apdu, keys, c1222.Root); err != nil {
		return p, fmt.Errorf("%s: %v", p.apdu.Calling, err)
	}
	if p.epsem.Mode != c1222.ModeCiphertext || p.apdu.KeyID != id {
		return p, fmt.Errorf("%s: security mode %d, key %d", p.apdu.Calling, p.epsem.Mode, p.apdu.KeyID)
	}
	tables := map[uint16][]byte{}
	for _, s := range p.epsem.Services {
		r, err := psem.ParseRequest(s)
		if err != nil || r.Code != psem.ReqWriteFull {
			return p, fmt.Errorf("%s: service % X: %v", p.apdu.Calling, s, err)
		}
		tables[r.Table] = r.Data
	}
	gen, err := c1219.DecodeST0(tables[uint16(c1219.ST0)])
	if err != nil {
		return p, err
	}
	act, err := c1219.DecodeST71(tables[uint16(c1219.ST71)], gen.Format)
	if err != nil {
		return p, err
	}
	clk, err := c1219.DecodeST52(tables[uint16(c1219.ST52)], gen.Format)
	if err != nil {
		return p, err
	}
	p.gmt = clk.Qual&c1219.QualGMT != 0
	st76 := tables[uint16(c1219.ST76)]
	act.NbrEventEntries = uint16((len(st76) - c1219.LogHeaderSize) / c1219.EventEntrySize(gen.Format, act))
	ld, err := c1219.DecodeST76(st76, gen.Format, act)
	if err != nil {
		return p, err
	}
	p.entries = ld.Valid()
	if len(p.entries) == 0 || uint32(p.entries[len(p.entries)-1].Seq) != ld.LastSeq {
		return p, fmt.Errorf("%s: ST76 %+v", p.apdu.Calling, ld)
	}
	return p, nil
}
