// Package distribution is the simulated distribution network behind a
// fleet: substations, feeders, transformers and services built from a
// seed in urban and rural densities, the faults that strike them
// (momentary recloses, sustained faults, planned outages) with their
// ground truth, feeder voltage that drops with load, transformers tapped
// out of bounds, and sags and swells. It implements meter.Supply.
package distribution
