package c12driver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/amigo-ami/amigo/c1219"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
)

// Template is what the driver learns of one kind of C12 meter: the
// dimension tables its registers, load profile and event log are laid out
// by, as the meter sent them. Meters whose general configuration (ST0) and
// identification (ST1) are the same share one.
type Template struct {
	Key          string    `json:"key"`
	Protocol     string    `json:"protocol"`
	Manufacturer string    `json:"manufacturer,omitempty"`
	Model        string    `json:"model,omitempty"`
	Firmware     string    `json:"firmware,omitempty"`
	LearnedAt    time.Time `json:"learnedAt"`
	// Tables are ST0 and the dimension tables by number, raw.
	Tables map[uint16][]byte `json:"tables"`
}

// templateKey names the template of a meter by its protocol, its
// configuration and its identification, less ST1's serial number, which
// every meter has its own of.
func templateKey(protocol string, st0, ident []byte) string {
	h := sha256.New()
	h.Write([]byte(protocol))
	h.Write([]byte{0})
	h.Write(st0)
	h.Write([]byte{0})
	h.Write(ident)
	return "c12/" + hex.EncodeToString(h.Sum(nil)[:12])
}

// Templates caches templates in memory in front of headend.Models, and
// makes concurrent sessions of one kind of meter learn it once. The zero
// value is ready; a driver keeps one for all its sessions.
type Templates struct {
	mu          sync.Mutex
	byKey       map[string]*Template
	learning    map[string]chan struct{}
	discoveries atomic.Int64
	// recorded is the template each meter was last recorded as
	// following, so the store is written once per meter, not per session.
	recorded sync.Map
}

// get returns the template key, learning it with learn when neither the
// cache nor the store has it. One session learns a key at a time; the
// others wait for it.
func (ms *Templates) get(ctx context.Context, st headend.Models, meterID, key string, learn func() (*Template, error)) (*Template, error) {
	for {
		ms.mu.Lock()
		if t, ok := ms.byKey[key]; ok {
			ms.mu.Unlock()
			ms.record(ctx, st, meterID, key)
			return t, nil
		}
		if ch, busy := ms.learning[key]; busy {
			ms.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if ms.learning == nil {
			ms.learning, ms.byKey = map[string]chan struct{}{}, map[string]*Template{}
		}
		ch := make(chan struct{})
		ms.learning[key] = ch
		ms.mu.Unlock()
		t, err := ms.load(ctx, st, key, learn)
		ms.mu.Lock()
		delete(ms.learning, key)
		if err == nil {
			ms.byKey[key] = t
		}
		ms.mu.Unlock()
		close(ch)
		if err == nil {
			ms.record(ctx, st, meterID, key)
		}
		return t, err
	}
}

// record notes in the store which template a meter follows, for
// Describe, when it is new or changed; a failure to record it costs the
// session nothing.
func (ms *Templates) record(ctx context.Context, st headend.Models, meterID, key string) {
	if st == nil {
		return
	}
	if k, ok := ms.recorded.Load(meterID); ok && k == key {
		return
	}
	if st.SetMeterTemplate(context.WithoutCancel(ctx), meterID, key) == nil {
		ms.recorded.Store(meterID, key)
	}
}

// load takes the template from the store, or learns and stores it.
func (ms *Templates) load(ctx context.Context, st headend.Models, key string, learn func() (*Template, error)) (*Template, error) {
	if st != nil {
		b, err := st.Template(ctx, key)
		if err == nil {
			var t Template
			if err := json.Unmarshal(b, &t); err == nil && t.Key == key {
				return &t, nil
			}
		} else if !errors.Is(err, headend.ErrNotFound) {
			return nil, fmt.Errorf("template %s: %w", key, err)
		}
	}
	t, err := learn()
	if err != nil {
		return nil, err
	}
	ms.discoveries.Add(1)
	t.Key = key
	if st != nil {
		b, err := json.Marshal(t)
		if err != nil {
			return nil, err
		}
		if err := st.PutTemplate(context.WithoutCancel(ctx), key, b); err != nil {
			return nil, fmt.Errorf("template %s: %w", key, err)
		}
	}
	return t, nil
}

// Channel is one series the head-end reads a meter of a template into:
// a register of ST23 (the total or a tier) or a channel of the load
// profile.
type Channel struct {
	Table       string `json:"table"` // "ST23", "ST64"
	Index       int    `json:"index"` // the summation, demand or profile channel
	Tier        int    `json:"tier,omitempty"`
	ReadingType string `json:"readingType"`
	Unit        string `json:"unit,omitempty"`
}

// Channels lists the series of a template, or what it could not map.
func (t *Template) Channels() ([]Channel, error) {
	st0 := t.Tables[uint16(c1219.ST0)]
	if st0 == nil {
		return nil, errors.New("the template keeps no ST0")
	}
	gen, err := c1219.DecodeST0(st0)
	if err != nil {
		return nil, err
	}
	l, err := newLayout(gen, t)
	if err != nil {
		return nil, err
	}
	var out []Channel
	tiers := 0
	if l.regs != nil {
		tiers = int(l.regs.NbrTiers)
	}
	for tier := 0; tier <= tiers; tier++ {
		for i, s := range l.sums {
			if s.ok {
				out = append(out, Channel{Table: "ST23", Index: i, Tier: tier, ReadingType: s.q.regID(tier), Unit: s.q.unit.String()})
			}
		}
		for i, s := range l.demands {
			if s.ok {
				out = append(out, Channel{Table: "ST23", Index: i, Tier: tier, ReadingType: s.q.regID(tier), Unit: s.q.unit.String()})
			}
		}
	}
	if l.lp != nil {
		for i, s := range l.lp.channels {
			if s.ok {
				out = append(out, Channel{Table: "ST64", Index: i, ReadingType: s.q.intervalType(l.lp.interval).ID, Unit: s.q.unit.String()})
			}
		}
	}
	return out, nil
}

// Describe implements headend.Describer: the template a meter is read
// by, and the channels drawn from it.
func (d *Driver) Describe(ctx context.Context, st headend.Models, m cim.Meter) (model, channels any, err error) {
	key, err := st.MeterTemplate(ctx, m.MRID)
	if errors.Is(err, headend.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	b, err := st.Template(ctx, key)
	if errors.Is(err, headend.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	var t Template
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, nil, fmt.Errorf("template %s: %w", key, err)
	}
	chs, err := t.Channels()
	if err != nil {
		return &t, nil, fmt.Errorf("template %s: %w", key, err)
	}
	return &t, chs, nil
}

// Discoveries returns how many times a kind of meter's dimension tables
// were read into a template.
func (ms *Templates) Discoveries() int64 { return ms.discoveries.Load() }
