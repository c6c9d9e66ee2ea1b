package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/amigo-ami/amigo/auth"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/config"
	"github.com/amigo-ami/amigo/server"
	"github.com/amigo-ami/amigo/store/storetest"
	"github.com/amigo-ami/amigo/testenv"
)

// TestDashboardQueriesAnswer checks the alert rules with promtool, then
// runs two nodes (headend+api, mdm+api) on one PostgreSQL schema and one
// bus, makes them collect a few simulated meters, ingest and carry a
// command, has Debian's
// Prometheus scrape both, and asks it every query of the Grafana
// dashboard: each must parse and return series.
func TestDashboardQueriesAnswer(t *testing.T) {
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		testenv.Service(t, "prometheus", err)
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		testenv.Service(t, "promtool", err)
	}
	if out, err := exec.Command(promtool, "check", "rules", "../../deploy/prometheus/alerts.yml").CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	raw, err := os.ReadFile("../../deploy/grafana/amigo.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}

	ctx := context.Background()
	storeURL := storetest.PostgresSchema(t)
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(),
		NoLog: true, NoSigs: true, DisableJetStreamBanner: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS server did not start")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	t.Setenv("AMIGO_MASTER_KEY", strings.Repeat("3c", 32))

	node := func(name string, roles ...string) *server.Server {
		c := config.Default()
		c.Data = t.TempDir()
		c.HTTP.Addr = "127.0.0.1:0"
		c.HeadEnd.PushAddr, c.HeadEnd.C1222PushAddr = "", ""
		c.HeadEnd.Attempts = 1
		c.Store.URL, c.Bus.URL = storeURL, ns.ClientURL()
		c.Node.Name, c.Node.Roles = name, roles
		s, err := server.Start(ctx, c, slog.New(slog.DiscardHandler), "test")
		if err != nil {
			t.Fatalf("node %s: %v", name, err)
		}
		t.Cleanup(func() { s.Shutdown(context.Background()) })
		return s
	}
	he := node("he-a", config.RoleHeadEnd, config.RoleAPI)
	md := node("mdm-b", config.RoleMDM, config.RoleAPI)

	// A few simulated meters, imported through the head-end node, make
	// real sessions for the session panels.
	manifest := startSim(t, 3)
	if _, err := he.Auth.CreateUser(ctx, "dash", "a dashboard test's password", auth.Admin, nil); err != nil {
		t.Fatal(err)
	}
	tok, _, err := he.Auth.IssueToken(ctx, "dash", "dashboard test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	imp := exec.Command(amigoBin, "import", manifest, "--server", "http://"+he.Addr())
	imp.Env = append(os.Environ(), "AMIGO_TOKEN="+tok)
	if out, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	if _, _, err := he.HeadEnd.Issue(ctx, cim.EndDeviceControl{MeterID: "AMG10000000002", Type: cim.ControlPing, IssuedBy: "test"}); err != nil {
		t.Fatal(err)
	}

	// Prometheus on a loopback port of its own, scraping both nodes.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	promAddr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	conf := fmt.Sprintf("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: amigo\n    static_configs:\n      - targets: [%q, %q]\n",
		he.Addr(), md.Addr())
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	pctx, cancel := context.WithCancel(ctx)
	prom := exec.CommandContext(pctx, promBin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+promAddr)
	promLog, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	prom.Stdout, prom.Stderr = promLog, promLog
	if err := prom.Start(); err != nil {
		testenv.Service(t, "prometheus", err)
	}
	t.Cleanup(func() { cancel(); prom.Wait() })

	query := func(expr string) (int, error) {
		resp, err := http.Get("http://" + promAddr + "/api/v1/query?query=" + url.QueryEscape(expr))
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var r struct {
			Status string `json:"status"`
			Error  string `json:"error"`
			Data   struct {
				Result []json.RawMessage `json:"result"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &r); err != nil {
			return 0, fmt.Errorf("answer %q: %w", body, err)
		}
		if r.Status != "success" {
			return 0, fmt.Errorf("%s: %s", r.Status, r.Error)
		}
		return len(r.Data.Result), nil
	}
	// until polls expr until it returns series, up to the deadline; a
	// query Prometheus refuses fails at once.
	until := func(expr string, deadline time.Time) (int, error) {
		for {
			n, err := query(expr)
			if err != nil && !strings.Contains(err.Error(), "connection refused") {
				if _, parseErr := query("1"); parseErr == nil {
					return 0, err
				}
			}
			if n > 0 || time.Now().After(deadline) {
				return n, nil
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	deadline := time.Now().Add(2 * time.Minute)
	if n, err := until(`count(up{job="amigo"} == 1) == 2`, deadline); err != nil || n != 1 {
		t.Fatalf("Prometheus does not scrape both nodes (%d, %v); log in %s", n, err, promLog.Name())
	}
	// The lease metrics come from the head-end's leases, which a node
	// exports only when it holds them through the bus.
	leases, _ := query("amigo_lease_shards_held")
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			if strings.Contains(tg.Expr, "amigo_lease_") && leases == 0 {
				t.Logf("%s: no node exports lease metrics; not asked", p.Title)
				continue
			}
			n, err := until(tg.Expr, deadline)
			if err != nil {
				t.Errorf("%s: %s: %v", p.Title, tg.Expr, err)
				continue
			}
			if n == 0 {
				t.Errorf("%s: %s: no series", p.Title, tg.Expr)
			}
		}
	}
	if n, _ := query(`amigo_build_info{node="mdm-b",roles="mdm,api"}`); n != 1 {
		t.Errorf("build info of mdm-b: %d series", n)
	}
}
