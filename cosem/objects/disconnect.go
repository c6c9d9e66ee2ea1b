package objects

import (
	"context"
	"strconv"
	"sync"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/obis"
)

// ControlState is the control_state of Disconnect control.
type ControlState uint8

// Control states.
const (
	Disconnected         ControlState = 0
	Connected            ControlState = 1
	ReadyForReconnection ControlState = 2
)

func (s ControlState) String() string {
	switch s {
	case Disconnected:
		return "disconnected"
	case Connected:
		return "connected"
	case ReadyForReconnection:
		return "ready-for-reconnection"
	}
	return "control-state(" + strconv.Itoa(int(s)) + ")"
}

// Transition names the Blue Book's disconnect control transitions.
type Transition uint8

// Transitions, lettered as in the Blue Book state diagram.
const (
	RemoteReconnectDirect Transition = 'a' // remote_reconnect: Disconnected -> Connected
	RemoteDisconnect      Transition = 'b' // remote_disconnect: Connected -> Disconnected
	RemoteDisconnectReady Transition = 'c' // remote_disconnect: Ready_for_reconnection -> Disconnected
	RemoteReconnect       Transition = 'd' // remote_reconnect: Disconnected -> Ready_for_reconnection
	ManualReconnect       Transition = 'e' // manual_reconnect: Ready_for_reconnection -> Connected
	ManualDisconnect      Transition = 'f' // manual_disconnect: Connected -> Ready_for_reconnection
	LocalDisconnect       Transition = 'g' // local_disconnect: Connected -> Ready_for_reconnection
	LocalReconnect        Transition = 'h' // local_reconnect: Ready_for_reconnection -> Connected
)

var transitions = map[Transition][2]ControlState{
	RemoteReconnectDirect: {Disconnected, Connected},
	RemoteDisconnect:      {Connected, Disconnected},
	RemoteDisconnectReady: {ReadyForReconnection, Disconnected},
	RemoteReconnect:       {Disconnected, ReadyForReconnection},
	ManualReconnect:       {ReadyForReconnection, Connected},
	ManualDisconnect:      {Connected, ReadyForReconnection},
	LocalDisconnect:       {Connected, ReadyForReconnection},
	LocalReconnect:        {ReadyForReconnection, Connected},
}

// modeTransitions lists the transitions each control_mode (0..6) allows.
// Mode 0 allows none: the output stays connected.
var modeTransitions = [7]string{
	0: "",
	1: "bcdefg",
	2: "abcefg",
	3: "bcdeg",
	4: "abceg",
	5: "bcdefgh",
	6: "bcdegh",
}

// Allows reports whether control mode mode permits transition t.
func Allows(mode uint8, t Transition) bool {
	if int(mode) >= len(modeTransitions) {
		return false
	}
	for i := 0; i < len(modeTransitions[mode]); i++ {
		if Transition(modeTransitions[mode][i]) == t {
			return true
		}
	}
	return false
}

// DisconnectControl is a Disconnect control object (class 70) with the
// Blue Book state machine. Remote transitions come from methods 1 and 2,
// manual and local ones from Fire. Drive is told the new output state
// before the state changes; if it fails, the state stays.
type DisconnectControl struct {
	sync.Mutex
	Header
	State       ControlState
	ControlMode uint8
	// Drive switches the relay: true closes (supply on).
	Drive func(ctx context.Context, connect bool) error
	// ModeWritable lets clients set control_mode.
	ModeWritable bool

	fire sync.Mutex // serialises transitions, so the relay and State agree
}

// NewDisconnectControl returns a disconnect control in mode, connected.
func NewDisconnectControl(ln obis.Code, mode uint8) *DisconnectControl {
	return &DisconnectControl{Header: Header{Class: cosem.ClassDisconnectControl, LN: ln}, State: Connected, ControlMode: mode}
}

// Output returns output_state: true only when connected.
func (o *DisconnectControl) Output() bool {
	o.Lock()
	defer o.Unlock()
	return o.State == Connected
}

// Fire applies transition t if the control mode allows it and the object
// is in its source state; it reports whether the state changed. Mode 0
// keeps the output connected and allows nothing.
func (o *DisconnectControl) Fire(ctx context.Context, t Transition) (bool, error) {
	tr, ok := transitions[t]
	if !ok {
		return false, cosem.Errorf(cosem.ResultOtherReason, o.String()+": unknown transition "+string(rune(t)))
	}
	o.fire.Lock()
	defer o.fire.Unlock()
	o.Lock()
	mode, state, drive := o.ControlMode, o.State, o.Drive
	o.Unlock()
	if !Allows(mode, t) || state != tr[0] {
		return false, nil
	}
	wasOn, on := tr[0] == Connected, tr[1] == Connected
	if drive != nil && wasOn != on {
		if err := drive(ctx, on); err != nil {
			return false, cosem.Wrap(cosem.ResultHardwareFault, o.String()+": relay", err)
		}
	}
	o.Lock()
	o.State = tr[1]
	o.Unlock()
	return true, nil
}

// Get implements Object.
func (o *DisconnectControl) Get(ctx context.Context, req *cosem.AttributeRequest) (axdr.Data, error) {
	if err := o.noSelective(req); err != nil {
		return axdr.Data{}, err
	}
	o.Lock()
	defer o.Unlock()
	switch req.Attribute {
	case 1:
		return cosem.LogicalNameData(o.LN), nil
	case 2:
		return axdr.Bool(o.State == Connected), nil
	case 3:
		return axdr.Enum(uint8(o.State)), nil
	case 4:
		return axdr.Enum(o.ControlMode), nil
	}
	return axdr.Data{}, o.undefinedAttr(req.Attribute)
}

// Set implements Object: only control_mode, and only if ModeWritable.
func (o *DisconnectControl) Set(ctx context.Context, req *cosem.AttributeRequest, v axdr.Data) error {
	if err := o.noSelective(req); err != nil {
		return err
	}
	switch req.Attribute {
	case 1, 2, 3:
		return o.denied(req.Attribute)
	case 4:
		if !o.ModeWritable {
			return o.denied(4)
		}
		n, ok := cosem.UintOf(v, axdr.TagEnum)
		if !ok {
			return o.typeErr(4, "enum", v)
		}
		if n > 6 {
			return cosem.Errorf(cosem.ResultOtherReason, o.attrName(4)+": mode beyond 6")
		}
		o.Lock()
		o.ControlMode = uint8(n)
		o.Unlock()
		return nil
	}
	return o.undefinedAttr(req.Attribute)
}

// Action implements Object: 1 remote_disconnect, 2 remote_reconnect
// (parameter integer 0). A method that has no transition from the current
// state in the current mode succeeds without effect, as meters do; in
// mode 0 both methods are refused with read-write-denied, since the
// output can never leave connected.
func (o *DisconnectControl) Action(ctx context.Context, req *cosem.MethodRequest, p axdr.Data) (axdr.Data, error) {
	if req.Method != 1 && req.Method != 2 {
		return axdr.Data{}, o.undefinedMethod(req.Method)
	}
	if err := checkResetParam(&o.Header, p); err != nil {
		return axdr.Data{}, o.paramErr(req.Method, "integer", p)
	}
	o.Lock()
	mode := o.ControlMode
	o.Unlock()
	if mode == 0 {
		return axdr.Data{}, cosem.Errorf(cosem.ResultReadWriteDenied, o.methodName(req.Method)+": control mode 0 allows no remote control")
	}
	var try []Transition
	if req.Method == 1 {
		try = []Transition{RemoteDisconnect, RemoteDisconnectReady}
	} else {
		try = []Transition{RemoteReconnectDirect, RemoteReconnect}
	}
	for _, t := range try {
		changed, err := o.Fire(ctx, t)
		if err != nil || changed {
			return axdr.Null(), err
		}
	}
	return axdr.Null(), nil
}
