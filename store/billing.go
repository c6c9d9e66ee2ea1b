package store

import (
	"context"
	"time"

	"github.com/amigo-ami/amigo/cim"
)

// Tariffs keeps tariffs as a utility files them: each id has versions,
// each in force from a local date, and usage points are assigned a tariff
// from a date. The store keeps a version's document as the tariff package
// encodes it and never parses it.
type Tariffs interface {
	// PutTariffVersion stores a version. Storing the same document again
	// changes nothing; another document under a stored (id, version) is
	// ErrConflict, since a bill may already have used it.
	PutTariffVersion(ctx context.Context, v TariffVersion) error
	// TariffVersions lists a tariff's versions, oldest version first.
	TariffVersions(ctx context.Context, id string) ([]TariffVersion, error)
	// AssignTariff assigns a tariff to a usage point from a date; an
	// assignment of the same usage point and date is replaced.
	AssignTariff(ctx context.Context, a TariffAssignment) error
	// TariffAssignments lists, for each usage point, its assignments,
	// oldest first: out[i] is usagePoints[i]'s.
	TariffAssignments(ctx context.Context, usagePoints []string) ([][]TariffAssignment, error)
	// UsagePointsOnTariff lists, in id order, the usage points on a
	// tariff on a date: their latest assignment from that date or before
	// names it, or they have none by then and are registered on it
	// (cim.UsagePoint.TariffID).
	UsagePointsOnTariff(ctx context.Context, tariffID string, on cim.Date) ([]string, error)
}

// TariffVersion is one version of a tariff.
type TariffVersion struct {
	ID            string    `json:"id"`
	Version       int       `json:"version"`
	EffectiveFrom cim.Date  `json:"effectiveFrom"`
	Document      []byte    `json:"-"`
	CreatedAt     time.Time `json:"createdAt"`
}

// TariffAssignment puts a usage point on a tariff from a local date.
type TariffAssignment struct {
	UsagePointID string   `json:"usagePoint"`
	TariffID     string   `json:"tariffId"`
	From         cim.Date `json:"from"`
}

// Accounts is the customer accounts bills are made out to: one usage
// point each, in an account group billed together on a cycle day.
type Accounts interface {
	// PutAccounts inserts or updates accounts by id, in one transaction.
	PutAccounts(ctx context.Context, as ...Account) error
	// Account returns one account, or ErrNotFound.
	Account(ctx context.Context, id string) (Account, error)
	// Accounts lists accounts in id order after q.After (keyset paging).
	Accounts(ctx context.Context, q AccountQuery) ([]Account, error)
	// BillingPoints returns, for each usage point found, what a bill
	// needs of it: the usage point and its electricity meter (the lowest
	// mRID of the meters installed there that are no sub-meter and measure
	// electricity; "" when it has none). A batch of accounts reads its
	// usage points in one query, not one each.
	BillingPoints(ctx context.Context, usagePoints []string) (map[string]BillingPoint, error)
}

// BillingPoint is a usage point with its electricity meter.
type BillingPoint struct {
	UsagePoint cim.UsagePoint
	MeterID    string
	// Region is the meter's region.
	Region string
}

// Account is one customer account.
type Account struct {
	ID           string `json:"id"`
	UsagePointID string `json:"usagePoint"`
	Group        string `json:"group"`
	// CycleDay is the day of the month a billing period ends on (1..28).
	CycleDay int `json:"cycleDay"`
}

// AccountQuery filters and pages an account listing. Empty fields match
// all.
type AccountQuery struct {
	Group        string
	UsagePointID string
	After        string
	// Limit caps the result; zero means 100.
	Limit int
}

// PriceFeeds keeps imported hourly prices, per feed, and the critical-peak
// events declared per tariff.
type PriceFeeds interface {
	// PutPrices stores hourly prices of a feed; a price of an hour already
	// stored replaces it (a corrected feed). It returns how many it stored.
	PutPrices(ctx context.Context, ps []HourPrice) (int, error)
	// Prices lists a feed's prices of the hours starting in [from, to),
	// oldest first.
	Prices(ctx context.Context, feed string, from, to time.Time) ([]HourPrice, error)
	// PutCriticalPeaks stores critical-peak events; one of the same tariff
	// and start replaces it.
	PutCriticalPeaks(ctx context.Context, es []CriticalPeakEvent) error
	// CriticalPeaks lists a tariff's events overlapping [from, to), oldest
	// first.
	CriticalPeaks(ctx context.Context, tariffID string, from, to time.Time) ([]CriticalPeakEvent, error)
}

// HourPrice is one hour's price of a feed, in millionths of the currency
// unit per kWh.
type HourPrice struct {
	Feed  string    `json:"feed"`
	At    time.Time `json:"at"`
	Price int64     `json:"price"`
}

// CriticalPeakEvent is a tariff's critical-peak event hours.
type CriticalPeakEvent struct {
	TariffID   string    `json:"tariffId"`
	Start, End time.Time `json:"-"`
}

// Bill run statuses.
const (
	RunRunning  = "running"
	RunFinished = "finished"
	RunFailed   = "failed"
)

// BillRuns keeps bill runs and the bills they made. A bill is unique per
// account, period and sequence: sequence 1 is the first bill, each rebill
// supersedes the one before with the next sequence.
type BillRuns interface {
	// StartBillRun creates the run of a group and period, or returns the
	// one that exists (and false), so that starting again resumes it.
	StartBillRun(ctx context.Context, r BillRun) (BillRun, bool, error)
	// BillRun returns one run, or ErrNotFound.
	BillRun(ctx context.Context, id int64) (BillRun, error)
	// BillRuns lists runs, newest first.
	BillRuns(ctx context.Context, group string, limit int) ([]BillRun, error)
	// CommitBillBatch stores a batch's bills and moves the run's cursor
	// and counts in one transaction: a run killed at any point resumes
	// after the last batch committed. A bill whose account and period
	// are billed already is skipped (and not counted as billed). It
	// returns the run as it now stands.
	CommitBillBatch(ctx context.Context, b BillBatch) (BillRun, error)
	// FinishBillRun sets a run's status and finish time.
	FinishBillRun(ctx context.Context, id int64, status, errText string, at time.Time) error
	// BilledAccounts returns which of the accounts have a bill of the
	// period [from, to).
	BilledAccounts(ctx context.Context, accounts []string, from, to cim.Date) (map[string]bool, error)
	// Bill returns one bill by id, or ErrNotFound.
	Bill(ctx context.Context, id int64) (BillRecord, error)
	// Bills lists bills in id order after q.After.
	Bills(ctx context.Context, q BillQuery) ([]BillRecord, error)
	// LastBills returns, for each account, its latest bill (highest
	// sequence) of the latest period ending on or before before: what its
	// next bill carries credit in from. An account never billed is absent.
	LastBills(ctx context.Context, accounts []string, before cim.Date) (map[string]BillRecord, error)
	// PeakDemands returns, for each account, the highest demand (PeakW)
	// of its latest bills of the periods ending in (since, before]: the
	// reference demand of a ratchet over the months before a period.
	PeakDemands(ctx context.Context, accounts []string, since, before cim.Date) (map[string]int64, error)
	// SupersedeBill stores b as the next sequence of the bill old: the
	// old must still be the latest of its account and period, or it is
	// ErrConflict. It returns b as stored.
	SupersedeBill(ctx context.Context, old int64, b BillRecord) (BillRecord, error)
}

// BillRun is one run of a group's cycle over a period.
type BillRun struct {
	ID    int64    `json:"id"`
	Group string   `json:"group"`
	From  cim.Date `json:"from"`
	To    cim.Date `json:"to"`
	// Status is RunRunning, RunFinished or RunFailed.
	Status string `json:"status"`
	// Cursor is the last account id of the last committed batch.
	Cursor string `json:"cursor"`
	// Billed counts bills stored, Skipped accounts billed before, Held and
	// Flagged the stored bills of those statuses, Failed accounts that
	// could not be billed.
	Billed   int       `json:"billed"`
	Skipped  int       `json:"skipped"`
	Held     int       `json:"held"`
	Flagged  int       `json:"flagged"`
	Failed   int       `json:"failed"`
	Error    string    `json:"error,omitempty"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished,omitzero"`
}

// BillBatch is what one batch of a run commits.
type BillBatch struct {
	RunID  int64
	Cursor string
	Bills  []BillRecord
	// Skipped and Failed add to the run's counts.
	Skipped, Failed int
}

// BillRecord is a bill as stored. Document is the bill as the billing
// package encodes it (lines, determinants, data versions); the columns
// beside it are what listings and the next period need.
type BillRecord struct {
	ID           int64    `json:"id"`
	RunID        int64    `json:"run,omitempty"`
	AccountID    string   `json:"account"`
	UsagePointID string   `json:"usagePoint"`
	From         cim.Date `json:"from"`
	To           cim.Date `json:"to"`
	Sequence     int      `json:"sequence"`
	Status       string   `json:"status"`
	Currency     string   `json:"currency"`
	Total        int64    `json:"total"`
	CarryOut     int64    `json:"carryOut"`
	// PeakW is the bill's highest demand, which later bills' ratchets
	// look back at.
	PeakW    int64  `json:"peakW"`
	Document []byte `json:"-"`
	// Supersedes is the id of the bill this one replaces (0: none), Reason
	// why, and Adjustment the difference as the billing package encodes
	// it.
	Supersedes int64     `json:"supersedes,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	Adjustment []byte    `json:"-"`
	CreatedAt  time.Time `json:"createdAt"`
}

// BillQuery filters and pages a bill listing. Empty fields match all.
type BillQuery struct {
	AccountID    string
	UsagePointID string
	RunID        int64
	// From and To select the bills of that period, when set.
	From, To cim.Date
	// LatestOnly keeps only the latest sequence of each account and
	// period.
	LatestOnly bool
	After      int64
	// Limit caps the result; zero means 100.
	Limit int
}
