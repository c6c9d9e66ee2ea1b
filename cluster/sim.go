package cluster

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/amigo-ami/amigo/manifest"
)

// Sim is a simulated fleet served by an `amigo sim` process.
type Sim struct {
	proc
	Manifest string         // the manifest CSV it wrote
	Rows     []manifest.Row // its meters, as the manifest lists them
}

// StartSim runs `bin sim args...` and waits until the last meter of its
// manifest answers. args must name --manifest and --meters; a --port is
// chosen when absent. The log goes beside the manifest.
func StartSim(ctx context.Context, bin string, args ...string) (*Sim, error) {
	file, meters := flagValue(args, "manifest"), flagValue(args, "meters")
	if file == "" {
		return nil, fmt.Errorf("cluster: the simulator needs --manifest")
	}
	n, err := strconv.Atoi(meters)
	if err != nil || n < 1 {
		return nil, fmt.Errorf("cluster: the simulator's --meters %q: want a count", meters)
	}
	if flagValue(args, "port") == "" {
		ports, err := freePorts(1)
		if err != nil {
			return nil, err
		}
		args = append(args, "--port", strconv.Itoa(ports[0]))
	}
	_ = os.Remove(file) // a stale manifest would look like a ready fleet
	s := &Sim{Manifest: file, proc: proc{name: "simulator", path: bin, args: append([]string{"sim"}, args...),
		log: strings.TrimSuffix(file, filepath.Ext(file)) + ".log"}}
	if err := s.start(); err != nil {
		return nil, err
	}
	// The manifest is written before the fleet serves; the last meter
	// answering means the listener is up.
	err = s.waitFor(ctx, 5*time.Minute+time.Duration(n)*time.Millisecond, "the fleet listening", func(ctx context.Context) error {
		if s.Rows == nil {
			f, err := os.Open(file)
			if err != nil {
				return err
			}
			rows, _, err := manifest.Read(bufio.NewReader(f))
			f.Close()
			if err != nil {
				return err
			}
			if len(rows) != n {
				return fmt.Errorf("the manifest lists %d of %d meters so far", len(rows), n)
			}
			s.Rows = rows
		}
		d := net.Dialer{Timeout: time.Second}
		c, err := d.DialContext(ctx, "tcp", s.Rows[n-1].Address.String())
		if err != nil {
			return err
		}
		return c.Close()
	})
	if err != nil {
		s.Kill()
		return nil, err
	}
	return s, nil
}

// Close ends the simulator.
func (s *Sim) Close() error { return s.terminate(10 * time.Second) }

// flagValue is the value of --name in args (as "--name v" or "--name=v").
func flagValue(args []string, name string) string {
	for i, a := range args {
		a = strings.TrimLeft(a, "-")
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	return ""
}
