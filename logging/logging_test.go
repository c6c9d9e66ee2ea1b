package logging

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
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
