package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func get(t *testing.T, srv *httptest.Server, path string) (int, http.Header, string) {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// TestNoDirectoryListings: a folder of the assets answers 404, with or
// without its slash, while its files are served.
func TestNoDirectoryListings(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	for _, p := range []string{"/static/", "/static/vendor/", "/static/vendor", "/static/vendor/uplot/", "/static/vendor/uplot"} {
		code, _, body := get(t, srv, p)
		if code != http.StatusNotFound || strings.Contains(body, "<a href") {
			t.Errorf("GET %s: %d %.100q", p, code, body)
		}
	}
	for _, p := range []string{"/static/console.js", "/static/vendor/uplot/uPlot.iife.min.js", "/static/app.css"} {
		if code, _, _ := get(t, srv, p); code != http.StatusOK {
			t.Errorf("GET %s: %d", p, code)
		}
	}
	if code, _, _ := get(t, srv, "/static/../web.go"); code == http.StatusOK {
		t.Error("a path out of the assets was served")
	}
}

// TestFavicon: both pages link the icon, it is served as SVG, and the
// browser's guess at /favicon.ico finds it too.
func TestFavicon(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	for _, p := range []string{"/", "/portal/"} {
		_, _, body := get(t, srv, p)
		if !strings.Contains(body, `<link rel="icon" href="/static/favicon.svg"`) {
			t.Errorf("%s links no icon", p)
		}
	}
	for _, p := range []string{"/static/favicon.svg", "/favicon.ico"} {
		code, h, body := get(t, srv, p)
		if code != http.StatusOK || h.Get("Content-Type") != "image/svg+xml" || !strings.HasPrefix(body, "<svg") {
			t.Errorf("GET %s: %d %s %.40q", p, code, h.Get("Content-Type"), body)
		}
	}
}
