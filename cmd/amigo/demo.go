package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/amigo-ami/amigo/auth"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/config"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/logging"
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/server"
	"github.com/amigo-ami/amigo/sim"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/topology"
)

func init() {
	register("demo", "run the server with a simulated fleet: import, collect, push, all on loopback", cmdDemo)
}

func cmdDemo(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", "[flags]",
		"Runs the whole product in one process on its embedded defaults: a simulated fleet of DLMS meters on\n"+
			"loopback addresses, the server with its store and bus in a data directory, the fleet's manifest\n"+
			"imported into the registry, a collection of yesterday started at once and the daily schedule after\n"+
			"it, and meters pushing alarms and last gasps to the head-end. It prints the URL to open.", stderr)
	meters := fs.Int("meters", 1000, "number of simulated `meters`")
	seed := fs.Uint64("seed", 1, "fleet `seed`")
	data := fs.String("data", "", "data `directory` (default: a new temporary directory)")
	httpAddr := fs.String("http", "127.0.0.1:8080", "HTTP listen `address`")
	port := fs.Uint("sim-port", sim.DefaultPort, "DLMS `port` of the simulated meters")
	history := fs.Int("history", 28, "`days` of history in the meters, all collected at the start (the portal's typical day needs four weeks)")
	intraday := fs.Duration("intraday", time.Minute, "how often today's readings are collected after the first run, so the portal is near real time (0: only the daily schedule)")
	speed := fs.Float64("speed", 1, "simulated time `factor` (1440: a day a minute)")
	logFormat := fs.String("log-format", "auto", "log `format`: text, json or auto")
	hanBroker := fs.String("han-mqtt-broker", os.Getenv("AMIGO_HAN_MQTT_BROKER"), "publish consenting households' readings to this MQTT `broker` as Home Assistant entities (han.mqtt.broker; empty: off)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	if *meters < 1 || *meters > sim.MaxMeters {
		return usageError{fmt.Errorf("--meters %d: want 1..%d", *meters, sim.MaxMeters)}
	}
	if *port == 0 || *port > 65535 {
		return usageError{fmt.Errorf("--sim-port %d: want 1..65535", *port)}
	}
	if *history < 1 {
		return usageError{fmt.Errorf("--history %d: want at least 1 day", *history)}
	}
	log, err := logging.New(stderr, *logFormat, "info")
	if err != nil {
		return usageError{err}
	}
	dir := *data
	if dir == "" {
		if dir, err = os.MkdirTemp("", "amigo-demo-"); err != nil {
			return err
		}
	}
	loc, _ := time.LoadLocation("Europe/Amsterdam")
	cfg := config.Default()
	cfg.Data, cfg.HTTP.Addr = dir, *httpAddr
	cfg.HeadEnd.PushAddr = "127.0.0.1:0"
	cfg.HeadEnd.C1222PushAddr = "127.0.0.1:0"
	cfg.HeadEnd.Zone = loc.String()
	cfg.HeadEnd.Window = 10 * time.Second
	cfg.HeadEnd.JobTimeout = 30 * time.Second
	cfg.HeadEnd.BackfillDays = *history
	cfg.HeadEnd.Intraday = *intraday
	// The demo's meters trust the head-end's signing key from the start.
	cfg.HeadEnd.SignCommands = true
	// The demo starts on whatever day it is and its clock runs fast: the
	// weekend guard would refuse every disconnect tried on a Saturday.
	// Protected usage points and the weather guard stay on.
	cfg.Safeguards.Calendar = false
	cfg.HAN.MQTT.Broker = *hanBroker
	if err := cfg.Validate(); err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	clock := sim.NewClock(time.Now().In(loc), *speed)
	faults := meter.DefaultFaults()
	// The meters trust the head-end's command-signing key, set once the
	// head-end has loaded it and before it runs a command.
	trust := sim.NewTrust()
	network, err := demoNetwork(*meters, *seed, clock.Now(), *history, loc)
	if err != nil {
		return err
	}
	fleet, err := sim.NewFleet(sim.Config{Meters: *meters, Seed: *seed, Port: uint16(*port), Now: clock.Now,
		Location: loc, HistoryDays: *history, Faults: &faults, Logger: log, Gas: 0.3, Water: 0.2, Trust: trust,
		Supply: network, PQProfile: true})
	if err != nil {
		return usageError{err}
	}
	ln, err := fleet.Listen(ctx)
	if err != nil {
		return fmt.Errorf("simulated fleet: %w", err)
	}
	importFleet := func(ctx context.Context, srv *server.Server) error {
		if k := srv.HeadEnd.SigningKey(); k != nil {
			trust.Replace(k)
		}
		rows := make([]manifest.Row, 0, *meters)
		for i := range *meters {
			r, err := fleet.Row(i)
			if err != nil {
				return err
			}
			rows = append(rows, r)
			subs, err := fleet.SubRows(i)
			if err != nil {
				return err
			}
			rows = append(rows, subs...)
		}
		t0 := time.Now()
		rep, err := headend.Import(ctx, srv.Store, srv.Keys, srv.HeadEnd.Drivers(), rows)
		if err != nil {
			return fmt.Errorf("importing the fleet: %w", err)
		}
		log.Info("fleet imported", "created", rep.Created, "updated", rep.Updated, "unchanged", rep.Unchanged,
			"took", time.Since(t0).Round(time.Millisecond))
		return demoTopology(ctx, srv, network)
	}
	srv, err := server.StartWith(ctx, cfg, log, version(), server.Options{Now: clock.Now, BeforeRun: importFleet})
	if err != nil {
		ln.Close()
		return err
	}
	done := make(chan struct{}, 2)
	go func() { fleet.Serve(ctx, ln); done <- struct{}{} }()
	go func() {
		fleet.RunPushes(ctx, sim.PushConfig{Destination: srv.PushAddr, C1222Destination: srv.C1222PushAddr}, nil)
		done <- struct{}{}
	}()
	yesterday := cim.DateOf(clock.Now(), loc).AddDays(-1)
	// Before 01:00 the schedule would wait for it. Whichever starts the
	// day's run first, this or the schedule, it is the only one: the
	// schedule does not run a day again that was started here.
	srv.HeadEnd.StartCollection(yesterday)
	users, err := demoUsers(ctx, srv, fleet)
	if err != nil {
		stop()
		<-done
		<-done
		return err
	}
	if err := demoMoney(ctx, srv, fleet, clock.Now(), loc, users[1][2]); err != nil {
		stop()
		<-done
		<-done
		return err
	}
	url := "http://" + srv.Addr()
	fmt.Fprintf(stdout, "amigo demo: %d simulated meters on %s..%s port %d, data in %s\n", *meters,
		fleet.Identity(0).Addr.Addr(), fleet.Identity(*meters-1).Addr.Addr(), *port, dir)
	fmt.Fprintf(stdout, "amigo demo: collecting %s; operator console %s/ (user %s, password %s)\n", yesterday, url, users[0][0], users[0][1])
	fmt.Fprintf(stdout, "amigo demo: consumer portal %s/portal/ (user %s, password %s, usage point %s)\n", url, users[1][0], users[1][1], users[1][2])
	fmt.Fprintf(stdout, "amigo demo: tariff residential-tou on every usage point, accounts in group demo, demand-response program evening-peak with an event tomorrow evening\n")
	fmt.Fprintf(stdout, "amigo demo: the meters hang from a simulated network of %d transformers on %d feeders; outages, reliability indices and power quality at %s/#/outages and %s/#/pq\n",
		len(network.Topology().At(topology.Transformer)), len(network.Topology().At(topology.Feeder)), url, url)
	fmt.Fprintf(stdout, "amigo demo: API %s/api/v1/openapi.json; these passwords are made for this run and shown only here\n", url)
	err = srv.Wait(ctx)
	stop()
	<-done
	<-done
	return err
}

// demoUsers makes an administrator and one household for this run, with
// random passwords: a demo has no default password either. The household
// is the first online with both gas and water, else the first with
// either, so its portal shows all three.
func demoUsers(ctx context.Context, srv *server.Server, fleet *sim.Fleet) ([][3]string, error) {
	home, most := 0, 0
	for i := 0; i < fleet.Len() && most < 2; i++ {
		if m, err := fleet.Meter(i); err != nil || m.Faults().Offline {
			continue
		}
		subs, err := fleet.SubRows(i)
		if err != nil {
			return nil, err
		}
		if len(subs) > most {
			home, most = i, len(subs)
		}
	}
	row, err := fleet.Row(home)
	if err != nil {
		return nil, err
	}
	var out [][3]string
	for _, u := range []struct {
		name string
		role auth.Role
		ups  []string
	}{{"admin", auth.Admin, nil}, {"household", auth.Consumer, []string{row.UsagePointID}}} {
		b := make([]byte, 12)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		pw := base64.RawURLEncoding.EncodeToString(b)
		if _, err := srv.Auth.CreateUser(ctx, u.name, pw, u.role, u.ups); err != nil && !errors.Is(err, store.ErrConflict) {
			return nil, err
		} else if err != nil {
			if err := srv.Auth.SetPassword(ctx, u.name, pw); err != nil {
				return nil, err
			}
		}
		out = append(out, [3]string{u.name, pw, strings.Join(u.ups, ",")})
	}
	return out, nil
}
