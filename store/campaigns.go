package store

import (
	"context"
	"time"
)

// CampaignStatus is where a campaign stands.
type CampaignStatus string

// Campaign lifecycle: awaiting-approval → running ⇄ paused; running →
// stopped (a failure threshold) → running (released); → completed or
// cancelled.
const (
	CampaignAwaitingApproval CampaignStatus = "awaiting-approval"
	CampaignRunning          CampaignStatus = "running"
	CampaignPaused           CampaignStatus = "paused"
	CampaignStopped          CampaignStatus = "stopped"
	CampaignCompleted        CampaignStatus = "completed"
	CampaignCancelled        CampaignStatus = "cancelled"
)

// ItemStatus is where one meter of a campaign stands.
type ItemStatus string

// Item lifecycle: pending → running → done | failed; a running item whose
// node stopped goes back to pending.
const (
	ItemPending ItemStatus = "pending"
	ItemRunning ItemStatus = "running"
	ItemDone    ItemStatus = "done"
	ItemFailed  ItemStatus = "failed"
)

// Campaign is one operation carried to many meters: a key rotation, a
// firmware update.
type Campaign struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Kind      string `json:"kind"`
	CreatedBy string `json:"createdBy"`
	// ApprovedBy is the second person who let it run.
	ApprovedBy string         `json:"approvedBy,omitempty"`
	Status     CampaignStatus `json:"status"`
	Reason     string         `json:"reason,omitempty"`
	// Pilot is how many meters, first in order, run before the rest.
	Pilot int `json:"pilot"`
	// MaxFailureRate stops the campaign when the share of failed items
	// among those finished since its start or last release exceeds it,
	// once MinFinished have finished.
	MaxFailureRate float64           `json:"maxFailureRate"`
	MinFinished    int               `json:"minFinished"`
	Concurrency    int               `json:"concurrency"`
	Params         map[string]string `json:"params,omitempty"`
	// BaseDone and BaseFailed are the counts at the last release: the
	// threshold judges what came after.
	BaseDone   int       `json:"baseDone"`
	BaseFailed int       `json:"baseFailed"`
	CreatedAt  time.Time `json:"createdDateTime"`
	UpdatedAt  time.Time `json:"updatedDateTime"`
	Counts     Counts    `json:"counts"`
}

// Counts are a campaign's items by status, and its pilot's.
type Counts struct {
	Pending     int `json:"pending"`
	Running     int `json:"running"`
	Done        int `json:"done"`
	Failed      int `json:"failed"`
	PilotDone   int `json:"pilotDone"`
	PilotFailed int `json:"pilotFailed"`
	PilotLeft   int `json:"pilotLeft"`
}

// CampaignItem is one meter of a campaign.
type CampaignItem struct {
	CampaignID string     `json:"campaign"`
	MeterID    string     `json:"meter"`
	Seq        int        `json:"seq"`
	Pilot      bool       `json:"pilot"`
	Status     ItemStatus `json:"status"`
	Attempts   int        `json:"attempts"`
	Result     string     `json:"result,omitempty"`
	Error      string     `json:"error,omitempty"`
	// Node is the node that claimed it last.
	Node      string    `json:"node,omitempty"`
	UpdatedAt time.Time `json:"updatedDateTime"`
}

// ItemOutcome is how one meter of a campaign finished.
type ItemOutcome struct {
	MeterID string
	// Status is ItemDone or ItemFailed.
	Status ItemStatus
	Result string
	Error  string
}

// CampaignChange is a campaign's move from one status to another; the
// other fields change when set.
type CampaignChange struct {
	From, To       CampaignStatus
	Reason         string
	ApprovedBy     string
	MaxFailureRate float64 // 0: unchanged
	// Rebase sets the threshold's base to the counts now.
	Rebase bool
	At     time.Time
}

// Campaigns keeps campaigns and their items.
type Campaigns interface {
	// CreateCampaign stores a campaign and one pending item per meter, in
	// the order given; the first c.Pilot are the pilot.
	CreateCampaign(ctx context.Context, c Campaign, meters []string) error
	// Campaign returns one campaign with its counts, or ErrNotFound.
	Campaign(ctx context.Context, id string) (Campaign, error)
	// CampaignList lists campaigns newest first, of one status when set.
	CampaignList(ctx context.Context, status CampaignStatus, limit int) ([]Campaign, error)
	// ChangeCampaign moves a campaign from ch.From to ch.To; ErrConflict
	// when it is not in ch.From.
	ChangeCampaign(ctx context.Context, id string, ch CampaignChange) error
	// ClaimItems moves up to n pending items, lowest seq first (pilot
	// items only when pilotOnly), to running for node, and returns them.
	// Two nodes never claim the same item.
	ClaimItems(ctx context.Context, id, node string, pilotOnly bool, n int, at time.Time) ([]CampaignItem, error)
	// FinishItems records running items' outcomes in one transaction and
	// returns how many were running; an item that was not is left as it
	// is.
	FinishItems(ctx context.Context, id string, outs []ItemOutcome, at time.Time) (int, error)
	// RequeueItems moves running items back to pending: those claimed by
	// node (when set), or those not updated since before (when not zero).
	RequeueItems(ctx context.Context, id, node string, before time.Time) (int, error)
	// CampaignItems lists items in seq order after seq `after`, of one
	// status when set.
	CampaignItems(ctx context.Context, id string, status ItemStatus, after, limit int) ([]CampaignItem, error)
}
