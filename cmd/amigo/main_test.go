package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/store/sqlite"
	"github.com/amigo-ami/amigo/store/storetest"
)

var amigoBin string

// TestMain builds the real binary once: these tests run it as an operator
// would, with signals, exit codes and stderr.
func TestMain(m *testing.M) {
	// Servers started by the tests listen for pushes on free ports, so
	// that test binaries running side by side do not collide on 4060 or
	// 1154.
	os.Setenv("AMIGO_PUSH_ADDR", "127.0.0.1:0")
	os.Setenv("AMIGO_C1222_PUSH_ADDR", "127.0.0.1:0")
	dir, err := os.MkdirTemp("", "amigo-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	amigoBin = filepath.Join(dir, "amigo")
	out, err := exec.Command("go", "build", "-o", amigoBin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build amigo: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type proc struct {
	cmd    *exec.Cmd
	addr   string
	stderr *strings.Builder
	done   chan error
}

// serve starts `amigo serve` and waits for its "amigo serving" log line.
func serve(t *testing.T, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(amigoBin, append([]string{"serve", "--http", "127.0.0.1:0", "--log-format", "json"}, args...)...)
	pr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, stderr: &strings.Builder{}, done: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			p.stderr.WriteString(line + "\n")
			var rec struct {
				Msg  string `json:"msg"`
				HTTP string `json:"http"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "amigo serving" {
				addr <- rec.HTTP
			}
		}
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() { cmd.Process.Kill() })
	select {
	case p.addr = <-addr:
	case err := <-p.done:
		t.Fatalf("amigo serve exited early: %v\n%s", err, p.stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("amigo serve did not come up\n%s", p.stderr)
	}
	return p
}

func (p *proc) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, p.stderr)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("still running 15s after SIGTERM\n%s", p.stderr)
	}
}

// tokens holds an administrator's API token per data directory's server,
// by host:port, for the helpers below.
var tokens sync.Map

// adminToken makes an administrator in the data directory with the CLI,
// as an operator would, and returns an API token for them.
func adminToken(t *testing.T, dir string) string {
	t.Helper()
	add := exec.Command(amigoBin, "user", "add", "admin", "--role", "admin", "--data", dir)
	add.Stdin = strings.NewReader("an administrator's password\n")
	if out, err := add.CombinedOutput(); err != nil && !strings.Contains(string(out), "exists") {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	out, err := exec.Command(amigoBin, "token", "admin", "--data", dir, "--label", "tests").Output()
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// authorize lets the helpers call the server at base as an administrator.
func authorize(t *testing.T, dir, base string) string {
	tok := adminToken(t, dir)
	useToken(base, tok)
	return tok
}

// useToken has the helpers call the server at base with tok.
func useToken(base, tok string) {
	u, _ := url.Parse(base)
	tokens.Store(u.Host, tok)
}

func withToken(req *http.Request) {
	if tok, ok := tokens.Load(req.URL.Host); ok {
		req.Header.Set("Authorization", "Bearer "+tok.(string))
	}
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	withToken(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServeProbesSIGTERMAndRestart(t *testing.T) {
	dir := t.TempDir()
	// A meter put in the directory's database beforehand is served...
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "amigo.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.PutMeters(context.Background(), cim.Meter{MRID: "m-42", Segment: "cell-9"}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	p := serve(t, "--data", dir)
	base := "http://" + p.addr
	if code, body := httpGet(t, base+"/api/v1/meters/m-42"); code != 401 || !strings.Contains(body, "unauthenticated") {
		t.Fatalf("without credentials: %d %s", code, body)
	}
	authorize(t, dir, base)
	for path, want := range map[string]string{"/healthz": `"ok"`, "/readyz": `"ready":true`, "/metrics": "amigo_build_info", "/api/v1/meters/m-42": "cell-9"} {
		if code, body := httpGet(t, base+path); code != 200 || !strings.Contains(body, want) {
			t.Fatalf("%s: %d %s", path, code, body)
		}
	}
	// ...a second server on the same directory refuses...
	out, err := exec.Command(amigoBin, "serve", "--data", dir, "--http", "127.0.0.1:0").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "in use by another amigo") {
		t.Fatalf("second server: %v %s", err, out)
	}
	p.stop(t)
	// ...and after a clean stop the same directory starts again, intact.
	p2 := serve(t, "--data", dir)
	authorize(t, dir, "http://"+p2.addr)
	if code, body := httpGet(t, "http://"+p2.addr+"/api/v1/meters/m-42"); code != 200 || !strings.Contains(body, "cell-9") {
		t.Fatalf("after restart: %d %s", code, body)
	}
	p2.stop(t)
}

func TestServeOnPostgres(t *testing.T) {
	url := storetest.PostgresSchema(t)
	p := serve(t, "--data", t.TempDir(), "--store", url)
	if code, body := httpGet(t, "http://"+p.addr+"/readyz"); code != 200 {
		t.Fatalf("readyz on postgres: %d %s", code, body)
	}
	p.stop(t)
}

// Every mistake an operator can make at start-up gets one line naming it.
func TestBadStartsGiveOneLine(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	notDir := filepath.Join(t.TempDir(), "file")
	os.WriteFile(notDir, nil, 0o600)
	badCfg := filepath.Join(t.TempDir(), "amigo.yaml")
	os.WriteFile(badCfg, []byte("http:\n  adress: 1\n"), 0o600)
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown flag", []string{"serve", "--colour"}, 2, "flag provided but not defined: -colour"},
		{"unknown command", []string{"srve"}, 2, `unknown command "srve"`},
		{"malformed config", []string{"serve", "--config", badCfg}, 1, "adress"},
		{"missing config", []string{"serve", "--config", "/nonexistent.yaml"}, 1, "/nonexistent.yaml"},
		{"data dir not writable", []string{"serve", "--data", filepath.Join(notDir, "sub")}, 1, notDir},
		{"postgres not answering", []string{"serve", "--data", t.TempDir(), "--store", "postgres://amigo:hunter2@127.0.0.1:1/amigo?connect_timeout=2"}, 1, "127.0.0.1:1"},
		{"port in use", []string{"serve", "--data", t.TempDir(), "--http", ln.Addr().String()}, 1, "already in use"},
		{"bad store scheme", []string{"serve", "--data", t.TempDir(), "--store", "mysql://x"}, 1, "store url"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(amigoBin, c.args...)
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			msg := strings.TrimRight(stderr.String(), "\n")
			if code != c.code || strings.Count(msg, "\n") != 0 || !strings.Contains(msg, c.want) {
				t.Fatalf("exit %d (want %d), stderr %q (want one line containing %q)", code, c.code, msg, c.want)
			}
			if strings.Contains(msg, "goroutine") || strings.Contains(msg, "hunter2") {
				t.Fatalf("stderr leaks a trace or a secret: %q", msg)
			}
		})
	}
}

func TestEveryCommandAnswersHelp(t *testing.T) {
	for name := range commands {
		out, err := exec.Command(amigoBin, name, "--help").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Usage: amigo "+name) {
			t.Errorf("%s --help: %v %s", name, err, out)
		}
	}
	out, err := exec.Command(amigoBin, "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "serve") {
		t.Fatalf("amigo --help: %v %s", err, out)
	}
}
