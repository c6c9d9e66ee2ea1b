package main

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestOpenADRVENAgainstVTN runs `amigo openadr vtn` as a process and
// `amigo openadr ven` against it: registration, the event opted out of
// (by oadrCreatedEvent and oadrCreateOpt), and a report received.
func TestOpenADRVENAgainstVTN(t *testing.T) {
	cmd := exec.Command(amigoBin, "openadr", "vtn", "--listen", "127.0.0.1:0", "--threshold-w", "2500",
		"--start", "2026-12-08T17:00:00Z", "--duration", "2h", "--randomize", "10m", "--poll", "1s")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	r := bufio.NewReader(out)
	first, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("vtn: %v %s", err, stderr.String())
	}
	// "vtn AMIGO-VTN on http://ADDR/OpenADR2/Simple/2.0b serving event ..."
	f := strings.Fields(first)
	if len(f) < 4 || f[2] != "on" {
		t.Fatalf("vtn said %q", first)
	}
	url := f[3]

	var vout, verr bytes.Buffer
	if code := run([]string{"openadr", "ven", "--vtn", url, "--ven-id", "ven-7", "--opt", "out", "--create-opt",
		"--report", "meter-1", "--report-value", "1500", "--polls", "2", "--interval", "1ms"}, &vout, &verr); code != 0 {
		t.Fatalf("ven: exit %d: %s", code, verr.String())
	}
	for _, want := range []string{
		"vtn AMIGO-VTN profiles 1",
		"registered ven ven-7 registration ",
		"report ",
		"event amigo-event-1 modification 0 status far start 2026-12-08T17:00:00Z duration PT2H startafter PT10M market urn:amigo:dr:program:cli signal SIMPLE/level=2 signal LOAD_DISPATCH/setpoint=2500 W -> optOut",
		"poll 1: oadrDistributeEvent",
		"oadrCreateOpt ",
		"poll 2: oadrResponse",
	} {
		if !strings.Contains(vout.String(), want) {
			t.Errorf("ven output lacks %q:\n%s", want, vout.String())
		}
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(r)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("vtn: %v %s", err, stderr.String())
	}
	for _, want := range []string{
		"ven ven-7 offers METADATA_TELEMETRY_USAGE amigo-telemetry [meter-1]",
		"ven ven-7 optOut event amigo-event-1 modification 0 opt \"\"",
		"ven ven-7 optOut event amigo-event-1 modification 0 opt \"",
		" meter-1 at ",
		"= 1500",
	} {
		if !strings.Contains(string(rest), want) {
			t.Errorf("vtn output lacks %q:\n%s", want, rest)
		}
	}
}
