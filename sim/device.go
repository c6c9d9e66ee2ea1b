package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/cosem/objects"
	"github.com/amigo-ami/amigo/dlms/security"
	"github.com/amigo-ami/amigo/dlms/server"
	"github.com/amigo-ami/amigo/loadshape"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/obis"
)

// Logical names of the objects a simulated electricity meter serves.
var (
	ClockLN             = obis.MustParse("0.0.1.0.0.255")
	SerialLN            = obis.MustParse("0.0.96.1.0.255")
	LogicalDeviceNameLN = obis.MustParse("0.0.42.0.0.255")
	InvocationCounterLN = obis.MustParse("0.0.43.1.0.255")
	StatusLN            = obis.MustParse("0.0.96.10.1.255")
	EventCodeLN         = obis.MustParse("0.0.96.11.0.255")
	DurationLN          = obis.MustParse("0.0.96.7.19.255")
	ImportLN            = obis.MustParse("1.0.1.8.0.255")
	ExportLN            = obis.MustParse("1.0.2.8.0.255")
	ImportVarhLN        = obis.MustParse("1.0.3.8.0.255")
	ExportVarhLN        = obis.MustParse("1.0.4.8.0.255")
	MaxDemandLN         = obis.MustParse("1.0.1.6.0.255")
	ImportPowerLN       = obis.MustParse("1.0.1.7.0.255")
	ExportPowerLN       = obis.MustParse("1.0.2.7.0.255")
	FrequencyLN         = obis.MustParse("1.0.14.7.0.255")
	PowerFactorLN       = obis.MustParse("1.0.13.7.0.255")
	LoadProfileLN       = obis.MustParse("1.0.99.1.0.255")
	DailyBillingLN      = obis.MustParse("0.0.98.1.0.255")
	StandardEventLogLN  = obis.MustParse("0.0.99.98.0.255")
	PowerFailureLogLN   = obis.MustParse("1.0.99.97.0.255")
	FraudLogLN          = obis.MustParse("0.0.99.98.1.255")
	DisconnectLogLN     = obis.MustParse("0.0.99.98.2.255")
	PowerQualityLogLN   = obis.MustParse("0.0.99.98.4.255")
	DisconnectLN        = obis.MustParse("0.0.96.3.10.255")
)

// Rate registers: ImportRateLN[r] is 1.0.1.8.(r+1).255.
var (
	ImportRateLN = [4]obis.Code{{1, 0, 1, 8, 1, 255}, {1, 0, 1, 8, 2, 255}, {1, 0, 1, 8, 3, 255}, {1, 0, 1, 8, 4, 255}}
	ExportRateLN = [4]obis.Code{{1, 0, 2, 8, 1, 255}, {1, 0, 2, 8, 2, 255}, {1, 0, 2, 8, 3, 255}, {1, 0, 2, 8, 4, 255}}
)

// Per-phase instantaneous values: L1, L2, L3.
var (
	VoltageLN = [3]obis.Code{{1, 0, 32, 7, 0, 255}, {1, 0, 52, 7, 0, 255}, {1, 0, 72, 7, 0, 255}}
	CurrentLN = [3]obis.Code{{1, 0, 31, 7, 0, 255}, {1, 0, 51, 7, 0, 255}, {1, 0, 71, 7, 0, 255}}
)

// Client SAPs of the associations every simulated meter offers.
const (
	PublicClient     = 16 // no security, read-only
	ReadingClient    = 17 // LLS
	ManagementClient = 1  // HLS-GMAC, authenticated encryption
)

// COSEM unit codes.
const (
	unitSecond = 7
	unitW      = 27
	unitVar    = 29
	unitWh     = 30
	unitVarh   = 32
	unitA      = 33
	unitV      = 35
	unitHz     = 44
	unitNone   = 255
)

// DeviceConfig is what NewDevice needs beside the meter model.
type DeviceConfig struct {
	// Now is the true (simulated) time; the meter's drifting clock is
	// derived from it.
	Now func() time.Time
	// Lock guards the meter model, which is not safe for concurrent use;
	// nil uses a private mutex.
	Lock        sync.Locker
	SystemTitle []byte
	// Keys are EK and AK of the management client.
	Keys     security.Keys
	Password []byte // LLS password of the reading client
	Logger   *slog.Logger
	// Subs are the gas and water meters on the M-Bus, channel 1 first.
	Subs []*meter.Meter
	// PushDestination is the head-end the meter pushes to (host:port).
	PushDestination string
	// InactivityTimeout is server.Device's: a silent client is dropped
	// after it.
	InactivityTimeout time.Duration
	// Model is the object model served (zero: ModelIDIS).
	Model Model
	// Faults are the meter's firmware faults (zero: none).
	Faults Fault
	// Trust provisions the meter with the head-end's command-signing keys
	// (nil: not provisioned, no command needs a signature).
	Trust *Trust
	// Image is the meter's image transfer and active firmware, which
	// outlast the connection (nil: the meter has no image transfer).
	Image *MeterImage
	// KEK is the master key key_transfer unwraps new keys with; SetKeys
	// persists and applies them. Without both the meter refuses
	// key_transfer.
	KEK     []byte
	SetKeys func(ek, ak [16]byte) error
	// PQProfile serves the voltage profile and the power quality log with
	// durations and depths (IDIS model only; see pq.go).
	PQProfile bool
}

// Device is one simulated meter on the wire for the span of a connection.
type Device struct {
	*server.Device
	m       *meter.Meter
	cfg     DeviceConfig
	counter *security.Counter
	clockLN obis.Code // the clock its profiles capture
	// rekeyed: a key_transfer in this connection changed the keys, so
	// the old key's counters no longer count.
	rekeyed atomic.Bool
}

// NewDevice builds the COSEM logical device (address 1) of an electricity
// meter backed by m: registers, profiles and logs are computed from the
// model at the time of each request, SET of the clock and the disconnect
// control methods change the model, and the invocation counters and LLS
// lockout live in the model so that they outlast the Device. Call Close
// when the connection ends.
func NewDevice(m *meter.Meter, cfg DeviceConfig) (*Device, error) {
	if !m.Kind().Electric() {
		return nil, fmt.Errorf("sim: meter %d is a %s meter; only electricity meters are served", m.ID(), m.Kind())
	}
	if cfg.Now == nil {
		return nil, errors.New("sim: DeviceConfig.Now is nil")
	}
	if cfg.Lock == nil {
		cfg.Lock = &sync.Mutex{}
	}
	d := &Device{m: m, cfg: cfg, clockLN: ClockLN}
	if cfg.Model == ModelThirdParty {
		d.clockLN = ThirdPartyClockLN
	}
	f := m.Fleet()
	now := cfg.Now

	cfg.Lock.Lock()
	counters := m.Counters()
	locked := m.AuthAllowed(now()) != nil
	cfg.Lock.Unlock()
	d.counter = security.NewCounter(max(counters.Send, 1), d.persistSend)
	d.counter.Window = f.CounterBlock

	dev := &server.Device{
		Address: 1, SystemTitle: cfg.SystemTitle, Counter: d.counter, Now: now, Logger: cfg.Logger,
		MaxLLSFailures: f.LLSMaxFailures, LockoutPeriod: f.LLSLockout, InactivityTimeout: cfg.InactivityTimeout,
		PersistClientIC: func(sap uint16, ic uint32) error {
			if sap == ManagementClient && d.rekeyed.Load() {
				// The old key's counter went with the old key.
				return nil
			}
			cfg.Lock.Lock()
			defer cfg.Lock.Unlock()
			return m.AcceptClientCounter(sap, ic)
		},
		OnSecurityEvent: func(kind server.SecurityEvent, sap uint16) {
			if d.signingEvent(kind) || kind != server.EventLLSFailure {
				return
			}
			cfg.Lock.Lock()
			m.AuthFailed(now())
			cfg.Lock.Unlock()
		},
	}
	dev.Quirks = d.quirks()
	if cfg.Trust != nil {
		dev.Signing = d.signing(cfg.Trust)
	}
	d.imageQuirk(&dev.Quirks)
	dev.Associations = append(dev.Associations, server.Association{ClientSAP: PublicClient, Rights: cosem.ReadOnlyAccess})
	// A meter whose LLS is locked out offers no LLS association at all
	// until the lockout ends: the model, not the short-lived Device,
	// remembers the failures.
	if len(cfg.Password) > 0 && !locked {
		dev.Associations = append(dev.Associations, server.Association{ClientSAP: ReadingClient,
			Authentication: security.MechanismLLS, Secret: cfg.Password, Rights: cosem.ReadOnlyAccess})
	}
	if len(cfg.Keys.Unicast.Bytes()) > 0 {
		a := server.Association{ClientSAP: ManagementClient, Authentication: security.MechanismHLSGMAC,
			Policy: security.PolicyAuthenticatedEncrypted, Keys: cfg.Keys}
		for _, c := range counters.Clients {
			if c.Client == ManagementClient {
				a.LastClientIC, a.HasLastClientIC = c.Last, true
			}
		}
		if cfg.Faults.Has(FaultCounterAhead) && !a.HasLastClientIC {
			// The meter believes its client got this far already (a
			// restore from an older backup, a swapped board).
			a.LastClientIC, a.HasLastClientIC = CounterAhead, true
		}
		dev.Associations = append(dev.Associations, a)
	}
	if cfg.Model == ModelThirdParty {
		for i := range dev.Associations {
			a := &dev.Associations[i]
			a.Conformance, a.MaxPDU, a.Rights = thirdPartyConformance, ThirdPartyMaxPDU, noMethods(a.Rights)
		}
	}
	var tree *objects.Tree
	var err error
	switch cfg.Model {
	case ModelDSMR5:
		tree, err = d.treeDSMR5(dev)
	case ModelThirdParty:
		tree, err = d.treeThirdParty(dev)
	default:
		tree, err = d.tree(dev)
	}
	if err != nil {
		return nil, err
	}
	dev.Tree = tree
	d.Device = dev
	return d, nil
}

// persistSend reserves send invocation counters up to next in the model
// (and its Persister) before the Device uses any of them.
func (d *Device) persistSend(next uint32) error {
	d.cfg.Lock.Lock()
	defer d.cfg.Lock.Unlock()
	c := d.m.Counters()
	c.Send = next
	if p := d.m.Fleet().Persister; p != nil {
		if err := p.PersistCounters(d.m.ID(), c); err != nil {
			return err
		}
	}
	d.m.RestoreCounters(c)
	return nil
}

// Close hands the unused reserved send counters back to the model, so the
// next connection resumes exactly where this one stopped, and drops the
// model's caches.
func (d *Device) Close() {
	d.cfg.Lock.Lock()
	defer d.cfg.Lock.Unlock()
	c := d.m.Counters()
	if p := d.counter.Peek(); p != c.Send {
		c.Send = p
		d.m.RestoreCounters(c)
	}
	d.m.Trim()
}

// with runs fn on the meter under its lock at the current true time.
func with[T any](d *Device, fn func(m *meter.Meter, now time.Time) T) T {
	d.cfg.Lock.Lock()
	defer d.cfg.Lock.Unlock()
	now := d.cfg.Now()
	d.m.Settle(now) // what the household did since the last use
	return fn(d.m, now)
}

func (d *Device) zone(t time.Time) time.Time { return t.In(d.m.Fleet().Location) }

// dateTime encodes a meter-clock instant in the meter's zone with the DST
// bit as meters set it.
func (d *Device) dateTime(t time.Time) axdr.Data {
	t = d.zone(t)
	var st axdr.ClockStatus
	if t.IsDST() {
		st = axdr.StatusDaylightSaving
	}
	return cosem.DateTimeData(t, st)
}

func wh(v int64) axdr.Data { return axdr.Uint32(uint32(v)) }

func (d *Device) register(ln obis.Code, unit axdr.Unit, scaler int8, read func(m *meter.Meter, now time.Time) axdr.Data) *objects.Register {
	r := objects.NewRegister(ln, axdr.Uint32(0), axdr.ScalerUnit{Scaler: scaler, Unit: unit})
	r.Read = func(context.Context) (axdr.Data, error) { return with(d, read), nil }
	return r
}

func (d *Device) tree(dev *server.Device) (*objects.Tree, error) {
	m := d.m
	now := d.cfg.Now
	clock := d.newClock(ClockLN)

	objs := []cosem.Object{clock, d.counterObject(dev),
		objects.NewData(SerialLN, axdr.VisibleString(m.Serial())),
		objects.NewData(LogicalDeviceNameLN, axdr.OctetString([]byte(m.Serial()))),
		objects.NewData(StatusLN, axdr.Uint8(0)),
	}
	regs := func(m *meter.Meter, now time.Time) meter.Registers { return m.RegistersAt(now) }
	objs = append(objs,
		d.register(ImportLN, unitWh, 0, func(m *meter.Meter, now time.Time) axdr.Data { return wh(regs(m, now).Import) }),
		d.register(ExportLN, unitWh, 0, func(m *meter.Meter, now time.Time) axdr.Data { return wh(regs(m, now).Export) }),
		d.register(ImportVarhLN, unitVarh, 0, func(m *meter.Meter, now time.Time) axdr.Data { return wh(regs(m, now).ImportVarh) }),
		d.register(ExportVarhLN, unitVarh, 0, func(m *meter.Meter, now time.Time) axdr.Data { return wh(regs(m, now).ExportVarh) }),
	)
	for r := range 4 {
		objs = append(objs,
			d.register(ImportRateLN[r], unitWh, 0, func(m *meter.Meter, now time.Time) axdr.Data { return wh(regs(m, now).ImportRate[r]) }),
			d.register(ExportRateLN[r], unitWh, 0, func(m *meter.Meter, now time.Time) axdr.Data { return wh(regs(m, now).ExportRate[r]) }))
	}
	inst := func(m *meter.Meter, now time.Time) loadshape.Instant { return m.Instant(now) }
	objs = append(objs,
		d.register(ImportPowerLN, unitW, 0, func(m *meter.Meter, now time.Time) axdr.Data { return axdr.Uint32(uint32(inst(m, now).ImportW)) }),
		d.register(ExportPowerLN, unitW, 0, func(m *meter.Meter, now time.Time) axdr.Data { return axdr.Uint32(uint32(inst(m, now).ExportW)) }),
		d.register(FrequencyLN, unitHz, -3, func(m *meter.Meter, now time.Time) axdr.Data { return axdr.Uint16(uint16(inst(m, now).FrequencyMHz)) }),
		d.register(PowerFactorLN, unitNone, -3, func(m *meter.Meter, now time.Time) axdr.Data { return axdr.Int16(int16(inst(m, now).PowerFactorPM)) }),
	)
	for p := range m.Phases() {
		objs = append(objs,
			d.register(VoltageLN[p], unitV, -1, func(m *meter.Meter, now time.Time) axdr.Data { return axdr.Uint16(uint16(inst(m, now).VoltageDV[p])) }),
			d.register(CurrentLN[p], unitA, -3, func(m *meter.Meter, now time.Time) axdr.Data { return axdr.Uint32(uint32(inst(m, now).CurrentMA[p])) }))
	}
	md := objects.NewExtendedRegister(MaxDemandLN, axdr.Uint32(0), axdr.ScalerUnit{Unit: unitW}, axdr.Uint8(0), time.Time{})
	md.Read = func(context.Context) (axdr.Data, axdr.Data, time.Time, error) {
		dm := with(d, func(m *meter.Meter, now time.Time) meter.Demand { return m.MaxDemand(now) })
		at := dm.At
		if !at.IsZero() {
			at = d.zone(at)
		}
		return axdr.Uint32(uint32(dm.MaxW)), axdr.Uint8(0), at, nil
	}
	md.Reset = func(context.Context) error {
		with(d, func(m *meter.Meter, now time.Time) meter.Demand { return m.ResetMaxDemand(now) })
		return nil
	}
	md.Now = func() time.Time { return d.zone(now()) }
	objs = append(objs, md,
		objects.NewData(EventCodeLN, axdr.Uint16(0)),
		objects.NewData(DurationLN, axdr.Uint32(0)),
		d.loadProfile(), d.dailyBilling(),
		d.eventLog(StandardEventLogLN, meter.LogStandard),
		d.eventLog(PowerFailureLogLN, meter.LogPowerFailure),
		d.eventLog(FraudLogLN, meter.LogFraud),
		d.eventLog(DisconnectLogLN, meter.LogDisconnect),
		d.powerQualityLog(),
		d.activityCalendar(),
		d.limiter(),
		d.pushSetup(),
		&relay{Header: objects.Header{Class: cosem.ClassDisconnectControl, LN: DisconnectLN}, d: d},
		d.securitySetup(),
	)
	if !d.cfg.Faults.Has(FaultNoSpecialDays) {
		objs = append(objs, d.specialDaysTable())
	}
	objs = append(objs, d.mbusObjects()...)
	objs = append(objs, d.pqObjects()...)
	objs = append(objs, d.imageObjects()...)
	objs = append(objs, d.drObjects()...)
	tree, err := objects.NewTree(objs...)
	if err != nil {
		return nil, fmt.Errorf("sim: meter %d: %w", m.ID(), err)
	}
	return tree, nil
}
