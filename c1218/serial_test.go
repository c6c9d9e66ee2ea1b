package c1218

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/c1219"
	"github.com/amigo-ami/amigo/psem"
	"github.com/amigo-ami/amigo/testenv"
)

// Over a serial line, as through an optical probe: socat joins two ptys,
// the meter side serves one at 9600 Bd, the client opens the other,
// negotiates 19200 Bd, and both switch; a C12.21 timing setup changes
// both ends' timers.
func TestSerialLine(t *testing.T) {
	socat, err := exec.LookPath("socat")
	if err != nil {
		testenv.Service(t, "socat", err)
	}
	dir := t.TempDir()
	ma, sl := filepath.Join(dir, "client"), filepath.Join(dir, "meter")
	cmd := exec.Command(socat, "pty,raw,echo=0,link="+ma, "pty,raw,echo=0,link="+sl)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, e1 := os.Stat(ma)
		_, e2 := os.Stat(sl)
		if e1 == nil && e2 == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("socat made no ptys")
		}
		time.Sleep(10 * time.Millisecond) // polling for the ptys to appear
	}
	mp, err := OpenSerial(sl, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer mp.Close()
	cp, err := OpenSerial(ma, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()

	m := newMeterTables()
	var mu sync.Mutex
	var rates []int
	srv := psem.NewServer(m, psem.ServerConfig{
		Ident:    psem.Ident{Std: psem.StdC1221, Ver: 1},
		Security: m.security,
		Bauds:    []byte{6, 8},
		Timing:   &psem.Timing{Traffic: 60, InterChar: 2, Response: 5, Retries: 5},
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, mp, srv, WithTimers(ModemTimers), WithBaudSwitch(func(rate int) error {
			mu.Lock()
			rates = append(rates, rate)
			mu.Unlock()
			return SerialBaudSwitch(mp)(rate)
		}))
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()

	cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer ccancel()
	l := New(cp, WithTimers(ModemTimers), WithBaudSwitch(SerialBaudSwitch(cp)))
	c, id, err := Open(cctx, l, Login{PacketSize: 256, Packets: 4, Baud: 8, Password: testPassword,
		Timing: &psem.Timing{Traffic: 120, InterChar: 1, Response: 3, Retries: 4}})
	if err != nil {
		t.Fatal(err)
	}
	if id.Std != psem.StdC1221 {
		t.Fatalf("ident %+v", id)
	}
	size, n, tm := l.Params()
	if size != 256 || n != 4 {
		t.Fatalf("negotiated %d x %d", size, n)
	}
	if want := (Timers{Traffic: 60 * time.Second, InterChar: time.Second, Response: 3 * time.Second, Retries: 4}); tm != want {
		t.Fatalf("timers after timing setup %+v, want %+v", tm, want)
	}
	long, _ := m.Table(c1219.MfgFlag | 2)
	got, err := c.Read(cctx, 2050)
	if err != nil || !bytes.Equal(got, long) {
		t.Fatalf("900 octets over the line at 19200 Bd: %d octets, %v", len(got), err)
	}
	if err := c.Terminate(cctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(rates) < 1 || rates[0] != 19200 {
		t.Fatalf("the meter side switched to %v, want 19200 first", rates)
	}
}
