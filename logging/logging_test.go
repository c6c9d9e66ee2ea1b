package logging

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestJSONAndRedaction(t *testing.T) {
	var b bytes.Buffer
	l, err := New(&b, "json", "info")
	if err != nil {
		t.Fatal(err)
	}
	l.Info("meter keys loaded", "meter", "m1", "master_key", []byte{1, 2, 3}, "password", "hunter2", "AuthKey", "00112233")
	l.Debug("hidden")
	var m map[string]any
	if err := json.Unmarshal(b.Bytes(), &m); err != nil {
		t.Fatalf("not one JSON line: %q", b.String())
	}
	if m["meter"] != "m1" || strings.Contains(b.String(), "hunter2") || strings.Contains(b.String(), "00112233") || m["master_key"] != "[redacted]" {
		t.Fatalf("got %s", b.String())
	}
}

func TestAutoIsJSONOffTerminal(t *testing.T) {
	var b bytes.Buffer
	l, _ := New(&b, "auto", "debug")
	l.Debug("x")
	if !strings.HasPrefix(b.String(), "{") {
		t.Fatalf("auto wrote %q to a buffer", b.String())
	}
	if _, err := New(&b, "xml", "info"); err == nil {
		t.Fatal("accepted format xml")
	}
	if _, err := New(&b, "text", "loud"); err == nil {
		t.Fatal("accepted level loud")
	}
}

func TestDurationsReadAsGoDurations(t *testing.T) {
	for _, format := range []string{"json", "text"} {
		var b bytes.Buffer
		l, err := New(&b, format, "info")
		if err != nil {
			t.Fatal(err)
		}
		l.With("startup", 250*time.Millisecond).WithGroup("run").Info("done", "took", 1234*time.Millisecond,
			slog.Any("wait", 90*time.Second), "count", 7)
		out := b.String()
		for _, want := range []string{"1.234s", "1m30s", "250ms"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: %q lacks %q", format, out, want)
			}
		}
		if strings.Contains(out, "1234000000") || strings.Contains(out, "90000000000") {
			t.Errorf("%s: raw nanoseconds in %q", format, out)
		}
		if format == "json" {
			var m map[string]any
			if err := json.Unmarshal(b.Bytes(), &m); err != nil {
				t.Fatalf("not one JSON line: %q", out)
			}
			if run, _ := m["run"].(map[string]any); run["took"] != "1.234s" || m["count"] != nil || run["count"] != float64(7) {
				t.Errorf("json: %v", m)
			}
		}
	}
}
