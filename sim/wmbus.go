package sim

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/amigo-ami/amigo/loadshape"
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/mbus"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/wmbus"
)

// The gas and water meters behind the electricity meters are radio
// meters too, as DSMR's are: each sends its volume as a wireless M-Bus
// telegram every interval of simulated time, in mode T1, C1 (format A or
// B) or S1, under security mode 5 or 7 with its own key. Whoever holds
// the manifest reads them from a receiver stream.

// WMBusManifestFields are the manifest columns of a radio meter: its
// wM-Bus address (manufacturer and identification number), its mode and
// security mode, and its AES key. Electricity meters leave them empty.
var WMBusManifestFields = []string{"wmbus_address", "wmbus_mode", "wmbus_security", "wmbus_key"}

func init() { ManifestFields = append(ManifestFields, WMBusManifestFields...) }

// DefaultWMBusInterval is how often a radio meter sends, in simulated
// time: OMS meters send every few minutes.
const DefaultWMBusInterval = 4 * time.Minute

const saltRadio = 0x5EB1

// Transmitter is one radio meter: a gas or water meter of the fleet.
type Transmitter struct {
	Parent   int // electricity meter index
	Sub      int // channel order among its sub-meters
	MeterID  uint64
	Kind     meter.Kind
	Address  wmbus.Address
	Mode     wmbus.Mode
	Format   wmbus.Format
	Security int
	Key      [16]byte
	// Phase is where in the interval the meter sends, so that a street
	// of meters does not send at once.
	Phase time.Duration
}

// Transmitters returns the radio meters behind electricity meter i.
func (f *Fleet) Transmitters(i int) []Transmitter {
	kinds := f.subKinds(i)
	out := make([]Transmitter, 0, len(kinds))
	for ch, k := range kinds {
		id := subID(i, k)
		r := loadshape.Rand(f.seed, id, 0, saltRadio)
		tx := Transmitter{Parent: i, Sub: ch, MeterID: id, Kind: k, Format: wmbus.FormatA, Security: wmbus.SecurityMode5}
		tx.Address = wmbus.Address{Manufacturer: wmbus.ManufacturerCode(Manufacturer), ID: wmbus.BCDID(id % 100_000_000),
			Version: 1, Type: wmbus.DeviceGas}
		if k == meter.Water {
			tx.Address.Type = wmbus.DeviceWater
		}
		switch r % 8 {
		case 0, 1, 2, 3:
			tx.Mode = wmbus.ModeT1
		case 4, 5:
			tx.Mode = wmbus.ModeC1
		case 6:
			tx.Mode, tx.Format = wmbus.ModeC1, wmbus.FormatB
		default:
			tx.Mode = wmbus.ModeS1
		}
		if r>>3&1 == 1 {
			tx.Security = wmbus.SecurityMode7
		}
		key := derive(f.seed, "wmbus", id)
		copy(tx.Key[:], key[:16])
		tx.Phase = time.Duration(r>>8%uint64(time.Hour/time.Second)) * time.Second
		out = append(out, tx)
	}
	return out
}

// wmbusFields adds a sub-meter row's radio columns.
func (f *Fleet) wmbusFields(i int, rows []manifest.Row) {
	for _, tx := range f.Transmitters(i) {
		for k := range rows {
			if rows[k].MeterID != tx.MeterID {
				continue
			}
			mode := tx.Mode.String()
			if tx.Mode == wmbus.ModeC1 {
				mode += tx.Format.String()
			}
			rows[k].Fields["wmbus_address"] = wmbus.MeterName(tx.Address)
			rows[k].Fields["wmbus_mode"] = mode
			rows[k].Fields["wmbus_security"] = strconv.Itoa(tx.Security)
			rows[k].Fields["wmbus_key"] = hex.EncodeToString(tx.Key[:])
		}
	}
}

// NextSend returns when tx sends next after t: Phase plus whole
// intervals since the Unix epoch.
func (tx Transmitter) NextSend(t time.Time, interval time.Duration) time.Time {
	base := t.Add(-tx.Phase).Truncate(interval).Add(tx.Phase)
	if !base.After(t) {
		base = base.Add(interval)
	}
	return base
}

// WMBusReading is what a radio meter sends at one instant.
type WMBusReading struct {
	At     time.Time // true time of sending
	Volume int64     // litres, the model's register at At
	Clock  time.Time // the meter's clock at At, to the minute
	Status byte      // transport layer status
	Seq    uint32    // sends since the epoch: access number and mode 7 counter
}

// WMBusTelegram returns what tx sends at true time at, as a receiver
// hands it over (wmbus.AppendAir), and the reading it carries.
func (f *Fleet) WMBusTelegram(tx Transmitter, at time.Time, interval time.Duration) ([]byte, WMBusReading, error) {
	subs, err := f.SubMeters(tx.Parent)
	if err != nil {
		return nil, WMBusReading{}, err
	}
	if tx.Sub >= len(subs) {
		return nil, WMBusReading{}, fmt.Errorf("sim: meter %d has no sub-meter %d", tx.Parent, tx.Sub)
	}
	m := subs[tx.Sub]
	rd := WMBusReading{At: at, Seq: uint32(at.Unix() / int64(interval/time.Second))}
	lk := f.Lock(tx.Parent)
	lk.Lock()
	rd.Volume = m.RegistersAt(at).Import
	rd.Clock = m.Clock(at).In(f.model.Location).Truncate(time.Minute)
	tamper := m.Tamper(at)
	lk.Unlock()
	if tamper.MagneticField || tamper.MeterCoverOpen || tamper.TerminalCoverOpen {
		// Temporary error: the meter sees a magnet or an open cover.
		rd.Status = 0x10
	}
	recs := []mbus.Record{
		{Coding: mbus.Int32, Quantity: mbus.Volume, Exponent: -3, Value: mbus.Value{Kind: mbus.KindInt, Int: rd.Volume}},
		{Coding: mbus.Int32, Quantity: mbus.DateTime, Value: mbus.Value{Kind: mbus.KindTime, Time: wallUTC(rd.Clock), Summer: rd.Clock.IsDST()}},
	}
	data, err := mbus.EncodeRecords(recs)
	if err != nil {
		return nil, rd, fmt.Errorf("sim: radio meter %d: %w", tx.MeterID, err)
	}
	msg := wmbus.Message{Meter: tx.Address, ACC: byte(rd.Seq), Status: rd.Status, Security: tx.Security, Counter: rd.Seq, Data: data}
	if tx.Security == wmbus.SecurityMode7 {
		msg.CC = 0x20 // synchronous: sent on schedule
	}
	fr, err := msg.Frame(tx.Key[:])
	if err != nil {
		return nil, rd, fmt.Errorf("sim: radio meter %d: %w", tx.MeterID, err)
	}
	b, err := wmbus.AppendAir(nil, tx.Mode, tx.Format, &fr)
	if err != nil {
		return nil, rd, fmt.Errorf("sim: radio meter %d: %w", tx.MeterID, err)
	}
	return b, rd, nil
}

// wallUTC carries t's wall clock in UTC, as M-Bus dates carry local time
// without a zone.
func wallUTC(t time.Time) time.Time {
	y, mo, d := t.Date()
	return time.Date(y, mo, d, t.Hour(), t.Minute(), t.Second(), 0, time.UTC)
}

// WMBusConfig is how the fleet's radio meters send.
type WMBusConfig struct {
	// Interval between two telegrams of one meter, simulated time (0:
	// DefaultWMBusInterval).
	Interval time.Duration
	// From is where the schedule starts (zero: the fleet's now).
	From time.Time
	// Accepted, when set, is told of every receiver connected.
	Accepted func(net.Addr)
	// Sent, when set, is told of every telegram after it was written to
	// the receivers connected then.
	Sent func(tx Transmitter, rd WMBusReading)
}

// ServeWMBus sends the radio meters' telegrams, as the simulated clock
// reaches them, to every receiver connected to ln: the byte stream a
// wM-Bus receiver stick behind a serial server gives. A receiver that
// falls behind is dropped, as radio does not wait. It returns when ctx
// ends.
func (f *Fleet) ServeWMBus(ctx context.Context, ln net.Listener, cfg WMBusConfig) error {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultWMBusInterval
	}
	var txs []Transmitter
	for i := range f.n {
		txs = append(txs, f.Transmitters(i)...)
	}
	from := cfg.From
	if from.IsZero() {
		from = f.now()
	}
	next := make([]time.Time, len(txs))
	for k, tx := range txs {
		next[k] = tx.NextSend(from, cfg.Interval)
	}

	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-ctx.Done()
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				if ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
					f.log.Warn("wM-Bus receiver accept failed", "err", err)
				}
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			if cfg.Accepted != nil {
				cfg.Accepted(c.RemoteAddr())
			}
		}
	}()

	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		now := f.now()
		for k, tx := range txs {
			for !next[k].After(now) {
				at := next[k]
				next[k] = at.Add(cfg.Interval)
				b, rd, err := f.WMBusTelegram(tx, at, cfg.Interval)
				if err != nil {
					f.log.Warn("wM-Bus telegram", "meter", tx.MeterID, "err", err)
					continue
				}
				mu.Lock()
				for c := range conns {
					_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
					if _, err := c.Write(b); err != nil {
						c.Close()
						delete(conns, c)
					}
				}
				mu.Unlock()
				if cfg.Sent != nil {
					cfg.Sent(tx, rd)
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
