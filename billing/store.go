package billing

import (
	"context"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/mdm"
	"github.com/amigo-ami/amigo/store"
)

// RunStore is what bill runs and rebills read and write: accounts and
// their usage points, tariffs, price feeds, the latest days, and the runs
// and bills themselves.
type RunStore interface {
	Accounts(ctx context.Context, q store.AccountQuery) ([]store.Account, error)
	BillingPoints(ctx context.Context, usagePoints []string) (map[string]store.BillingPoint, error)
	TariffVersions(ctx context.Context, id string) ([]store.TariffVersion, error)
	TariffAssignments(ctx context.Context, usagePoints []string) ([][]store.TariffAssignment, error)
	Prices(ctx context.Context, feed string, from, to time.Time) ([]store.HourPrice, error)
	CriticalPeaks(ctx context.Context, tariffID string, from, to time.Time) ([]store.CriticalPeakEvent, error)
	DaysOfMeters(ctx context.Context, ranges []store.DayRange) ([][]interval.Day, error)
	store.BillRuns
}

// Estimator fills the missing intervals of stored days before they are
// billed, under the missing-data policy "estimate"; mdm.Estimates is one.
type Estimator interface {
	Run(ctx context.Context, meterID, channel string, from, to cim.Date, estimate bool) (mdm.VEEReport, error)
}
