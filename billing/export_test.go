package billing_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"

	"github.com/amigo-ami/amigo/billing"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
)

func TestExport(t *testing.T) {
	st, _ := storetest.OpenSQLite(t)
	p := billing.Period{From: date(t, "2026-01-01"), To: date(t, "2026-01-04")}
	fleet(t, st, 3, p.From, p.To)
	if err := st.AssignTariff(ctx, store.TariffAssignment{UsagePointID: "up0002", TariffID: "default-tou", From: p.From}); err != nil {
		t.Fatal(err)
	}
	r := &billing.Runner{Store: st}
	run, err := r.Run(ctx, "g", p)
	if err != nil {
		t.Fatal(err)
	}
	q := store.BillQuery{RunID: run.ID, Limit: 2} // pages of two
	var lines bytes.Buffer
	if err := billing.Export(ctx, st, q, billing.ExportLines, &lines); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&lines).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows[0], ",") != strings.Join(billing.LineColumns, ",") {
		t.Fatalf("header %v", rows[0])
	}
	// Each bill's lines add up to its total.
	sums := map[string]int64{}
	totals := map[string]string{}
	for _, row := range rows[1:] {
		var amount int64
		json.Unmarshal([]byte(row[16]), &amount)
		sums[row[3]] += amount
		totals[row[3]] = row[21]
	}
	if len(sums) != 3 || totals["acc0001"] != "727" || sums["acc0001"] != 727 {
		t.Fatalf("sums %v totals %v", sums, totals)
	}
	var dets bytes.Buffer
	if err := billing.Export(ctx, st, q, billing.ExportDeterminants, &dets); err != nil {
		t.Fatal(err)
	}
	drows, err := csv.NewReader(&dets).ReadAll()
	if err != nil || len(drows) < 4 || drows[1][7] == "" || len(drows[1]) != len(billing.DeterminantColumns) {
		t.Fatalf("determinants %v, %v", drows, err)
	}
	var js bytes.Buffer
	if err := billing.Export(ctx, st, q, billing.ExportJSON, &js); err != nil {
		t.Fatal(err)
	}
	var bills []billing.ExportedBill
	if err := json.Unmarshal(js.Bytes(), &bills); err != nil || len(bills) != 3 || bills[2].AccountID != "acc0002" ||
		len(bills[2].Lines) == 0 || bills[2].Sequence != 1 || bills[2].ID == 0 {
		t.Fatalf("json %+v, %v", bills, err)
	}
	if err := billing.Export(ctx, st, q, "xml", &js); err == nil {
		t.Fatal("accepted format xml")
	}
}
