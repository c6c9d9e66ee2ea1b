package api

import (
	"net/http"
	"testing"
)

// Every answer says nosniff once: data, the mux's own errors turned into
// JSON, and the handlers' errors.
func TestNosniffOnEveryAnswer(t *testing.T) {
	srv, _ := newTestServer(t)
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/api/v1/meters", 200},
		{"GET", "/healthz", 200},
		{"GET", "/metrics", 200},
		{"GET", "/api/v1/nothing", 404},
		{"DELETE", "/api/v1/meters", 405},
		{"GET", "/api/v1/meters/zzz", 404},
		{"GET", "/api/v1/meters?limit=0", 400},
	} {
		req, _ := http.NewRequestWithContext(t.Context(), c.method, srv.URL+c.path, nil)
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
