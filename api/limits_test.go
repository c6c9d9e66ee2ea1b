package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/auth"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
)

type limitsRig struct {
	t     *testing.T
	st    store.Store
	base  string
	token string
}

// newLimitsRig serves the API with users, the head-end and the default
// body limit, and a meter m1 with a day of readings on 1 June 2026.
func newLimitsRig(t *testing.T) *limitsRig {
	t.Helper()
	st, _ := storetest.OpenSQLite(t)
	ctx := context.Background()
	svc, err := auth.New(st.(store.Users), auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateUser(ctx, "admin", pw, auth.Admin, nil); err != nil {
		t.Fatal(err)
	}
	tok, _, err := svc.IssueToken(ctx, "admin", "tests", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutMeters(ctx, cim.Meter{MRID: "m1"}); err != nil {
		t.Fatal(err)
	}
	day := cim.Date{Year: 2026, Month: 6, Day: 1}
	d := interval.Day{MeterID: "m1", Channel: "A+15m", Date: day, Start: day.Start(time.UTC), Interval: 15 * time.Minute,
		Values: make([]int64, 96), Quality: make([]cim.Quality, 96)}
	h := interval.Day{MeterID: "m1", Channel: "V1h", Date: day, Start: day.Start(time.UTC), Interval: time.Hour,
		Values: make([]int64, 24), Quality: make([]cim.Quality, 24)}
	if _, err := st.PutDays(ctx, []interval.Day{d, h}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.PutExceptions(ctx, []store.Exception{{MeterID: "m1", Channel: "A+15m", Date: day, Version: 1, Rule: "missing", Reason: "4 missing"}}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(Deps{Store: st, Auth: svc, HeadEnd: fakeHeadEnd{st}}))
	t.Cleanup(srv.Close)
	return &limitsRig{t: t, st: st, base: srv.URL + "/api/v1", token: tok}
}

func (r *limitsRig) call(method, path string, body any) (int, map[string]any) {
	r.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			r.t.Fatal(err)
		}
		rd = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, r.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+r.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &m); err != nil {
			r.t.Fatalf("%s %s: not JSON: %.200q", method, path, b)
		}
	}
	return resp.StatusCode, m
}

// Every string the API stores is bounded, with a 400 that names the field
// and the limit, and a refused request stores nothing.
func TestOversizedFieldsAreRefused(t *testing.T) {
	r := newLimitsRig(t)
	long := func(n int) string { return strings.Repeat("x", n) }
	params := map[string]string{}
	for i := range maxParams + 1 {
		params[fmt.Sprintf("p%d", i)] = "v"
	}
	ups := make([]string, maxUsagePoints+1)
	for i := range ups {
		ups[i] = fmt.Sprintf("up-%d", i)
	}
	edit := "/meters/m1/days/A+15m/2026-06-01/edits"
	for _, c := range []struct {
		name, method, path string
		body               any
		want               string
	}{
		{"7 MB correlation id", "POST", "/commands", map[string]any{"meter": "m1", "type": "disconnect", "correlationId": long(7 << 20)},
			"correlationId: 7340032 bytes, at most 128"},
		{"meter with a NUL", "POST", "/commands", map[string]any{"meter": "m\x001", "type": "disconnect"}, "meter: control character U+0000 at byte 1"},
		{"long meter", "POST", "/commands", map[string]any{"meter": long(200000), "type": "disconnect"}, "meter: 200000 bytes, at most 128"},
		{"long type", "POST", "/commands", map[string]any{"meter": "m1", "type": long(129)}, "type: 129 bytes, at most 128"},
		{"many parameters", "POST", "/commands", map[string]any{"meter": "m1", "type": "disconnect", "parameters": params}, "parameters: 17 entries, at most 16"},
		{"long parameter", "POST", "/commands", map[string]any{"meter": "m1", "type": "disconnect", "parameters": map[string]string{"calendar": long(maxParamBytes + 1)}},
			"parameters.calendar: 16385 bytes, at most 16384"},
		{"long parameter name", "POST", "/commands", map[string]any{"meter": "m1", "type": "disconnect", "parameters": map[string]string{long(200): "1"}},
			"parameters key: 200 bytes, at most 128"},
		{"long user name", "POST", "/users", map[string]any{"name": long(65), "password": pw, "role": "operator"}, "name: 65 bytes, at most 64"},
		{"user name with an escape", "POST", "/users", map[string]any{"name": "eve\x1b[2J", "password": pw, "role": "operator"}, "name: control character U+001B at byte 3"},
		{"long password", "POST", "/users", map[string]any{"name": "eve", "password": long(2000), "role": "operator"}, "password: 2000 bytes, at most 1024"},
		{"many usage points", "POST", "/users", map[string]any{"name": "eve", "password": pw, "role": "consumer", "usagePoints": ups}, "usagePoints: 101 entries, at most 100"},
		{"long usage point", "POST", "/users", map[string]any{"name": "eve", "password": pw, "role": "consumer", "usagePoints": []string{"up-1", long(300)}},
			"usagePoints[1]: 300 bytes, at most 128"},
		{"long token label", "POST", "/tokens", map[string]any{"label": long(1000)}, "label: 1000 bytes, at most 128"},
		{"long edit reason", "POST", edit, map[string]any{"reason": long(5000), "values": map[string]int{"5": 1}}, "reason: 5000 bytes, at most 1000"},
		{"edit reason with a NUL", "POST", edit, map[string]any{"reason": "a\x00b", "values": map[string]int{"5": 1}}, "reason: control character U+0000 at byte 1"},
		{"long edit user", "POST", edit, map[string]any{"user": long(100), "reason": "x", "values": map[string]int{"5": 1}}, "user: 100 bytes, at most 64"},
		{"long resolution", "POST", "/exceptions/1/resolve", map[string]any{"resolution": long(1001)}, "resolution: 1001 bytes, at most 1000"},
		{"long channel", "GET", "/meters/m1/readings?from=2026-06-01&to=2026-06-01&channel=" + long(129), nil, "channel: 129 bytes, at most 128"},
		{"long channel of totals", "GET", "/meters/m1/totals?from=2026-06-01&to=2026-06-01&channel=" + long(129), nil, "channel: 129 bytes, at most 128"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, m := r.call(c.method, c.path, c.body)
			e, _ := m["error"].(map[string]any)
			if code != 400 || e["code"] != "bad_field" || e["message"] != c.want {
				t.Fatalf("%d %v, want 400 bad_field %q", code, m, c.want)
			}
		})
	}
	// Nothing of the refused requests was stored.
	ctx := context.Background()
	if cs, err := r.st.Controls(ctx, store.ControlQuery{Limit: 10}); err != nil || len(cs) != 0 {
		t.Fatalf("commands stored: %v %v", cs, err)
	}
	if us, err := r.st.(store.Users).Users(ctx, "", 10); err != nil || len(us) != 1 {
		t.Fatalf("users: %v %v", us, err)
	}
	if vs, err := r.st.DayVersions(ctx, "m1", "A+15m", cim.Date{Year: 2026, Month: 6, Day: 1}); err != nil || len(vs) != 1 {
		t.Fatalf("day versions: %d %v", len(vs), err)
	}
	if es, err := r.st.ListExceptions(ctx, store.ExceptionQuery{OpenOnly: true, Limit: 10}); err != nil || len(es) != 1 {
		t.Fatalf("open exceptions: %v %v", es, err)
	}

	// At the limits, and with line breaks in a sentence, all is well.
	if code, m := r.call("POST", "/commands", map[string]any{"meter": "m1", "type": "disconnect", "correlationId": long(128)}); code != 201 {
		t.Fatalf("128-byte correlation id: %d %v", code, m)
	}
	if code, m := r.call("POST", edit, map[string]any{"reason": "read off the display;\nthe customer agreed", "values": map[string]int{"5": 1}}); code != 201 {
		t.Fatalf("edit with a two-line reason: %d %v", code, m)
	}
	if code, m := r.call("POST", "/exceptions/1/resolve", map[string]any{"resolution": long(1000)}); code != 204 {
		t.Fatalf("1000-byte resolution: %d %v", code, m)
	}
	if code, m := r.call("POST", "/users", map[string]any{"name": long(64), "password": pw, "role": "operator"}); code != 201 {
		t.Fatalf("64-byte name: %d %v", code, m)
	}
}

// An unknown meter or channel is 404; a known one with no data in the
// range is an empty 200.
func TestUnknownMeterOrChannelIs404(t *testing.T) {
	r := newLimitsRig(t)
	for _, c := range []struct {
		path string
		code int
		days int
	}{
		{"/meters/nobody/readings?from=2026-06-01&to=2026-06-30", 404, 0},
		{"/meters/nobody/totals?from=2026-06-01&to=2026-06-30", 404, 0},
		{"/meters/m1/readings?from=2026-06-01&to=2026-06-30&channel=bogus", 404, 0},
		{"/meters/m1/totals?from=2026-06-01&to=2026-06-30&channel=bogus", 404, 0},
		{"/meters/m1/readings?from=2026-06-01&to=2026-06-30", 200, 1},
		{"/meters/m1/readings?from=2026-07-01&to=2026-07-30", 200, 0},
		{"/meters/m1/totals?from=2026-07-01&to=2026-07-30", 200, 0},
		{"/meters/m1/readings?from=2026-07-01&to=2026-07-30&channel=A-15m", 200, 0},
		{"/meters/m1/readings?from=2026-06-01&to=2026-06-30&channel=V1h", 200, 1},
		{"/meters/m1/readings?from=2026-07-01&to=2026-07-30&channel=V1h", 200, 0},
	} {
		code, m := r.call("GET", c.path, nil)
		if code != c.code {
			t.Errorf("%s: %d %v, want %d", c.path, code, m, c.code)
			continue
		}
		if code == 404 {
			if e, _ := m["error"].(map[string]any); e["code"] != "not_found" || e["message"] == "" {
				t.Errorf("%s: %v", c.path, m)
			}
			continue
		}
		list, _ := m["days"].([]any)
		if list == nil {
			list, _ = m["totals"].([]any)
		}
		if len(list) != c.days {
			t.Errorf("%s: %d days, want %d: %v", c.path, len(list), c.days, m)
		}
	}
}
