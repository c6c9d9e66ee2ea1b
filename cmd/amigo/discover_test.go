package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestDLMSDiscoverPrintsModelAndChannels(t *testing.T) {
	addrs := labMeter(t)
	out, errs, code := amigo(t, "dlms", "discover", "--manufacturer", "AMG", "--model", "LAB", addrs["wrapper"], "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var res struct {
		Model struct {
			Key      string
			Objects  []json.RawMessage
			Profiles []struct {
				LN      string
				Kind    string
				Columns []json.RawMessage
			}
		}
		Channels []struct {
			ReadingType, Source, Object, Unit string
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	if !strings.HasPrefix(res.Model.Key, "AMG/LAB/") || len(res.Model.Objects) == 0 {
		t.Fatalf("model %+v", res.Model)
	}
	var aplus bool
	for _, c := range res.Channels {
		if c.ReadingType == "A+" && c.Source == "register" && c.Object == "1.0.1.8.0.255:2" && c.Unit == "Wh" {
			aplus = true
		}
	}
	if !aplus {
		t.Errorf("no A+ register channel in %+v", res.Channels)
	}
	// The table for people.
	out, errs, code = amigo(t, "dlms", "discover", addrs["wrapper"])
	if code != 0 || !strings.Contains(out, "CHANNEL") || !strings.Contains(out, "template ") {
		t.Fatalf("exit %d: %s\n%s", code, errs, out)
	}
	t.Log(out)
	// A bad address is a clear error, not a panic.
	if _, errs, code := amigo(t, "dlms", "discover"); code == 0 || !strings.Contains(errs, "ADDRESS") {
		t.Errorf("no address: exit %d, %q", code, errs)
	}
}
