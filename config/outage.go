package config

import (
	"fmt"
	"time"
)

// Outage configures outage management:
//
//	outage:
//	  enabled: true
//	  momentary: 5m       # interruptions shorter than this are momentary (IEEE 1366)
//	  window: 30s         # last gasps gathered before they are correlated
//	  ping_sample: 5      # silent meters pinged under a suspected device
//	  max_pings: 8        # pings in flight at once
//	  ping_timeout: 10s
//	  verify_after: 20s   # wait after the first power-restored push before pinging the rest
//	  reping: 15m         # an open outage without news is pinged again
type Outage struct {
	Enabled     bool          `yaml:"enabled"`
	Momentary   time.Duration `yaml:"momentary"`
	Window      time.Duration `yaml:"window"`
	PingSample  int           `yaml:"ping_sample"`
	MaxPings    int           `yaml:"max_pings"`
	PingTimeout time.Duration `yaml:"ping_timeout"`
	VerifyAfter time.Duration `yaml:"verify_after"`
	Reping      time.Duration `yaml:"reping"`
}

// DefaultOutage is on, with IEEE 1366's five-minute momentary threshold.
func DefaultOutage() Outage {
	return Outage{Enabled: true, Momentary: 5 * time.Minute, Window: 30 * time.Second, PingSample: 5, MaxPings: 8,
		PingTimeout: 10 * time.Second, VerifyAfter: 20 * time.Second, Reping: 15 * time.Minute}
}

func (o Outage) validate() error {
	switch {
	case o.Momentary < time.Second:
		return fmt.Errorf("outage.momentary %s: want at least 1s", o.Momentary)
	case o.Window < time.Second || o.Window > 10*time.Minute:
		return fmt.Errorf("outage.window %s: want 1s to 10m (last gasps of one fault arrive within seconds)", o.Window)
	case o.PingSample < 1 || o.PingSample > 100:
		return fmt.Errorf("outage.ping_sample %d: want 1 to 100", o.PingSample)
	case o.MaxPings < 1 || o.MaxPings > 1000:
		return fmt.Errorf("outage.max_pings %d: want 1 to 1000", o.MaxPings)
	case o.PingTimeout < 100*time.Millisecond:
		return fmt.Errorf("outage.ping_timeout %s: want at least 100ms", o.PingTimeout)
	case o.VerifyAfter < 0 || o.VerifyAfter > 10*time.Minute:
		return fmt.Errorf("outage.verify_after %s: want 0 to 10m", o.VerifyAfter)
	case o.Reping < time.Minute:
		return fmt.Errorf("outage.reping %s: want at least 1m", o.Reping)
	}
	return nil
}
