package headend

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/mdm"
	"github.com/amigo-ami/amigo/retry"
	"github.com/amigo-ami/amigo/store"
)

// Progress is where the collection run in progress stands.
type Progress struct {
	Day cim.Date `json:"day"`
	// Kind is RunDaily, RunIntraday, RunManual, RunCatchUp or RunTakeover.
	Kind      string    `json:"kind,omitempty"`
	Running   bool      `json:"running"`
	StartedAt time.Time `json:"startedAt,omitzero"`
	EndedAt   time.Time `json:"endedAt,omitzero"`
	Total     int       `json:"total"`
	Done      int       `json:"done"`
	OK        int       `json:"ok"`
	Failed    int       `json:"failed"`
	Readings  int       `json:"readings"`
	// Node is the head-end node whose run this is; Nodes, in a cluster's
	// sum, each node's own (a node on another day is listed but not
	// summed).
	Node  string     `json:"node,omitempty"`
	Nodes []Progress `json:"nodes,omitempty"`
}

// Progress returns the state of the latest collection run: in a cluster
// (a run board set), the sum of every head-end node's share, else this
// node's.
func (h *HeadEnd) Progress() Progress {
	if h.board != nil {
		p, err := h.clusterProgress()
		if err == nil {
			return p
		}
		h.log.Warn("run board: progress of the other nodes not read; this node's alone", "err", err)
	}
	return h.localProgress()
}

// localProgress is this node's own progress.
func (h *HeadEnd) localProgress() Progress {
	h.progMu.Lock()
	defer h.progMu.Unlock()
	p := h.progress
	p.Node = h.nodeName()
	return p
}

// progressed counts a job's result, and its sub-meters' read through its
// session, into the run's progress, as the day's results count them.
// expected is how many sub-meters Total counted for the job at the start;
// the registry may have changed since, so Total follows what the job
// found and Done ends equal to it.
func (h *HeadEnd) progressed(jr jobResult, expected int) {
	h.progMu.Lock()
	defer h.progMu.Unlock()
	h.progress.Total += len(jr.subs) - expected
	for _, r := range append([]store.CollectionResult{jr.CollectionResult}, jr.subs...) {
		h.progress.Done++
		h.progress.Readings += r.Readings
		if r.Outcome == OutcomeOK {
			h.progress.OK++
		} else {
			h.progress.Failed++
		}
	}
}

// job is one meter's place in a run.
type job struct {
	meter  cim.Meter
	offset time.Duration
}

// collectable reports whether the head-end reads m itself: sub-meters are
// read through their parent, removed meters not at all.
func (h *HeadEnd) collectable(m cim.Meter) bool {
	if m.Status == "removed" || m.Parent != "" {
		return false
	}
	_, ok := h.drivers[m.Protocol]
	return ok
}

// offsetOf spreads start times over the window, the same way in every
// run of the day, so a restarted run asks meters in the same order.
func offsetOf(meterID string, day cim.Date, window time.Duration) time.Duration {
	if window <= 0 {
		return 0
	}
	f := fnv.New64a()
	f.Write([]byte(day.String()))
	f.Write([]byte(meterID))
	return time.Duration(f.Sum64() % uint64(window))
}

// CollectDay runs the daily collection for the run day `day`: every
// collectable meter (filtered by q) is read from its cursors up to now, with
// start times spread over the window, retries with backoff, and the
// session limits per segment. It returns when every job ended or ctx
// ended; results are in the store (CollectionSummary).
func (h *HeadEnd) CollectDay(ctx context.Context, day cim.Date, q store.MeterQuery) error {
	return h.collect(ctx, runSpec{day: day, kind: RunDaily, window: h.ccfg.Window}, q)
}

// collect runs spec: over spec.meters when set, else over every meter q
// lists.
func (h *HeadEnd) collect(ctx context.Context, spec runSpec, q store.MeterQuery) error {
	day := spec.day
	var jobs []job
	// A run over a list may name a parent twice, through its sub-meters;
	// a run over the registry lists each meter once.
	var queued map[string]bool
	// subsOf counts the sub-meters each job's meter is expected to read
	// through its session, so that the progress's total counts them
	// from the start, as the day's results will.
	subsOf := map[string]int{}
	if spec.meters != nil {
		queued = map[string]bool{}
	}
	add := func(m cim.Meter) {
		if !h.collectable(m) || queued[m.MRID] {
			return
		}
		if queued != nil {
			queued[m.MRID] = true
		}
		jobs = append(jobs, job{m, offsetOf(m.MRID, day, spec.window)})
	}
	if spec.meters != nil {
		for _, id := range spec.meters {
			m, err := h.st.Meter(ctx, id)
			if d, ok := h.drivers[m.Protocol]; err == nil && m.Parent != "" && ok && readsSubMeters(d) {
				// A sub-meter is read through its parent's session.
				m, err = h.st.Meter(ctx, m.Parent)
			}
			if errors.Is(err, store.ErrNotFound) {
				continue // removed since
			}
			if err != nil {
				return fmt.Errorf("collection %s: meter %s: %w", day, id, err)
			}
			add(m)
		}
	}
	q.Limit = 1000
	for spec.meters == nil {
		ms, err := h.st.Meters(ctx, q)
		if err != nil {
			return fmt.Errorf("collection %s: listing meters: %w", day, err)
		}
		for _, m := range ms {
			add(m)
			if d, ok := h.drivers[m.Protocol]; m.Parent != "" && m.Status != "removed" && ok && readsSubMeters(d) {
				subsOf[m.Parent]++
			}
		}
		if len(ms) < q.Limit {
			break
		}
		q.After = ms[len(ms)-1].MRID
	}
	if spec.meters != nil {
		// A list names a few meters: their sub-meters are looked up.
		for _, j := range jobs {
			if d := h.drivers[j.meter.Protocol]; readsSubMeters(d) {
				subsOf[j.meter.MRID] = h.countSubs(ctx, j.meter.MRID)
			}
		}
	}
	subTotal := 0
	for _, j := range jobs {
		subTotal += subsOf[j.meter.MRID]
	}
	slices.SortFunc(jobs, func(a, b job) int { return int(a.offset - b.offset) })

	h.progMu.Lock()
	h.progress = Progress{Day: day, Kind: spec.kind, Running: true, StartedAt: h.now(), Total: len(jobs) + subTotal, Node: h.nodeName()}
	h.progMu.Unlock()
	defer func() {
		h.progMu.Lock()
		h.progress.Running = false
		h.progress.EndedAt = h.now()
		h.progMu.Unlock()
	}()
	h.log.Info("collection started", "day", day.String(), "kind", spec.kind, "meters", len(jobs), "sub-meters", subTotal, "window", spec.window)

	start := time.Now() // offsets are real time: they pace the network
	results := make(chan jobResult, 256)
	var writer sync.WaitGroup
	writer.Add(1)
	go func() {
		defer writer.Done()
		h.writeResults(ctx, results)
	}()
	// Jobs in flight are bounded, so that the dispatcher, not a pile of
	// goroutines, waits when the head-end is full: a million meters due at
	// once must not become a million goroutines queueing for the store.
	// Twice the session limit lets one job's store work overlap another's
	// session.
	inFlight := make(chan struct{}, 2*cap(h.sessions))
	var wg sync.WaitGroup
	skipped := map[int]bool{} // shards whose jobs this node left
	for _, j := range jobs {
		if err := retry.Wait(ctx, time.Until(start.Add(j.offset))); err != nil {
			break
		}
		select {
		case inFlight <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		if !h.reads(j.meter.MRID) {
			// Another node holds the meter's shard now: it reads it, in
			// its run or in a takeover run from the cursors. Or nobody
			// does, this node's renewal being late: skipped is checked
			// again when the run ends.
			skipped[ShardOf(j.meter.MRID)] = true
			<-inFlight
			h.progMu.Lock()
			h.progress.Total -= 1 + subsOf[j.meter.MRID]
			h.progMu.Unlock()
			continue
		}
		wg.Add(1)
		go func(m cim.Meter) {
			defer wg.Done()
			r, held := h.collectMeter(ctx, m, day, inFlight)
			if held {
				<-inFlight
			}
			h.progressed(r, subsOf[m.MRID])
			results <- r
		}(j.meter)
	}
	wg.Wait()
	close(results)
	writer.Wait()
	// A shard left while this node's lease on it only looked lapsed (a
	// renewal late behind a frozen bus server, then made good) changed no
	// hands, so no takeover reads what was left: this node does, from the
	// cursors, in a takeover run of its own, now if it holds the shard
	// again, else once it does.
	h.owe(skipped)
	p := h.localProgress()
	msg := "collection ended"
	if p.Readings == 0 && p.Failed == 0 && p.Total > 0 {
		// Every meter answered and had nothing new: the day was collected
		// before, and its summary keeps what the earlier runs read.
		msg = "collection ended: nothing new, the day was already collected"
	}
	h.log.Info(msg, "day", day.String(), "kind", spec.kind, "meters", p.Total, "ok", p.OK, "failed", p.Failed,
		"readings", p.Readings, "took", time.Since(start).Round(time.Millisecond))
	return ctx.Err()
}

// jobResult is a job's outcome and where its meter's cursors moved to.
type jobResult struct {
	store.CollectionResult
	cursors []store.Cursor
	// subs are the results of the meter's sub-meters.
	subs []store.CollectionResult
}

// writeResults stores job results, and moves the meters' cursors, in
// batches: one transaction for a few hundred meters instead of one per
// meter. A cursor stored late only means a crash re-reads entries that
// are on the bus already, whose message ids make the second publish a
// no-op.
func (h *HeadEnd) writeResults(ctx context.Context, in <-chan jobResult) {
	batch := make([]store.CollectionResult, 0, 256)
	var cursors []store.Cursor
	flush := func() {
		if len(cursors) > 0 {
			if err := h.retryStore(ctx, "storing cursors", func(ctx context.Context) error {
				return h.st.PutCursors(ctx, cursors)
			}); err != nil {
				h.log.Error("cursors not stored; the next run reads those meters again", "count", len(cursors), "err", err)
			}
			cursors = cursors[:0]
		}
		if len(batch) == 0 {
			return
		}
		if err := h.retryStore(ctx, "storing collection results", func(ctx context.Context) error {
			return h.st.PutCollectionResults(ctx, batch)
		}); err != nil {
			h.log.Error("collection results lost", "count", len(batch), "err", err)
		}
		batch = batch[:0]
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case r, ok := <-in:
			if !ok {
				flush()
				return
			}
			batch = append(batch, r.CollectionResult)
			batch = append(batch, r.subs...)
			cursors = append(cursors, r.cursors...)
			if len(batch) >= cap(batch)-maxSubMeters {
				flush()
			}
		case <-tick.C:
			flush()
		}
	}
}

// collectMeter runs one meter's job with its retries. The job holds a
// slot of inFlight, and gives it up while it waits to retry, so that
// meters failing with long backoffs do not stall the rest of the run; it
// reports whether it still holds the slot.
func (h *HeadEnd) collectMeter(ctx context.Context, m cim.Meter, day cim.Date, inFlight chan struct{}) (jobResult, bool) {
	jr := jobResult{CollectionResult: store.CollectionResult{Day: day, MeterID: m.MRID, Segment: m.Segment}}
	ctx = withCollectionDay(ctx, day)
	r := &jr.CollectionResult
	held := true
	var problems []ObjectProblem
	for {
		r.Attempts++
		a, err := h.collectOnce(ctx, m, day)
		jr.cursors = a.cursors
		if a.problems != nil || err == nil {
			problems = a.problems // the latest session that read the meter tells
		}
		if a.subs != nil {
			jr.subs = a.subs // the latest attempt that reached them tells
		}
		r.At = h.now()
		if err == nil {
			r.Outcome, r.Readings, r.Complete, r.Error = OutcomeOK, r.Readings+a.readings, a.complete, ""
			break
		}
		r.Readings += a.readings
		r.Outcome, r.Error = h.cause(m, err), err.Error()
		if ctx.Err() != nil || r.Attempts >= h.ccfg.Attempts || final(r.Outcome) {
			if r.Outcome == OutcomeAuth {
				h.authFailure(ctx, m, err)
			}
			break
		}
		h.m.retries.WithLabelValues(r.Outcome).Inc()
		<-inFlight
		if held = reacquire(ctx, inFlight, retry.Backoff(h.ccfg.RetryBase, h.ccfg.RetryMax, r.Attempts)); !held {
			break
		}
	}
	h.m.jobs.WithLabelValues(m.Segment, r.Outcome).Inc()
	if len(problems) > 0 {
		r.Problems = problemSummary(problems)
		for _, p := range problems {
			h.m.objectProblems.WithLabelValues(problemCause(p)).Inc()
		}
		h.log.Warn("meter objects not read", "meter", m.MRID, "day", day.String(), "objects", len(problems), "problems", r.Problems)
	}
	if r.Outcome != OutcomeOK {
		h.log.Warn("meter not collected", "meter", m.MRID, "day", day.String(), "outcome", r.Outcome,
			"attempts", r.Attempts, "readings", r.Readings, "err", r.Error)
	}
	if d, ok := h.drivers[m.Protocol]; ok && readsSubMeters(d) && jr.subs == nil && r.Outcome != OutcomeOK {
		// No attempt reached the sub-meters: they fail with their parent.
		h.failSubs(ctx, &jr)
	}
	for i := range jr.subs {
		jr.subs[i].Attempts = r.Attempts
		h.m.jobs.WithLabelValues(jr.subs[i].Segment, jr.subs[i].Outcome).Inc()
	}
	return jr, held
}

// countSubs is how many sub-meters a job for meter parent is expected to
// read; a listing that fails counts none, and the job's own count then
// corrects the progress.
func (h *HeadEnd) countSubs(ctx context.Context, parent string) int {
	ms, err := h.st.Meters(ctx, store.MeterQuery{Parent: parent, Limit: maxSubMeters})
	if err != nil {
		return 0
	}
	n := 0
	for _, m := range ms {
		if m.Status != "removed" {
			n++
		}
	}
	return n
}

// failSubs records the sub-meters of a job's meter as failed with it, for
// the cause the meter failed for.
func (h *HeadEnd) failSubs(ctx context.Context, jr *jobResult) {
	ms, err := h.st.Meters(ctx, store.MeterQuery{Parent: jr.MeterID, Limit: maxSubMeters})
	if err != nil {
		h.log.Warn("sub-meters of a failed meter not listed; their results are missing", "meter", jr.MeterID, "err", err)
		return
	}
	for _, sm := range ms {
		if sm.Status == "removed" {
			continue
		}
		jr.subs = append(jr.subs, h.subResult(sm, jr.Day, jr.Outcome, 0, false,
			fmt.Errorf("meter %s: read through meter %s, which failed: %s", sm.MRID, jr.MeterID, jr.Error)))
	}
}

// Outcomes of a job that reached its meter but must not count as
// collected, beside the drivers' failure causes.
const (
	// OutcomeRejected: the MDM would refuse part of what was read (a
	// reading stamped before 1970 or a day ahead); nothing of it was
	// published, no cursor moved, and the next run reads it again.
	OutcomeRejected = "rejected"
	// OutcomeNoData: the session went well but brought no profile entry
	// although the profile was due; the cursors stay.
	OutcomeNoData = "no-data"
)

// noDataGrace is how long after its cursor a profile may bring nothing
// new before a collection says so: well over the drift the head-end lets
// a meter's clock keep, so a run just after an interval ended does not
// blame a meter a few seconds behind.
const noDataGrace = 30 * time.Minute

// Errors behind OutcomeRejected and OutcomeNoData.
var (
	errRejected = errors.New("refused by the MDM's checks")
	errNoData   = errors.New("no load profile entry read although it was due")
)

// final reports whether a failure would only repeat if retried at once:
// a wrong key, data the MDM refuses, a profile with nothing new.
func final(outcome string) bool {
	return outcome == OutcomeAuth || outcome == OutcomeRejected || outcome == OutcomeNoData
}

// reacquire waits d, then takes a slot of inFlight again; it reports
// false, holding nothing, when ctx ends first.
func reacquire(ctx context.Context, inFlight chan struct{}, d time.Duration) bool {
	if retry.Wait(ctx, d) != nil {
		return false
	}
	select {
	case inFlight <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

// cause classifies a job error.
func (h *HeadEnd) cause(m cim.Meter, err error) string {
	switch {
	case errors.Is(err, errRejected):
		return OutcomeRejected
	case errors.Is(err, errNoData):
		return OutcomeNoData
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return OutcomeTimeout
	}
	if d, ok := h.drivers[m.Protocol]; ok {
		if c := d.Cause(err); c != "" {
			return c
		}
	}
	return OutcomeOther
}

// authFailure records a meter's refusal of our keys as an event, once per
// run, and does not retry: a wrong key stays wrong, and a meter that
// counts failures may lock the association.
func (h *HeadEnd) authFailure(ctx context.Context, m cim.Meter, cause error) {
	now := h.now()
	ev := cim.EndDeviceEvent{MRID: fmt.Sprintf("he/%s/auth/%d", m.MRID, now.Unix()), MeterID: m.MRID,
		Type: EventAuthFailure, CreatedAt: now, Severity: "warning", Reason: "authentication with the meter failed",
		Details: map[string]string{"error": cause.Error(), "source": "head-end"}}
	h.emit(ctx, ev)
}

// emit publishes a head-end event; a failure is logged, not fatal.
func (h *HeadEnd) emit(ctx context.Context, ev cim.EndDeviceEvent) {
	msg, err := h.eventMsg(ev)
	if err == nil {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err = h.publish(ctx, []outMsg{msg})
		cancel()
	}
	if err != nil {
		h.log.Warn("head-end event not published", "meter", ev.MeterID, "type", ev.Type, "err", err)
	}
}

// Event types the head-end raises about a meter.
const (
	EventAuthFailure  cim.EndDeviceEventType = "3.12.1.35"   // security: authentication failed
	EventClockSynced  cim.EndDeviceEventType = "3.36.114.24" // clock: time changed by the head-end
	EventPushReplayed cim.EndDeviceEventType = "3.12.1.257"  // security: replayed message rejected
)

// ClockOffset is the reading type of a meter's clock as the head-end read
// it: milliseconds the meter was ahead of the head-end (negative: behind),
// stamped with the head-end's time of the read.
const ClockOffset = "clock-offset-ms"

// attempt is what one attempt at a meter's job brought: the readings
// published, whether the day is complete, where the meter's cursors (and
// its sub-meters') move to, the objects the session could not read, and
// the results of the sub-meters the attempt reached.
type attempt struct {
	readings int
	complete bool
	cursors  []store.Cursor
	problems []ObjectProblem
	subs     []store.CollectionResult
}

// collectOnce is one attempt: open, read, release, then publish. It
// returns the readings collected, once the bus has them where the meter's
// cursors move to, and the objects the session could not read. The
// meter's sub-meters are read in the same session and published under
// their own ids, each with its own result.
func (h *HeadEnd) collectOnce(ctx context.Context, m cim.Meter, day cim.Date) (attempt, error) {
	var a attempt
	t, drv, err := h.target(ctx, m)
	if err != nil {
		return a, err
	}
	// The session is over when this returns: the credentials go too.
	defer clear(t.Credentials)
	cursors, err := h.st.Cursors(ctx, m.MRID)
	if err != nil {
		return a, fmt.Errorf("meter %s: cursors: %w", m.MRID, err)
	}
	now := h.now()
	until := day.AddDays(1).Start(t.Location)
	// A day still going is never complete, however far it was read.
	dayOver := !until.After(now)
	if !dayOver {
		until = now
	}
	plan := Plan{Since: map[string]time.Time{}, Backfill: day.AddDays(-h.ccfg.BackfillDays + 1).Start(t.Location), Until: until}
	for _, c := range cursors {
		plan.Since[c.Name] = c.At
	}
	var subs []SubMeter
	if readsSubMeters(drv) {
		if subs, err = h.subMeters(ctx, m, day, &a); err != nil {
			return a, err
		}
	}
	defer func() {
		for _, s := range subs {
			clear(s.Credentials)
		}
	}()
	subCursors := map[string][]store.Cursor{}
	for _, s := range subs {
		t.SubMeters = append(t.SubMeters, s)
		cs, err := h.st.Cursors(ctx, s.Meter.MRID)
		if err != nil {
			return a, fmt.Errorf("meter %s: cursors of its sub-meter %s: %w", m.MRID, s.Meter.MRID, err)
		}
		subCursors[s.Meter.MRID] = cs
		if plan.SubSince == nil {
			plan.SubSince = map[string]map[string]time.Time{}
		}
		since := map[string]time.Time{}
		for _, c := range cs {
			since[c.Name] = c.At
		}
		plan.SubSince[s.Meter.MRID] = since
	}

	var col Collection
	err = h.withSession(ctx, m, t, drv, "collect", func(ctx context.Context, s Session) error {
		c, err := s.Collect(ctx, plan)
		if err != nil {
			return err
		}
		col = c
		if col.MeterTime.IsZero() {
			return nil
		}
		drift := col.MeterTime.Sub(col.ReadAt)
		// The meter's clock is kept as its offset from ours at the read,
		// a register read like any other: the clock's own value is the
		// time stamp plus the offset, and the series shows how it drifts.
		col.Registers = append(col.Registers, cim.Reading{MeterID: m.MRID, ReadingType: ClockOffset,
			TimeStamp: col.ReadAt, Value: drift.Milliseconds()})
		if drift <= h.ccfg.ClockThreshold && -drift <= h.ccfg.ClockThreshold {
			return nil
		}
		if err := s.SetClock(ctx, h.now()); errors.Is(err, ErrUnsupported) {
			// A meter whose clock cannot be set (an IEC 62056-21 readout
			// meter without programming mode) is read all the same.
			col.Problems = append(col.Problems, ObjectProblem{Object: "clock", Warning: true,
				Cause: fmt.Sprintf("drift of %v not corrected: %v", drift, err)})
			return nil
		} else if err != nil {
			return fmt.Errorf("meter %s: clock sync after %v drift: %w", m.MRID, drift, err)
		}
		now := h.now()
		col.Events = append(col.Events, cim.EndDeviceEvent{MRID: fmt.Sprintf("he/%s/clock/%d", m.MRID, now.Unix()),
			MeterID: m.MRID, Type: EventClockSynced, CreatedAt: now, Reason: "clock drift above threshold corrected",
			Details: map[string]string{"drift": drift.String(), "source": "head-end"}})
		h.m.clockSyncs.Inc()
		return nil
	})
	if err != nil {
		// The sub-meters fail with their parent (collectMeter says so),
		// unless an earlier attempt reached them.
		a.problems, a.subs = col.Problems, nil
		return a, err
	}
	for _, s := range subs {
		h.deliverSub(ctx, m, s, day, &col, plan, subCursors[s.Meter.MRID], dayOver, &a)
	}
	a.problems = col.Problems
	n, err := h.deliver(ctx, m, t.Location, &col)
	if err != nil {
		// Cursors stay where they were: what was refused is read again
		// next run, and what was published with it is read again too,
		// which the bus's message ids and the MDM's merge make harmless.
		a.readings = n
		return a, err
	}
	if n == 0 && !col.Complete {
		if err := noData(m.MRID, cursors, plan.Backfill, until); err != nil {
			return a, err
		}
	}
	for name, at := range col.Cursors {
		a.cursors = append(a.cursors, store.Cursor{MeterID: m.MRID, Name: name, At: at})
	}
	a.readings, a.complete = n, col.Complete && dayOver
	return a, nil
}

// noData is errNoData for a meter whose profile brought nothing new
// although it was due. Drivers name load profile cursors "profile…". A
// profile read within the hour may just not have captured its next entry
// yet (a meter's clock a little behind ours): that is not a failure.
func noData(meterID string, cursors []store.Cursor, backfill, until time.Time) error {
	since := backfill
	for _, c := range cursors {
		if strings.HasPrefix(c.Name, "profile") && c.At.After(since) {
			since = c.At
		}
	}
	if since.Before(until.Add(-noDataGrace)) {
		return fmt.Errorf("meter %s: profile read after %s up to %s: %w", meterID,
			since.UTC().Format(time.RFC3339), until.UTC().Format(time.RFC3339), errNoData)
	}
	return nil
}

// subMeters returns the sub-meters of m the head-end reads through its
// session, their credentials opened. One whose credentials or time zone
// cannot be had is not read: its failure goes into a's results.
func (h *HeadEnd) subMeters(ctx context.Context, m cim.Meter, day cim.Date, a *attempt) ([]SubMeter, error) {
	ms, err := h.st.Meters(ctx, store.MeterQuery{Parent: m.MRID, Limit: maxSubMeters})
	if err != nil {
		return nil, fmt.Errorf("meter %s: its sub-meters: %w", m.MRID, err)
	}
	var out []SubMeter
	for _, sm := range ms {
		if sm.Status == "removed" {
			continue
		}
		if sm.Protocol != m.Protocol {
			a.subs = append(a.subs, h.subResult(sm, day, OutcomeOther, 0, false,
				fmt.Errorf("meter %s: protocol %q, but it is read through meter %s of protocol %q", sm.MRID, sm.Protocol, m.MRID, m.Protocol)))
			continue
		}
		creds, err := OpenCredentials(ctx, h.st, h.secrets, sm.MRID)
		if err != nil {
			a.subs = append(a.subs, h.subResult(sm, day, h.cause(sm, err), 0, false, err))
			continue
		}
		loc, err := h.location(ctx, sm.UsagePointID)
		if err != nil {
			clear(creds)
			err = fmt.Errorf("meter %s: %w", sm.MRID, err)
			a.subs = append(a.subs, h.subResult(sm, day, h.cause(sm, err), 0, false, err))
			continue
		}
		out = append(out, SubMeter{Meter: sm, Credentials: creds, Location: loc})
	}
	return out, nil
}

// maxSubMeters bounds the sub-meters read through one meter: M-Bus has
// four channels, and a registry listing more is read in part.
const maxSubMeters = 16

// subResult is a sub-meter's result in its parent's job.
func (h *HeadEnd) subResult(m cim.Meter, day cim.Date, outcome string, readings int, complete bool, err error) store.CollectionResult {
	r := store.CollectionResult{Day: day, MeterID: m.MRID, Segment: m.Segment, Outcome: outcome, Readings: readings,
		Complete: complete, At: h.now()}
	if err != nil {
		r.Error = err.Error()
	}
	return r
}

// deliverSub publishes what the session read of sub-meter s, checked
// against its own usage point's zone, and records its result in a; its
// cursors move with its parent's, once the job's results are stored.
func (h *HeadEnd) deliverSub(ctx context.Context, parent cim.Meter, s SubMeter, day cim.Date, col *Collection, plan Plan,
	cursors []store.Cursor, dayOver bool, a *attempt) {
	var sc *SubCollection
	for i := range col.Subs {
		if col.Subs[i].MeterID == s.Meter.MRID {
			sc = &col.Subs[i]
			break
		}
	}
	fail := func(err error, problems []ObjectProblem) {
		r := h.subResult(s.Meter, day, h.cause(parent, err), 0, false, err)
		if len(problems) > 0 {
			r.Problems = problemSummary(problems)
		}
		a.subs = append(a.subs, r)
		h.log.Warn("sub-meter not collected", "meter", s.Meter.MRID, "parent", parent.MRID, "day", day.String(),
			"outcome", r.Outcome, "err", err)
	}
	if sc == nil {
		fail(fmt.Errorf("meter %s: not read through meter %s: its driver returned nothing of it", s.Meter.MRID, parent.MRID), nil)
		return
	}
	if sc.Err != nil {
		// Only its events (a device other than the registered one, say)
		// are published: they are what an operator acts on.
		evs := Collection{Events: sc.Events}
		if _, err := h.deliver(ctx, s.Meter, s.Location, &evs); err != nil {
			h.log.Warn("sub-meter events not published", "meter", s.Meter.MRID, "err", err)
		}
		fail(sc.Err, sc.Problems)
		return
	}
	n, err := h.deliver(ctx, s.Meter, s.Location, &sc.Collection)
	if err == nil && n == 0 && !sc.Complete {
		err = noData(s.Meter.MRID, cursors, plan.Backfill, plan.Until)
	}
	if err != nil {
		r := h.subResult(s.Meter, day, h.cause(parent, err), n, false, err)
		if len(sc.Problems) > 0 {
			r.Problems = problemSummary(sc.Problems)
		}
		a.subs = append(a.subs, r)
		return
	}
	r := h.subResult(s.Meter, day, OutcomeOK, n, sc.Complete && dayOver, nil)
	if len(sc.Problems) > 0 {
		r.Problems = problemSummary(sc.Problems)
	}
	a.subs = append(a.subs, r)
	for name, at := range sc.Cursors {
		a.cursors = append(a.cursors, store.Cursor{MeterID: s.Meter.MRID, Name: name, At: at})
	}
}

// maxProblems bounds a result's problem summary: it is stored with every
// result and shown in a listing, and a meter may fail on many objects.
const maxProblems = 400

// problemSummary tells a session's failed objects in one short line,
// "2 objects failed: 0.0.96.5.0.255:2 read-write-denied; ...", those read
// with a warning after them, cut at maxProblems bytes with the count of
// those left out.
func problemSummary(ps []ObjectProblem) string {
	warned := 0
	for _, p := range ps {
		if p.Warning {
			warned++
		}
	}
	failed := len(ps) - warned
	objects := func(n int) string {
		if n == 1 {
			return "1 object"
		}
		return strconv.Itoa(n) + " objects"
	}
	var b strings.Builder
	switch {
	case warned == 0:
		b.WriteString(objects(failed) + " failed: ")
	case failed == 0:
		b.WriteString(objects(warned) + " read with a warning: ")
	default:
		b.WriteString(objects(failed) + " failed, " + strconv.Itoa(warned) + " read with a warning: ")
	}
	ps = slices.Clone(ps)
	slices.SortStableFunc(ps, func(a, b ObjectProblem) int {
		switch {
		case a.Warning == b.Warning:
			return 0
		case b.Warning:
			return -1
		}
		return 1
	})
	for i, p := range ps {
		item := p.Object + " " + shortCause(p.Cause)
		if p.Warning {
			item = p.Object + " warning: " + shortCause(p.Cause)
		}
		if i > 0 {
			item = "; " + item
		}
		if rest := fmt.Sprintf("; and %d more", len(ps)-i); b.Len()+len(item)+len(rest) > maxProblems && i > 0 {
			b.WriteString(rest)
			break
		}
		b.WriteString(item)
	}
	if b.Len() > maxProblems {
		return strings.ToValidUTF8(b.String()[:maxProblems-len("…")], "") + "…"
	}
	return b.String()
}

// shortCause drops the "dlms: meter: get attribute:" prefix a driver's
// error repeats for every object: the summary names the object already.
func shortCause(cause string) string {
	if name, ok := resultName(cause); ok {
		return name
	}
	if len(cause) > 120 {
		return strings.ToValidUTF8(cause[:117], "") + "..."
	}
	return cause
}

// resultName is the protocol's result name that ends a driver's error
// ("...: read-write-denied"), when it does.
func resultName(cause string) (string, bool) {
	last := strings.TrimSpace(cause[strings.LastIndex(cause, ": ")+1:])
	return last, len(last) > 0 && len(last) <= 32 && strings.Trim(last, "abcdefghijklmnopqrstuvwxyz-") == ""
}

// problemCause classes an object's failure for the problem counter, whose
// label must stay a short, closed set: the protocol's result name, a
// value that cannot be scaled (not-integer), a deviation read all the
// same (tolerated), or other.
func problemCause(p ObjectProblem) string {
	cause := p.Cause
	switch {
	case p.Warning || strings.HasPrefix(cause, "warning:"):
		return "tolerated"
	case strings.Contains(cause, "not an integer"):
		return "not-integer"
	}
	if name, ok := resultName(cause); ok {
		return name
	}
	return "other"
}

// withSession opens a session with m, runs fn under the job deadline and
// releases the association, holding a global and a segment slot
// throughout.
func (h *HeadEnd) withSession(ctx context.Context, m cim.Meter, t Target, drv Driver, op string, fn func(context.Context, Session) error) error {
	release, err := h.acquire(ctx, m.Segment)
	if err != nil {
		return err
	}
	defer release()
	ctx, cancel := context.WithTimeout(ctx, h.ccfg.JobTimeout)
	defer cancel()
	t0 := time.Now()
	s, err := drv.Open(ctx, t)
	if err != nil {
		h.m.latency.WithLabelValues(op, "error").Observe(time.Since(t0).Seconds())
		return err
	}
	err = fn(ctx, s)
	if cerr := s.Close(ctx); err == nil && cerr != nil {
		h.log.Debug("release failed", "meter", m.MRID, "err", cerr)
	}
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	h.m.latency.WithLabelValues(op, outcome).Observe(time.Since(t0).Seconds())
	if day, ok := ctx.Value(dayKey{}).(cim.Date); ok {
		h.times.observe(day, m.Segment, time.Since(t0))
	}
	return err
}

// deliver hands a session's reads to the bus and waits until the bus has
// acknowledged all of them; only then may the meter's cursors move. What
// is published is first put to the MDM's own checks (mdm.CheckBlock and
// its kin, the pure functions its ingest runs on a decoded message),
// before it is encoded, so nothing is decoded twice: a block, register
// message or event the MDM would refuse is not published, and deliver
// returns errRejected with the first reason, so the job is not ok and no
// cursor moves past it. It returns the interval readings published.
func (h *HeadEnd) deliver(ctx context.Context, m cim.Meter, loc *time.Location, col *Collection) (int, error) {
	now := h.now()
	var refused []string
	checked := *col
	checked.Blocks = make([]cim.IntervalBlock, 0, len(col.Blocks))
	for i := range col.Blocks {
		if len(col.Blocks[i].Readings) == 0 {
			continue // nothing to publish
		}
		if err := mdm.CheckBlock(&col.Blocks[i], loc, now); err != nil {
			refused = append(refused, err.Error())
			continue
		}
		checked.Blocks = append(checked.Blocks, col.Blocks[i])
	}
	if err := mdm.CheckRegisters(col.Registers, now); err != nil {
		refused = append(refused, err.Error())
		checked.Registers = nil
	}
	checked.Events = make([]cim.EndDeviceEvent, 0, len(col.Events))
	for i := range col.Events {
		if err := mdm.CheckEvent(&col.Events[i]); err != nil {
			refused = append(refused, err.Error())
			continue
		}
		checked.Events = append(checked.Events, col.Events[i])
	}
	msgs, err := h.collectionMsgs(m.MRID, &checked)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, msg := range msgs {
		n += msg.readings
	}
	if err := h.publish(ctx, msgs); err != nil {
		return 0, fmt.Errorf("meter %s: %w", m.MRID, err)
	}
	h.m.readings.Add(float64(n))
	if len(refused) > 0 {
		more := ""
		if len(refused) > 1 {
			more = fmt.Sprintf(" (and %d more)", len(refused)-1)
		}
		return n, fmt.Errorf("meter %s: %d of %d messages %w: %s%s", m.MRID, len(refused), len(msgs)+len(refused), errRejected, refused[0], more)
	}
	return n, nil
}
