//go:build !race

package cluster_test

// chaosMeters is the fleet scripts/test.sh runs the chaos test with,
// without the race detector: a baseline and one cluster collection with
// every fault take about six minutes on two cores.
// AMIGO_CHAOS_METERS=2000 is a quicker look.
const chaosMeters = 20000

// chaosFaults are the cluster collections the chaos test runs by default:
// one, with every fault in turn. AMIGO_CHAOS_FAULTS=headend-kill,nats-kill,
// nats-stop,mdm-kill runs a collection per fault instead, to tell which
// fault a difference comes from.
var chaosFaults = []string{faultAll}
