package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is one child process: its command line, its log file, and the
// outcome of its wait.
type proc struct {
	name string
	path string
	args []string
	env  []string
	log  string // file the child's stdout and stderr go to

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has been waited for
	err  error         // cmd.Wait's result, once done is closed
}

// start runs the process anew, appending to its log file.
func (p *proc) start() error {
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("cluster: %s log: %w", p.name, err)
	}
	cmd := exec.Command(p.path, p.args...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = f, f
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("cluster: starting %s (%s): %w", p.name, p.path, err)
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		f.Close()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(done)
	}()
	return nil
}

// running reports whether the child is alive (or stopped), not yet reaped.
func (p *proc) running() bool {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// exited is closed once the current child has ended.
func (p *proc) exited() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return p.done
}

// Pid is the current child's process id, 0 when none ever ran.
func (p *proc) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

func (p *proc) signal(sig syscall.Signal) error {
	if !p.running() {
		return fmt.Errorf("cluster: %s is not running", p.name)
	}
	p.mu.Lock()
	cmd := p.cmd
	p.mu.Unlock()
	if err := cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("cluster: %s to %s (pid %d): %w", sig, p.name, cmd.Process.Pid, err)
	}
	return nil
}

// Kill ends the process with SIGKILL, as a machine that loses power, and
// waits until it is gone.
func (p *proc) Kill() error {
	if !p.running() {
		return nil
	}
	if err := p.signal(syscall.SIGKILL); err != nil && p.running() {
		return err
	}
	<-p.exited()
	return nil
}

// Stop freezes the process with SIGSTOP: its sockets stay open and it
// answers nothing, as a node paused by its hypervisor or cut off.
func (p *proc) Stop() error { return p.signal(syscall.SIGSTOP) }

// Cont resumes a process frozen by Stop.
func (p *proc) Cont() error { return p.signal(syscall.SIGCONT) }

// terminate asks the process to end (SIGCONT first, in case it is frozen,
// then SIGTERM) and kills it when it has not ended within grace.
func (p *proc) terminate(grace time.Duration) error {
	if !p.running() {
		return nil
	}
	_ = p.signal(syscall.SIGCONT)
	_ = p.signal(syscall.SIGTERM)
	select {
	case <-p.exited():
		return nil
	case <-time.After(grace):
	}
	_ = p.signal(syscall.SIGKILL)
	<-p.exited()
	return fmt.Errorf("cluster: %s did not end within %s of SIGTERM and was killed", p.name, grace)
}

// LogTail is the end of the process's log, for a failure message.
func (p *proc) LogTail(lines int) string {
	b, err := os.ReadFile(p.log)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	ls := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(ls[max(0, len(ls)-lines):], "\n")
}

// LogLines returns the log lines holding every one of subs.
func (p *proc) LogLines(subs ...string) []string {
	b, err := os.ReadFile(p.log)
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range bytes.Split(b, []byte("\n")) {
		ok := true
		for _, s := range subs {
			if !bytes.Contains(l, []byte(s)) {
				ok = false
				break
			}
		}
		if ok && len(l) > 0 {
			out = append(out, string(l))
		}
	}
	return out
}

// LogFile is where the process's output goes.
func (p *proc) LogFile() string { return p.log }

// waitFor polls ready every 50 ms until it returns nil, the child exits,
// ctx ends or limit passes.
func (p *proc) waitFor(ctx context.Context, limit time.Duration, what string, ready func(context.Context) error) error {
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if last = ready(ctx); last == nil {
			return nil
		}
		select {
		case <-p.exited():
			p.mu.Lock()
			err := p.err
			p.mu.Unlock()
			return fmt.Errorf("cluster: %s exited (%v) before %s:\n%s", p.name, err, what, p.LogTail(15))
		case <-ctx.Done():
			return fmt.Errorf("cluster: %s: waiting for %s: %w", p.name, what, ctx.Err())
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster: %s: no %s within %s (last: %v):\n%s", p.name, what, limit, last, p.LogTail(15))
		}
	}
}

// freePorts finds n distinct free loopback TCP ports. A port is free when
// asked; another process may take it before the child binds, which the
// child then reports as it exits.
func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	out := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("cluster: a free loopback port: %w", err)
		}
		lns = append(lns, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

// errNotRunning is what a scrape of a process that is gone says.
var errNotRunning = errors.New("not running")
