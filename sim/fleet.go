package sim

import (
	"cmp"
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"github.com/amigo-ami/amigo/linkio"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/amigo-ami/amigo/dlms/security"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/wrapper"
)

// DefaultPort is the DLMS/COSEM wrapper port every simulated meter listens
// on (IANA 4059).
const DefaultPort = 4059

// MaxMeters is how many meters fit in 127.0.0.0/8 after 127.0.0.0 and
// 127.0.0.1.
const MaxMeters = 1<<24 - 2

// Config describes a simulated fleet.
type Config struct {
	Meters int    // number of meters, 1..MaxMeters
	Seed   uint64 // everything about the fleet derives from it
	// Port is the TCP port of every meter address (0: DefaultPort).
	Port uint16
	// Now is the true simulated time (e.g. Clock.Now); nil: time.Now.
	Now func() time.Time
	// Model is the meter model configuration; nil takes meter.NewFleet
	// with the seed, Location and Now().
	Model    *meter.Fleet
	Location *time.Location // time zone of the default model (nil: UTC)
	// HistoryDays is how far back the default model's profiles and logs
	// reach (0: the model's default).
	HistoryDays int
	// Faults replaces the default model's fault mix when set.
	Faults *meter.Faults
	// Links makes each meter's session as slow as its link class
	// (meter.Faults.Links): latency per exchange and bandwidth.
	Links bool
	// Mesh puts the meters behind radio collectors (mesh.go); nil: each
	// meter is reached directly.
	Mesh *Mesh
	// Gas and Water are the fractions of electricity meters with a gas
	// or a water meter behind them on M-Bus.
	Gas, Water float64
	// InactivityTimeout ends a connection that stays silent this long, so
	// that an idle client cannot keep a meter's only session from the
	// head-end (0: server.DefaultInactivityTimeout; negative: never).
	InactivityTimeout time.Duration
	Logger            *slog.Logger
	// Models is the mix of object models, drawn per meter from the seed;
	// nil serves every meter with the IDIS-like model.
	Models []ModelShare
	// DLMSFaults gives the fraction of meters with each firmware fault.
	DLMSFaults FaultMix
	// FaultsOf, when set, gives meter i's faults instead of DLMSFaults,
	// so that a test builds one meter with one fault.
	FaultsOf func(i int) Fault
	// RebootTime is how long a meter that crashed refuses connections
	// (0: DefaultRebootTime).
	RebootTime time.Duration
	// Trust provisions every meter with the head-end's command-signing
	// keys (nil: none is provisioned).
	Trust *Trust
	// FirmwareKey is the firmware-signing key the meters trust: when set,
	// the IDIS meters serve image transfer and their active firmware
	// identifier (see MeterImage).
	FirmwareKey *ecdsa.PublicKey
	// KeyStore keeps the keys meters are given by key_transfer across a
	// restart (nil: kept in memory only).
	KeyStore KeyStore
	// Readout is the fraction of meters that speak IEC 62056-21 at
	// ReadoutPort instead of DLMS (see readout.go).
	Readout float64
	// ReadoutPort is the readout meters' TCP port (0: DefaultReadoutPort).
	ReadoutPort uint16
	// ReadoutReaction is the readout meters' reaction time (0: 200 ms,
	// the standard's least; negative: none).
	ReadoutReaction time.Duration
	// P1Port is the TCP port of the DSMR meters' P1 ports (0:
	// DefaultP1Port); P1Encrypted the fraction of them that encrypt
	// (AES-128-GCM, key in the manifest's p1_key); P1Interval the time
	// between telegrams (0: DefaultP1Interval).
	P1Port      uint16
	P1Encrypted float64
	P1Interval  time.Duration
	// MBus is the fraction of fleet addresses with an M-Bus converter
	// serving standalone gas and water meters (mbusslave.go), at MBusPort
	// (0: DefaultMBusPort); MBusHistory is how far back their volume
	// profile reaches (0: DefaultMBusHistory).
	MBus        float64
	MBusPort    uint16
	MBusHistory time.Duration
	// C1218, C1222 and OSGP are the fractions of the meters that speak
	// ANSI C12.18, ANSI C12.22 or OSGP instead of DLMS (c12.go); with
	// Readout they may add up to 1 at most. OSGPLegacy is the fraction of
	// the OSGP meters on the legacy security rather than AES-128.
	C1218, C1222, OSGP, OSGPLegacy float64
	// C1218Port, C1222Port and OSGPPort are their TCP ports (0:
	// DefaultC1218Port, DefaultC1222Port, DefaultOSGPPort).
	C1218Port, C1222Port, OSGPPort uint16
	// Supply runs the fleet on a distribution network (package
	// distribution): its cuts, last gasps and voltage replace the
	// model's outage groups, and its topology (when it has one) fills the
	// manifest's substation, feeder and transformer columns. It is set on
	// Model as well.
	Supply meter.Supply
	// PQProfile gives the IDIS meters a voltage profile (1-0:99.2.0,
	// 10-minute mean, minimum and maximum per phase) and a power quality
	// log with each event's duration and residual voltage (see pq.go).
	PQProfile bool
}

// Fleet is a running simulated fleet. Meters are created on first use and
// hold no goroutine; a Device exists only while a client is connected.
type Fleet struct {
	model    *meter.Fleet
	n        int
	seed     uint64
	port     uint16
	now      func() time.Time
	log      *slog.Logger
	links    bool
	gas      float64
	water    float64
	idle     time.Duration
	models   []ModelShare
	faultMix FaultMix
	faultsOf func(int) Fault
	reboot   time.Duration
	trust    *Trust
	keyStore KeyStore
	// readout is the fraction of IEC 62056-21 meters, at readoutPort.
	readout     float64
	readoutPort uint16
	reaction    time.Duration

	pq bool // the IDIS meters serve the voltage profile

	mbus        float64
	mbusPort    uint16
	mbusHistory time.Duration
	mbusBusy    map[int]chan struct{} // converters with a client, guarded by mu

	// The fractions of C12.18, C12.22 and OSGP meters and their ports.
	c1218, c1222, osgp, osgpLegacy float64
	c1218Port, c1222Port, osgpPort uint16
	c12Logs                        map[int]*c12Log // the C12 meters' event logs, once read; guarded by mu
	osgpStates                     map[int]*osgpState
	c1222States                    map[int]*c1222State
	c1222Pushed                    map[int]uint32 // the newest event log entry each C12.22 meter pushed; guarded by mu

	mu        sync.Mutex
	meters    []*meter.Meter
	busy      map[int]chan struct{}   // closed when the meter's session ends
	subs      map[uint64]*meter.Meter // gas and water meters, by id, once touched
	pushTo    string                  // RunPushes' destination
	rebooting map[int]time.Time       // crashed meters, until when (wall clock)
	// images holds the firmware of the meters touched, when the fleet
	// trusts firmwareKey.
	images      map[int]*MeterImage
	firmwareKey *ecdsa.PublicKey
	keys        map[int]meterKeys // meters' global keys, once touched
	// locks guard the meter models, which are not safe for concurrent
	// use; striped so that idle meters carry no mutex.
	locks [256]sync.Mutex
	p1    p1Config
	mesh  *mesh // nil: no mesh
}

// NewFleet prepares a fleet. It allocates one pointer per meter and
// nothing else until meters are touched.
func NewFleet(cfg Config) (*Fleet, error) {
	if cfg.Meters < 1 || cfg.Meters > MaxMeters {
		return nil, fmt.Errorf("sim: %d meters: want 1..%d", cfg.Meters, MaxMeters)
	}
	f := &Fleet{n: cfg.Meters, seed: cfg.Seed, port: cfg.Port, now: cfg.Now, log: cfg.Logger, model: cfg.Model, links: cfg.Links, gas: cfg.Gas, water: cfg.Water,
		idle: cfg.InactivityTimeout, busy: map[int]chan struct{}{},
		models: cfg.Models, faultMix: cfg.DLMSFaults, faultsOf: cfg.FaultsOf, reboot: cfg.RebootTime, trust: cfg.Trust, keyStore: cfg.KeyStore}
	f.firmwareKey = cfg.FirmwareKey
	f.readout, f.readoutPort, f.reaction = cfg.Readout, cfg.ReadoutPort, cfg.ReadoutReaction
	f.pq = cfg.PQProfile
	if f.reaction == 0 {
		f.reaction = readoutReaction
	}
	if f.readoutPort == 0 {
		f.readoutPort = DefaultReadoutPort
	}
	f.p1 = p1Config{port: cfg.P1Port, encrypted: cfg.P1Encrypted, interval: cfg.P1Interval}
	f.mbus, f.mbusPort, f.mbusHistory = cfg.MBus, cfg.MBusPort, cfg.MBusHistory
	if f.mbusPort == 0 {
		f.mbusPort = DefaultMBusPort
	}
	if f.mbusHistory <= 0 {
		f.mbusHistory = DefaultMBusHistory
	}
	if f.reboot <= 0 {
		f.reboot = DefaultRebootTime
	}
	f.c1218, f.c1222, f.osgp, f.osgpLegacy = cfg.C1218, cfg.C1222, cfg.OSGP, cfg.OSGPLegacy
	f.c1218Port, f.c1222Port, f.osgpPort = cmp.Or(cfg.C1218Port, DefaultC1218Port), cmp.Or(cfg.C1222Port, DefaultC1222Port), cmp.Or(cfg.OSGPPort, DefaultOSGPPort)
	for _, v := range []float64{f.readout, f.c1218, f.c1222, f.osgp, f.osgpLegacy} {
		if v < 0 || v > 1 {
			return nil, fmt.Errorf("sim: protocol fraction %v: want [0, 1]", v)
		}
	}
	if sum := f.readout + f.c1218 + f.c1222 + f.osgp; sum > 1+1e-9 {
		return nil, fmt.Errorf("sim: the readout, C12.18, C12.22 and OSGP fractions add up to %v: want at most 1", sum)
	}
	for _, s := range f.models {
		if s.Model >= numModels {
			return nil, fmt.Errorf("sim: unknown meter model %d", s.Model)
		}
	}
	if f.port == 0 {
		f.port = DefaultPort
	}
	if f.now == nil {
		f.now = time.Now
	}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	if f.model == nil {
		loc := cfg.Location
		if loc == nil {
			loc = time.UTC
		}
		start := f.now()
		f.model = meter.NewFleet(cfg.Seed, loc, start)
		if cfg.HistoryDays > 0 {
			f.model.HistoryDays = cfg.HistoryDays
			y, m, d := start.In(loc).Date()
			f.model.Install = time.Date(y, m, d-cfg.HistoryDays, 0, 0, 0, 0, loc)
		}
		if cfg.Faults != nil {
			f.model.Faults = *cfg.Faults
		}
	}
	if cfg.Supply != nil {
		f.model.Supply = cfg.Supply
	}
	if err := f.model.Prepare(); err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	if cfg.Mesh != nil {
		var err error
		if f.mesh, err = newMesh(*cfg.Mesh, cfg.Seed, f.n); err != nil {
			return nil, err
		}
	}
	f.meters = make([]*meter.Meter, f.n)
	return f, nil
}

// Len returns the number of meters.
func (f *Fleet) Len() int { return f.n }

// Model returns the shared meter model configuration.
func (f *Fleet) Model() *meter.Fleet { return f.model }

// Now returns the fleet's true simulated time.
func (f *Fleet) Now() time.Time { return f.now() }

// Identity returns meter i's identity; it allocates nothing.
func (f *Fleet) Identity(i int) Identity {
	return identity(f.seed, i, f.port, MakeOf(f.ModelOf(i)).Flag)
}

// ModelOf returns meter i's object model.
func (f *Fleet) ModelOf(i int) Model { return modelOf(f.seed, i, f.models) }

// FaultsOf returns meter i's firmware faults.
func (f *Fleet) FaultsOf(i int) Fault {
	if f.faultsOf != nil {
		return f.faultsOf(i)
	}
	if len(f.faultMix) == 0 {
		return 0
	}
	return faultsOf(f.seed, i, f.faultMix)
}

// Index returns the meter listening on addr, if any.
func (f *Fleet) Index(addr netip.Addr) (int, bool) { return indexOf(addr, f.n) }

// Meter returns meter i's model, creating it on first use. Hold Lock(i)
// while using it if the fleet is serving.
func (f *Fleet) Meter(i int) (*meter.Meter, error) {
	if i < 0 || i >= f.n {
		return nil, fmt.Errorf("sim: no meter %d in a fleet of %d", i, f.n)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if m := f.meters[i]; m != nil {
		return m, nil
	}
	id := uint64(i) + 1
	m, err := f.model.NewMeter(id, f.model.DefaultKind(id))
	if err != nil {
		return nil, fmt.Errorf("sim: meter %d: %w", i, err)
	}
	f.meters[i] = m
	return m, nil
}

// peek returns meter i's model without keeping a new one: its identity
// fields are derived, so a throwaway model answers them.
func (f *Fleet) peek(i int) (*meter.Meter, error) {
	if i < 0 || i >= f.n {
		return nil, fmt.Errorf("sim: no meter %d in a fleet of %d", i, f.n)
	}
	f.mu.Lock()
	m := f.meters[i]
	f.mu.Unlock()
	if m != nil {
		return m, nil
	}
	id := uint64(i) + 1
	return f.model.NewMeter(id, f.model.DefaultKind(id))
}

// Lock returns the mutex that guards meter i's model.
func (f *Fleet) Lock(i int) sync.Locker { return &f.locks[i%len(f.locks)] }

// NewDevice builds the logical device of meter i for one connection.
func (f *Fleet) NewDevice(i int) (*Device, error) {
	m, err := f.Meter(i)
	if err != nil {
		return nil, err
	}
	id := f.Identity(i)
	ekb, akb, err := f.Keys(i)
	if err != nil {
		return nil, err
	}
	ek, err := security.NewKey(ekb[:])
	if err != nil {
		return nil, err
	}
	ak, err := security.NewKey(akb[:])
	if err != nil {
		return nil, err
	}
	subs, err := f.SubMeters(i)
	if err != nil {
		return nil, err
	}
	return NewDevice(m, DeviceConfig{Now: f.now, Lock: f.Lock(i), SystemTitle: id.SystemTitle[:],
		Keys: security.Keys{Unicast: ek, Authentication: ak}, Password: []byte(id.Password), Logger: f.log, Subs: subs, PushDestination: f.pushDest(),
		InactivityTimeout: f.idle, Model: f.ModelOf(i), Faults: f.FaultsOf(i), Trust: f.trust, Image: f.image(i, m),
		KEK: id.KEK[:], SetKeys: func(ek, ak [16]byte) error { return f.setKeys(i, ek, ak) },
		PQProfile: f.pq})
}

func (f *Fleet) pushDest() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pushTo
}

// Listen opens the one listener that serves every meter address: see
// ListenLoopback for how it keeps off external interfaces.
func (f *Fleet) Listen(ctx context.Context) (net.Listener, error) {
	return ListenLoopback(ctx, f.port)
}

// Serve accepts wrapper connections on ln, picks the meter from the local
// address each one was made to, and serves it until ctx ends; it then
// closes ln and every connection and returns nil. A connection to an
// address outside 127.0.0.0/8 is closed at once.
func (f *Fleet) Serve(ctx context.Context, ln net.Listener) error {
	failing := false
	return linkio.Serve(ctx, ln, "sim", func(ctx context.Context, c net.Conn) error {
		f.handle(ctx, c)
		return nil
	}, nil, linkio.OnAcceptError(func(err error, wait time.Duration) {
		if !failing {
			failing = true
			f.log.Warn("fleet listener cannot accept; retrying", "err", err, "retry_in", wait.String())
		}
	}, func(failures int) {
		failing = false
		f.log.Info("fleet listener accepts again", "failed_accepts", failures)
	}))
}

// sessionWait is how long a connection waits for the meter's previous
// session to end before it is refused: a head-end that reconnects at once
// should not lose the race against the server closing the last one.
const sessionWait = 2 * time.Second

// acquire takes meter i's only session slot. One session at a time, as a
// meter's modem takes one TCP session; it also keeps the send invocation
// counter single-owner.
func (f *Fleet) acquire(ctx context.Context, i int) (release func(), ok bool) {
	timer := time.NewTimer(sessionWait)
	defer timer.Stop()
	for {
		f.mu.Lock()
		ch, busy := f.busy[i]
		if !busy {
			ch = make(chan struct{})
			f.busy[i] = ch
			f.mu.Unlock()
			return func() {
				f.mu.Lock()
				delete(f.busy, i)
				f.mu.Unlock()
				close(ch)
			}, true
		}
		f.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, false
		case <-timer.C:
			return nil, false
		}
	}
}

// refuse drops a connection with a reset, as a meter without a modem
// session (or without power) looks to a head-end.
func refuse(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// session is one admitted session of a meter: its mesh path, its session
// slot and its device, given back by close.
type session struct {
	m    *meter.Meter
	dev  *Device
	path *path
	done []func()
}

func (s *session) close() {
	for i := len(s.done) - 1; i >= 0; i-- {
		s.done[i]()
	}
}

// admit opens a session to meter i, for its own listener and for a
// concentrator alike: refused while the meter reboots, for a meter that
// does not speak DLMS, when its mesh path or its session slot cannot be
// had, and while it has no power or no link.
func (f *Fleet) admit(ctx context.Context, i int) (s *session, ok bool) {
	if f.isRebooting(i) || !f.isDLMS(i) {
		return nil, false
	}
	s = &session{}
	fail := func() (*session, bool) { s.close(); return nil, false }
	if s.path, ok = f.meshOpen(i); !ok {
		return nil, false
	}
	s.done = append(s.done, s.path.close)
	release, ok := f.acquire(ctx, i)
	if !ok {
		return fail()
	}
	s.done = append(s.done, release)
	m, err := f.Meter(i)
	if err != nil {
		return fail()
	}
	s.m = m
	lk := f.Lock(i)
	lk.Lock()
	reachable := m.Reachable(f.now())
	lk.Unlock()
	if !reachable {
		return fail()
	}
	if s.dev, err = f.NewDevice(i); err != nil {
		f.log.Error("building meter device", "meter", i, "err", err)
		return fail()
	}
	s.done = append(s.done, func() { s.dev.Close() })
	return s, true
}

func (f *Fleet) handle(ctx context.Context, c net.Conn) {
	local, _ := netip.ParseAddrPort(c.LocalAddr().String())
	i, ok := f.Index(local.Addr())
	if !ok {
		f.log.Warn("connection to an address without a meter refused", "local", c.LocalAddr().String(), "remote", c.RemoteAddr().String())
		refuse(c)
		return
	}
	ss, ok := f.admit(ctx, i)
	if !ok {
		refuse(c)
		return
	}
	defer ss.close()
	m, lk, dev := ss.m, f.Lock(i), ss.dev
	wc := wrapper.NewConn(c, 1, 0, wrapper.WithAnyRemote())
	t := &faultyTransport{Conn: wc, raw: c, dev: dev}
	if f.links {
		lk.Lock()
		t.link = m.Faults().Link
		lk.Unlock()
	}
	t.path = ss.path
	err := dev.Serve(ctx, t, serverClientInfo(wc, c))
	switch {
	case errors.Is(err, ErrCrashed):
		f.crashed(i)
		refuse(c)
	case errors.Is(err, ErrListDropped):
		refuse(c)
	}
	if err != nil && ctx.Err() == nil {
		f.log.Debug("meter connection ended", "meter", i, "remote", c.RemoteAddr().String(), "err", err)
	}
}

// crashed starts meter i's reboot: it refuses connections for the
// fleet's RebootTime of wall-clock time, whatever the simulated clock.
func (f *Fleet) crashed(i int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rebooting == nil {
		f.rebooting = map[int]time.Time{}
	}
	f.rebooting[i] = time.Now().Add(f.reboot)
	f.log.Info("meter crashed and reboots", "meter", i, "for", f.reboot.String())
}

func (f *Fleet) isRebooting(i int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	until, ok := f.rebooting[i]
	if ok && !time.Now().Before(until) {
		delete(f.rebooting, i)
		return false
	}
	return ok
}
