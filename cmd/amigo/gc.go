package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
)

// tuneGC sets the collector for a long-running server unless GOGC or
// GOMEMLIMIT say otherwise. At Go's default (collect when the heap has
// grown by 100 %) allocation and marking were a fifth of the CPU of a
// collection run, whose heap is mostly short-lived session buffers. Growing by 400 %
// before collecting costs memory instead, so a soft limit at a third of
// the machine's memory makes the collector work harder before that memory
// runs short (a third: the fleet simulator, the same binary, may share the
// machine).
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		if total := memTotal(); total > 0 {
			debug.SetMemoryLimit(total / 3)
		}
	}
}

// memTotal is the machine's memory in bytes from /proc/meminfo, 0 when it
// cannot be read (not Linux).
func memTotal() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "MemTotal:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					return n << 10
				}
			}
		}
	}
	return 0
}

// cpuProfileTo starts a CPU profile written to file (none when file is
// empty); the returned stop ends it.
func cpuProfileTo(file string) (stop func(), err error) {
	if file == "" {
		return func() {}, nil
	}
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile %s: %w", file, err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
