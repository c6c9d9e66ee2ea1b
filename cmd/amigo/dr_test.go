package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/api"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/dr"
	"github.com/amigo-ami/amigo/store/storetest"
)

type drNoIssuer struct{}

func (drNoIssuer) Issue(_ context.Context, c cim.EndDeviceControl) (cim.EndDeviceControl, bool, error) {
	return c, true, nil
}

// TestDRCLI makes a program, enrols a household, creates an event, shows
// and cancels it through the CLI against a served API.
func TestDRCLI(t *testing.T) {
	st, _ := storetest.OpenSQLite(t)
	ctx := context.Background()
	if err := st.PutUsagePoints(ctx, cim.UsagePoint{MRID: "up-1", TimeZone: "UTC"}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutMeters(ctx, cim.Meter{MRID: "m-1", UsagePointID: "up-1"}); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(api.New(api.Deps{Store: st, DR: dr.New(st, drNoIssuer{}, dr.Config{})}))
	defer ts.Close()
	amigo := func(args ...string) (string, error) {
		var out, errb bytes.Buffer
		err := cmdDR(append(args, "--server", ts.URL), &out, &errb)
		return out.String() + errb.String(), err
	}
	out, err := amigo("program", "peak", "--name", "Winter peak", "--kind", "load-limit", "--randomize", "5m", "--floor", "1000", "--incentive", "20", "--currency", "EUR")
	if err != nil || !strings.Contains(out, "peak") || !strings.Contains(out, "5m0s") {
		t.Fatalf("program: %v\n%s", err, out)
	}
	if _, err := amigo("program", "bad", "--name", "x", "--kind", "load-limit", "--randomize", "11m"); err == nil || !strings.Contains(err.Error(), "randomize") {
		t.Fatalf("randomize over 600 s: %v", err)
	}
	if out, err := amigo("enrol", "peak", "--usage-point", "up-1", "--meter", "m-1"); err != nil || !strings.Contains(out, "enrolled") {
		t.Fatalf("enrol: %v\n%s", err, out)
	}
	s := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	e := time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)
	if _, err := amigo("create", "--program", "peak", "--start", s, "--end", e, "--threshold", "500"); err == nil || !strings.Contains(err.Error(), "floor") {
		t.Fatalf("below the floor: %v", err)
	}
	out, err = amigo("create", "--id", "E1", "--program", "peak", "--start", s, "--end", e, "--threshold", "2000")
	if err != nil || !strings.Contains(out, "E1") || !strings.Contains(out, "scheduled") {
		t.Fatalf("create: %v\n%s", err, out)
	}
	if out, err := amigo("events", "--program", "peak"); err != nil || !strings.Contains(out, "E1") {
		t.Fatalf("events: %v\n%s", err, out)
	}
	if out, err := amigo("cancel", "E1", "--reason", "grid recovered"); err != nil || !strings.Contains(out, "cancelled") || !strings.Contains(out, "grid recovered") {
		t.Fatalf("cancel: %v\n%s", err, out)
	}
	if out, err := amigo("results", "E1"); err != nil || !strings.Contains(out, "1 participants") {
		t.Fatalf("results: %v\n%s", err, out)
	}
	if _, err := amigo("show"); err == nil {
		t.Fatal("show without an id")
	}
}
