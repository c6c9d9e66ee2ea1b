package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/store/storetest"
	"github.com/amigo-ami/amigo/testenv"
)

// freePortBase finds a base port whose cluster ports (base+1 to base+53)
// are all free on loopback now.
func freePortBase(t *testing.T) int {
	t.Helper()
	for range 20 {
		n, _ := rand.Int(rand.Reader, big.NewInt(200))
		base := 30000 + int(n.Int64())*100
		free := true
		for off := 1; off <= 53 && free; off++ {
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", base+off))
			if err != nil {
				free = false
				continue
			}
			ln.Close()
		}
		if free {
			return base
		}
	}
	t.Fatal("no free range of ports for the cluster")
	return 0
}

// TestClusterScript brings a cluster up with scripts/cluster.sh in a
// state directory and database of its own, asks its status, brings it up
// again (nothing changes), and takes it down with its data.
func TestClusterScript(t *testing.T) {
	if _, err := os.Stat("/usr/sbin/nats-server"); err != nil {
		testenv.Service(t, "nats-server", err)
	}
	for _, tool := range []string{"psql", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Service(t, tool, err)
		}
	}
	storetest.PostgresSchema(t) // skips, or fails, when PostgreSQL does not answer
	var rnd [4]byte
	rand.Read(rnd[:])
	state := t.TempDir()
	env := append(os.Environ(),
		"AMIGO_CLUSTER_DIR="+state,
		fmt.Sprintf("AMIGO_CLUSTER_PORT=%d", freePortBase(t)),
		"AMIGO_CLUSTER_DB=amigo_cluster_test_"+hex.EncodeToString(rnd[:]),
	)
	script, err := filepath.Abs("../../scripts/cluster.sh")
	if err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", append([]string{script}, args...)...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	t.Cleanup(func() {
		if out, err := run("down", "--wipe"); err != nil {
			t.Errorf("cluster.sh down --wipe: %v\n%s", err, out)
		}
	})
	if out, err := run("up"); err != nil {
		t.Fatalf("cluster.sh up: %v\n%s", err, out)
	}
	out, err := run("status")
	if err != nil {
		t.Fatalf("cluster.sh status: %v\n%s", err, out)
	}
	for _, want := range []string{"nats-1   running", "nats-3   running", "n1       ready", "n2       ready", "n3       ready", "roles mdm,api"} {
		if !strings.Contains(out, want) {
			t.Fatalf("status lacks %q:\n%s", want, out)
		}
	}
	cfg, err := os.ReadFile(filepath.Join(state, "n2", "amigo.yaml"))
	if err != nil || !strings.Contains(string(cfg), "replicas: 3") || !strings.Contains(string(cfg), "roles: [headend, mdm]") {
		t.Fatalf("n2's config: %v\n%s", err, cfg)
	}
	if out, err := run("up"); err != nil || !strings.Contains(out, "n1 (headend,api) already running") {
		t.Fatalf("cluster.sh up again: %v\n%s", err, out)
	}
	if out, err := run("down"); err != nil {
		t.Fatalf("cluster.sh down: %v\n%s", err, out)
	}
	if out, err := run("status"); err == nil || !strings.Contains(out, "n1       stopped") {
		t.Fatalf("status after down: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(state, "master.key")); err != nil {
		t.Fatalf("down without --wipe lost the master key: %v", err)
	}
}
