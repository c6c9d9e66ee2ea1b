package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/dlms"
	"github.com/amigo-ami/amigo/dlms/security"
)

const (
	testEK = "000102030405060708090A0B0C0D0E0F"
	testAK = "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF"
)

// labMeter starts `amigo dlms serve` on ephemeral loopback ports and
// returns the address of each link.
func labMeter(t *testing.T) map[string]string {
	t.Helper()
	cmd := exec.Command(amigoBin, "dlms", "serve", "--wrapper", "127.0.0.1:0", "--hdlc", "127.0.0.1:0", "--mode-e", "127.0.0.1:0",
		"--password", "lab-secret", "--ek", testEK, "--ak", testAK, "--log-format", "json")
	pr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addrs := map[string]string{}
	got := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			var rec struct{ Msg, Link, Addr string }
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "lab meter listening" {
				addrs[rec.Link] = rec.Addr
				if len(addrs) == 3 {
					close(got)
				}
			}
		}
	}()
	select {
	case <-got:
	case <-time.After(20 * time.Second):
		t.Fatal("lab meter did not start")
	}
	return addrs
}

func amigo(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(amigoBin, args...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func TestDLMSToolAgainstLabMeter(t *testing.T) {
	addrs := labMeter(t)
	hls := []string{"--client", "1", "--auth", "hls-gmac", "--ek", testEK, "--ak", testAK}
	lls := []string{"--client", "17", "--auth", "lls", "--password", "lab-secret"}
	for _, c := range []struct {
		name string
		link []string
		addr string
		auth []string
	}{
		{"wrapper none", nil, addrs["wrapper"], nil},
		{"wrapper lls", nil, addrs["wrapper"], lls},
		{"wrapper hls-gmac", nil, addrs["wrapper"], hls},
		{"hdlc none", []string{"--transport", "hdlc"}, addrs["hdlc"], nil},
		{"hdlc lls", []string{"--transport", "hdlc"}, addrs["hdlc"], lls},
		{"hdlc hls-gmac", []string{"--transport", "hdlc"}, addrs["hdlc"], hls},
		{"mode E hls-gmac", []string{"--transport", "hdlc", "--mode-e"}, addrs["mode-e"], hls},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := append(append(append([]string{"dlms", "get"}, c.link...), c.auth...), c.addr, "1.0.1.8.0.255", "0.0.96.1.0.255", "--json")
			out, errs, code := amigo(t, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			var res []getOut
			if err := json.Unmarshal([]byte(out), &res); err != nil || len(res) != 2 {
				t.Fatalf("output %q: %v", out, err)
			}
			if res[0].Unit != "Wh" || res[0].Scaled <= 0 || res[1].Value != "AMI00000001" {
				t.Fatalf("values %+v", res)
			}
		})
	}
}

func TestDLMSToolCommandsAndErrors(t *testing.T) {
	addrs := labMeter(t)
	w := addrs["wrapper"]
	hls := []string{"--client", "1", "--auth", "hls-gmac", "--ek", testEK, "--ak", testAK}

	out, errs, code := amigo(t, "dlms", "objects", w)
	if code != 0 || !strings.Contains(out, "1.0.99.1.0.255") || !strings.Contains(out, "Profile generic") {
		t.Fatalf("objects: %d %s %s", code, out, errs)
	}
	out, errs, code = amigo(t, append(append([]string{"dlms", "profile"}, hls...), "--from", "-2h", w, "1-0:99.1.0*255")...)
	if code != 0 || !strings.Contains(out, "entries") || !strings.Contains(out, "0.0.1.0.0.255:2") {
		t.Fatalf("profile: %d %s %s", code, out, errs)
	}
	// A whole 10-day profile is larger than any PDU: block transfer.
	out, errs, code = amigo(t, "dlms", "profile", "--from", "-240h", w, "1.0.99.1.0.255")
	if code != 0 || !strings.Contains(out, "960 entries") {
		t.Fatalf("long profile: %d %s", code, errs)
	}
	// Remote disconnect, then the relay reads disconnected.
	if _, errs, code = amigo(t, append(append([]string{"dlms", "action"}, hls...), w, "70/0.0.96.3.10.255:1", "int8:0")...); code != 0 {
		t.Fatalf("disconnect: %s", errs)
	}
	out, _, _ = amigo(t, "dlms", "get", w, "0.0.96.3.10.255:3")
	if !strings.Contains(out, "enum 0") {
		t.Fatalf("control state after disconnect: %s", out)
	}
	// The public client may read but not write.
	_, errs, code = amigo(t, "dlms", "set", w, "0.0.1.0.0.255:2", "datetime:now")
	if code != 1 || !strings.Contains(errs, "read-write-denied") {
		t.Fatalf("public set: %d %s", code, errs)
	}
	// Management may set the clock.
	if _, errs, code = amigo(t, append(append([]string{"dlms", "set"}, hls...), w, "0.0.1.0.0.255:2", "datetime:2026-01-01T00:00:00Z")...); code != 0 {
		t.Fatalf("management set: %s", errs)
	}
	for name, c := range map[string]struct {
		args []string
		code int
		want string
	}{
		"wrong password": {[]string{"dlms", "get", "--client", "17", "--auth", "lls", "--password", "nope", w, "1.0.1.8.0.255"}, 1, "authentication-failure"},
		"wrong key":      {[]string{"dlms", "get", "--client", "1", "--auth", "hls-gmac", "--ek", testAK, "--ak", testAK, w, "1.0.1.8.0.255"}, 1, "client 1"},
		"bad obis":       {[]string{"dlms", "get", w, "1.0.1.8"}, 2, "obis"},
		"bad value":      {[]string{"dlms", "set", w, "0.0.1.0.0.255:2", "colour:red"}, 2, "unknown type"},
		"no keys":        {[]string{"dlms", "get", "--auth", "hls-gmac", w, "1.0.1.8.0.255"}, 2, "--ek"},
		"nobody there":   {[]string{"dlms", "get", "--timeout", "3s", "127.0.0.1:1", "1.0.1.8.0.255"}, 1, "127.0.0.1:1"},
		"no such object": {[]string{"dlms", "get", w, "1.0.99.99.0.255"}, 1, "not in the association's object list"},
	} {
		_, errs, code := amigo(t, c.args...)
		msg := strings.TrimRight(errs, "\n")
		if code != c.code || !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") || strings.Contains(msg, "goroutine") {
			t.Errorf("%s: exit %d, stderr %q; want exit %d and one line with %q", name, code, msg, c.code, c.want)
		}
	}
}

// A serial line, as an engineer's USB adapter presents it: a pty bridged by
// socat to the lab meter's HDLC port carries the same session.
func TestDLMSToolOverSerialLine(t *testing.T) {
	socat, err := exec.LookPath("socat")
	if err != nil {
		t.Fatal("socat is missing; scripts/setup.sh installs it")
	}
	addrs := labMeter(t)
	tty := filepath.Join(t.TempDir(), "ttyAMI0")
	br := exec.Command(socat, "pty,raw,echo=0,link="+tty, "tcp:"+addrs["hdlc"])
	if err := br.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { br.Process.Kill(); br.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(tty); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("socat made no pty")
		}
		<-tick.C
	}
	out, errs, code := amigo(t, "dlms", "get", "--transport", "hdlc", "--client", "17", "--auth", "lls", "--password", "lab-secret", "serial:"+tty, "1.0.1.8.0.255")
	if code != 0 || !strings.Contains(out, "Wh") {
		t.Fatalf("over serial: %d %s %s", code, out, errs)
	}
}

// TestDLMSSettingNames checks the client flags take the names the manifest
// and the sealed meter secrets use, and nothing else.
func TestDLMSSettingNames(t *testing.T) {
	for _, c := range []struct {
		transport, auth, policy string
		link                    dlms.Link
		mech                    security.Mechanism
		want                    security.Policy
	}{
		{"wrapper", "none", "", dlms.LinkWrapper, security.MechanismNone, security.PolicyNone},
		{"hdlc", "lls", "none", dlms.LinkHDLC, security.MechanismLLS, security.PolicyNone},
		{"wrapper", "hls-gmac", "", dlms.LinkWrapper, security.MechanismHLSGMAC, security.PolicyAuthenticatedEncrypted},
		{"wrapper", "hls-gmac", "authenticated", dlms.LinkWrapper, security.MechanismHLSGMAC, security.PolicyAuthenticated},
		{"wrapper", "hls-gmac", "encrypted", dlms.LinkWrapper, security.MechanismHLSGMAC, security.PolicyEncrypted},
		{"wrapper", "none", "authenticated-encrypted", dlms.LinkWrapper, security.MechanismNone, security.PolicyAuthenticatedEncrypted},
	} {
		f := clientFlags{transport: c.transport, auth: c.auth, policy: c.policy, password: "pw", ek: testEK, ak: testAK}
		o, err := f.options()
		if err != nil {
			t.Errorf("%+v: %v", c, err)
			continue
		}
		if o.Link != c.link || o.Authentication != c.mech || o.Policy != c.want {
			t.Errorf("%s/%s/%q: got %s/%s/%s", c.transport, c.auth, c.policy, o.Link, o.Authentication, o.Policy)
		}
	}
	for _, f := range []clientFlags{
		{transport: "wrapper", auth: "none", policy: "auth+enc"},
		{transport: "wrapper", auth: "none", policy: "authenticated+encrypted"},
		{transport: "wrapper", auth: "none", policy: "auth"},
		{transport: "wrapper", auth: "HLS-GMAC"},
		{transport: "wrapper", auth: "hls-md5"},
		{transport: "wrapper", auth: ""},
		{transport: "tcp", auth: "none"},
		{transport: "", auth: "none"},
	} {
		_, err := f.options()
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("%+v: %v, want a usage error", f, err)
		}
	}
}
