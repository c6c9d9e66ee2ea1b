package billing

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/amigo-ami/amigo/store"
)

// Export formats for a customer information system (docs/billing-runs.md
// lists their columns).
const (
	// ExportLines is CSV, one row per charge of each bill.
	ExportLines = "lines"
	// ExportDeterminants is CSV, one row per determinant of each bill.
	ExportDeterminants = "determinants"
	// ExportJSON is a JSON array of bills, each with its lines and
	// determinants.
	ExportJSON = "json"
)

// LineColumns and DeterminantColumns head the CSV exports.
var (
	LineColumns = []string{"bill_id", "sequence", "supersedes", "account", "usage_point", "period_from", "period_to", "status",
		"currency", "line", "code", "description", "quantity", "unit", "rate", "rate_unit", "amount", "rounding", "tariff",
		"from", "to", "bill_total"}
	DeterminantColumns = []string{"bill_id", "sequence", "account", "usage_point", "period_from", "period_to", "name", "kind",
		"channel", "bucket", "tier", "from", "to", "value", "unit", "at", "intervals", "estimated", "edited", "missing"}
)

// ExportedBill is a bill as the JSON export writes it: the stored bill's
// identity and history around the computed bill.
type ExportedBill struct {
	ID         int64  `json:"id"`
	Sequence   int    `json:"sequence"`
	Supersedes int64  `json:"supersedes,omitempty"`
	Reason     string `json:"reason,omitempty"`
	Bill
}

// BillLister pages through stored bills.
type BillLister interface {
	Bills(ctx context.Context, q store.BillQuery) ([]store.BillRecord, error)
}

// Export writes the bills q selects (every page of them) in format.
func Export(ctx context.Context, st BillLister, q store.BillQuery, format string, w io.Writer) error {
	var write func(store.BillRecord, Bill) error
	var end func() error
	switch format {
	case ExportLines, ExportDeterminants:
		cw := csv.NewWriter(w)
		cols, rows := LineColumns, lineRows
		if format == ExportDeterminants {
			cols, rows = DeterminantColumns, determinantRows
		}
		if err := cw.Write(cols); err != nil {
			return err
		}
		write = func(rec store.BillRecord, b Bill) error {
			for _, row := range rows(rec, b) {
				if err := cw.Write(row); err != nil {
					return err
				}
			}
			return nil
		}
		end = func() error { cw.Flush(); return cw.Error() }
	case ExportJSON:
		if _, err := io.WriteString(w, "["); err != nil {
			return err
		}
		enc := json.NewEncoder(w)
		first := true
		write = func(rec store.BillRecord, b Bill) error {
			if !first {
				if _, err := io.WriteString(w, ","); err != nil {
					return err
				}
			}
			first = false
			return enc.Encode(ExportedBill{ID: rec.ID, Sequence: rec.Sequence, Supersedes: rec.Supersedes, Reason: rec.Reason, Bill: b})
		}
		end = func() error { _, err := io.WriteString(w, "]\n"); return err }
	default:
		return fmt.Errorf("billing: export format %q, want %s, %s or %s", format, ExportLines, ExportDeterminants, ExportJSON)
	}
	if q.Limit <= 0 {
		q.Limit = 500
	}
	for {
		page, err := st.Bills(ctx, q)
		if err != nil {
			return fmt.Errorf("billing: export: %w", err)
		}
		if len(page) == 0 {
			return end()
		}
		for _, rec := range page {
			b, err := DecodeBill(rec)
			if err != nil {
				return fmt.Errorf("billing: export: %w", err)
			}
			if err := write(rec, b); err != nil {
				return fmt.Errorf("billing: export of bill %d: %w", rec.ID, err)
			}
		}
		q.After = page[len(page)-1].ID
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func lineRows(rec store.BillRecord, b Bill) [][]string {
	out := make([][]string, 0, len(b.Lines))
	for i, l := range b.Lines {
		out = append(out, []string{itoa(rec.ID), strconv.Itoa(rec.Sequence), itoa(rec.Supersedes), rec.AccountID, rec.UsagePointID,
			rec.From.String(), rec.To.String(), b.Status, b.Currency, strconv.Itoa(i + 1), l.Code, l.Description, itoa(l.Quantity),
			l.Unit, itoa(l.Rate), l.RateUnit, itoa(l.Amount), l.Rounding, l.Tariff, dateText(l.From.IsZero(), l.From.String()),
			dateText(l.To.IsZero(), l.To.String()), itoa(b.Total)})
	}
	return out
}

func determinantRows(rec store.BillRecord, b Bill) [][]string {
	out := make([][]string, 0, len(b.Determinants))
	for _, d := range b.Determinants {
		at := ""
		if !d.At.IsZero() {
			at = d.At.UTC().Format(time.RFC3339)
		}
		tier := ""
		if d.Tier != 0 {
			tier = strconv.Itoa(d.Tier)
		}
		out = append(out, []string{itoa(rec.ID), strconv.Itoa(rec.Sequence), rec.AccountID, rec.UsagePointID, rec.From.String(),
			rec.To.String(), d.Name, d.Kind, d.Channel, d.Bucket, tier, dateText(d.From.IsZero(), d.From.String()),
			dateText(d.To.IsZero(), d.To.String()), itoa(d.Value), d.Unit, at, strconv.Itoa(d.Intervals), strconv.Itoa(d.Estimated),
			strconv.Itoa(d.Edited), strconv.Itoa(d.Missing)})
	}
	return out
}

func dateText(zero bool, s string) string {
	if zero {
		return ""
	}
	return s
}
