package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/config"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
)

// sharedNATS starts a NATS server with JetStream on a loopback port, for
// the nodes of one test to share.
func sharedNATS(t *testing.T) string {
	t.Helper()
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
	return ns.ClientURL()
}

// clusterNode is the configuration of one node of a test cluster on a
// shared store and bus and one master key.
func clusterNode(t *testing.T, name, storeURL, busURL string, roles ...string) config.Config {
	c := testConfig(t.TempDir())
	c.Node.Name = name
	c.Node.Roles = roles
	c.Store.URL = storeURL
	c.Bus.URL = busURL
	c.HeadEnd.Attempts = 1
	t.Setenv("AMIGO_MASTER_KEY", strings.Repeat("5a", 32))
	return c
}

func TestNodesByRoleShareStoreAndBus(t *testing.T) {
	storeURL := storetest.PostgresSchema(t)
	busURL := sharedNATS(t)
	ctx := context.Background()

	he := start(t, clusterNode(t, "he-1", storeURL, busURL, config.RoleHeadEnd))
	defer he.Shutdown(ctx)
	md := start(t, clusterNode(t, "mdm-1", storeURL, busURL, config.RoleMDM))
	defer md.Shutdown(ctx)
	ap := start(t, clusterNode(t, "api-1", storeURL, busURL, config.RoleAPI))
	defer ap.Shutdown(ctx)

	if he.PushAddr == "" || md.PushAddr != "" || ap.PushAddr != "" {
		t.Fatalf("push listeners: headend %q, mdm %q, api %q; want only the head-end's", he.PushAddr, md.PushAddr, ap.PushAddr)
	}

	t.Run("mdm ingests what the head-end publishes", func(t *testing.T) {
		at := time.Now().UTC().Truncate(time.Second)
		if err := he.Store.PutMeters(ctx, cim.Meter{MRID: "m-roles", Protocol: "dlms", Segment: "s", Status: "active"}); err != nil {
			t.Fatal(err)
		}
		if _, err := he.Bus.Publish(ctx, bus.Event{MRID: "roles/ev/1", MeterID: "m-roles", Type: cim.EventPowerOff, CreatedAt: at}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the mdm node to store the event", func() bool {
			evs, err := ap.Store.Events(ctx, store.EventQuery{MeterID: "m-roles"})
			return err == nil && len(evs) == 1
		})
	})

	t.Run("api issues a command the head-end carries", func(t *testing.T) {
		// The meter's address answers nothing: the head-end node takes the
		// command and fails it, which only a node running the head-end does.
		if err := he.Store.PutMeters(ctx, cim.Meter{MRID: "m-cmd", Protocol: "dlms", Segment: "s", Status: "active", Address: "tcp://127.0.0.1:1"}); err != nil {
			t.Fatal(err)
		}
		code, body := do(t, "POST", "http://"+ap.Addr()+"/api/v1/commands", `{"meter":"m-cmd","type":"ping"}`)
		if code != http.StatusCreated {
			t.Fatalf("issue on the api node: %d %s", code, body)
		}
		var cmd struct {
			MRID   string `json:"mRID"`
			Status string `json:"status"`
		}
		if err := json.Unmarshal([]byte(body), &cmd); err != nil || cmd.MRID == "" {
			t.Fatalf("command answer %s: %v", body, err)
		}
		eventually(t, "the head-end node to carry the command", func() bool {
			code, body := get(t, "http://"+ap.Addr()+"/api/v1/commands/"+cmd.MRID)
			var now struct {
				Status string `json:"status"`
			}
			if code != 200 || json.Unmarshal([]byte(body), &now) != nil {
				return false
			}
			return now.Status != "queued"
		})
	})

	t.Run("a node without api serves only probes and metrics", func(t *testing.T) {
		base := "http://" + he.Addr()
		if code, body := get(t, base+"/api/v1/meters"); code != http.StatusNotFound || !strings.Contains(body, "api role") {
			t.Fatalf("/api/v1 on a head-end node: %d %s", code, body)
		}
		for _, p := range []string{"/healthz", "/readyz"} {
			if code, body := get(t, base+p); code != 200 {
				t.Fatalf("%s on a head-end node: %d %s", p, code, body)
			}
		}
		code, body := get(t, base+"/metrics")
		if code != 200 || !strings.Contains(body, `node="he-1"`) || !strings.Contains(body, `roles="headend"`) {
			t.Fatalf("metrics of a head-end node lack its node label or roles: %d", code)
		}
		for _, line := range strings.Split(body, "\n") {
			if strings.HasPrefix(line, "amigo_") && !strings.Contains(line, `node="he-1"`) {
				t.Fatalf("a series without the node label: %s", line)
			}
		}
		if _, body := get(t, "http://"+md.Addr()+"/metrics"); !strings.Contains(body, `amigo_ingest_pending_messages{node="mdm-1",stream="readings"}`) {
			t.Fatal("the mdm node does not report its ingest backlog")
		}
	})
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	waitFor(t, ctx, what, cond)
}

func TestBadRolesRefused(t *testing.T) {
	c := testConfig(t.TempDir())
	c.Node.Roles = []string{"headend", "billing"}
	_, err := Start(context.Background(), c, slog.New(slog.DiscardHandler), "test")
	if err == nil || !strings.Contains(err.Error(), `"billing"`) {
		t.Fatalf("roles headend,billing: %v", err)
	}
}

func do(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
