package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/amigo-ami/amigo/manifest"
)

// procKB reads one "Key: N kB" line of a /proc status-like file.
func procKB(file, key string) int64 {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && k == key {
			f := strings.Fields(v)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

// peakRSS is a process's high-water resident set, in MiB.
func peakRSS(pid int) float64 {
	file := "/proc/self/status"
	if pid > 0 {
		file = fmt.Sprintf("/proc/%d/status", pid)
	}
	return float64(procKB(file, "VmHWM")) / 1024
}

// selfCPU is the CPU time this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// clockTick is the unit of /proc/PID/stat times on Linux.
const clockTick = 10 * time.Millisecond

// procCPU is the CPU time process pid has used, from /proc/PID/stat.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name may hold spaces; the fields start after its ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * clockTick
}

// simProc is a simulated fleet served by a child `amigo sim`.
type simProc struct {
	cmd  *exec.Cmd
	rows []manifest.Row
	done chan error
	log  syncBuffer
}

// syncBuffer is a buffer the child's output goroutine and a reader share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() > 1<<20 {
		s.b.Reset() // keep the tail only
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// benchStart is the simulated time of every suite's fleet: the meters hold
// the day before it, and their clocks stand still.
var benchStart = time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)

// startSim runs a fleet of n meters with no faults in a child process and
// waits until its last meter answers.
func startSim(ctx context.Context, o Options, n int) (*simProc, error) {
	if o.Exe == "" {
		return nil, errors.New("no amigo binary to run the simulator from")
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	file := filepath.Join(o.Dir, fmt.Sprintf("fleet-%d.csv", n))
	p := &simProc{done: make(chan error, 1)}
	p.cmd = exec.Command(o.Exe, "sim", "--meters", strconv.Itoa(n), "--manifest", file, "--port", strconv.Itoa(port),
		"--history", "2", "--speed", "0", "--start", benchStart.Format(time.RFC3339), "--tz", "UTC",
		"--offline", "0", "--intermittent", "0", "--garbage", "0", "--outages", "0", "--gas", "0", "--water", "0",
		"--log-format", "json")
	if o.SimCPUProfile != "" {
		p.cmd.Args = append(p.cmd.Args, "--cpuprofile", o.SimCPUProfile)
	}
	p.cmd.Stdout, p.cmd.Stderr = &p.log, &p.log
	dieWithParent(p.cmd)
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the simulator: %w", err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	// The manifest is written before the fleet serves; the last meter
	// answering means the listener is up.
	deadline := time.Now().Add(10*time.Minute + time.Duration(n)*time.Millisecond)
	for {
		if p.rows == nil {
			if f, err := os.Open(file); err == nil {
				rows, _, err := manifest.Read(bufio.NewReader(f))
				f.Close()
				if err == nil && len(rows) == n {
					p.rows = rows
				}
			}
		}
		if p.rows != nil {
			d := net.Dialer{Timeout: time.Second}
			if c, err := d.DialContext(ctx, "tcp", p.rows[n-1].Address.String()); err == nil {
				c.Close()
				return p, nil
			}
		}
		select {
		case err := <-p.done:
			return nil, fmt.Errorf("the simulator exited (%v): %s", err, lastLine(p.log.String()))
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("the simulator of %d meters did not come up", n)
		}
	}
}

func (p *simProc) pid() int { return p.cmd.Process.Pid }

// stop ends the simulator and waits for it.
func (p *simProc) stop() {
	if p.cmd.ProcessState != nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}
