package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// NATSServer is the nats-server binary the cluster runs (Debian's package
// puts it here).
var NATSServer = "/usr/sbin/nats-server"

// NATS is a JetStream cluster of nats-server processes on loopback.
type NATS struct {
	nodes []*NATSNode
}

// NATSNode is one nats-server of a cluster.
type NATSNode struct {
	proc
	Name        string
	ClientPort  int
	ClusterPort int
	MonitorPort int
	Dir         string // its JetStream storage, kept across Restart
}

// StartNATS starts n nats-server processes under dir as one JetStream
// cluster and waits until every node is healthy and the cluster has a
// JetStream meta leader, so streams with 3 replicas can be made at once.
func StartNATS(ctx context.Context, dir string, n int) (*NATS, error) {
	if n < 1 {
		return nil, fmt.Errorf("cluster: %d NATS nodes: want at least 1", n)
	}
	if _, err := os.Stat(NATSServer); err != nil {
		return nil, fmt.Errorf("cluster: the nats-server binary: %w", err)
	}
	ports, err := freePorts(3 * n)
	if err != nil {
		return nil, err
	}
	c := &NATS{}
	for i := range n {
		nd := &NATSNode{Name: fmt.Sprintf("nats-%d", i), ClientPort: ports[3*i], ClusterPort: ports[3*i+1], MonitorPort: ports[3*i+2],
			Dir: filepath.Join(dir, fmt.Sprintf("nats-%d", i))}
		if err := os.MkdirAll(nd.Dir, 0o700); err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
		var routes []string
		for j := range n {
			if j != i {
				routes = append(routes, "nats://127.0.0.1:"+strconv.Itoa(ports[3*j+1]))
			}
		}
		args := []string{"-a", "127.0.0.1", "-p", strconv.Itoa(nd.ClientPort), "-n", nd.Name, "-js", "-sd", nd.Dir,
			"-m", strconv.Itoa(nd.MonitorPort)}
		if n > 1 {
			args = append(args, "--cluster_name", "amigo-chaos", "--cluster", "nats://127.0.0.1:"+strconv.Itoa(nd.ClusterPort),
				"--routes", strings.Join(routes, ","))
		}
		nd.proc = proc{name: nd.Name, path: NATSServer, args: args, log: filepath.Join(dir, nd.Name+".log")}
		c.nodes = append(c.nodes, nd)
	}
	for _, nd := range c.nodes {
		if err := nd.start(); err != nil {
			c.Close()
			return nil, err
		}
	}
	if err := c.WaitReady(ctx, time.Minute); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// URLs is the cluster's client URLs, comma-separated, as bus.url takes
// them.
func (c *NATS) URLs() string {
	var us []string
	for _, nd := range c.nodes {
		us = append(us, nd.URL())
	}
	return strings.Join(us, ",")
}

// Len is the number of nodes.
func (c *NATS) Len() int { return len(c.nodes) }

// Node is node i, from 0.
func (c *NATS) Node(i int) *NATSNode { return c.nodes[i] }

// WaitReady waits until every running node reports healthy and one of
// them names a JetStream meta leader.
func (c *NATS) WaitReady(ctx context.Context, limit time.Duration) error {
	var up []*NATSNode
	for _, nd := range c.nodes {
		if nd.running() {
			up = append(up, nd)
		}
	}
	if len(up) == 0 {
		return errors.New("cluster: no NATS node is running")
	}
	for _, nd := range up {
		if err := nd.waitFor(ctx, limit, "JetStream health", nd.healthy); err != nil {
			return err
		}
	}
	return up[0].waitFor(ctx, limit, "a JetStream meta leader", func(ctx context.Context) error {
		if len(c.nodes) == 1 {
			return nil
		}
		_, err := up[0].MetaLeader(ctx)
		return err
	})
}

// URL is the node's client URL.
func (nd *NATSNode) URL() string { return "nats://127.0.0.1:" + strconv.Itoa(nd.ClientPort) }

// Restart starts a node that was killed again, on the same ports and
// storage, and waits until it is healthy.
func (nd *NATSNode) Restart(ctx context.Context) error {
	if nd.running() {
		if err := nd.Kill(); err != nil {
			return err
		}
	}
	if err := nd.start(); err != nil {
		return err
	}
	return nd.waitFor(ctx, time.Minute, "JetStream health", nd.healthy)
}

// Close ends the node (SIGTERM, then SIGKILL after 10 s).
func (nd *NATSNode) Close() error { return nd.terminate(10 * time.Second) }

// healthy asks the monitoring endpoint's /healthz, which in nats-server
// 2.9 is OK once JetStream is current with its cluster.
func (nd *NATSNode) healthy(ctx context.Context) error {
	_, err := nd.monitor(ctx, "/healthz")
	return err
}

// MetaLeader is the name of the JetStream meta leader this node knows.
func (nd *NATSNode) MetaLeader(ctx context.Context) (string, error) {
	b, err := nd.monitor(ctx, "/jsz")
	if err != nil {
		return "", err
	}
	var jsz struct {
		Meta *struct {
			Leader string `json:"leader"`
		} `json:"meta_cluster"`
	}
	if err := json.Unmarshal(b, &jsz); err != nil {
		return "", fmt.Errorf("cluster: %s /jsz: %w", nd.Name, err)
	}
	if jsz.Meta == nil || jsz.Meta.Leader == "" {
		return "", fmt.Errorf("cluster: %s knows no JetStream meta leader yet", nd.Name)
	}
	return jsz.Meta.Leader, nil
}

func (nd *NATSNode) monitor(ctx context.Context, path string) ([]byte, error) {
	if !nd.running() {
		return nil, fmt.Errorf("cluster: %s: %w", nd.Name, errNotRunning)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+strconv.Itoa(nd.MonitorPort)+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cluster: %s %s: %w", nd.Name, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("cluster: %s %s: %w", nd.Name, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("cluster: %s %s: %s %s", nd.Name, path, resp.Status, strings.TrimSpace(string(b)))
	}
	return b, nil
}

// Close ends every node.
func (c *NATS) Close() error {
	var errs []error
	for _, nd := range c.nodes {
		errs = append(errs, nd.Close())
	}
	return errors.Join(errs...)
}
