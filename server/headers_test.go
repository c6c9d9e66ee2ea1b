package server

import (
	"net/http"
	"strings"
	"testing"
)

// Every answer of the server, pages, assets, probes, metrics, API data and
// API errors alike, tells the browser not to guess its type.
func TestEveryResponseSaysNosniff(t *testing.T) {
	s := start(t, testConfig(t.TempDir()))
	t.Cleanup(func() { s.Shutdown(t.Context()) })
	base := "http://" + s.Addr()
	for _, c := range []struct {
		method, path string
		auth         bool
		status       int
	}{
		{"GET", "/", false, 200},
		{"GET", "/portal/", false, 200},
		{"GET", "/static/console.js", false, 200},
		{"GET", "/static/nothing-here.js", false, 404},
		{"GET", "/healthz", false, 200},
		{"GET", "/readyz", false, 200},
		{"GET", "/metrics", false, 200},
		{"GET", "/api/v1/meters", true, 200},
		{"GET", "/api/v1/meters", false, 401},
		{"GET", "/api/v1/meters/nobody", true, 404},
		{"GET", "/api/v1/no-such-endpoint", true, 404},
		{"POST", "/api/v1/session", false, 400},
	} {
		req, err := http.NewRequestWithContext(t.Context(), c.method, base+c.path, strings.NewReader("{"))
		if err != nil {
			t.Fatal(err)
		}
		if c.auth {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, resp.StatusCode, c.status)
		}
		if got := resp.Header.Values("X-Content-Type-Options"); len(got) != 1 || got[0] != "nosniff" {
			t.Errorf("%s %s: X-Content-Type-Options %q", c.method, c.path, got)
		}
	}
}
