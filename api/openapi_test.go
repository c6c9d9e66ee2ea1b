package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/campaign"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
)

// stubHeadEnd lets the head-end routes register.
type stubHeadEnd struct{}

func (stubHeadEnd) Issue(_ context.Context, c cim.EndDeviceControl) (cim.EndDeviceControl, bool, error) {
	return c, true, nil
}
func (stubHeadEnd) Read(context.Context, string, []string) ([]headend.Value, error) { return nil, nil }
func (stubHeadEnd) Progress() headend.Progress                                      { return headend.Progress{} }
func (stubHeadEnd) StartRun(cim.Date, headend.RunOptions) error                     { return nil }
func (stubHeadEnd) Now() time.Time                                                  { return time.Now() }
func (stubHeadEnd) ImportFrom(context.Context, headend.RowSource) (headend.ImportReport, error) {
	return headend.ImportReport{}, nil
}

// TestOpenAPIMatchesTheServer reads /api/v1/openapi.json as an integrator
// would and checks it against what the server answers: every documented
// operation is served (not the router's 404 or 405), every route the
// server has is documented, every $ref resolves and every schema is used.
func TestOpenAPIMatchesTheServer(t *testing.T) {
	r := newAuthRig(t)
	a := New(Deps{Store: r.st, Auth: r.auth, HeadEnd: stubHeadEnd{}, Campaigns: campaign.New(r.st, campaign.Options{})})
	admin := r.login(t, "admin")
	// The rig's server has no head-end; document and probe this one.
	ts := httptest.NewServer(a)
	defer ts.Close()
	admin.base = ts.URL
	code, _, body := admin.call("GET", "/api/v1/openapi.json", "")
	if code != 200 {
		t.Fatalf("openapi.json: %d", code)
	}
	var doc struct {
		OpenAPI    string                               `json:"openapi"`
		Paths      map[string]map[string]map[string]any `json:"paths"`
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") || len(doc.Paths) < 30 {
		t.Fatalf("openapi %q with %d paths", doc.OpenAPI, len(doc.Paths))
	}
	// Every documented operation reaches a handler.
	fill := regexp.MustCompile(`\{[a-z]+\}`)
	var documented []string
	for path, ops := range doc.Paths {
		for method, op := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
			if op["summary"] == "" || op["responses"] == nil {
				t.Errorf("%s %s: no summary or responses", method, path)
			}
			url := fill.ReplaceAllString(path, "x")
			code, m, _ := admin.call(strings.ToUpper(method), url, "{}")
			if msg := fmt.Sprint(m["error"]); code == 404 && strings.Contains(msg, "no such endpoint") || code == 405 {
				t.Errorf("%s %s is documented but not served: %d %v", method, path, code, m)
			}
		}
	}
	// Every route the server serves is documented.
	for _, rt := range a.table {
		if !slices.Contains(documented, rt.method+" "+rt.path) {
			t.Errorf("%s %s is served but not documented", rt.method, rt.path)
		}
	}
	// Every $ref resolves, every schema is used.
	refs := regexp.MustCompile(`"\$ref":"#/components/schemas/([A-Za-z]+)"`).FindAllStringSubmatch(body, -1)
	used := map[string]bool{}
	for _, m := range refs {
		used[m[1]] = true
		if doc.Components.Schemas[m[1]] == nil {
			t.Errorf("$ref to missing schema %s", m[1])
		}
	}
	var unused []string
	for name := range doc.Components.Schemas {
		if !used[name] && name != "Object" {
			unused = append(unused, name)
		}
	}
	sort.Strings(unused)
	if len(unused) > 0 && !(len(unused) == 1 && unused[0] == "Object") {
		t.Errorf("schemas no operation uses: %v", unused)
	}
}

// TestResponsesHaveTheDocumentedShape checks that what a few endpoints
// answer carries only properties their schemas document.
func TestResponsesHaveTheDocumentedShape(t *testing.T) {
	r := newAuthRig(t)
	admin := r.login(t, "admin")
	_, _, body := admin.call("GET", "/api/v1/openapi.json", "")
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]any `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	json.Unmarshal([]byte(body), &doc)
	day := cim.DateOf(time.Now(), time.UTC).AddDays(-1).String()
	for path, schema := range map[string]string{
		"/api/v1/meters":                    "MeterPage",
		"/api/v1/me":                        "Principal",
		"/api/v1/usage-points/up-1/summary": "Summary",
		"/api/v1/meters/m1/readings?from=" + day + "&to=" + day: "Readings",
		"/api/v1/vee/rulesets": "RuleSets",
		"/api/v1/users":        "UserPage",
	} {
		code, m, _ := admin.call("GET", path, "")
		if code != 200 {
			t.Errorf("%s: %d", path, code)
			continue
		}
		props := doc.Components.Schemas[schema].Properties
		for k := range m {
			if _, ok := props[k]; !ok {
				t.Errorf("%s answers %q, which schema %s does not document", path, k, schema)
			}
		}
	}
}
