// Package c12driver reaches ANSI C12 meters for the head-end: C12.18 PSEM
// over TCP and C12.22 over IP. It owns their manifest columns and
// credentials, the reading of C12.19 registers, load profile and logs
// into a collection, and the procedures behind commands (remote connect
// and disconnect, clock set, demand reset).
//
// One Driver type serves both protocols (NewC1218, NewC1222): they differ
// in the link and its security only, and read the same C12.19 tables. A
// session reads the general configuration (ST0, whose data formats every
// other table is decoded by) and the manufacturer identification (ST1);
// the dimension tables (ST21 registers, ST61 and ST62 load profile, ST71
// event log) are read once per kind of meter and kept as a template in
// headend.Models, keyed by both.
//
// Reading type ids are the DLMS driver's, so that the MDM, VEE and portal
// treat C12 meters like any other: "A+", "A-" (active energy, Wh), "R+",
// "R-" (reactive, varh), "A+T1".. (per tier), "MD+" (maximum demand, W),
// and for the load profile the quantity and its interval ("A+15m"). What
// a summation or channel measures comes from its source's unit of measure
// (ST22 or ST62, ST16, ST12); a meter without ST12 is taken to follow
// amigo's order (Wh delivered, Wh received, varh delivered, varh
// received).
//
// A collection reads ST52, ST23, then the load profile (ST63's status, and
// of each block after the cursor its header and only the intervals after
// the cursor) and the event log (ST76's header, then entries newest first
// until the cursor), by offset reads. Commands are procedures: SP 9
// (remote reset) for a demand reset, SP 10 for the clock, and amigo's
// manufacturer procedure MP 10 for the service switch (docs/c1219.md). A
// C12.22 meter drops a request it cannot verify unanswered, so silence to
// the first request of an accepted connection is reported as an
// authentication failure.
//
// That reading and those commands are a Reader's, over any link that
// reads tables and runs procedures (Tables): a session here gives it the
// PSEM client, and the OSGP driver its own client, so that the meters of
// both families read alike.
package c12driver

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/amigo-ami/amigo/c1218"
	"github.com/amigo-ami/amigo/c1222"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/psem"
)

// The manifest protocol values of the two drivers.
const (
	ProtocolC1218 = "c12.18"
	ProtocolC1222 = "c12.22"
)

type mode uint8

const (
	modeC1218 mode = iota
	modeC1222
)

// Config tunes the driver.
type Config struct {
	// Timeout bounds each exchange with a meter (0: the link's default).
	Timeout time.Duration
	// ApTitle is the head-end's own ApTitle on C12.22 (empty:
	// DefaultApTitle).
	ApTitle string
	// MaxRead is the most octets one offset read asks for (0: 4096,
	// which fits C12.18's 8 packets of 1 KiB the driver negotiates).
	MaxRead int
}

// DefaultApTitle is the head-end's ApTitle when Config names none.
const DefaultApTitle = "2.16.124.113620.1.22.0"

// Driver is the headend.Driver of C12.18 or C12.22 meters.
type Driver struct {
	cfg    Config
	mode   mode
	models Templates
}

// NewC1218 returns the driver of C12.18 meters reached over TCP.
func NewC1218(cfg Config) *Driver { return newDriver(cfg, modeC1218) }

// NewC1222 returns the driver of C12.22 meters.
func NewC1222(cfg Config) *Driver { return newDriver(cfg, modeC1222) }

func newDriver(cfg Config, m mode) *Driver {
	if cfg.ApTitle == "" {
		cfg.ApTitle = DefaultApTitle
	}
	return &Driver{cfg: cfg, mode: m}
}

var _ headend.Describer = (*Driver)(nil)

// Protocol implements headend.Driver.
func (d *Driver) Protocol() string {
	if d.mode == modeC1222 {
		return ProtocolC1222
	}
	return ProtocolC1218
}

// Discoveries returns how many times the driver read a kind of meter's
// dimension tables, for tests and metrics: a fleet of one kind costs one.
func (d *Driver) Discoveries() int64 { return d.models.discoveries.Load() }

// Cause implements headend.Driver: a meter that refuses our clearance or
// our key is an authentication failure; a meter that answers what we did
// not ask, or in a shape the standard does not allow, a protocol one.
func (d *Driver) Cause(err error) string {
	var code psem.Code
	var ne net.Error
	switch {
	case err == nil:
		return ""
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, syscall.ETIMEDOUT):
		return headend.OutcomeTimeout
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EPIPE), errors.Is(err, errClosed):
		return headend.OutcomeRefused
	case errors.As(err, &code):
		switch code {
		case psem.ISC, psem.SME, psem.UAT:
			return headend.OutcomeAuth
		case psem.BSY, psem.DNR, psem.NETT, psem.NETR:
			return headend.OutcomeRefused
		}
		return headend.OutcomeProtocol
	case errors.As(err, &ne) && ne.Timeout():
		return headend.OutcomeTimeout
	case errors.Is(err, errAuth), errors.Is(err, c1222.ErrAuth), errors.Is(err, c1222.ErrUnknownKey):
		return headend.OutcomeAuth
	case errors.Is(err, errProtocol), errors.Is(err, errDecode), errors.Is(err, psem.ErrMalformed), errors.Is(err, c1218.ErrCRC),
		errors.Is(err, c1218.ErrTooLarge), errors.Is(err, c1222.ErrShortCleartext):
		return headend.OutcomeProtocol
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return headend.OutcomeRefused // the meter hung up
	case errors.Is(err, c1218.ErrNoAck), errors.Is(err, os.ErrDeadlineExceeded):
		return headend.OutcomeTimeout // the meter fell silent
	}
	var pr psem.ProcResult
	if errors.As(err, &pr) {
		if pr == psem.ProcNoAuth {
			return headend.OutcomeAuth
		}
		return headend.OutcomeProtocol
	}
	return ""
}

var (
	// errProtocol marks an answer amigo cannot use: a table shorter than
	// its own dimensions say, a format ST0 does not allow.
	errProtocol = errors.New("c12driver: protocol")
	// errAuth marks a session the meter did not let in.
	errAuth = errors.New("c12driver: authentication")
	// errClosed: the meter ended the connection.
	errClosed = errors.New("c12driver: connection closed by the meter")
)

// Malformed reports an error of a table the meter answered but amigo
// cannot use (shorter than its own dimensions say, or not decodable in
// the meter's format): a protocol failure, whichever link carried it.
func Malformed(err error) bool { return errors.Is(err, errProtocol) || errors.Is(err, errDecode) }
