package objects

import (
	"context"
	"errors"
	"testing"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
)

func TestDisconnectStateMachine(t *testing.T) {
	const (
		D = Disconnected
		C = Connected
		R = ReadyForReconnection
	)
	// For each mode: the state after remote_disconnect (1) and
	// remote_reconnect (2) from each start state D, C, R.
	type after struct{ disc, reconn [3]ControlState }
	tests := map[uint8]after{
		1: {disc: [3]ControlState{D, D, D}, reconn: [3]ControlState{R, C, R}},
		2: {disc: [3]ControlState{D, D, D}, reconn: [3]ControlState{C, C, R}},
		3: {disc: [3]ControlState{D, D, D}, reconn: [3]ControlState{R, C, R}},
		4: {disc: [3]ControlState{D, D, D}, reconn: [3]ControlState{C, C, R}},
		5: {disc: [3]ControlState{D, D, D}, reconn: [3]ControlState{R, C, R}},
		6: {disc: [3]ControlState{D, D, D}, reconn: [3]ControlState{R, C, R}},
	}
	for mode, w := range tests {
		for start := D; start <= R; start++ {
			for _, m := range []int8{1, 2} {
				dc := NewDisconnectControl(mustLN("0.0.96.3.10.255"), mode)
				dc.State = start
				var relay []bool
				dc.Drive = func(_ context.Context, on bool) error { relay = append(relay, on); return nil }
				if _, err := act(dc, m, axdr.Int8(0)); err != nil {
					t.Fatalf("mode %d state %s method %d: %v", mode, start, m, err)
				}
				want := w.disc[start]
				if m == 2 {
					want = w.reconn[start]
				}
				if dc.State != want {
					t.Errorf("mode %d %s method %d: %s, want %s", mode, start, m, dc.State, want)
				}
				out, _ := get(t, dc, 2).Bool()
				if out != (want == Connected) {
					t.Errorf("mode %d: output_state %v in %s", mode, out, want)
				}
				if st, _ := get(t, dc, 3).Uint(); ControlState(st) != want {
					t.Errorf("control_state %d", st)
				}
				// The relay switches exactly when the output changes.
				if changed := (start == Connected) != (want == Connected); changed != (len(relay) == 1) {
					t.Errorf("mode %d %s->%s: relay calls %v", mode, start, want, relay)
				}
			}
		}
	}

	// Manual and local transitions per mode.
	local := []struct {
		tr    Transition
		from  ControlState
		to    ControlState
		modes string // modes that allow it
	}{
		{ManualDisconnect, C, R, "125"},
		{ManualReconnect, R, C, "123456"},
		{LocalDisconnect, C, R, "123456"},
		{LocalReconnect, R, C, "56"},
	}
	for _, l := range local {
		for mode := uint8(0); mode <= 6; mode++ {
			dc := NewDisconnectControl(mustLN("0.0.96.3.10.255"), mode)
			dc.State = l.from
			changed, err := dc.Fire(bg, l.tr)
			if err != nil {
				t.Fatal(err)
			}
			allowed := false
			for _, c := range l.modes {
				allowed = allowed || uint8(c-'0') == mode
			}
			if changed != allowed || (allowed && dc.State != l.to) || (!allowed && dc.State != l.from) {
				t.Errorf("transition %c in mode %d: changed %v state %s", l.tr, mode, changed, dc.State)
			}
		}
	}

	// Mode 0: always connected, remote control refused.
	dc := NewDisconnectControl(mustLN("0.0.96.3.10.255"), 0)
	_, err := act(dc, 1, axdr.Int8(0))
	wantResult(t, "mode 0 disconnect", err, cosem.ResultReadWriteDenied)
	if !dc.Output() {
		t.Error("mode 0 left connected")
	}

	// A relay failure keeps the state and reports a hardware fault.
	dc = NewDisconnectControl(mustLN("0.0.96.3.10.255"), 1)
	dc.Drive = func(context.Context, bool) error { return errors.New("coil open") }
	_, err = act(dc, 1, axdr.Int8(0))
	wantResult(t, "relay failure", err, cosem.ResultHardwareFault)
	if dc.State != Connected {
		t.Errorf("state %s after relay failure", dc.State)
	}

	// Parameters and attributes.
	_, err = act(dc, 1, axdr.OctetString(nil))
	wantResult(t, "octet-string parameter", err, cosem.ResultTypeUnmatched)
	wantResult(t, "set control_mode not writable", set(dc, 4, axdr.Enum(2)), cosem.ResultReadWriteDenied)
	dc.ModeWritable = true
	wantResult(t, "set control_mode uint8", set(dc, 4, axdr.Uint8(2)), cosem.ResultTypeUnmatched)
	wantResult(t, "set control_mode 7", set(dc, 4, axdr.Enum(7)), cosem.ResultOtherReason)
	if err := set(dc, 4, axdr.Enum(2)); err != nil || dc.ControlMode != 2 {
		t.Fatalf("set control_mode: %v", err)
	}
	wantResult(t, "set output_state", set(dc, 2, axdr.Bool(false)), cosem.ResultReadWriteDenied)
}

// TestTraceDisconnect replays file 09's decrypted requests: the server
// started disconnected in a mode that reconnects directly; disconnect
// left it unchanged, reconnect connected it.
func TestTraceDisconnect(t *testing.T) {
	dc := NewDisconnectControl(mustLN("0.0.96.3.10.255"), 2)
	dc.State = Disconnected
	steps := []struct {
		method int8
		param  string // decrypted ACTION-request parameter
		out    string
		state  string
	}{
		{0, "", "0300", "1600"},
		{1, "0F00", "0300", "1600"},
		{2, "0F00", "0301", "1601"},
	}
	for _, s := range steps {
		if s.method != 0 {
			if _, err := act(dc, s.method, dec(t, s.param)); err != nil {
				t.Fatal(err)
			}
		}
		if got := enc(get(t, dc, 2)); got != s.out {
			t.Errorf("after method %d output_state %s, want %s", s.method, got, s.out)
		}
		if got := enc(get(t, dc, 3)); got != s.state {
			t.Errorf("after method %d control_state %s, want %s", s.method, got, s.state)
		}
	}
}
