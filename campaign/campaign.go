// Package campaign owns operations carried to many meters under one
// decision: a key rotation, a firmware update. A campaign is approved by a
// second person as a whole, runs a pilot group first, is throttled, stops
// itself when failures pass its threshold until someone releases it, and
// resumes where it stood after any node stops: every meter is an item in
// the store, claimed by one node at a time.
package campaign

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/amigo-ami/amigo/audit"
	"github.com/amigo-ami/amigo/store"
	"github.com/google/uuid"
)

// Campaign is a campaign with its counts.
type Campaign = store.Campaign

// Step does a campaign's work on one meter and says what it did. After a
// crash an item that was running is run again, so a step finds out first
// where its meter stands: it must be idempotent.
type Step func(ctx context.Context, c Campaign, meterID string) (result string, err error)

// Store is what the engine keeps in the store.
type Store interface {
	CreateCampaign(ctx context.Context, c store.Campaign, meters []string) error
	Campaign(ctx context.Context, id string) (store.Campaign, error)
	CampaignList(ctx context.Context, status store.CampaignStatus, limit int) ([]store.Campaign, error)
	ChangeCampaign(ctx context.Context, id string, ch store.CampaignChange) error
	ClaimItems(ctx context.Context, id, node string, pilotOnly bool, n int, at time.Time) ([]store.CampaignItem, error)
	FinishItems(ctx context.Context, id string, outs []store.ItemOutcome, at time.Time) (int, error)
	RequeueItems(ctx context.Context, id, node string, before time.Time) (int, error)
	CampaignItems(ctx context.Context, id string, status store.ItemStatus, after, limit int) ([]store.CampaignItem, error)
}

// Errors.
var (
	// ErrBadSpec is wrapped by Create for a campaign it refuses.
	ErrBadSpec = errors.New("campaign: bad campaign")
	// ErrSelfApproval is returned when the creator tries to approve.
	ErrSelfApproval = errors.New("campaign: the creator may not approve their own campaign")
)

// Audit actions of campaigns.
const (
	ActionCreate  audit.Action = "campaign-create"
	ActionApprove audit.Action = "campaign-approve"
	ActionChange  audit.Action = "campaign-change"
)

// Spec is a campaign to create.
type Spec struct {
	Name      string `json:"name"`
	Kind      string `json:"kind"`
	CreatedBy string `json:"-"`
	// Meters are the meters, in the order they are taken.
	Meters []string `json:"meters"`
	// Pilot is how many of the first meters run, and must pass, before
	// the rest.
	Pilot int `json:"pilot"`
	// MaxFailureRate (0 < r ≤ 1; 0 takes 0.05) stops the campaign when
	// the share of failed items exceeds it, once MinFinished items have
	// finished since the start or the last release (0 takes 20).
	MaxFailureRate float64           `json:"maxFailureRate"`
	MinFinished    int               `json:"minFinished"`
	Concurrency    int               `json:"concurrency"`
	Params         map[string]string `json:"params,omitempty"`
}

// Options configures an Engine.
type Options struct {
	// Steps are the kinds of campaign this node runs.
	Steps  map[string]Step
	Audit  audit.Appender
	Logger *slog.Logger
	Now    func() time.Time
	// Node names this node in the items it claims (the host name when
	// empty): at start it takes back the items it held when it stopped.
	Node string
	// Poll is how often running campaigns are looked for (1 s).
	Poll time.Duration
	// StepTimeout bounds one item (10 min); an item another node has held
	// running for twice that is taken back.
	StepTimeout time.Duration
}

// Engine creates, decides and runs campaigns.
type Engine struct {
	st   Store
	o    Options
	wake chan struct{}

	mu      sync.Mutex
	workers map[string]bool
}

// New builds an engine.
func New(st Store, o Options) *Engine {
	if o.Audit == nil {
		o.Audit = audit.Nop{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Node == "" {
		o.Node, _ = os.Hostname()
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.StepTimeout <= 0 {
		o.StepTimeout = 10 * time.Minute
	}
	return &Engine{st: st, o: o, wake: make(chan struct{}, 1), workers: map[string]bool{}}
}

// Kinds lists the kinds this engine runs.
func (e *Engine) Kinds() []string {
	ks := make([]string, 0, len(e.o.Steps))
	for k := range e.o.Steps {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func (e *Engine) record(ctx context.Context, r audit.Record) {
	r.At = e.o.Now()
	if err := e.o.Audit.Append(ctx, r); err != nil {
		e.o.Logger.Error("audit record not kept", "action", r.Action, "target", r.Target, "err", err)
	}
}

func (e *Engine) poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Create stores a campaign awaiting a second person's approval.
func (e *Engine) Create(ctx context.Context, s Spec) (Campaign, error) {
	if _, ok := e.o.Steps[s.Kind]; !ok {
		return Campaign{}, fmt.Errorf("%w: unknown kind %q (kinds: %v)", ErrBadSpec, s.Kind, e.Kinds())
	}
	if len(s.Meters) == 0 {
		return Campaign{}, fmt.Errorf("%w: no meters", ErrBadSpec)
	}
	seen := make(map[string]bool, len(s.Meters))
	for _, m := range s.Meters {
		if m == "" || seen[m] {
			return Campaign{}, fmt.Errorf("%w: meter %q is empty or named twice", ErrBadSpec, m)
		}
		seen[m] = true
	}
	switch {
	case s.Pilot < 0 || s.Pilot > len(s.Meters):
		return Campaign{}, fmt.Errorf("%w: pilot of %d meters out of %d", ErrBadSpec, s.Pilot, len(s.Meters))
	case s.MaxFailureRate < 0 || s.MaxFailureRate > 1:
		return Campaign{}, fmt.Errorf("%w: failure threshold %g is not between 0 and 1", ErrBadSpec, s.MaxFailureRate)
	case s.MinFinished < 0 || s.Concurrency < 0:
		return Campaign{}, fmt.Errorf("%w: negative minimum or concurrency", ErrBadSpec)
	}
	if s.MaxFailureRate == 0 {
		s.MaxFailureRate = 0.05
	}
	if s.MinFinished == 0 {
		s.MinFinished = 20
	}
	if s.Concurrency == 0 {
		s.Concurrency = 16
	}
	now := e.o.Now()
	c := Campaign{ID: uuid.NewString(), Name: s.Name, Kind: s.Kind, CreatedBy: s.CreatedBy, Status: store.CampaignAwaitingApproval,
		Reason: "awaiting approval by a second person", Pilot: s.Pilot, MaxFailureRate: s.MaxFailureRate, MinFinished: s.MinFinished,
		Concurrency: s.Concurrency, Params: s.Params, CreatedAt: now, UpdatedAt: now}
	if err := e.st.CreateCampaign(ctx, c, s.Meters); err != nil {
		return Campaign{}, err
	}
	e.record(ctx, audit.Record{Actor: s.CreatedBy, Action: ActionCreate, Target: "campaign/" + c.ID, Outcome: audit.OK,
		Details: map[string]string{"kind": c.Kind, "name": c.Name, "meters": fmt.Sprint(len(s.Meters)), "pilot": fmt.Sprint(s.Pilot)}})
	return e.Get(ctx, c.ID)
}

// Get returns a campaign with its counts.
func (e *Engine) Get(ctx context.Context, id string) (Campaign, error) { return e.st.Campaign(ctx, id) }

// List lists campaigns newest first, of one status when set.
func (e *Engine) List(ctx context.Context, status store.CampaignStatus, limit int) ([]Campaign, error) {
	return e.st.CampaignList(ctx, status, limit)
}

// Approve lets a campaign run; by must not be its creator.
func (e *Engine) Approve(ctx context.Context, id, by string) error {
	c, err := e.st.Campaign(ctx, id)
	if err != nil {
		return err
	}
	if by == "" || by == c.CreatedBy {
		e.record(ctx, audit.Record{Actor: by, Action: ActionApprove, Target: "campaign/" + id, Outcome: audit.Refused,
			Details: map[string]string{"reason": ErrSelfApproval.Error()}})
		return fmt.Errorf("campaign %s: %w", id, ErrSelfApproval)
	}
	err = e.st.ChangeCampaign(ctx, id, store.CampaignChange{From: store.CampaignAwaitingApproval, To: store.CampaignRunning,
		ApprovedBy: by, Reason: "approved by " + by, At: e.o.Now()})
	if err != nil {
		return err
	}
	e.record(ctx, audit.Record{Actor: by, Action: ActionApprove, Target: "campaign/" + id, Outcome: audit.OK,
		Details: map[string]string{"kind": c.Kind, "creator": c.CreatedBy}})
	e.poke()
	return nil
}

// change moves a campaign by a person's word, and records it.
func (e *Engine) change(ctx context.Context, id, by string, ch store.CampaignChange) error {
	ch.At = e.o.Now()
	if err := e.st.ChangeCampaign(ctx, id, ch); err != nil {
		return err
	}
	e.record(ctx, audit.Record{Actor: by, Action: ActionChange, Target: "campaign/" + id, Outcome: audit.OK,
		Details: map[string]string{"from": string(ch.From), "to": string(ch.To), "reason": ch.Reason}})
	e.poke()
	return nil
}

// Pause stops a running campaign from taking more meters; those in
// flight finish.
func (e *Engine) Pause(ctx context.Context, id, by string) error {
	return e.change(ctx, id, by, store.CampaignChange{From: store.CampaignRunning, To: store.CampaignPaused, Reason: "paused by " + by})
}

// Resume lets a paused campaign go on.
func (e *Engine) Resume(ctx context.Context, id, by string) error {
	return e.change(ctx, id, by, store.CampaignChange{From: store.CampaignPaused, To: store.CampaignRunning, Reason: "resumed by " + by})
}

// Release lets a campaign its threshold stopped go on, judging only what
// comes after, against maxFailureRate when it is above 0.
func (e *Engine) Release(ctx context.Context, id, by string, maxFailureRate float64) error {
	if maxFailureRate < 0 || maxFailureRate > 1 {
		return fmt.Errorf("%w: failure threshold %g is not between 0 and 1", ErrBadSpec, maxFailureRate)
	}
	return e.change(ctx, id, by, store.CampaignChange{From: store.CampaignStopped, To: store.CampaignRunning, Rebase: true,
		MaxFailureRate: maxFailureRate, Reason: "released by " + by})
}

// Cancel ends a campaign that has not finished; items in flight finish.
func (e *Engine) Cancel(ctx context.Context, id, by string) error {
	c, err := e.st.Campaign(ctx, id)
	if err != nil {
		return err
	}
	if c.Status == store.CampaignCompleted || c.Status == store.CampaignCancelled {
		return fmt.Errorf("campaign %s is already %s: %w", id, c.Status, store.ErrConflict)
	}
	return e.change(ctx, id, by, store.CampaignChange{From: c.Status, To: store.CampaignCancelled, Reason: "cancelled by " + by})
}

// Failure is one cause of failed items.
type Failure struct {
	Error string `json:"error"`
	Count int    `json:"count"`
	// Meters are the first meters that failed so.
	Meters []string `json:"meters"`
}

// Report is a campaign's outcome so far.
type Report struct {
	Campaign Campaign  `json:"campaign"`
	Failures []Failure `json:"failures"`
}

// Report sums up a campaign: its counts, and its failures by cause.
func (e *Engine) Report(ctx context.Context, id string) (Report, error) {
	c, err := e.st.Campaign(ctx, id)
	if err != nil {
		return Report{}, err
	}
	r := Report{Campaign: c, Failures: []Failure{}}
	by := map[string]*Failure{}
	for after := -1; ; {
		items, err := e.st.CampaignItems(ctx, id, store.ItemFailed, after, 1000)
		if err != nil {
			return r, err
		}
		for _, it := range items {
			f := by[it.Error]
			if f == nil {
				f = &Failure{Error: it.Error}
				by[it.Error] = f
			}
			f.Count++
			if len(f.Meters) < 10 {
				f.Meters = append(f.Meters, it.MeterID)
			}
			after = it.Seq
		}
		if len(items) < 1000 {
			break
		}
	}
	for _, f := range by {
		r.Failures = append(r.Failures, *f)
	}
	slices.SortFunc(r.Failures, func(a, b Failure) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		return cmp.Compare(a.Error, b.Error)
	})
	return r, nil
}

// Run carries every running campaign on, until ctx ends. At start it takes
// back the items this node held when it last stopped; items another node
// has held for twice the step timeout are taken back too. Any number of
// nodes may run it on one store: each item is claimed by one of them.
func (e *Engine) Run(ctx context.Context) error {
	requeued := map[string]bool{}
	var wg sync.WaitGroup
	defer wg.Wait()
	t := time.NewTicker(e.o.Poll)
	defer t.Stop()
	for {
		cs, err := e.st.CampaignList(ctx, store.CampaignRunning, 1000)
		if err != nil && ctx.Err() == nil {
			e.o.Logger.Warn("listing running campaigns", "err", err)
		}
		for _, c := range cs {
			if _, ok := e.o.Steps[c.Kind]; !ok {
				continue // another node's kind
			}
			if !requeued[c.ID] {
				if n, err := e.st.RequeueItems(ctx, c.ID, e.o.Node, time.Time{}); err != nil {
					e.o.Logger.Warn("taking back this node's items", "campaign", c.ID, "err", err)
					continue
				} else if n > 0 {
					e.o.Logger.Info("took back the items this node held when it stopped", "campaign", c.ID, "items", n)
				}
				requeued[c.ID] = true
			}
			if n, err := e.st.RequeueItems(ctx, c.ID, "", e.o.Now().Add(-2*e.o.StepTimeout)); err == nil && n > 0 {
				e.o.Logger.Warn("took back items a stopped node held", "campaign", c.ID, "items", n)
			}
			e.mu.Lock()
			busy := e.workers[c.ID]
			e.workers[c.ID] = true
			e.mu.Unlock()
			if !busy {
				wg.Add(1)
				go func() {
					defer wg.Done()
					e.work(ctx, c.ID)
					e.mu.Lock()
					delete(e.workers, c.ID)
					e.mu.Unlock()
				}()
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-e.wake:
		}
	}
}

// reread is how often a worker reads its campaign whole (status, counts
// of every node); between reads it keeps the counts of its own items.
const reread = 500 * time.Millisecond

// work runs one campaign's items while it is running.
func (e *Engine) work(ctx context.Context, id string) {
	var inflight sync.WaitGroup
	done := make(chan store.ItemOutcome, 1024)
	running := 0
	pilots := map[string]bool{} // this node's items in flight that are the pilot's
	var c Campaign
	var read time.Time
	var outs []store.ItemOutcome
	// One writer records the outcomes, a batch at a time: items finishing
	// together do not queue on the store's write lock one by one.
	flush := func() {
		if len(outs) == 0 {
			return
		}
		if _, err := e.st.FinishItems(context.WithoutCancel(ctx), id, outs, e.o.Now()); err != nil {
			e.o.Logger.Warn("recording campaign items", "campaign", id, "items", len(outs), "err", err)
			read = time.Time{}
		}
		for _, o := range outs {
			k := &c.Counts
			k.Running--
			if o.Status == store.ItemDone {
				k.Done++
			} else {
				k.Failed++
			}
			if pilots[o.MeterID] {
				k.PilotLeft--
				if o.Status == store.ItemDone {
					k.PilotDone++
				} else {
					k.PilotFailed++
				}
				delete(pilots, o.MeterID)
			}
		}
		outs = outs[:0]
	}
	defer func() {
		inflight.Wait()
		close(done)
		for o := range done {
			if ctx.Err() == nil && o.MeterID != "" {
				outs = append(outs, o)
			}
		}
		flush()
	}()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for ctx.Err() == nil {
		fresh := false
		if time.Since(read) >= reread {
			fresh = true
			var err error
			if c, err = e.st.Campaign(ctx, id); err != nil {
				e.o.Logger.Warn("reading campaign", "campaign", id, "err", err)
				return
			}
			read = time.Now()
		}
		if c.Status != store.CampaignRunning {
			return
		}
		if why := e.overThreshold(c); why != "" {
			err := e.st.ChangeCampaign(ctx, id, store.CampaignChange{From: store.CampaignRunning, To: store.CampaignStopped, Reason: why, At: e.o.Now()})
			if err == nil {
				e.o.Logger.Warn("campaign stopped at its threshold", "campaign", id, "reason", why)
				e.record(ctx, audit.Record{Action: ActionChange, Target: "campaign/" + id, Outcome: audit.OK,
					Details: map[string]string{"from": string(store.CampaignRunning), "to": string(store.CampaignStopped), "reason": why}})
			}
			read = time.Time{}
			continue
		}
		if c.Counts.Pending == 0 && c.Counts.Running == 0 {
			if !fresh {
				read = time.Time{} // judge completion on the store's counts, not this node's
				continue
			}
			err := e.st.ChangeCampaign(ctx, id, store.CampaignChange{From: store.CampaignRunning, To: store.CampaignCompleted,
				Reason: fmt.Sprintf("%d done, %d failed", c.Counts.Done, c.Counts.Failed), At: e.o.Now()})
			if err == nil {
				e.record(ctx, audit.Record{Action: ActionChange, Target: "campaign/" + id, Outcome: audit.OK,
					Details: map[string]string{"from": string(store.CampaignRunning), "to": string(store.CampaignCompleted)}})
			}
			read = time.Time{}
			continue
		}
		if free := c.Concurrency - running; free > 0 && c.Counts.Pending > 0 {
			items, err := e.st.ClaimItems(ctx, id, e.o.Node, c.Counts.PilotLeft > 0, free, e.o.Now())
			if err != nil && ctx.Err() == nil {
				e.o.Logger.Warn("claiming campaign items", "campaign", id, "err", err)
			}
			if len(items) == 0 {
				read = time.Time{} // what is left is another node's, or nothing
			}
			c.Counts.Pending -= len(items)
			c.Counts.Running += len(items)
			for _, it := range items {
				running++
				if it.Pilot {
					pilots[it.MeterID] = true
				}
				inflight.Add(1)
				cc := c
				go func() {
					defer inflight.Done()
					o, _ := e.runItem(ctx, cc, it.MeterID)
					done <- o
				}()
			}
		}
		take := func(o store.ItemOutcome) {
			running--
			if o.MeterID != "" {
				outs = append(outs, o)
			}
		}
		// Wait for a tick, or for half the slots to free: each turn
		// records a batch of outcomes and claims a batch of items, rather
		// than one at a time.
	wait:
		for running > 0 && (running > c.Concurrency/2 || c.Counts.Pending == 0) {
			select {
			case <-ctx.Done():
				break wait
			case o := <-done:
				take(o)
			case <-t.C:
				break wait
			}
		}
		if running == 0 && len(outs) == 0 && read.IsZero() {
			select { // nothing of this node's in flight: wait a tick before reading again
			case <-ctx.Done():
			case <-t.C:
			}
		}
		for drained := false; !drained; {
			select {
			case o := <-done:
				take(o)
			default:
				drained = true
			}
		}
		if ctx.Err() == nil {
			flush()
		}
	}
}

// overThreshold says why a campaign must stop, or "".
func (e *Engine) overThreshold(c Campaign) string {
	pilotFinished := c.Counts.PilotDone + c.Counts.PilotFailed
	if c.Pilot > 0 && c.Counts.PilotLeft == 0 && c.BaseDone+c.BaseFailed == 0 && pilotFinished > 0 &&
		float64(c.Counts.PilotFailed) > c.MaxFailureRate*float64(pilotFinished) {
		return fmt.Sprintf("pilot failed: %d of %d pilot meters failed, above the %.2f%% threshold", c.Counts.PilotFailed, pilotFinished, 100*c.MaxFailureRate)
	}
	failed := c.Counts.Failed - c.BaseFailed
	finished := c.Counts.Done - c.BaseDone + failed
	if finished >= c.MinFinished && finished > 0 && float64(failed) > c.MaxFailureRate*float64(finished) {
		return fmt.Sprintf("%d of %d meters failed, above the %.2f%% threshold", failed, finished, 100*c.MaxFailureRate)
	}
	return ""
}

// runItem runs one meter's step and says how it went; ok is false when
// the node is stopping, and the item stays running for this node to take
// back.
func (e *Engine) runItem(ctx context.Context, c Campaign, meterID string) (o store.ItemOutcome, ok bool) {
	step := e.o.Steps[c.Kind]
	sctx, cancel := context.WithTimeout(ctx, e.o.StepTimeout)
	defer cancel()
	result, err := func() (result string, err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("step panicked: %v", p)
			}
		}()
		return step(sctx, c, meterID)
	}()
	if ctx.Err() != nil {
		return o, false
	}
	o = store.ItemOutcome{MeterID: meterID, Status: store.ItemDone, Result: result}
	if err != nil {
		o.Status, o.Error = store.ItemFailed, err.Error()
	}
	return o, true
}
