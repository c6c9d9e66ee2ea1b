package sqldb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/amigo-ami/amigo/store"
)

const campaignCols = "id, name, kind, created_by, approved_by, status, reason, pilot, max_failure_rate, min_finished, concurrency, params, base_done, base_failed, created_us, updated_us"

const itemCols = "campaign_id, meter_id, seq, pilot, status, attempts, result, error, node, updated_us"

func init() {
	for k, v := range map[string]string{
		"insertCampaign": `INSERT INTO campaigns(` + campaignCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		"insertItem":     `INSERT INTO campaign_items(` + itemCols + `) VALUES (?, ?, ?, ?, ?, 0, '', '', '', ?)`,
		"getCampaign":    `SELECT ` + campaignCols + ` FROM campaigns WHERE id = ?`,
		"itemCounts":     `SELECT status, pilot, COUNT(*) FROM campaign_items WHERE campaign_id = ? GROUP BY status, pilot`,
		// The inner select may see an item another node is claiming; the
		// outer status test, checked again under the row's lock, lets only
		// one of them have it.
		"claimItems": `UPDATE campaign_items SET status = 'running', node = ?, attempts = attempts + 1, updated_us = ?
			WHERE campaign_id = ? AND status = 'pending' AND seq IN (
				SELECT seq FROM campaign_items WHERE campaign_id = ? AND status = 'pending' AND pilot >= ? ORDER BY seq LIMIT ?)
			RETURNING ` + itemCols,
		"finishItem": `UPDATE campaign_items SET status = ?, result = ?, error = ?, updated_us = ?
			WHERE campaign_id = ? AND meter_id = ? AND status = 'running'`,
	} {
		queries[k] = v
	}
}

// CreateCampaign implements store.Campaigns.
func (s *DB) CreateCampaign(ctx context.Context, c store.Campaign, meters []string) error {
	if c.ID == "" || c.Kind == "" || c.Status == "" {
		return errors.New("campaign: id, kind and status are required")
	}
	params, err := json.Marshal(c.Params)
	if err != nil {
		return fmt.Errorf("campaign %s: params: %w", c.ID, err)
	}
	at := c.CreatedAt.UnixMicro()
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q["insertCampaign"], c.ID, c.Name, c.Kind, c.CreatedBy, c.ApprovedBy, string(c.Status), c.Reason,
			c.Pilot, c.MaxFailureRate, c.MinFinished, c.Concurrency, string(params), 0, 0, at, at); err != nil {
			return fmt.Errorf("campaign %s: %w", c.ID, err)
		}
		st, err := s.txStmt(ctx, tx, s.q["insertItem"])
		if err != nil {
			return err
		}
		defer st.Close()
		for i, m := range meters {
			pilot := 0
			if i < c.Pilot {
				pilot = 1
			}
			if _, err := st.ExecContext(ctx, c.ID, m, i, pilot, string(store.ItemPending), at); err != nil {
				return fmt.Errorf("campaign %s: meter %s: %w", c.ID, m, err)
			}
		}
		return nil
	})
}

func scanCampaign(sc interface{ Scan(...any) error }) (store.Campaign, error) {
	var c store.Campaign
	var status, params string
	var created, updated int64
	if err := sc.Scan(&c.ID, &c.Name, &c.Kind, &c.CreatedBy, &c.ApprovedBy, &status, &c.Reason, &c.Pilot, &c.MaxFailureRate,
		&c.MinFinished, &c.Concurrency, &params, &c.BaseDone, &c.BaseFailed, &created, &updated); err != nil {
		return c, err
	}
	c.Status = store.CampaignStatus(status)
	c.CreatedAt, c.UpdatedAt = time.UnixMicro(created).UTC(), time.UnixMicro(updated).UTC()
	if params != "" && params != "null" {
		if err := json.Unmarshal([]byte(params), &c.Params); err != nil {
			return c, fmt.Errorf("campaign %s: params: %w", c.ID, err)
		}
	}
	return c, nil
}

// Campaign implements store.Campaigns.
func (s *DB) Campaign(ctx context.Context, id string) (store.Campaign, error) {
	c, err := scanCampaign(s.queryRow(ctx, s.q["getCampaign"], id))
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("campaign %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return c, err
	}
	type count struct {
		status string
		pilot  bool
		n      int
	}
	counts, err := queryAll(ctx, s, func(sc interface{ Scan(...any) error }) (count, error) {
		var k count
		var pilot int
		err := sc.Scan(&k.status, &pilot, &k.n)
		k.pilot = pilot != 0
		return k, err
	}, s.q["itemCounts"], id)
	if err != nil {
		return c, fmt.Errorf("campaign %s: counts: %w", id, err)
	}
	for _, k := range counts {
		switch store.ItemStatus(k.status) {
		case store.ItemPending:
			c.Counts.Pending += k.n
		case store.ItemRunning:
			c.Counts.Running += k.n
		case store.ItemDone:
			c.Counts.Done += k.n
		case store.ItemFailed:
			c.Counts.Failed += k.n
		}
		if !k.pilot {
			continue
		}
		switch store.ItemStatus(k.status) {
		case store.ItemDone:
			c.Counts.PilotDone += k.n
		case store.ItemFailed:
			c.Counts.PilotFailed += k.n
		default:
			c.Counts.PilotLeft += k.n
		}
	}
	return c, nil
}

// CampaignList implements store.Campaigns.
func (s *DB) CampaignList(ctx context.Context, status store.CampaignStatus, limit int) ([]store.Campaign, error) {
	if limit <= 0 {
		limit = 100
	}
	q, args := "SELECT "+campaignCols+" FROM campaigns", []any{}
	if status != "" {
		q += " WHERE status = ?"
		args = append(args, string(status))
	}
	return queryAll(ctx, s.db, scanCampaign, s.rebind(q+" ORDER BY created_us DESC, id LIMIT "+strconv.Itoa(limit)), args...)
}

// ChangeCampaign implements store.Campaigns.
func (s *DB) ChangeCampaign(ctx context.Context, id string, ch store.CampaignChange) error {
	if ch.To == "" {
		return errors.New("campaign change: the new status is required")
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		set, args := "status = ?, reason = ?, updated_us = ?", []any{string(ch.To), ch.Reason, ch.At.UnixMicro()}
		if ch.ApprovedBy != "" {
			set += ", approved_by = ?"
			args = append(args, ch.ApprovedBy)
		}
		if ch.MaxFailureRate > 0 {
			set += ", max_failure_rate = ?"
			args = append(args, ch.MaxFailureRate)
		}
		if ch.Rebase {
			set += `, base_done = (SELECT COUNT(*) FROM campaign_items WHERE campaign_id = ? AND status = 'done'),
				base_failed = (SELECT COUNT(*) FROM campaign_items WHERE campaign_id = ? AND status = 'failed')`
			args = append(args, id, id)
		}
		args = append(args, id, string(ch.From))
		res, err := tx.ExecContext(ctx, s.rebind("UPDATE campaigns SET "+set+" WHERE id = ? AND status = ?"), args...)
		if err != nil {
			return fmt.Errorf("campaign %s: %w", id, err)
		}
		if k, _ := res.RowsAffected(); k == 0 {
			var st string
			err := tx.QueryRowContext(ctx, s.rebind("SELECT status FROM campaigns WHERE id = ?"), id).Scan(&st)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("campaign %s: %w", id, store.ErrNotFound)
			}
			if err != nil {
				return err
			}
			return fmt.Errorf("campaign %s is %s, not %s: %w", id, st, ch.From, store.ErrConflict)
		}
		return nil
	})
}

func scanItem(sc interface{ Scan(...any) error }) (store.CampaignItem, error) {
	var it store.CampaignItem
	var status string
	var pilot int
	var updated int64
	err := sc.Scan(&it.CampaignID, &it.MeterID, &it.Seq, &pilot, &status, &it.Attempts, &it.Result, &it.Error, &it.Node, &updated)
	it.Pilot, it.Status, it.UpdatedAt = pilot != 0, store.ItemStatus(status), time.UnixMicro(updated).UTC()
	return it, err
}

// ClaimItems implements store.Campaigns.
func (s *DB) ClaimItems(ctx context.Context, id, node string, pilotOnly bool, n int, at time.Time) ([]store.CampaignItem, error) {
	if n <= 0 {
		return nil, nil
	}
	minPilot := 0
	if pilotOnly {
		minPilot = 1
	}
	var out []store.CampaignItem
	err := s.inTxRetry(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = queryAll(ctx, tx, scanItem, s.q["claimItems"], node, at.UnixMicro(), id, id, minPilot, n)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("campaign %s: claiming items: %w", id, err)
	}
	return out, nil
}

// FinishItems implements store.Campaigns.
func (s *DB) FinishItems(ctx context.Context, id string, outs []store.ItemOutcome, at time.Time) (int, error) {
	for _, o := range outs {
		if o.Status != store.ItemDone && o.Status != store.ItemFailed {
			return 0, fmt.Errorf("campaign %s: meter %s: an item finishes done or failed, not %q", id, o.MeterID, o.Status)
		}
	}
	n := 0
	err := s.inTxRetry(ctx, func(tx *sql.Tx) error {
		n = 0
		st, err := s.txStmt(ctx, tx, s.q["finishItem"])
		if err != nil {
			return err
		}
		defer st.Close()
		for _, o := range outs {
			res, err := st.ExecContext(ctx, string(o.Status), o.Result, o.Error, at.UnixMicro(), id, o.MeterID)
			if err != nil {
				return fmt.Errorf("meter %s: %w", o.MeterID, err)
			}
			k, _ := res.RowsAffected()
			n += int(k)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("campaign %s: recording outcomes: %w", id, err)
	}
	return n, nil
}

// RequeueItems implements store.Campaigns.
func (s *DB) RequeueItems(ctx context.Context, id, node string, before time.Time) (int, error) {
	q, args := "UPDATE campaign_items SET status = 'pending' WHERE campaign_id = ? AND status = 'running'", []any{id}
	switch {
	case node != "":
		q += " AND node = ?"
		args = append(args, node)
	case !before.IsZero():
		q += " AND updated_us < ?"
		args = append(args, before.UnixMicro())
	default:
		return 0, errors.New("campaign requeue: a node or a time is required")
	}
	res, err := s.db.ExecContext(ctx, s.rebind(q), args...)
	if err != nil {
		return 0, fmt.Errorf("campaign %s: requeue: %w", id, err)
	}
	k, _ := res.RowsAffected()
	return int(k), nil
}

// CampaignItems implements store.Campaigns.
func (s *DB) CampaignItems(ctx context.Context, id string, status store.ItemStatus, after, limit int) ([]store.CampaignItem, error) {
	if limit <= 0 {
		limit = 100
	}
	q, args := "SELECT "+itemCols+" FROM campaign_items WHERE campaign_id = ? AND seq > ?", []any{id, after}
	if status != "" {
		q += " AND status = ?"
		args = append(args, string(status))
	}
	return queryAll(ctx, s.db, scanItem, s.rebind(q+" ORDER BY seq LIMIT "+strconv.Itoa(limit)), args...)
}
