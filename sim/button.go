package sim

import (
	"fmt"

	"github.com/amigo-ami/amigo/meter"
)

// PressButton is meter i's customer pressing the disconnector's button
// now: a meter armed for reconnection (arm-reconnect: remote reconnect in
// a control mode that waits for the customer) connects. Pressed in any
// other state it changes nothing and says why. The fleet's households
// also press on their own, meter.Fleet.ButtonDelay after arming.
func (f *Fleet) PressButton(i int) (meter.ControlState, error) {
	m, err := f.Meter(i)
	if err != nil {
		return 0, err
	}
	lk := f.Lock(i)
	lk.Lock()
	defer lk.Unlock()
	st, err := m.PressButton(f.now())
	if err != nil {
		return st, fmt.Errorf("sim: meter %d: button: %w", i, err)
	}
	return st, nil
}
