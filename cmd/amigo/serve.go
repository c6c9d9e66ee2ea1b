package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/amigo-ami/amigo/config"
	"github.com/amigo-ami/amigo/logging"
	"github.com/amigo-ami/amigo/server"
)

func init() {
	register("serve", "run the amigo server: store, bus, head-end and HTTP API", cmdServe)
	register("version", "print the version", cmdVersion)
}

func cmdServe(args []string, stdout, stderr io.Writer) error {
	var envHelp strings.Builder
	for _, k := range []string{"AMIGO_CONFIG", "AMIGO_DATA", "AMIGO_HTTP", "AMIGO_STORE_URL", "AMIGO_BUS_URL", "AMIGO_PUSH_ADDR", "AMIGO_C1222_PUSH_ADDR", "AMIGO_NODE", "AMIGO_ROLES", "AMIGO_LOG_FORMAT", "AMIGO_LOG_LEVEL"} {
		desc := config.Env[k]
		if k == "AMIGO_CONFIG" {
			desc = "config file path"
		}
		fmt.Fprintf(&envHelp, "\n  %-21s %s", k, desc)
	}
	fs := newFlags("serve", "[flags]",
		"Runs the whole stack. With no flags it uses embedded SQLite and NATS JetStream under\n"+
			"the data directory and listens on 127.0.0.1:8080 only. Settings come from the defaults,\n"+
			"then the config file, then the environment, then these flags.\n\nEnvironment:"+envHelp.String(), stderr)
	cfgPath := fs.String("config", os.Getenv("AMIGO_CONFIG"), "YAML config `file`")
	data := fs.String("data", "", "data `directory` (default "+config.DefaultDataDir()+")")
	httpAddr := fs.String("http", "", "HTTP listen `address` (default 127.0.0.1:8080)")
	storeURL := fs.String("store", "", "store `url`: sqlite (default), sqlite:///file.db or postgres://...")
	busURL := fs.String("bus", "", "external NATS `url`s, comma-separated (default: embedded)")
	pushAddr := fs.String("push", "", "push listener `address` (default 127.0.0.1:4060; \"off\" for none)")
	c1222PushAddr := fs.String("c1222-push", "", "C12.22 push listener `address` (default 127.0.0.1:1154; \"off\" for none)")
	node := fs.String("node", "", "this node's `name`, unique in a cluster (default: the host name)")
	roles := fs.String("roles", "", "`roles` this node runs, comma-separated: headend, mdm, api (default: all)")
	logFormat := fs.String("log-format", "", "log `format`: text, json or auto")
	logLevel := fs.String("log-level", "", "log `level`: debug, info, warn or error")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	cfg, err := config.LoadEnv(*cfgPath, os.LookupEnv)
	if err != nil {
		return err
	}
	for dst, v := range map[*string]string{&cfg.Data: *data, &cfg.HTTP.Addr: *httpAddr, &cfg.Store.URL: *storeURL,
		&cfg.Bus.URL: *busURL, &cfg.HeadEnd.PushAddr: *pushAddr, &cfg.HeadEnd.C1222PushAddr: *c1222PushAddr, &cfg.Log.Format: *logFormat, &cfg.Log.Level: *logLevel} {
		if v != "" {
			*dst = v
		}
	}
	if *node != "" {
		cfg.Node.Name = *node
	}
	if *roles != "" {
		if cfg.Node.Roles, err = config.ParseRoles(*roles); err != nil {
			return usageError{fmt.Errorf("--roles: %w", err)}
		}
	}
	for _, a := range []*string{&cfg.HeadEnd.PushAddr, &cfg.HeadEnd.C1222PushAddr} {
		if *a == "off" {
			*a = ""
		}
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	log, err := logging.New(stderr, cfg.Log.Format, cfg.Log.Level)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := server.Start(ctx, cfg, log, version())
	if err != nil {
		return err
	}
	return srv.Wait(ctx)
}

func cmdVersion(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("version", "", "Prints the version of this binary and the Go release that built it.", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "amigo", version(), goVersion())
	return nil
}
