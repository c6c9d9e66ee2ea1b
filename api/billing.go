package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/amigo-ami/amigo/audit"
	"github.com/amigo-ami/amigo/auth"
	"github.com/amigo-ami/amigo/billing"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/tariff"
)

// billingRoutes are the tariffs, accounts, price feeds, bill runs and
// bills.
func (a *API) billingRoutes(page []param) []route {
	billQuery := append([]param{{name: "account", typ: "string"}, {name: "run", typ: "integer"},
		{name: "from", typ: "date", doc: "the bills of the period starting that day"}, {name: "to", typ: "date", doc: "the bills of the period ending that day"},
		{name: "latest", typ: "boolean", doc: "true: only the latest sequence of each bill"}, {name: "after", typ: "integer", doc: "the next cursor of the page before"}}, page...)
	return []route{
		{method: "PUT", path: "/api/v1/tariffs/{id}/versions/{version}", perm: auth.Configure, tag: "billing", summary: "File a tariff version (the tariff document, YAML or JSON); the same document again changes nothing, another under a filed version is 409",
			body: "Object", resp: "TariffVersion", h: a.putTariffVersion},
		{method: "GET", path: "/api/v1/tariffs/{id}/versions", perm: auth.ReadFleet, tag: "billing", summary: "A tariff's versions, oldest first", resp: "TariffVersionList", h: a.listTariffVersions},
		{method: "POST", path: "/api/v1/tariffs/{id}/critical-peaks", perm: auth.Configure, tag: "billing", summary: "Declare critical-peak event hours of a tariff",
			body: "CriticalPeakRequest", resp: "CriticalPeakList", h: a.putCriticalPeaks},
		{method: "GET", path: "/api/v1/tariffs/{id}/critical-peaks", perm: auth.ReadFleet, tag: "billing", summary: "A tariff's critical-peak events in [from, to)",
			query: []param{{name: "from", typ: "date", required: true}, {name: "to", typ: "date", required: true}}, resp: "CriticalPeakList", h: a.listCriticalPeaks},
		{method: "POST", path: "/api/v1/price-feeds/{id}", perm: auth.Configure, tag: "billing", summary: "Import hourly prices of a dynamic price feed (CSV body: time,price in millionths per kWh); a bad line refuses the whole feed",
			respType: "text/csv", resp: "PriceImport", h: a.importPrices},
		{method: "PUT", path: "/api/v1/usage-points/{id}/tariff-assignments", perm: auth.Configure, tag: "billing", summary: "Put a usage point on a tariff from a date",
			body: "TariffAssignmentRequest", resp: "TariffAssignmentList", h: a.assignTariff},
		{method: "GET", path: "/api/v1/usage-points/{id}/tariff-assignments", perm: auth.ReadFleet, tag: "billing", summary: "A usage point's dated tariff assignments, oldest first", resp: "TariffAssignmentList", h: a.listAssignments},
		{method: "PUT", path: "/api/v1/accounts/{id}", perm: auth.Configure, tag: "billing", summary: "Create or update an account", body: "Account", resp: "Account", h: a.putAccount},
		{method: "POST", path: "/api/v1/accounts", perm: auth.Configure, tag: "billing", summary: "Import accounts (CSV body: id,usage_point,group,cycle_day); a bad line refuses the whole file",
			respType: "text/csv", resp: "AccountImport", h: a.importAccounts},
		{method: "GET", path: "/api/v1/accounts", perm: auth.ReadFleet, tag: "billing", summary: "List accounts in id order",
			query: append([]param{{name: "group", typ: "string"}, {name: "after", typ: "string", doc: "cursor: the next value of the previous page"}}, page...), resp: "AccountPage", h: a.listAccounts},
		{method: "POST", path: "/api/v1/bill-runs", perm: auth.Command, tag: "billing", summary: "Start or resume the bill run of a group and period (a period, or a cycle day as of a date); it runs on in the background",
			body: "BillRunRequest", status: 202, resp: "BillRun", h: a.startBillRun},
		{method: "GET", path: "/api/v1/bill-runs", perm: auth.ReadData, tag: "billing", summary: "Bill runs, newest first", query: append([]param{{name: "group", typ: "string"}}, page...), resp: "BillRunList", h: a.listBillRuns},
		{method: "GET", path: "/api/v1/bill-runs/{id}", perm: auth.ReadData, tag: "billing", summary: "A bill run's status and counts", resp: "BillRun", h: a.getBillRun},
		{method: "POST", path: "/api/v1/rebills", perm: auth.Command, tag: "billing", summary: "Rebill the latest bills (of a run, an account or a period) whose days changed since",
			body: "RebillRequest", resp: "RebillReport", h: a.rebill},
		{method: "GET", path: "/api/v1/bills", perm: auth.ReadData, tag: "billing", summary: "List bills in id order", query: billQuery, resp: "BillPage", h: a.listBills},
		{method: "GET", path: "/api/v1/bills/{id}", perm: auth.ReadData, tag: "billing", summary: "One bill with its lines, determinants, data versions and adjustment", resp: "Bill", h: a.getBill},
		{method: "GET", path: "/api/v1/usage-points/{id}/bills", perm: auth.ReadData, scope: scopeUsagePoint, tag: "portal", summary: "The usage point's bills, newest period first, each with its lines", query: page, resp: "BillPage", h: a.usagePointBills},
		{method: "GET", path: "/api/v1/bill-export", perm: auth.ReadData, tag: "billing", summary: "Export bills for a CIS: format lines (CSV, a row per charge), determinants (CSV) or json",
			query:    append([]param{{name: "format", typ: "string", required: true, doc: "lines, determinants or json"}}, billQuery[:len(billQuery)-2]...),
			respType: "text/csv", h: a.exportBills, audit: audit.Export},
	}
}

func (a *API) runner() *billing.Runner {
	if a.d.Billing != nil {
		return a.d.Billing
	}
	return &billing.Runner{Store: a.d.Store}
}

type tariffVersionOut struct {
	ID            string        `json:"id"`
	Version       int           `json:"version"`
	EffectiveFrom cim.Date      `json:"effectiveFrom"`
	CreatedAt     time.Time     `json:"createdAt"`
	Tariff        tariff.Tariff `json:"tariff"`
}

func (a *API) putTariffVersion(w http.ResponseWriter, r *http.Request) {
	if !knownParams(w, r.URL.Query()) {
		return
	}
	id := r.PathValue("id")
	v, err := strconv.Atoi(r.PathValue("version"))
	if err != nil || v < 1 {
		Error(w, http.StatusBadRequest, "bad_query", "the version must be an integer of 1 or more")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.d.MaxBodyBytes))
	if err != nil {
		Error(w, http.StatusRequestEntityTooLarge, "too_large", err.Error())
		return
	}
	t, err := tariff.ParseTariff(body)
	if err != nil {
		Error(w, http.StatusBadRequest, "bad_body", err.Error())
		return
	}
	if t.ID != "" && t.ID != id || t.Version != 0 && t.Version != v {
		Error(w, http.StatusBadRequest, "bad_body", fmt.Sprintf("the document is tariff %s version %d, the path %s version %d", t.ID, t.Version, id, v))
		return
	}
	t.ID, t.Version = id, v
	sv, err := billing.StoredTariff(t)
	if err != nil {
		Error(w, http.StatusBadRequest, "bad_body", err.Error())
		return
	}
	err = a.d.Store.PutTariffVersion(r.Context(), sv)
	if errors.Is(err, store.ErrConflict) {
		Error(w, http.StatusConflict, "conflict", err.Error())
		return
	}
	if err != nil {
		a.internal(w, r, err)
		return
	}
	JSON(w, tariffVersionOut{ID: id, Version: v, EffectiveFrom: t.EffectiveFrom, CreatedAt: time.Now().UTC(), Tariff: t})
}

func (a *API) listTariffVersions(w http.ResponseWriter, r *http.Request) {
	if !knownParams(w, r.URL.Query()) {
		return
	}
	vs, err := a.d.Store.TariffVersions(r.Context(), r.PathValue("id"))
	if err != nil {
		a.internal(w, r, err)
		return
	}
	out := make([]tariffVersionOut, 0, len(vs))
	for _, v := range vs {
		t, err := tariff.ParseTariff(v.Document)
		if err != nil {
			a.internal(w, r, fmt.Errorf("tariff %s version %d: %w", v.ID, v.Version, err))
			return
		}
		out = append(out, tariffVersionOut{ID: v.ID, Version: v.Version, EffectiveFrom: v.EffectiveFrom, CreatedAt: v.CreatedAt, Tariff: t})
	}
	JSON(w, struct {
		Items []tariffVersionOut `json:"items"`
	}{out})
}

type criticalPeakIO struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

func (a *API) putCriticalPeaks(w http.ResponseWriter, r *http.Request) {
	if !knownParams(w, r.URL.Query()) {
		return
	}
	var req struct {
		Events []criticalPeakIO `json:"events"`
	}
	if !a.decode(w, r, &req) || !checkCount(w, "events", len(req.Events), 1000) {
		return
	}
	id := r.PathValue("id")
	es := make([]store.CriticalPeakEvent, len(req.Events))
	for i, e := range req.Events {
		es[i] = store.CriticalPeakEvent{TariffID: id, Start: e.Start, End: e.End}
	}
	if err := a.d.Store.PutCriticalPeaks(r.Context(), es); err != nil {
		Error(w, http.StatusBadRequest, "bad_body", err.Error())
		return
	}
	JSON(w, struct {
		Items []criticalPeakIO `json:"items"`
	}{req.Events})
}

func (a *API) listCriticalPeaks(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !knownParams(w, q, "from", "to") {
		return
	}
	from, ok := dateParam(w, "from", q.Get("from"))
	if !ok {
		return
	}
	to, ok := dateParam(w, "to", q.Get("to"))
	if !ok {
		return
	}
	es, err := a.d.Store.CriticalPeaks(r.Context(), r.PathValue("id"), from.Start(time.UTC), to.Start(time.UTC))
	if err != nil {
		a.internal(w, r, err)
		return
	}
	out := make([]criticalPeakIO, len(es))
	for i, e := range es {
		out[i] = criticalPeakIO{Start: e.Start, End: e.End}
	}
	JSON(w, struct {
		Items []criticalPeakIO `json:"items"`
	}{out})
}

// csvBody reads a CSV body with parse, or writes the 400 (the bad line)
// or 413 and returns false.
func csvBody[T any](a *API, w http.ResponseWriter, r *http.Request, parse func(io.Reader) ([]T, error)) ([]T, bool) {
	out, err := parse(http.MaxBytesReader(w, r.Body, a.d.MaxBodyBytes))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		Error(w, http.StatusRequestEntityTooLarge, "too_large", "body over the limit; send it in parts")
		return nil, false
	case err != nil:
		Error(w, http.StatusBadRequest, "bad_body", err.Error())
		return nil, false
	}
	return out, true
}

func (a *API) importPrices(w http.ResponseWriter, r *http.Request) {
	if !knownParams(w, r.URL.Query()) {
		return
	}
	feed := r.PathValue("id")
	ps, ok := csvBody(a, w, r, func(rd io.Reader) ([]store.HourPrice, error) { return billing.ParsePrices(feed, rd) })
	if !ok {
		return
	}
	n, err := a.d.Store.PutPrices(r.Context(), ps)
	if err != nil {
		Error(w, http.StatusBadRequest, "bad_body", err.Error())
		return
	}
	JSON(w, struct {
		Prices int `json:"prices"`
	}{n})
}

type assignmentRequest struct {
	TariffID string   `json:"tariffId"`
	From     cim.Date `json:"from"`
}

func (a *API) assignTariff(w http.ResponseWriter, r *http.Request) {
	if !knownParams(w, r.URL.Query()) {
		return
	}
	up := r.PathValue("id")
	var req assignmentRequest
	if !a.decode(w, r, &req) || !a.usagePointExists(w, r, up) {
		return
	}
	if err := a.d.Store.AssignTariff(r.Context(), store.TariffAssignment{UsagePointID: up, TariffID: req.TariffID, From: req.From}); err != nil {
		Error(w, http.StatusBadRequest, "bad_body", err.Error())
		return
	}
	a.listAssignments(w, r)
}

func (a *API) listAssignments(w http.ResponseWriter, r *http.Request) {
	if !knownParams(w, r.URL.Query()) {
		return
	}
	as, err := a.d.Store.TariffAssignments(r.Context(), []string{r.PathValue("id")})
	if err != nil {
		a.internal(w, r, err)
		return
	}
	items := as[0]
	if items == nil {
		items = []store.TariffAssignment{}
	}
	JSON(w, struct {
		Items []store.TariffAssignment `json:"items"`
	}{items})
}

func (a *API) putAccount(w http.ResponseWriter, r *http.Request) {
	if !knownParams(w, r.URL.Query()) {
		return
	}
	var acc store.Account
	if !a.decode(w, r, &acc) {
		return
	}
	if acc.ID != "" && acc.ID != r.PathValue("id") {
		Error(w, http.StatusBadRequest, "bad_body", "the body's id is not the path's")
		return
	}
	acc.ID = r.PathValue("id")
	if !a.usagePointExists(w, r, acc.UsagePointID) {
		return
	}
	if err := a.d.Store.PutAccounts(r.Context(), acc); err != nil {
		Error(w, http.StatusBadRequest, "bad_body", err.Error())
		return
	}
	JSON(w, acc)
}

func (a *API) importAccounts(w http.ResponseWriter, r *http.Request) {
	if !knownParams(w, r.URL.Query()) {
		return
	}
	as, ok := csvBody(a, w, r, billing.ParseAccounts)
	if !ok {
		return
	}
	if err := a.d.Store.PutAccounts(r.Context(), as...); err != nil {
		Error(w, http.StatusBadRequest, "bad_body", err.Error())
		return
	}
	JSON(w, struct {
		Accounts int `json:"accounts"`
	}{len(as)})
}

func (a *API) listAccounts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !knownParams(w, q, "group", "after", "limit") {
		return
	}
	limit, ok := limitParam(w, q.Get("limit"))
	if !ok {
		return
	}
	as, err := a.d.Store.Accounts(r.Context(), store.AccountQuery{Group: q.Get("group"), After: q.Get("after"), Limit: limit})
	if err != nil {
		a.internal(w, r, err)
		return
	}
	out := struct {
		Items []store.Account `json:"items"`
		Next  string          `json:"next,omitempty"`
	}{Items: as}
	if out.Items == nil {
		out.Items = []store.Account{}
	}
	if len(as) == limit {
		out.Next = as[len(as)-1].ID
	}
	JSON(w, out)
}

type billRunRequest struct {
	Group string   `json:"group"`
	From  cim.Date `json:"from"`
	To    cim.Date `json:"to"`
	// CycleDay and AsOf name the period instead: the month ending on the
	// latest cycle day on or before AsOf.
	CycleDay int      `json:"cycleDay"`
	AsOf     cim.Date `json:"asOf"`
}

// runsInFlight keeps a run from being started twice at once in this
// process; across processes, the store's unique bills keep it from
// billing anyone twice.
var runsInFlight sync.Map

func (a *API) startBillRun(w http.ResponseWriter, r *http.Request) {
	if !knownParams(w, r.URL.Query()) {
		return
	}
	var req billRunRequest
	if !a.decode(w, r, &req) {
		return
	}
	p := billing.Period{From: req.From, To: req.To}
	if req.CycleDay != 0 {
		var err error
		if p, err = billing.CyclePeriod(req.CycleDay, req.AsOf); err != nil {
			Error(w, http.StatusBadRequest, "bad_body", err.Error())
			return
		}
	}
	if p.From.IsZero() || p.To.IsZero() || !p.From.Before(p.To) {
		Error(w, http.StatusBadRequest, "bad_body", "want from before to, or a cycle day and the date as of which it is billed")
		return
	}
	run, _, err := a.d.Store.StartBillRun(r.Context(), store.BillRun{Group: req.Group, From: p.From, To: p.To})
	if err != nil {
		a.internal(w, r, err)
		return
	}
	if run.Status != store.RunFinished {
		rn := a.runner()
		key := fmt.Sprintf("%p %d", rn, run.ID)
		if _, busy := runsInFlight.LoadOrStore(key, true); !busy {
			// The run outlives the request; one stopped with the process
			// resumes when started again.
			ctx := context.WithoutCancel(r.Context())
			go func() {
				defer runsInFlight.Delete(key)
				if _, err := rn.Run(ctx, req.Group, p); err != nil {
					a.d.Logger.Error("bill run", "run", run.ID, "group", req.Group, "err", err)
				}
			}()
		}
	}
	writeJSON(w, http.StatusAccepted, run)
}

func (a *API) listBillRuns(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !knownParams(w, q, "group", "limit") {
		return
	}
	limit, ok := limitParam(w, q.Get("limit"))
	if !ok {
		return
	}
	rs, err := a.d.Store.BillRuns(r.Context(), q.Get("group"), limit)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	if rs == nil {
		rs = []store.BillRun{}
	}
	JSON(w, struct {
		Items []store.BillRun `json:"items"`
	}{rs})
}

func (a *API) getBillRun(w http.ResponseWriter, r *http.Request) {
	if !knownParams(w, r.URL.Query()) {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		Error(w, http.StatusNotFound, "not_found", "no bill run "+r.PathValue("id"))
		return
	}
	run, err := a.d.Store.BillRun(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		Error(w, http.StatusNotFound, "not_found", err.Error())
		return
	}
	if err != nil {
		a.internal(w, r, err)
		return
	}
	JSON(w, run)
}

type rebillRequest struct {
	Run     int64    `json:"run"`
	Account string   `json:"account"`
	From    cim.Date `json:"from"`
	To      cim.Date `json:"to"`
}

func (a *API) rebill(w http.ResponseWriter, r *http.Request) {
	if !knownParams(w, r.URL.Query()) {
		return
	}
	var req rebillRequest
	if !a.decode(w, r, &req) {
		return
	}
	if req.Run == 0 && req.Account == "" && req.From.IsZero() {
		Error(w, http.StatusBadRequest, "bad_body", "name a run, an account or a period")
		return
	}
	rep, err := a.runner().Rebill(r.Context(), store.BillQuery{RunID: req.Run, AccountID: req.Account, From: req.From, To: req.To})
	if err != nil {
		a.internal(w, r, err)
		return
	}
	JSON(w, rep)
}

// billOut is a bill as the API shows it: the stored bill's identity and
// history, the computed bill and, for a rebill, its adjustment.
type billOut struct {
	ID           int64                 `json:"id"`
	Run          int64                 `json:"run"`
	Sequence     int                   `json:"sequence"`
	Supersedes   int64                 `json:"supersedes,omitempty"`
	Reason       string                `json:"reason,omitempty"`
	CreatedAt    time.Time             `json:"createdAt"`
	AccountID    string                `json:"account"`
	UsagePointID string                `json:"usagePoint"`
	Currency     string                `json:"currency"`
	Period       billing.Period        `json:"period"`
	Status       string                `json:"status"`
	Flags        []string              `json:"flags,omitempty"`
	Total        int64                 `json:"total"`
	CarryOut     int64                 `json:"carryOut"`
	Lines        []billing.Line        `json:"lines"`
	Determinants []billing.Determinant `json:"determinants,omitempty"`
	DataVersions []billing.DataVersion `json:"dataVersions,omitempty"`
	Adjustment   *billing.Adjustment   `json:"adjustment,omitempty"`
}

func toBillOut(rec store.BillRecord, full bool) (billOut, error) {
	b, err := billing.DecodeBill(rec)
	if err != nil {
		return billOut{}, err
	}
	o := billOut{ID: rec.ID, Run: rec.RunID, Sequence: rec.Sequence, Supersedes: rec.Supersedes, Reason: rec.Reason, CreatedAt: rec.CreatedAt,
		AccountID: rec.AccountID, UsagePointID: rec.UsagePointID, Currency: b.Currency, Period: b.Period, Status: b.Status, Flags: b.Flags,
		Total: b.Total, CarryOut: b.CarryOut, Lines: b.Lines}
	if full {
		o.Determinants, o.DataVersions = b.Determinants, b.DataVersions
		if len(rec.Adjustment) > 0 {
			var adj billing.Adjustment
			if err := json.Unmarshal(rec.Adjustment, &adj); err != nil {
				return o, fmt.Errorf("bill %d: adjustment: %w", rec.ID, err)
			}
			o.Adjustment = &adj
		}
	}
	return o, nil
}

// billQuery reads a bill listing's filters.
func billQuery(w http.ResponseWriter, q map[string][]string) (store.BillQuery, bool) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	bq := store.BillQuery{AccountID: get("account"), LatestOnly: get("latest") == "true"}
	var ok bool
	if s := get("run"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			Error(w, http.StatusBadRequest, "bad_query", "run must be an integer")
			return bq, false
		}
		bq.RunID = n
	}
	if s := get("after"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			Error(w, http.StatusBadRequest, "bad_query", "after must be an integer")
			return bq, false
		}
		bq.After = n
	}
	if s := get("from"); s != "" {
		if bq.From, ok = dateParam(w, "from", s); !ok {
			return bq, false
		}
	}
	if s := get("to"); s != "" {
		if bq.To, ok = dateParam(w, "to", s); !ok {
			return bq, false
		}
	}
	if bq.Limit, ok = limitParam(w, get("limit")); !ok {
		return bq, false
	}
	return bq, true
}

func (a *API) writeBillPage(w http.ResponseWriter, r *http.Request, bq store.BillQuery) {
	recs, err := a.d.Store.Bills(r.Context(), bq)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	out := struct {
		Items []billOut `json:"items"`
		Next  int64     `json:"next,omitempty"`
	}{Items: make([]billOut, 0, len(recs))}
	for _, rec := range recs {
		o, err := toBillOut(rec, false)
		if err != nil {
			a.internal(w, r, err)
			return
		}
		out.Items = append(out.Items, o)
	}
	if len(recs) == bq.Limit {
		out.Next = recs[len(recs)-1].ID
	}
	JSON(w, out)
}

func (a *API) listBills(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !knownParams(w, q, "account", "run", "from", "to", "latest", "after", "limit") {
		return
	}
	bq, ok := billQuery(w, q)
	if !ok {
		return
	}
	a.writeBillPage(w, r, bq)
}

func (a *API) usagePointBills(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !knownParams(w, q, "after", "limit") {
		return
	}
	bq, ok := billQuery(w, q)
	if !ok {
		return
	}
	up := r.PathValue("id")
	if !a.usagePointExists(w, r, up) {
		return
	}
	bq.UsagePointID = up
	a.writeBillPage(w, r, bq)
}

func (a *API) getBill(w http.ResponseWriter, r *http.Request) {
	if !knownParams(w, r.URL.Query()) {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		Error(w, http.StatusNotFound, "not_found", "no bill "+r.PathValue("id"))
		return
	}
	rec, err := a.d.Store.Bill(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		Error(w, http.StatusNotFound, "not_found", err.Error())
		return
	}
	if err != nil {
		a.internal(w, r, err)
		return
	}
	o, err := toBillOut(rec, true)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	JSON(w, o)
}

func (a *API) exportBills(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !knownParams(w, q, "format", "account", "run", "from", "to", "latest") {
		return
	}
	format := q.Get("format")
	switch format {
	case billing.ExportLines, billing.ExportDeterminants:
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	case billing.ExportJSON:
		w.Header().Set("Content-Type", "application/json")
	default:
		Error(w, http.StatusBadRequest, "bad_query", "format must be lines, determinants or json")
		return
	}
	bq, ok := billQuery(w, q)
	if !ok {
		return
	}
	bq.Limit = 500
	if err := billing.Export(r.Context(), a.d.Store, bq, format, w); err != nil {
		// The header is gone with the first row; the truncated body and
		// the log say what happened.
		a.d.Logger.Error("bill export", "err", err)
	}
}
