package headend

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/amigo-ami/amigo/anomaly"
	"github.com/amigo-ami/amigo/audit"
	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/store"
	"github.com/google/uuid"
)

// AnomalyStore is what screening keeps in the store: the counts every
// node shares, the history limits are learnt from, and the quarantine.
type AnomalyStore interface {
	CountCommand(ctx context.Context, counters []store.CommandCounter, bucket int64, since []int64) ([][]int, error)
	PruneCommandCounts(ctx context.Context, before int64) error
	CommandPeaks(ctx context.Context, from, to time.Time) ([]store.CommandPeak, error)
	HeldControl(ctx context.Context, meterID string, typ cim.EndDeviceControlType, discardedSince time.Time) (cim.EndDeviceControl, error)
	ControlByCorrelation(ctx context.Context, correlationID string) (cim.EndDeviceControl, error)
	QuarantinedControls(ctx context.Context, q store.QuarantineQuery) ([]cim.EndDeviceControl, error)
	QuarantineGroups(ctx context.Context, q store.QuarantineQuery) ([]store.QuarantineGroup, error)
	DecideControls(ctx context.Context, mrids []string, from, to cim.ControlStatus, by, reason string, at time.Time) ([]string, error)
}

// ErrNoFilter is wrapped by Release and Discard when nothing narrows the
// commands they would decide on: a decision over the whole quarantine is
// made with a filter that says so (a type, say).
var ErrNoFilter = errors.New("headend: a filter or command ids are required")

const (
	// relearn is how often (head-end time) a node learns the limits from
	// history again.
	relearn = time.Hour
	// heldDiscarded is how long a discarded command still holds a new one
	// of its type for its meter.
	heldDiscarded = 24 * time.Hour
	// decideBatch is how many quarantined commands one transaction decides.
	decideBatch = 500
	// alarmEvery spaces one node's quarantine alarms of one issuer and type.
	alarmEvery = time.Minute
)

// screener holds the anomaly policy and what a node learnt for it. The
// counts themselves live in the store, so every node sees every node's
// commands; only the learnt peaks, the same from the same history, are
// kept here.
type screener struct {
	policy anomaly.Policy
	st     AnomalyStore

	mu      sync.Mutex
	peaks   anomaly.Peaks
	learnt  time.Time
	alarmed map[string]time.Time // issuer and type → last alarm
}

func newScreener(p anomaly.Policy, st Store) (*screener, error) {
	if p == nil {
		return nil, nil
	}
	as, ok := st.(AnomalyStore)
	if !ok {
		return nil, errors.New("headend: the anomaly policy needs a store that counts commands")
	}
	return &screener{policy: p, st: as, alarmed: map[string]time.Time{}}, nil
}

// learn returns the peaks learnt from history, learning them again once
// they are older than relearn; the old counting buckets go then too.
func (s *screener) learn(ctx context.Context, now time.Time) (anomaly.Peaks, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.peaks != nil && now.Sub(s.learnt) < relearn && !now.Before(s.learnt) {
		return s.peaks, nil
	}
	from := now.AddDate(0, 0, -s.policy.HistoryDays())
	ps, err := s.st.CommandPeaks(ctx, from, now)
	if err != nil {
		return nil, err
	}
	peaks := make([]anomaly.Peak, 0, len(ps))
	for _, p := range ps {
		peaks = append(peaks, anomaly.Peak{Counter: anomaly.Counter{Type: p.Type, Scope: anomaly.Scope(p.Scope), Key: p.Key},
			Window: anomaly.Window(p.Window), Count: p.Count})
	}
	s.peaks, s.learnt = anomaly.NewPeaks(peaks), now
	// Counts older than the longest window are never summed again.
	if err := s.st.PruneCommandCounts(ctx, anomaly.Since(anomaly.Bucket(now), anomaly.Day)-1); err != nil {
		return nil, err
	}
	return s.peaks, nil
}

// screen checks a command against the anomaly limits; over one, it is
// quarantined with the limit named in why. It also holds a command for a
// meter that already has one of its type quarantined (or discarded within
// a day): a held batch sent again, under another name, is held again.
// Every screened command counts, quarantined or not, so a burst stays
// held however long it goes on.
func (h *HeadEnd) screen(ctx context.Context, m cim.Meter, c cim.EndDeviceControl) (quarantine bool, why string, err error) {
	s := h.screener
	if s == nil || !s.policy.Limited(c.Type) {
		return false, "", nil
	}
	// A command issued again under its correlation id (a retried request)
	// is the one already taken, counted then: Issue returns that one.
	if c.CorrelationID != c.MRID {
		_, err := s.st.ControlByCorrelation(ctx, c.CorrelationID)
		if err == nil {
			return false, "", nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return false, "", err
		}
	}
	now := h.now()
	peaks, err := s.learn(ctx, now)
	if err != nil {
		return false, "", fmt.Errorf("learning the anomaly limits: %w", err)
	}
	counters := anomaly.CountersOf(c.Type, c.IssuedBy, m.Segment)
	sc := make([]store.CommandCounter, len(counters))
	for i, k := range counters {
		sc[i] = store.CommandCounter{Type: k.Type, Scope: string(k.Scope), Key: k.Key}
	}
	b := anomaly.Bucket(now)
	windows := anomaly.Windows()
	since := make([]int64, len(windows))
	for i, w := range windows {
		since[i] = anomaly.Since(b, w)
	}
	got, err := s.st.CountCommand(ctx, sc, b, since)
	if err != nil {
		return false, "", err
	}
	counts := anomaly.Counts{}
	for j, w := range windows {
		counts[w] = map[anomaly.Counter]int{}
		for i, k := range counters {
			counts[w][k] = got[i][j]
		}
	}
	held, err := s.st.HeldControl(ctx, m.MRID, c.Type, now.Add(-heldDiscarded))
	switch {
	case err == nil:
		why = fmt.Sprintf("meter %s already has %s command %s (issued by %q) %s: held with it", m.MRID, c.Type, held.MRID, held.IssuedBy, held.Status)
		h.alarm(ctx, c, why, now)
		return true, why, nil
	case !errors.Is(err, store.ErrNotFound):
		return false, "", err
	}
	if br, over := s.policy.Check(counts, peaks, counters); over {
		why = br.String()
		h.alarm(ctx, c, why, now)
		return true, why, nil
	}
	return false, "", nil
}

// alarm raises the quarantine of a burst as an event, at most once a
// minute per issuer and type on one node; the event's mRID is the same on
// every node in that minute, so the bus and the store keep one.
func (h *HeadEnd) alarm(ctx context.Context, c cim.EndDeviceControl, why string, now time.Time) {
	s := h.screener
	key := c.IssuedBy + "\x00" + string(c.Type)
	minute := now.Truncate(alarmEvery)
	s.mu.Lock()
	last, seen := s.alarmed[key]
	if seen && !minute.After(last) {
		s.mu.Unlock()
		return
	}
	s.alarmed[key] = minute
	s.mu.Unlock()
	ev := cim.EndDeviceEvent{MRID: "quarantine/" + string(c.Type) + "/" + c.IssuedBy + "/" + strconv.FormatInt(minute.Unix(), 10),
		MeterID: c.MeterID, Type: anomaly.EventQuarantined, CreatedAt: now, Severity: "major", Reason: why,
		Details: map[string]string{"issuer": c.IssuedBy, "type": string(c.Type)}}
	h.raise(ctx, ev)
}

// raise publishes an event of the head-end's own; it is logged when the
// bus does not take it, since what it reports is already in the store.
func (h *HeadEnd) raise(ctx context.Context, ev cim.EndDeviceEvent) {
	m, err := h.eventMsg(ev)
	if err == nil {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = h.publish(pctx, []outMsg{m})
		cancel()
	}
	if err != nil {
		h.log.Warn("quarantine event not published", "event", ev.Type, "reason", ev.Reason, "err", err)
	}
}

// QuarantineFilter picks quarantined commands: by issuer, type and time
// issued, or by mRID.
type QuarantineFilter struct {
	IssuedBy string                   `json:"issuedBy,omitempty"`
	Type     cim.EndDeviceControlType `json:"type,omitempty"`
	From     time.Time                `json:"from,omitzero"`
	To       time.Time                `json:"to,omitzero"`
	IDs      []string                 `json:"ids,omitempty"`
}

func (f QuarantineFilter) empty() bool {
	return f.IssuedBy == "" && f.Type == "" && f.From.IsZero() && f.To.IsZero() && len(f.IDs) == 0
}

func (f QuarantineFilter) query() store.QuarantineQuery {
	return store.QuarantineQuery{IssuedBy: f.IssuedBy, Type: f.Type, From: f.From, To: f.To, IDs: f.IDs}
}

// QuarantineDecision is what a release or discard did.
type QuarantineDecision struct {
	// Released counts the commands queued for their meters;
	// AwaitingApproval those a second person must still approve.
	Released         int `json:"released"`
	AwaitingApproval int `json:"awaitingApproval"`
	Discarded        int `json:"discarded"`
	// Skipped counts the commands left quarantined: issued by the person
	// deciding (nobody releases their own), or moved on meanwhile.
	Skipped int `json:"skipped"`
}

// Quarantine lists the quarantine: counts by issuer and type of what f
// picks, and a page of the commands in mRID order after after.
func (h *HeadEnd) Quarantine(ctx context.Context, f QuarantineFilter, after string, limit int) ([]store.QuarantineGroup, []cim.EndDeviceControl, error) {
	as, ok := h.st.(AnomalyStore)
	if !ok {
		return nil, nil, errors.New("headend: the store keeps no quarantine")
	}
	q := f.query()
	gs, err := as.QuarantineGroups(ctx, q)
	if err != nil {
		return nil, nil, err
	}
	q.After, q.Limit = after, limit
	cs, err := as.QuarantinedControls(ctx, q)
	return gs, cs, err
}

// Release lets the quarantined commands f picks go on, by the decision
// of security officer by: each waits for a second person's approval when
// the approval policy holds it, else it is queued and offered on the bus.
// It works through the quarantine in batches, so a burst of any size is
// released by one filter.
func (h *HeadEnd) Release(ctx context.Context, f QuarantineFilter, by string) (QuarantineDecision, error) {
	return h.decideQuarantined(ctx, f, by, "", true)
}

// Discard drops the quarantined commands f picks, by the decision of
// security officer by, with the reason given.
func (h *HeadEnd) Discard(ctx context.Context, f QuarantineFilter, by, reason string) (QuarantineDecision, error) {
	return h.decideQuarantined(ctx, f, by, reason, false)
}

func (h *HeadEnd) decideQuarantined(ctx context.Context, f QuarantineFilter, by, reason string, release bool) (QuarantineDecision, error) {
	var d QuarantineDecision
	as, ok := h.st.(AnomalyStore)
	if !ok {
		return d, errors.New("headend: the store keeps no quarantine")
	}
	if by == "" {
		return d, fmt.Errorf("%w: the deciding user is required", ErrBadCommand)
	}
	if f.empty() {
		return d, ErrNoFilter
	}
	q := f.query()
	q.Limit = decideBatch
	var first cim.EndDeviceControl
	for {
		cs, err := as.QuarantinedControls(ctx, q)
		if err != nil {
			return d, err
		}
		if len(cs) == 0 {
			break
		}
		q.After = cs[len(cs)-1].MRID
		byTarget := map[cim.ControlStatus][]cim.EndDeviceControl{}
		for _, c := range cs {
			if c.IssuedBy == by {
				d.Skipped++
				continue
			}
			to := cim.ControlDiscarded
			if release {
				to = cim.ControlQueued
				if h.needsApproval(c) {
					to = cim.ControlAwaitingApproval
				}
			}
			byTarget[to] = append(byTarget[to], c)
		}
		for to, group := range byTarget {
			n, err := h.decideBatch(ctx, as, group, to, by, reason)
			if err != nil {
				return d, err
			}
			switch to {
			case cim.ControlQueued:
				d.Released += n
			case cim.ControlAwaitingApproval:
				d.AwaitingApproval += n
			case cim.ControlDiscarded:
				d.Discarded += n
			}
			d.Skipped += len(group) - n
			if first.MRID == "" && n > 0 {
				first = group[0]
			}
		}
		if len(cs) < decideBatch {
			break
		}
	}
	if first.MRID != "" {
		typ, n, action := anomaly.EventReleased, d.Released+d.AwaitingApproval, "released"
		if !release {
			typ, n, action = anomaly.EventDiscarded, d.Discarded, "discarded"
		}
		h.raise(ctx, cim.EndDeviceEvent{MRID: "quarantine/" + action + "/" + uuid.NewString(), MeterID: first.MeterID, Type: typ,
			CreatedAt: h.now(), Severity: "info", Reason: fmt.Sprintf("%d quarantined commands %s by %s", n, action, by),
			Details: map[string]string{"by": by, "issuer": f.IssuedBy, "type": string(f.Type), "count": strconv.Itoa(n)}})
	}
	return d, nil
}

// decideBatch moves one batch out of quarantine, records each decision in
// the audit trail, and publishes the steps (and, for queued commands, the
// commands themselves) in one round trip to the bus.
func (h *HeadEnd) decideBatch(ctx context.Context, as AnomalyStore, cs []cim.EndDeviceControl, to cim.ControlStatus, by, why string) (int, error) {
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.MRID
	}
	reason := "released from quarantine by " + by
	action := audit.CommandRelease
	switch to {
	case cim.ControlAwaitingApproval:
		reason += "; awaiting approval by a second person"
	case cim.ControlDiscarded:
		reason, action = "discarded from quarantine by "+by, audit.CommandDiscard
		if why != "" {
			reason += ": " + why
		}
	}
	now := h.now()
	moved, err := as.DecideControls(ctx, ids, cim.ControlQuarantined, to, by, reason, now)
	if err != nil {
		return 0, err
	}
	ok := make(map[string]bool, len(moved))
	for _, id := range moved {
		ok[id] = true
	}
	msgs := make([]outMsg, 0, 2*len(moved))
	for _, c := range cs {
		if !ok[c.MRID] {
			continue
		}
		c.Status, c.Reason, c.UpdatedAt, c.ApprovedBy = to, reason, now, by
		h.m.commands.WithLabelValues(string(c.Type), string(to)).Inc()
		h.record(ctx, audit.Record{Actor: by, Action: action, Target: c.MRID, Outcome: audit.OK,
			Details: map[string]string{"meter": c.MeterID, "type": string(c.Type), "issuer": c.IssuedBy, "status": string(to)}})
		step, err := h.bus.Seal(bus.CommandStep(c))
		if err != nil {
			return len(moved), err
		}
		msgs = append(msgs, outMsg{env: step})
		if to == cim.ControlQueued {
			offer, err := h.bus.Seal(bus.CommandIssued(c))
			if err != nil {
				return len(moved), err
			}
			msgs = append(msgs, outMsg{env: offer})
		}
	}
	pctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := h.publish(pctx, msgs); err != nil {
		// The store has the decisions; the sweep offers the queued ones.
		h.log.Warn("released commands not published; the sweep offers them", "commands", len(msgs), "err", err)
		select {
		case h.wake <- struct{}{}:
		default:
		}
	}
	return len(moved), nil
}
