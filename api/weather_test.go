package api

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/amigo-ami/amigo/headend"
)

// weatherHeadEnd keeps what a weather import parses, and who sent it.
type weatherHeadEnd struct {
	stubHeadEnd
	mu  sync.Mutex
	by  []string
	obs int
}

func (h *weatherHeadEnd) ImportWeather(_ context.Context, r io.Reader, by string) (int, error) {
	obs, err := headend.ParseWeather(r)
	if err != nil {
		return 0, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.by = append(h.by, by)
	h.obs += len(obs)
	return len(obs), nil
}

func TestWeatherImport(t *testing.T) {
	r := newAuthRig(t)
	he := &weatherHeadEnd{}
	ts := httptest.NewServer(New(Deps{Store: r.st, Auth: r.auth, HeadEnd: he, MaxBodyBytes: 4096}))
	defer ts.Close()
	admin, olga := r.login(t, "admin"), r.login(t, "olga")
	admin.base, olga.base = ts.URL, ts.URL
	feed := "region,time,temperature_c\nnorth,2026-12-07T08:00:00Z,-3.5\nsouth,2026-12-07T08:00:00Z,12\n"
	if code, m, _ := admin.call("POST", weatherPath, feed); code != 200 || m["observations"] != 2.0 {
		t.Fatalf("import: %d %v", code, m)
	}
	if len(he.by) != 1 || he.by[0] != "admin" {
		t.Fatalf("imported by %v", he.by)
	}
	// A bad line is named, and the feed refused whole.
	code, m, _ := admin.call("POST", weatherPath, "region,time,temperature_c\nnorth,2026-12-07T08:00:00Z,-3.5\nnorth,soon,1\n")
	e, _ := m["error"].(map[string]any)
	if code != 400 || e["code"] != "bad_weather" || !strings.Contains(fmt.Sprint(e["message"]), "weather line 3, column time") {
		t.Fatalf("bad feed: %d %v", code, m)
	}
	if he.obs != 2 {
		t.Fatalf("%d observations kept after a bad feed", he.obs)
	}
	if code, m, _ := admin.call("POST", weatherPath, "region,time,temperature_c\n"+strings.Repeat("north,2026-12-07T08:00:00Z,1\n", 200)); code != 413 {
		t.Fatalf("feed over the body limit: %d %v", code, m)
	}
	// Importing a feed is configuration: an operator may not.
	if code, _, _ := olga.call("POST", weatherPath, feed); code != 403 {
		t.Fatalf("operator import: %d", code)
	}
	// A server whose head-end keeps no feed says so.
	plain := httptest.NewServer(New(Deps{Store: r.st, Auth: r.auth, HeadEnd: stubHeadEnd{}}))
	defer plain.Close()
	admin.base = plain.URL
	if code, m, _ := admin.call("POST", weatherPath, feed); code != 501 {
		t.Fatalf("no feed: %d %v", code, m)
	}
}
