//go:build linux

package linkio

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The child of TestServeSurvivesDescriptorExhaustion: it serves with a
// descriptor limit a few above what it holds, writing "ok" on each
// connection and holding it until the peer hangs up, and reports accept
// failures and the recovery on stdout. It stops when stdin closes.
func TestMain(m *testing.M) {
	if os.Getenv("LINKIO_EMFILE_CHILD") == "1" {
		os.Exit(emfileChild())
	}
	os.Exit(m.Run())
}

func emfileChild() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("listen:", err)
		return 1
	}
	fds, _ := os.ReadDir("/proc/self/fd")
	// Room for three connections (and the descriptor ReadDir briefly
	// takes): the fourth accept hits EMFILE.
	lim := syscall.Rlimit{Cur: uint64(len(fds) + 3), Max: uint64(len(fds) + 3)}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		fmt.Println("setrlimit:", err)
		return 1
	}
	fmt.Println("addr", ln.Addr())
	ctx, cancel := context.WithCancel(context.Background())
	go func() { io.Copy(io.Discard, os.Stdin); cancel() }()
	err = Serve(ctx, ln, "child", func(ctx context.Context, c net.Conn) error {
		c.Write([]byte("ok"))
		_, err := io.Copy(io.Discard, c)
		return err
	}, nil, OnAcceptError(func(err error, wait time.Duration) {
		fmt.Println("failed", AcceptCause(err))
	}, func(n int) { fmt.Println("recovered") }))
	if err != nil {
		fmt.Println("serve:", err)
		return 1
	}
	return 0
}

// TestServeSurvivesDescriptorExhaustion: a listener whose process runs out
// of descriptors backs off, says so, and serves again once connections
// close, instead of stopping for good.
func TestServeSurvivesDescriptorExhaustion(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "LINKIO_EMFILE_CHILD=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("child: %v", err)
		}
	}()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	next := func(prefix string) string {
		t.Helper()
		timeout := time.After(20 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("child ended before saying %q", prefix)
				}
				if strings.HasPrefix(l, prefix) {
					return l
				}
				if strings.HasPrefix(l, "serve:") || strings.HasPrefix(l, "listen:") || strings.HasPrefix(l, "setrlimit:") {
					t.Fatalf("child: %s", l)
				}
			case <-timeout:
				t.Fatalf("child never said %q", prefix)
			}
		}
	}
	addr := strings.TrimPrefix(next("addr "), "addr ")
	// More connections than the child has descriptors for: the kernel
	// completes them all, the child accepts until EMFILE.
	const n = 8
	conns := make([]net.Conn, n)
	for i := range conns {
		if conns[i], err = net.Dial("tcp", addr); err != nil {
			t.Fatal(err)
		}
		defer conns[i].Close()
	}
	if l := next("failed"); l != "failed emfile" {
		t.Fatalf("accept failed with %q, want EMFILE", l)
	}
	// Connections are served one after another as earlier ones close:
	// each greeted connection is closed to make room for the next.
	for served := 0; served < n; {
		progress := false
		for i, c := range conns {
			if c == nil {
				continue
			}
			c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			b := make([]byte, 2)
			if _, err := io.ReadFull(c, b); err != nil {
				continue
			}
			c.Close()
			conns[i] = nil
			served++
			progress = true
		}
		if !progress {
			select {
			case l, ok := <-lines:
				if ok && strings.HasPrefix(l, "serve:") {
					t.Fatalf("child: %s", l)
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("%d of %d connections served; the listener did not come back", served, n)
			}
		}
	}
	next("recovered")
}
