package sim

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/dlms/apdu"
	"github.com/amigo-ami/amigo/dlms/security"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/obis"
	"github.com/amigo-ami/amigo/wrapper"
)

// PushSetupLN is the push setup of alarm and last-gasp pushes (IDIS
// "push setup – on alarm").
var PushSetupLN = obis.Code{0, 0, 25, 9, 0, 255}

// PushConfig makes meters open connections to a head-end to push.
type PushConfig struct {
	// Destination is the head-end's push listener, host:port (empty: the
	// DLMS meters push nothing).
	Destination string
	// C1222Destination is the head-end's C12.22 push listener (empty:
	// the C12.22 meters push nothing). The head-end listens for each
	// protocol on an address of its own.
	C1222Destination string
	// MaxInFlight caps pushes being sent at once: a feeder outage takes
	// a street down together, and the meters must not open thousands of
	// sockets in one instant. Pushes beyond it wait their turn.
	MaxInFlight int
	// Timeout bounds one push: dial, write, close.
	Timeout time.Duration
	// From is where the schedule starts (zero: the fleet's now).
	From time.Time
}

// PushStats counts what the push engine did.
type PushStats struct {
	Sent, Failed atomic.Int64
}

// pushItem is one meter's next scheduled happening.
type pushItem struct {
	at time.Time
	i  int
	ev meter.Event
}

type pushHeap []pushItem

func (h pushHeap) Len() int           { return len(h) }
func (h pushHeap) Less(a, b int) bool { return h[a].at.Before(h[b].at) }
func (h pushHeap) Swap(a, b int)      { h[a], h[b] = h[b], h[a] }
func (h *pushHeap) Push(x any)        { *h = append(*h, x.(pushItem)) }
func (h *pushHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// pushes reports whether an event is one a meter pushes.
func pushes(k meter.EventKind) bool {
	switch k {
	case meter.EventLastGasp, meter.EventPowerRestored, meter.EventTamper, meter.EventTamperCleared,
		meter.EventPowerQuality, meter.EventLimiterTrip:
		return true
	}
	return false
}

// RunPushes sends the fleet's alarm and last-gasp pushes to cfg's
// destination as the simulated clock reaches them, until ctx ends. One
// timer heap covers every meter: no goroutine waits per meter. The fleet's
// clock may run faster than real time; the heap is checked every poll.
func (f *Fleet) RunPushes(ctx context.Context, cfg PushConfig, stats *PushStats) error {
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 64
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if stats == nil {
		stats = &PushStats{}
	}
	f.mu.Lock()
	f.pushTo = cfg.Destination
	f.mu.Unlock()
	h := make(pushHeap, 0, f.n)
	now := cfg.From
	if now.IsZero() {
		now = f.now()
	}
	cfg.From = now // where a C12.22 meter's first push starts its log
	for i := range f.n {
		m, err := f.Meter(i)
		if err != nil {
			return err
		}
		lk := f.Lock(i)
		lk.Lock()
		at, ev := m.NextEvent(now)
		lk.Unlock()
		h = append(h, pushItem{at, i, ev})
	}
	heap.Init(&h)
	slots := make(chan struct{}, cfg.MaxInFlight)
	var qmu sync.Mutex
	queues := map[int][]pushItem{} // meters with pushes under way
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		now := f.now()
		for len(h) > 0 && !h[0].at.After(now) {
			it := heap.Pop(&h).(pushItem)
			m, _ := f.Meter(it.i)
			lk := f.Lock(it.i)
			lk.Lock()
			if it.ev.Kind == meter.EventLimiterTrip {
				m.Apply(it.at, it.ev)
			}
			next, ev := m.NextEvent(it.at)
			lk.Unlock()
			heap.Push(&h, pushItem{next, it.i, ev})
			c12 := f.Protocol(it.i) == ProtocolC1222
			if c12 && (cfg.C1222Destination == "" || !pushesC1222(it.ev.Kind)) {
				continue
			}
			if !c12 && (cfg.Destination == "" || !pushes(it.ev.Kind) || f.ModelOf(it.i) == ModelThirdParty || !f.isDLMS(it.i)) {
				// The third-party model has no push setup; the
				// meters of other protocols push nothing.
				continue
			}
			// A meter sends its pushes one after another, in the order of
			// its events: its invocation counter must arrive increasing.
			qmu.Lock()
			q, busy := queues[it.i]
			queues[it.i] = append(q, it)
			qmu.Unlock()
			if busy {
				continue
			}
			go func(i int, c12 bool) {
				// One connection carries the burst, so the head-end reads
				// the pushes in the order they were sent.
				var conn *wrapper.Conn
				var c12conn net.Conn
				defer func() {
					if conn != nil {
						conn.Close()
					}
					if c12conn != nil {
						c12conn.Close()
					}
				}()
				for {
					qmu.Lock()
					q := queues[i]
					if len(q) == 0 {
						delete(queues, i)
						qmu.Unlock()
						return
					}
					it := q[0]
					queues[i] = q[1:]
					qmu.Unlock()
					select {
					case slots <- struct{}{}:
					case <-ctx.Done():
						return
					}
					var err error
					if c12 {
						c12conn, err = f.pushC1222(ctx, cfg, it, c12conn)
					} else {
						conn, err = f.push(ctx, cfg, it, conn)
					}
					<-slots
					if errors.Is(err, errNothingToPush) {
						continue
					}
					if err != nil {
						stats.Failed.Add(1)
						f.log.Debug("push failed", "meter", it.i, "event", it.ev.Kind.String(), "err", err)
						continue
					}
					stats.Sent.Add(1)
				}
			}(it.i, c12)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// push sends one data-notification from meter it.i on conn, or on a new
// connection from the meter's own address: the wrapper, general-glo-ciphering with
// authenticated encryption under the meter's keys and its next send
// invocation counter. A last gasp is sent once: the meter's supercap
// holds for one attempt.
func (f *Fleet) push(ctx context.Context, cfg PushConfig, it pushItem, conn *wrapper.Conn) (*wrapper.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	release, ok := f.acquire(ctx, it.i) // never while a session holds the counter
	if !ok {
		return conn, fmt.Errorf("meter %d busy", it.i)
	}
	defer release()
	m, err := f.Meter(it.i)
	if err != nil {
		return conn, err
	}
	id := f.Identity(it.i)
	lk := f.Lock(it.i)
	lk.Lock()
	ic, err := m.NextSendCounter()
	stamp := m.Clock(it.at).In(f.model.Location)
	serial := serialOf(m, f.ModelOf(it.i))
	lk.Unlock()
	if err != nil {
		return conn, err
	}
	body := PushBody(PushSetupLN, serial, uint16(it.ev.Code), stamp)
	n := &apdu.DataNotification{LongInvokeID: apdu.LongInvokeIDAndPriority(ic & 0x00FFFFFF), Body: body}
	plain, err := n.Append(nil)
	if err != nil {
		return conn, err
	}
	ekb, akb, err := f.Keys(it.i)
	if err != nil {
		return conn, err
	}
	ek, err := security.NewKey(ekb[:])
	if err != nil {
		return conn, err
	}
	ak, err := security.NewKey(akb[:])
	if err != nil {
		return conn, err
	}
	sc := security.NewSecurityControl(0, security.AuthenticatedEncryption)
	out, err := security.WrapGeneral(nil, security.Global, sc, security.Keys{Unicast: ek, Authentication: ak}, id.SystemTitle[:], ic, plain)
	if err != nil {
		return conn, err
	}
	if conn == nil {
		d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(id.Addr.Addr(), 0))}
		c, err := d.DialContext(ctx, "tcp", cfg.Destination)
		if err != nil {
			return nil, err
		}
		conn = wrapper.NewConn(c, 1, 1)
	}
	if err := conn.Send(ctx, out); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// PushBody is the content of an alarm or last-gasp push, as IDIS push
// setups capture it: the push setup's logical name, the meter's serial
// number, the event code and the meter's time stamp.
func PushBody(setup obis.Code, serial string, code uint16, at time.Time) axdr.Data {
	var st axdr.ClockStatus
	if at.IsDST() {
		st = axdr.StatusDaylightSaving
	}
	return axdr.Structure(cosem.LogicalNameData(setup), axdr.VisibleString(serial), axdr.Uint16(code), cosem.DateTimeData(at, st))
}
