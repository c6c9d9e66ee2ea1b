// Package bench owns amigo's product-level performance record: the suites
// behind `amigo bench` (codec, session, ingest, query, fleet-day), each of
// which measures its own baseline in the same run, so that a figure is a
// ratio that survives a shared, noisy machine. The per-function
// `go test -bench` benchmarks stay next to the code they measure.
package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// Result is one figure of a suite. When Baseline is set, Ratio is
// Value / BaselineValue: how the measured path compares with the simplest
// way to do the same work on the same machine in the same run.
type Result struct {
	Suite         string  `json:"suite"`
	Metric        string  `json:"metric"`
	Value         float64 `json:"value"`
	Unit          string  `json:"unit"`
	Baseline      string  `json:"baseline,omitempty"`
	BaselineValue float64 `json:"baselineValue,omitempty"`
	Ratio         float64 `json:"ratio,omitempty"`
	Note          string  `json:"note,omitempty"`
}

// Options sizes a run.
type Options struct {
	// Tiny runs every suite at a size that only proves the harness works.
	Tiny bool
	// Meters is the fleet-day fleet size (100,000 when 0).
	Meters int
	// Postgres is a PostgreSQL URL for the ingest suite; empty leaves
	// PostgreSQL out.
	Postgres string
	// Exe is the amigo binary the simulator runs from (a separate
	// process, so each side's CPU and memory are its own).
	Exe string
	// Dir is where stores and bus data go (a temporary directory when
	// empty).
	Dir string
	Log *slog.Logger
	// SimCPUProfile, when set, is where each simulator writes its CPU
	// profile.
	SimCPUProfile string
}

// Suite is one named measurement.
type Suite struct {
	Name    string
	Summary string
	Run     func(ctx context.Context, o Options) ([]Result, error)
	// Postgres says the suite needs Options.Postgres.
	Postgres bool
}

// Suites lists the suites in the order a full run takes them.
func Suites() []Suite {
	return []Suite{
		{Name: "codec", Summary: "DLMS A-XDR decode/encode and suite-0 ciphering, against A-XDR skip and bare AES-GCM", Run: runCodec},
		{Name: "session", Summary: "full DLMS sessions against the simulator on loopback, HLS-GMAC + authenticated encryption against none", Run: runSession},
		{Name: "ingest", Summary: "readings/s from the bus through VEE into the store, against a raw insert of the same day rows", Run: runIngest},
		{Name: "query", Summary: "latency of a one-month, one-meter interval query over HTTP under concurrent load, against the store call alone", Run: runQuery},
		{Name: "fleet-day", Summary: "a simulated fleet's day collected, validated and stored end to end", Run: runFleetDay},
		{Name: "fleet-cluster", Summary: "the fleet-day on a cluster of processes: 3 NATS nodes, 2 amigo nodes (head-end + MDM) on PostgreSQL (needs --postgres)",
			Run: runFleetCluster, Postgres: true},
		{Name: "billing", Summary: "a bill run over a group's accounts (a one-day cycle), against the batch read of the same days", Run: runBilling},
	}
}

// Report is a whole run, as written to JSON.
type Report struct {
	Started  time.Time `json:"started"`
	Duration string    `json:"duration"`
	Machine  Machine   `json:"machine"`
	Tiny     bool      `json:"tiny,omitempty"`
	Results  []Result  `json:"results"`
	// Failed names the suites that could not run, with why.
	Failed map[string]string `json:"failed,omitempty"`
}

// Machine says where the figures were taken.
type Machine struct {
	CPUs   int    `json:"cpus"`
	CPU    string `json:"cpu"`
	OS     string `json:"os"`
	Go     string `json:"go"`
	Memory string `json:"memory"`
}

// Run runs the named suites (all when names is empty) and returns the
// report. A suite that fails is recorded and the others still run.
func Run(ctx context.Context, names []string, o Options) (Report, error) {
	all := Suites()
	var run []Suite
	if len(names) == 0 {
		for _, s := range all {
			// A suite that needs PostgreSQL runs unasked only with one.
			if !s.Postgres || o.Postgres != "" {
				run = append(run, s)
			}
		}
	}
	for _, n := range names {
		found := false
		for _, s := range all {
			if s.Name == n {
				run, found = append(run, s), true
			}
		}
		if !found {
			known := make([]string, len(all))
			for i, s := range all {
				known[i] = s.Name
			}
			return Report{}, fmt.Errorf("unknown suite %q (known: %s)", n, strings.Join(known, ", "))
		}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Dir == "" {
		d, err := os.MkdirTemp("", "amigo-bench-")
		if err != nil {
			return Report{}, err
		}
		defer os.RemoveAll(d)
		o.Dir = d
	}
	rep := Report{Started: time.Now().UTC(), Machine: machine(), Tiny: o.Tiny, Failed: map[string]string{}}
	for _, s := range run {
		if ctx.Err() != nil {
			break
		}
		o.Log.Info("suite", "name", s.Name)
		t0 := time.Now()
		rs, err := s.Run(ctx, o)
		if err != nil {
			rep.Failed[s.Name] = err.Error()
			o.Log.Error("suite failed", "name", s.Name, "err", err)
			continue
		}
		for i := range rs {
			rs[i].Suite = s.Name
			if rs[i].Baseline != "" && rs[i].BaselineValue != 0 {
				rs[i].Ratio = rs[i].Value / rs[i].BaselineValue
			}
		}
		rep.Results = append(rep.Results, rs...)
		o.Log.Info("suite done", "name", s.Name, "took", time.Since(t0).Round(time.Millisecond))
	}
	rep.Duration = time.Since(rep.Started).Round(time.Millisecond).String()
	if len(rep.Failed) == 0 {
		rep.Failed = nil
	}
	return rep, ctx.Err()
}

// WriteTable prints the report for a person.
func WriteTable(w io.Writer, rep Report) error {
	m := rep.Machine
	fmt.Fprintf(w, "amigo bench  %s  %d CPUs (%s), %s, %s, %s\n\n", rep.Started.Format(time.RFC3339), m.CPUs, m.CPU, m.Memory, m.OS, m.Go)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SUITE\tMETRIC\tVALUE\tUNIT\tBASELINE\tBASELINE VALUE\tRATIO")
	for _, r := range rep.Results {
		base, bv, ratio := "", "", ""
		if r.Baseline != "" {
			base, bv = r.Baseline, num(r.BaselineValue)
			if r.Ratio != 0 {
				ratio = fmt.Sprintf("%.2f", r.Ratio)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Suite, r.Metric, num(r.Value), r.Unit, base, bv, ratio)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range rep.Results {
		if r.Note != "" {
			fmt.Fprintf(w, "  %s %s: %s\n", r.Suite, r.Metric, r.Note)
		}
	}
	for s, why := range rep.Failed {
		fmt.Fprintf(w, "FAILED %s: %s\n", s, why)
	}
	_, err := fmt.Fprintf(w, "\ntook %s\n", rep.Duration)
	return err
}

// WriteJSON writes the report as indented JSON.
func WriteJSON(w io.Writer, rep Report) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(rep)
}

// num prints a figure with the precision a reader needs.
func num(v float64) string {
	switch a := max(v, -v); {
	case a == 0:
		return "0"
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.4f", v)
	}
}

func machine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if kb := procKB("/proc/meminfo", "MemTotal"); kb > 0 {
		m.Memory = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
	}
	return m
}
