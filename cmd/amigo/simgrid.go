package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/amigo-ami/amigo/distribution"
)

// gridOpts are amigo sim's distribution network flags.
type gridOpts struct {
	on         *bool
	rural      *float64
	days       *int
	gaspLoss   *float64
	falseGasps *float64
	oob        *float64
	sags       *float64
	storms     *float64
	topology   *string
}

func gridFlags(fs *flag.FlagSet) gridOpts {
	d := distribution.DefaultConfig(0, 1, time.Time{})
	return gridOpts{
		on:         fs.Bool("grid", false, "run the meters on a simulated distribution network (substations, feeders, transformers):\nits faults cut whole transformers and feeders, its voltage drops along feeders; replaces --outages"),
		rural:      fs.Float64("grid-rural", d.Rural, "`fraction` of the network's feeders that are rural (few services per transformer, long lines)"),
		days:       fs.Int("grid-days", 30, "`days` after the start the network's faults reach (they start --history days before it)"),
		gaspLoss:   fs.Float64("grid-gasp-loss", d.LastGaspLoss, "`fraction` of last gasps lost on the way"),
		falseGasps: fs.Float64("grid-false-gasps", d.FalseGaspsPerYear, "false last gasps per meter-`year`"),
		oob:        fs.Float64("grid-out-of-bounds", d.OutOfBounds, "`fraction` of transformers tapped outside EN 50160's ±10 %"),
		sags:       fs.Float64("grid-sags", d.SagsPerFeederYear, "voltage sags and swells per feeder-`year`"),
		storms:     fs.Float64("grid-storms", d.Mix.StormsPerYear, "storms (major event days) a `year`"),
		topology:   fs.String("topology", "", "write the network's topology CSV to `file` (with --grid)"),
	}
}

// network builds the network of the fleet's meters, covering the history
// window and --grid-days ahead; nil without --grid.
func (o gridOpts) network(meters int, seed uint64, start time.Time, history int, loc *time.Location) (*distribution.Network, error) {
	if !*o.on {
		if *o.topology != "" {
			return nil, usageError{fmt.Errorf("--topology needs --grid")}
		}
		return nil, nil
	}
	if *o.days < 0 {
		return nil, usageError{fmt.Errorf("--grid-days %d: want 0 or more", *o.days)}
	}
	y, m, d := start.In(loc).Date()
	cfg := distribution.DefaultConfig(seed, meters, time.Date(y, m, d-history, 0, 0, 0, 0, loc))
	cfg.Days = history + *o.days + 1
	cfg.Location = loc
	cfg.Rural, cfg.LastGaspLoss, cfg.FalseGaspsPerYear, cfg.OutOfBounds, cfg.SagsPerFeederYear = *o.rural, *o.gaspLoss, *o.falseGasps, *o.oob, *o.sags
	cfg.Mix.StormsPerYear = *o.storms
	n, err := distribution.New(cfg)
	if err != nil {
		return nil, usageError{fmt.Errorf("--grid: %v", err)}
	}
	if *o.topology != "" {
		f, err := os.Create(*o.topology)
		if err != nil {
			return nil, err
		}
		if err := n.WriteCSV(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("--topology %s: %w", *o.topology, err)
		}
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("--topology %s: %w", *o.topology, err)
		}
	}
	return n, nil
}
