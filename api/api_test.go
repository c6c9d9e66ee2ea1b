package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/store/storetest"
)

func newTestServer(t *testing.T, ready ...Check) (*httptest.Server, *prometheus.Registry) {
	st, _ := storetest.OpenSQLite(t)
	ms := make([]cim.Meter, 0, 5)
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		ms = append(ms, cim.Meter{MRID: id, Segment: "s1"})
	}
	if err := st.PutMeters(context.Background(), ms...); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	srv := httptest.NewServer(New(Deps{Store: st, Metrics: reg, Ready: ready, Version: "t", MaxBodyBytes: 1024}))
	t.Cleanup(srv.Close)
	return srv, reg
}

func do(t *testing.T, method, url, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s %s: not JSON: %q", method, url, b)
	}
	return resp.StatusCode, m
}

func errCode(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func TestErrorsAreJSON(t *testing.T) {
	srv, _ := newTestServer(t)
	for _, c := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "/api/v1/nothing", 404, "not_found"},
		{"DELETE", "/api/v1/meters", 405, "method_not_allowed"},
		{"GET", "/api/v1/meters/zzz", 404, "not_found"},
		{"GET", "/api/v1/meters?limit=0", 400, "bad_query"},
		{"GET", "/api/v1/meters?colour=red", 400, "bad_query"},
	} {
		status, m := do(t, c.method, srv.URL+c.path, "")
		if status != c.status || errCode(m) != c.code {
			t.Errorf("%s %s: %d %v, want %d %s", c.method, c.path, status, m, c.status, c.code)
		}
	}
}

func TestMeterPaging(t *testing.T) {
	srv, _ := newTestServer(t)
	var got []string
	next := ""
	for range 5 {
		_, m := do(t, "GET", srv.URL+"/api/v1/meters?limit=2&after="+next, "")
		for _, it := range m["items"].([]any) {
			got = append(got, it.(map[string]any)["mRID"].(string))
		}
		if m["total"].(float64) != 5 {
			t.Fatalf("total %v", m["total"])
		}
		n, _ := m["next"].(string)
		if n == "" {
			break
		}
		next = n
	}
	if strings.Join(got, "") != "abcde" {
		t.Fatalf("paged %v", got)
	}
}

func TestReadyzAndMetrics(t *testing.T) {
	failing := errors.New("bus: not connected")
	srv, reg := newTestServer(t, Check{Name: "store", Fn: func(context.Context) error { return nil }},
		Check{Name: "bus", Fn: func(context.Context) error { return failing }})
	status, m := do(t, "GET", srv.URL+"/readyz", "")
	checks := m["checks"].(map[string]any)
	if status != 503 || m["ready"] != false || checks["bus"] != failing.Error() || checks["store"] != "ok" {
		t.Fatalf("readyz %d %v", status, m)
	}
	do(t, "GET", srv.URL+"/api/v1/meters", "")
	mfs, _ := reg.Gather()
	found := false
	for _, mf := range mfs {
		if mf.GetName() != "amigo_http_requests_total" {
			continue
		}
		for _, mt := range mf.GetMetric() {
			for _, l := range mt.GetLabel() {
				if l.GetName() == "route" && l.GetValue() == "GET /api/v1/meters" {
					found = true
				}
			}
		}
	}
	if !found {
		t.Fatal("no request counter for the meters route")
	}
}
