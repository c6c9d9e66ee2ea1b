// Package osgpdriver reaches OSGP meters (ETSI TS 104 001) for the
// head-end: their manifest columns and keys, the sequence numbers and
// digest guard of their links, and the exposure of meters still on the
// broken legacy security, which it names in the meter's record.
//
// An OSGP meter serves the same C12.19 tables as a C12.18 or C12.22 one,
// so a session hands c12driver's Reader the OSGP client (reads, partial
// reads, and procedures as ST7 written and ST8 read back): registers,
// load profile, event log, clock and commands are read and named as the
// C12 drivers do. The cursors keep the names this driver has always
// given them ("profile", "events"), and a collection carries the digest
// alarms the guard raised for the meter.
//
// A meter whose osgp_security is legacy is registered with the exposure
// "osgp-legacy": its OMA digest and RC4 are broken, and the console and
// amigo_meters_exposed say so until it is moved to AES-128.
package osgpdriver

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/amigo-ami/amigo/c1219"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/headend/c12driver"
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/osgp"
	"github.com/amigo-ami/amigo/psem"
	"github.com/prometheus/client_golang/prometheus"
)

// ExposureLegacy is the exposure of a meter on OSGP's legacy security.
const ExposureLegacy = "osgp-legacy"

// EventDigestAlarm is raised when a meter's answers fail verification so
// often that the head-end stops talking to it: someone may be using the
// head-end as a verification oracle (IEC 61968-9 "repeated authentication
// failures", as the DLMS driver names a meter's own).
const EventDigestAlarm cim.EndDeviceEventType = "3.12.1.35"

// Config tunes the driver.
type Config struct {
	// Timeout bounds one request's answer (0: five seconds).
	Timeout time.Duration
	// Guard limits digest failures of each meter's answers (nil: the
	// osgp.Guard defaults). Its OnAlarm is the driver's.
	Guard *osgp.Guard
	// Encrypt encrypts legacy requests with RC4 too (AES-128 always
	// encrypts). Off by default: RC4 keyed from the OMA key hides little
	// and gives an attacker ciphertexts under the same key.
	Encrypt bool
}

// Driver is the OSGP headend.Driver.
type Driver struct {
	cfg    Config
	guard  *osgp.Guard
	alarms atomic.Uint64
	mu     sync.Mutex
	raised map[string][]osgp.Alarm // by meter, not yet reported in a collection
	// templates are the dimension tables of each kind of meter, learned
	// once.
	templates c12driver.Templates
}

// New returns a driver.
func New(cfg Config) *Driver {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	d := &Driver{cfg: cfg, raised: map[string][]osgp.Alarm{}}
	d.guard = cfg.Guard
	if d.guard == nil {
		d.guard = &osgp.Guard{}
	}
	d.guard.OnAlarm = d.alarm
	return d
}

func (d *Driver) alarm(a osgp.Alarm) {
	d.alarms.Add(1)
	d.mu.Lock()
	d.raised[a.Peer] = append(d.raised[a.Peer], a)
	d.mu.Unlock()
}

// Alarms is the number of digest alarms the driver raised: meters whose
// answers failed verification past the guard's threshold.
func (d *Driver) Alarms() uint64 { return d.alarms.Load() }

// takeAlarms returns and forgets the alarms raised for a meter.
func (d *Driver) takeAlarms(mrid string) []osgp.Alarm {
	d.mu.Lock()
	defer d.mu.Unlock()
	a := d.raised[mrid]
	delete(d.raised, mrid)
	return a
}

// Discoveries returns how many times the driver read a kind of meter's
// dimension tables, for tests and metrics: a fleet of one kind costs one.
func (d *Driver) Discoveries() int64 { return d.templates.Discoveries() }

// Protocol implements headend.Driver.
func (d *Driver) Protocol() string { return "osgp" }

// The driver's manifest columns: the security suite and key, and the
// meter's ISO/IEC 14908-1 address when it is not the default one (domain
// in hex, subnet 1..255, node 1..127).
var (
	colSecurity = manifest.Column{Name: "osgp_security", Required: true, MaxBytes: 6}
	colKey      = manifest.Column{Name: "osgp_key", Required: true, MaxBytes: 32}
	colDomain   = manifest.Column{Name: "osgp_domain", MaxBytes: 12}
	colSubnet   = manifest.Column{Name: "osgp_subnet", MaxBytes: 3}
	colNode     = manifest.Column{Name: "osgp_node", MaxBytes: 3}
)

// Columns implements headend.Driver.
func (d *Driver) Columns() []manifest.Column {
	return []manifest.Column{colSecurity, colKey, colDomain, colSubnet, colNode}
}

// Credentials are what the head-end keeps sealed for a meter.
type Credentials struct {
	Security string `json:"security"` // "legacy" or "aes"
	Key      []byte `json:"key"`
	Domain   []byte `json:"domain,omitempty"`
	Subnet   uint8  `json:"subnet,omitempty"`
	Node     uint8  `json:"node,omitempty"`
}

func (c Credentials) keys() (osgp.Keys, error) {
	s, err := osgp.ParseSuite(c.Security)
	if err != nil {
		return osgp.Keys{}, err
	}
	return osgp.Keys{Suite: s, Key: c.Key}, nil
}

// Register implements headend.Driver.
func (d *Driver) Register(r manifest.Row) (headend.Registration, error) {
	rowErr := func(col manifest.Column, err error) error {
		return &manifest.RowError{Line: r.Line, Column: col.Name, Err: err}
	}
	if r.Kind == "gas" || r.Kind == "water" {
		return headend.Registration{}, &manifest.RowError{Line: r.Line, Column: "kind", Err: fmt.Errorf("an osgp meter is an electricity meter, not %s", r.Kind)}
	}
	var c Credentials
	sec, e := r.Field(colSecurity)
	if e != nil {
		return headend.Registration{}, e
	}
	suite, err := osgp.ParseSuite(sec)
	if err != nil {
		return headend.Registration{}, rowErr(colSecurity, err)
	}
	c.Security = sec
	k, e := r.Field(colKey)
	if e != nil {
		return headend.Registration{}, e
	}
	if c.Key, err = hex.DecodeString(k); err != nil || len(c.Key) != suite.KeySize() {
		return headend.Registration{}, rowErr(colKey, fmt.Errorf("want %d hex digits for %s security", 2*suite.KeySize(), sec))
	}
	dom, e := r.Field(colDomain)
	if e != nil {
		return headend.Registration{}, e
	}
	if c.Domain, err = hex.DecodeString(dom); err != nil || (len(c.Domain) != 0 && len(c.Domain) != 1 && len(c.Domain) != 3 && len(c.Domain) != 6) {
		return headend.Registration{}, rowErr(colDomain, errors.New("a domain is 0, 1, 3 or 6 octets in hex"))
	}
	for _, f := range []struct {
		col  manifest.Column
		max  int
		into *uint8
	}{{colSubnet, 255, &c.Subnet}, {colNode, 127, &c.Node}} {
		v, e := r.Field(f.col)
		if e != nil {
			return headend.Registration{}, e
		}
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > f.max {
			return headend.Registration{}, rowErr(f.col, fmt.Errorf("%q is not 1..%d", v, f.max))
		}
		*f.into = uint8(n)
	}
	if (c.Subnet == 0) != (c.Node == 0) {
		return headend.Registration{}, rowErr(colNode, errors.New("osgp_subnet and osgp_node go together"))
	}
	b, err := json.Marshal(c)
	if err != nil {
		return headend.Registration{}, err
	}
	reg := headend.Registration{Credentials: b}
	if suite == osgp.Legacy {
		reg.Exposure = ExposureLegacy
	}
	return reg, nil
}

// Cause implements headend.Driver.
func (d *Driver) Cause(err error) string {
	var code psem.Code
	var tblErr *c1219.Error
	var res c1219.Result
	switch {
	case err == nil:
		return ""
	case errors.Is(err, osgp.ErrDigest), errors.Is(err, osgp.ErrSuite), errors.Is(err, osgp.ErrClosed), errors.Is(err, osgp.ErrLockedOut),
		errors.Is(err, osgp.ErrKey):
		return headend.OutcomeAuth
	case errors.Is(err, osgp.ErrSequence):
		return headend.OutcomeCounter
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, syscall.ETIMEDOUT):
		return headend.OutcomeTimeout
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ENETUNREACH):
		return headend.OutcomeRefused
	case errors.As(err, &code):
		if code == psem.ISC {
			return headend.OutcomeAuth
		}
		return headend.OutcomeProtocol
	case errors.Is(err, osgp.ErrFrame), errors.Is(err, osgp.ErrBody), errors.Is(err, osgp.ErrLength), errors.Is(err, osgp.ErrUnexpected),
		c12driver.Malformed(err), errors.As(err, &tblErr), errors.As(err, &res):
		return headend.OutcomeProtocol
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return headend.OutcomeTimeout
	}
	return ""
}

// Open implements headend.Driver: it connects and reads the tables that
// say how the others are laid out (ST0, ST1, and the dimension tables
// once per kind of meter).
func (d *Driver) Open(ctx context.Context, t headend.Target) (headend.Session, error) {
	var c Credentials
	if err := json.Unmarshal(t.Credentials, &c); err != nil {
		return nil, fmt.Errorf("meter %s: credentials: %w", t.Meter.MRID, err)
	}
	k, err := c.keys()
	if err != nil {
		return nil, fmt.Errorf("meter %s: %w", t.Meter.MRID, err)
	}
	u, err := url.Parse(t.Meter.Address)
	if err != nil || u.Scheme != "tcp" || u.Host == "" {
		return nil, fmt.Errorf("meter %s: address %q is not tcp://host:port", t.Meter.MRID, t.Meter.Address)
	}
	if d.guard.Locked(t.Meter.MRID) {
		return nil, fmt.Errorf("meter %s: %w", t.Meter.MRID, osgp.ErrLockedOut)
	}
	cfg := osgp.Config{Meter: osgp.Node{Subnet: c.Subnet, Node: c.Node}, Domain: c.Domain, Keys: k, Encrypt: d.cfg.Encrypt,
		Timeout: d.cfg.Timeout, Guard: d.guard, Peer: t.Meter.MRID, Seq: newSequencer(t.Counters)}
	cl, err := osgp.Dial(ctx, u.Host, cfg)
	if err != nil {
		return nil, fmt.Errorf("meter %s: %w", t.Meter.MRID, err)
	}
	tb := &tables{c: cl}
	r, err := c12driver.NewReader(ctx, t, tb, c12driver.ReaderConfig{Protocol: d.Protocol(), Templates: &d.templates,
		ProfileCursor: cursorProfile, EventsCursor: cursorEvents})
	if err != nil {
		cl.Close()
		return nil, err
	}
	tb.f = r.Format()
	return &session{Reader: r, d: d, mrid: t.Meter.MRID, c: cl}, nil
}

// seqCounter is the counter the sequence numbers of a meter's key are
// reserved from, so that none is used twice across sessions and restarts.
const seqCounter = "osgp/seq"

// sequencer hands out sequence numbers reserved durably from the
// head-end's counters, a block at a time.
type sequencer struct {
	c         headend.Counters
	next, end uint64 // reserved: [next, end)
}

func newSequencer(c headend.Counters) osgp.Sequencer {
	if c == nil {
		return osgp.NewCounter(0)
	}
	return &sequencer{c: c}
}

const seqBlock = 32

// Next implements osgp.Sequencer.
func (s *sequencer) Next(ctx context.Context, min uint32) (uint32, error) {
	for s.next >= s.end || s.end <= uint64(min) {
		n := uint64(seqBlock)
		if s.end > 0 && uint64(min) >= s.end {
			n += uint64(min) - s.end
		}
		if n > 1<<32-1 {
			n = 1<<32 - 1
		}
		first, err := s.c.Reserve(ctx, seqCounter, uint32(n))
		if err != nil {
			return 0, fmt.Errorf("osgp: reserving sequence numbers: %w", err)
		}
		if first == 0 {
			first, n = 1, n-1 // 0 is below every meter's last number
		}
		if first+n > 1<<32 {
			return 0, fmt.Errorf("osgp: sequence numbers of this key exhausted: %w", osgp.ErrSequence)
		}
		s.next, s.end = first, first+n
	}
	s.next = max(s.next, uint64(min))
	v := s.next
	s.next++
	return uint32(v), nil
}

// Metrics of the driver's oracle guard.
var (
	descAlarms = prometheus.NewDesc("amigo_osgp_digest_alarms_total",
		"OSGP meters the head-end stopped talking to because their answers failed verification past the threshold.", nil, nil)
	descFailures = prometheus.NewDesc("amigo_osgp_digest_failures_total",
		"OSGP answers whose digest or tag did not verify.", nil, nil)
)

// Describe implements prometheus.Collector.
func (d *Driver) Describe(ch chan<- *prometheus.Desc) { ch <- descAlarms; ch <- descFailures }

// Collect implements prometheus.Collector.
func (d *Driver) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(descAlarms, prometheus.CounterValue, float64(d.Alarms()))
	ch <- prometheus.MustNewConstMetric(descFailures, prometheus.CounterValue, float64(d.guard.Failures()))
}
