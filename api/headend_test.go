package api

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
)

// fakeHeadEnd answers like the head-end without meters behind it.
type fakeHeadEnd struct{ st store.Store }

func (f fakeHeadEnd) Issue(ctx context.Context, c cim.EndDeviceControl) (cim.EndDeviceControl, bool, error) {
	if c.Type != cim.ControlDisconnect {
		return c, false, fmt.Errorf("%w: unknown type %q", headend.ErrBadCommand, c.Type)
	}
	c.MRID, c.Status = "cmd-1", cim.ControlQueued
	if c.CorrelationID == "" {
		c.CorrelationID = c.MRID
	}
	return f.st.IssueControl(ctx, c)
}

func (f fakeHeadEnd) Read(ctx context.Context, id string, objs []string) ([]headend.Value, error) {
	if id == "gone" {
		return nil, fmt.Errorf("meter %s: %w", id, store.ErrNotFound)
	}
	return nil, fmt.Errorf("meter %s: connection refused", id)
}
func (f fakeHeadEnd) Progress() headend.Progress { return headend.Progress{Running: true, Total: 3} }
func (f fakeHeadEnd) StartRun(d cim.Date, _ headend.RunOptions) error {
	if d.Year > 2100 {
		return fmt.Errorf("%w: %s is in the future", headend.ErrBadDay, d)
	}
	return headend.ErrBusy
}
func (f fakeHeadEnd) Now() time.Time { return time.Now() }
func (f fakeHeadEnd) ImportFrom(context.Context, headend.RowSource) (headend.ImportReport, error) {
	return headend.ImportReport{Created: 1}, nil
}

func TestHeadEndRoutes(t *testing.T) {
	st, _ := storetest.OpenSQLite(t)
	day := cim.Date{Year: 2026, Month: 6, Day: 1}
	if err := st.PutCollectionResults(context.Background(), []store.CollectionResult{
		{Day: day, MeterID: "m1", Segment: "cell-1", Outcome: store.OutcomeOK, Attempts: 1, Readings: 96, Complete: true, At: time.Now()},
		{Day: day, MeterID: "m2", Segment: "cell-1", Outcome: headend.OutcomeTimeout, Attempts: 3, At: time.Now()},
	}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(Deps{Store: st, MaxBodyBytes: 1024, HeadEnd: fakeHeadEnd{st}}))
	defer srv.Close()
	api := srv.URL + "/api/v1"
	code, m := do(t, "POST", api+"/commands", `{"meter":"m1","type":"disconnect","correlationId":"op-7"}`)
	if code != 201 || m["status"] != "queued" {
		t.Fatalf("issue %d %v", code, m)
	}
	if code, m = do(t, "POST", api+"/commands", `{"meter":"m1","type":"disconnect","correlationId":"op-7"}`); code != 200 || m["mRID"] != "cmd-1" {
		t.Fatalf("re-issue %d %v", code, m)
	}
	if code, m = do(t, "GET", api+"/commands/cmd-1", ""); code != 200 || len(m["steps"].([]any)) != 1 {
		t.Fatalf("track %d %v", code, m)
	}
	if code, m = do(t, "GET", api+"/collection/2026-06-01", ""); code != 200 || m["successRate"].(float64) != 0.5 ||
		m["failed"].(map[string]any)["timeout"].(float64) != 1 {
		t.Fatalf("collection %d %v", code, m)
	}
	if code, m = do(t, "GET", api+"/collection/2026-06-01/results?outcome=timeout", ""); code != 200 || len(m["items"].([]any)) != 1 {
		t.Fatalf("results %d %v", code, m)
	}
	for _, c := range []struct {
		method, url, body string
		code              int
	}{
		{"POST", api + "/commands", `{"meter":"m1","type":"self-destruct"}`, 422},
		{"POST", api + "/commands", `{"meter":"m1","type":"disconnect","colour":"red"}`, 400},
		{"POST", api + "/commands", `{"meter":"m1"} {}`, 400},
		{"GET", api + "/commands/nope", "", 404},
		{"GET", api + "/commands?limit=0", "", 400},
		{"POST", api + "/meters/gone/read", "", 404},
		{"POST", api + "/meters/m1/read", `{"objects":["1.0.1.8.0.255"]}`, 502},
		{"POST", api + "/collection/runs", `{"day":"2026-06-01"}`, 409},
		{"POST", api + "/collection/runs", `{"day":"9999-12-31"}`, 400},
		{"GET", api + "/collection/yesterday", "", 400},
	} {
		if code, m := do(t, c.method, c.url, c.body); code != c.code || errCode(m) == "" {
			t.Errorf("%s %s %s: %d %v, want %d", c.method, c.url, c.body, code, m, c.code)
		}
	}
}
