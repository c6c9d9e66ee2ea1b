package cluster

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// NodeConfig is what one `amigo serve` of a cluster is given. Zero
// durations and counts keep amigo's defaults.
type NodeConfig struct {
	Name      string   // node.name, unique in the cluster
	Roles     []string // node.roles; none: every role
	Dir       string   // its data directory (the lock), its config and its log
	Store     string   // store.url, shared by every node
	Bus       string   // bus.url: comma-separated nats:// URLs; empty: embedded
	Replicas  int      // bus.replicas (default 3 with Bus set)
	MasterKey string   // AMIGO_MASTER_KEY, 64 hex digits, shared
	LeaseTTL  time.Duration

	// Collection settings of headend.
	Concurrency  int
	PerSegment   int
	Attempts     int
	JobTimeout   time.Duration
	Window       time.Duration
	DailyAt      time.Duration // negative: no daily run
	BackfillDays int

	Push  bool   // listen for DLMS pushes on a free port
	Extra string // further YAML, appended as is
	Env   []string
}

// Node is one `amigo serve` process.
type Node struct {
	proc
	Name   string
	Addr   string // HTTP host:port
	Config string // the YAML file it reads
}

// yaml writes the config file's text; the ports are the node's own.
func (c NodeConfig) yaml(httpAddr, pushAddr string) string {
	var b strings.Builder
	q := func(s string) string { return strconv.Quote(s) }
	fmt.Fprintf(&b, "data: %s\nhttp:\n  addr: %s\n", q(filepath.Join(c.Dir, "data")), q(httpAddr))
	if c.Store != "" {
		fmt.Fprintf(&b, "store:\n  url: %s\n", q(c.Store))
	}
	if c.Bus != "" {
		rep := c.Replicas
		if rep == 0 {
			rep = 3
		}
		fmt.Fprintf(&b, "bus:\n  url: %s\n  replicas: %d\n", q(c.Bus), rep)
	}
	fmt.Fprintf(&b, "log:\n  format: json\n")
	fmt.Fprintf(&b, "node:\n  name: %s\n", q(c.Name))
	if len(c.Roles) > 0 {
		fmt.Fprintf(&b, "  roles: [%s]\n", strings.Join(c.Roles, ", "))
	}
	if c.LeaseTTL > 0 {
		fmt.Fprintf(&b, "  lease_ttl: %s\n", c.LeaseTTL)
	}
	fmt.Fprintf(&b, "headend:\n  push_addr: %s\n  c1222_push_addr: \"\"\n", q(pushAddr))
	for _, kv := range []struct {
		k string
		v int
	}{{"concurrency", c.Concurrency}, {"per_segment", c.PerSegment}, {"attempts", c.Attempts}, {"backfill_days", c.BackfillDays}} {
		if kv.v != 0 {
			fmt.Fprintf(&b, "  %s: %d\n", kv.k, kv.v)
		}
	}
	for _, kv := range []struct {
		k string
		v time.Duration
	}{{"job_timeout", c.JobTimeout}, {"window", c.Window}, {"daily_at", c.DailyAt}} {
		if kv.v != 0 {
			fmt.Fprintf(&b, "  %s: %s\n", kv.k, kv.v)
		}
	}
	if c.Extra != "" {
		b.WriteString(strings.TrimRight(c.Extra, "\n") + "\n")
	}
	return b.String()
}

// StartNode runs `bin serve` with a config made from cfg, its output in
// Dir/amigo.log, and waits until /readyz answers 200.
func StartNode(ctx context.Context, bin string, cfg NodeConfig) (*Node, error) {
	if cfg.Name == "" || cfg.Dir == "" {
		return nil, fmt.Errorf("cluster: a node needs a name and a directory (name %q, dir %q)", cfg.Name, cfg.Dir)
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("cluster: node %s: %w", cfg.Name, err)
	}
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	httpAddr := "127.0.0.1:" + strconv.Itoa(ports[0])
	push := ""
	if cfg.Push {
		push = "127.0.0.1:" + strconv.Itoa(ports[1])
	}
	file := filepath.Join(cfg.Dir, "amigo.yaml")
	if err := os.WriteFile(file, []byte(cfg.yaml(httpAddr, push)), 0o600); err != nil {
		return nil, fmt.Errorf("cluster: node %s config: %w", cfg.Name, err)
	}
	env := append([]string{"AMIGO_MASTER_KEY=" + cfg.MasterKey}, cfg.Env...)
	n := &Node{Name: cfg.Name, Addr: httpAddr, Config: file,
		proc: proc{name: "node " + cfg.Name, path: bin, args: []string{"serve", "--config", file}, env: env, log: filepath.Join(cfg.Dir, "amigo.log")}}
	if err := n.start(); err != nil {
		return nil, err
	}
	if err := n.WaitReady(ctx, 2*time.Minute); err != nil {
		n.Kill()
		return nil, err
	}
	return n, nil
}

// WaitReady waits until the node's /readyz answers 200.
func (n *Node) WaitReady(ctx context.Context, limit time.Duration) error {
	return n.waitFor(ctx, limit, "/readyz 200", func(ctx context.Context) error {
		_, err := n.Get(ctx, "/readyz")
		return err
	})
}

// Restart starts the node again with the same config and waits until it
// is ready.
func (n *Node) Restart(ctx context.Context) error {
	if err := n.Kill(); err != nil {
		return err
	}
	if err := n.start(); err != nil {
		return err
	}
	return n.WaitReady(ctx, 2*time.Minute)
}

// Close stops the node as an operator does (SIGTERM), killing it when it
// has not ended within 30 s.
func (n *Node) Close() error { return n.terminate(30 * time.Second) }

// URL is the node's HTTP base URL.
func (n *Node) URL() string { return "http://" + n.Addr }

// Get fetches path from the node and returns the body of a 200.
func (n *Node) Get(ctx context.Context, path string) ([]byte, error) {
	return n.Do(ctx, http.MethodGet, path, "", nil, "")
}

// Do calls the node's HTTP API with an optional bearer token and returns
// the body of a 2xx answer.
func (n *Node) Do(ctx context.Context, method, path, token string, body io.Reader, contentType string) ([]byte, error) {
	if !n.running() {
		return nil, fmt.Errorf("cluster: node %s: %w", n.Name, errNotRunning)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, n.URL()+path, body)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cluster: node %s %s %s: %w", n.Name, method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("cluster: node %s %s %s: reading: %w", n.Name, method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return b, fmt.Errorf("cluster: node %s %s %s: %s %s", n.Name, method, path, resp.Status, strings.TrimSpace(string(b)))
	}
	return b, nil
}

// Metrics scrapes the node's /metrics and returns each sample's value by
// its series as written (name{labels}).
func (n *Node) Metrics(ctx context.Context) (map[string]float64, error) {
	b, err := n.Get(ctx, "/metrics")
	if err != nil {
		return nil, err
	}
	return parseMetrics(string(b)), nil
}

// parseMetrics reads the Prometheus text format's samples; comments and
// lines it cannot read are skipped.
func parseMetrics(text string) map[string]float64 {
	out := map[string]float64{}
	for _, l := range strings.Split(text, "\n") {
		if l == "" || l[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		if i <= 0 {
			continue
		}
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err != nil {
			continue
		}
		out[l[:i]] = v
	}
	return out
}

// Sum adds the samples of metric name (every label set) whose series
// holds every one of the label matchers, e.g. `node="he-1"`.
func Sum(m map[string]float64, name string, labels ...string) float64 {
	var s float64
	for k, v := range m {
		base, rest, _ := strings.Cut(k, "{")
		if base != name {
			continue
		}
		ok := true
		for _, l := range labels {
			if !strings.Contains(rest, l) {
				ok = false
				break
			}
		}
		if ok {
			s += v
		}
	}
	return s
}
