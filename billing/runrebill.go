package billing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/store"
)

// RebillReport is what a pass of Rebill did.
type RebillReport struct {
	// Checked counts the latest bills looked at, Rebilled those superseded
	// by a new sequence, Failed those that could not be recomputed.
	Checked  int `json:"checked"`
	Rebilled int `json:"rebilled"`
	Failed   int `json:"failed"`
	// Bills are the new bills' ids.
	Bills []int64 `json:"bills,omitempty"`
	// Errors name the bills that failed, a few at most.
	Errors []string `json:"errors,omitempty"`
}

// Rebill finds the latest bills q selects whose days are no longer the
// latest versions (an edit, a late actual, an estimate replaced, a day
// that arrived after the bill), recomputes them and stores each as the
// next sequence, superseding the old with the adjustment and the reason:
// which days changed, and how.
func (r *Runner) Rebill(ctx context.Context, q store.BillQuery) (RebillReport, error) {
	var rep RebillReport
	q.LatestOnly = true
	if q.Limit <= 0 {
		q.Limit = r.BatchSize
		if q.Limit <= 0 {
			q.Limit = 500
		}
	}
	made := map[int64]bool{} // this pass's new bills, met again further on
	for {
		all, err := r.Store.Bills(ctx, q)
		if err != nil {
			return rep, fmt.Errorf("billing: rebill: %w", err)
		}
		if len(all) == 0 {
			return rep, nil
		}
		q.After = all[len(all)-1].ID
		page := all[:0:0]
		for _, b := range all {
			if !made[b.ID] {
				page = append(page, b)
			}
		}
		// A page may mix periods; each period is prepared as a batch.
		byPeriod := map[Period][]store.BillRecord{}
		var order []Period
		for _, b := range page {
			p := Period{From: b.From, To: b.To}
			if _, ok := byPeriod[p]; !ok {
				order = append(order, p)
			}
			byPeriod[p] = append(byPeriod[p], b)
		}
		for _, p := range order {
			n := len(rep.Bills)
			if err := r.rebillPeriod(ctx, p, byPeriod[p], &rep); err != nil {
				return rep, err
			}
			for _, id := range rep.Bills[n:] {
				made[id] = true
			}
		}
	}
}

func (r *Runner) rebillPeriod(ctx context.Context, p Period, recs []store.BillRecord, rep *RebillReport) error {
	accts := make([]store.Account, len(recs))
	olds := make([]Bill, len(recs))
	for i, rec := range recs {
		accts[i] = store.Account{ID: rec.AccountID, UsagePointID: rec.UsagePointID}
		b, err := DecodeBill(rec)
		if err != nil {
			return fmt.Errorf("billing: rebill: %w", err)
		}
		olds[i] = b
	}
	jobs, err := r.prepare(ctx, r.newCache(p), accts, p)
	if err != nil {
		return fmt.Errorf("billing: rebill of %s to %s: %w", p.From, p.To, err)
	}
	rep.Checked += len(recs)
	var stale []job
	var idx []int
	for i := range jobs {
		if jobs[i].err != nil {
			rep.fail(jobs[i].err)
			continue
		}
		if changed := changes(olds[i], jobs[i].in); len(changed) > 0 {
			stale = append(stale, jobs[i])
			idx = append(idx, i)
		}
	}
	r.compute(stale, false)
	for k, j := range stale {
		i := idx[k]
		if j.err != nil {
			rep.fail(j.err)
			continue
		}
		reason := reasonOf(changes(olds[i], j.in), j.in)
		adj := Rebill(olds[i], j.bill, reason)
		rec, err := record(j.acct, j.bill)
		if err != nil {
			return err
		}
		rec.Reason = reason
		if rec.Adjustment, err = json.Marshal(adj); err != nil {
			return fmt.Errorf("billing: rebill of bill %d: %w", recs[i].ID, err)
		}
		nb, err := r.Store.SupersedeBill(ctx, recs[i].ID, rec)
		if errors.Is(err, store.ErrConflict) {
			continue // another pass superseded it first
		}
		if err != nil {
			return fmt.Errorf("billing: %w", err)
		}
		rep.Rebilled++
		rep.Bills = append(rep.Bills, nb.ID)
	}
	return nil
}

func (rep *RebillReport) fail(err error) {
	rep.Failed++
	if len(rep.Errors) < 10 {
		rep.Errors = append(rep.Errors, err.Error())
	}
}

type dayKey struct {
	meter, channel, date string
}

// changes lists the days whose version differs between what a bill used
// and what is stored now.
func changes(old Bill, in Input) []VersionChange {
	used := map[dayKey]int{}
	for _, v := range old.DataVersions {
		used[dayKey{v.MeterID, v.Channel, v.Date.String()}] = v.Version
	}
	var out []VersionChange
	for _, days := range [][]interval.Day{in.Import, in.Export} {
		for _, d := range days {
			k := dayKey{d.MeterID, d.Channel, d.Date.String()}
			if was, ok := used[k]; !ok || was != d.Version {
				out = append(out, VersionChange{MeterID: d.MeterID, Channel: d.Channel, Date: d.Date, Old: was, New: d.Version})
			}
			delete(used, k)
		}
	}
	// A day the bill used that is gone from the store is a change too.
	for k, v := range used {
		var c VersionChange
		c.MeterID, c.Channel, c.Old = k.meter, k.channel, v
		for _, ov := range old.DataVersions {
			if ov.MeterID == k.meter && ov.Channel == k.channel && ov.Date.String() == k.date {
				c.Date = ov.Date
			}
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Channel != out[j].Channel {
			return out[i].Channel < out[j].Channel
		}
		return dateLess(out[i].Date, out[j].Date)
	})
	return out
}

// reasonOf says which days changed and how: "A+15m 2026-01-05 v1→v2:
// edit by alice (meter swap)", a late actual, an estimate.
func reasonOf(cs []VersionChange, in Input) string {
	days := map[dayKey]interval.Day{}
	for _, ds := range [][]interval.Day{in.Import, in.Export} {
		for _, d := range ds {
			days[dayKey{d.MeterID, d.Channel, d.Date.String()}] = d
		}
	}
	parts := make([]string, 0, len(cs))
	for _, c := range cs {
		d, ok := days[dayKey{c.MeterID, c.Channel, c.Date.String()}]
		var how string
		switch {
		case !ok:
			how = "day no longer stored"
		case d.Source == interval.SourceEdit:
			how = "edit by " + d.User
			if d.Reason != "" {
				how += " (" + d.Reason + ")"
			}
		case d.Source == interval.SourceEstimate:
			how = "estimate"
			if d.Reason != "" {
				how += " (" + d.Reason + ")"
			}
		case c.Old == 0:
			how = "late actual, day not billed before"
		default:
			how = "late actual"
		}
		parts = append(parts, fmt.Sprintf("%s %s v%d→v%d: %s", c.Channel, c.Date, c.Old, c.New, how))
	}
	return strings.Join(parts, "; ")
}
