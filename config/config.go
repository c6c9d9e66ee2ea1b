// Package config owns amigo's configuration: the embedded defaults that make
// `amigo serve` work with no file at all, the optional YAML file, and the
// environment variables and flags that override it, in that order.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/amigo-ami/amigo/anomaly"
	"github.com/amigo-ami/amigo/mdm/vee"
)

// Config is everything `amigo serve` needs to run.
type Config struct {
	// Data is the directory that holds the embedded database, the embedded
	// bus's storage and the lock that keeps a second server out.
	Data  string `yaml:"data"`
	HTTP  HTTP   `yaml:"http"`
	Store Store  `yaml:"store"`
	Bus   Bus    `yaml:"bus"`
	Log   Log    `yaml:"log"`
	// HeadEnd configures collection, commands and the push listener.
	HeadEnd HeadEnd `yaml:"headend"`
	// MDM configures meter data management.
	MDM MDM `yaml:"mdm"`
	// Approvals is the four-eyes policy for critical commands.
	Approvals Approvals `yaml:"approvals"`
	// Anomaly changes the anomaly limits of issued commands, by command
	// type, over the built-in ones (anomaly.Default), field by field:
	//
	//	anomaly:
	//	  disconnect: {ceiling_hour_fleet: 300, ceiling_hour_user: 20}
	Anomaly map[string]anomaly.Limits `yaml:"anomaly"`
	// Safeguards guard disconnects and spread reconnects.
	Safeguards Safeguards `yaml:"safeguards"`
	// HAN publishes consenting households' readings to an MQTT broker.
	HAN HAN `yaml:"han"`
	// OpenADR serves a VTN and runs a VEN (config/openadr.go).
	OpenADR OpenADR `yaml:"openadr"`
	// Outage configures outage management (config/outage.go).
	Outage Outage `yaml:"outage"`
	// Node names this node and its roles in a cluster (config/node.go).
	Node Node `yaml:"node"`
}

// AnomalyPolicy is the built-in anomaly policy with the settings laid
// over it.
func (c Config) AnomalyPolicy() (anomaly.Policy, error) { return anomaly.Default().With(c.Anomaly) }

// MDM configures meter data management.
type MDM struct {
	Validation Validation `yaml:"validation"`
}

// Validation configures the VEE rule sets. Default changes the built-in
// household rules; each group starts from that default and states only
// where it differs. The first group that matches a meter applies.
//
//	mdm:
//	  validation:
//	    default: {demand_limit: 6000}
//	    groups:
//	      - name: commercial
//	        match: {tags: {class: commercial}}
//	        rules: {demand_limit: 60000, zero_run: 0}
type Validation struct {
	Default map[string]float64 `yaml:"default"`
	Groups  []vee.GroupSpec    `yaml:"groups"`
}

// RuleSets builds the configured rule sets.
func (v Validation) RuleSets() (vee.RuleSets, error) { return vee.BuildRuleSets(v.Default, v.Groups) }

// HeadEnd configures the head-end.
type HeadEnd struct {
	// MasterKeyFile holds the key that seals meter keys at rest (64 hex
	// digits). Empty: AMIGO_MASTER_KEY, else DATA/master.key, created on
	// first start. The key never goes in the database.
	MasterKeyFile string `yaml:"master_key_file"`
	// PKCS11 keeps the master key and the command-signing key on an HSM.
	PKCS11 PKCS11 `yaml:"pkcs11"`
	// SigningKeyFile holds the ECDSA P-256 key critical commands are
	// signed with (PEM). Empty: AMIGO_SIGNING_KEY, else DATA/signing.key,
	// created on first start. Kept apart from the master key and never in
	// the database.
	SigningKeyFile string `yaml:"signing_key_file"`
	// SignCommands signs critical commands. Turn it on once the meters
	// are provisioned with the signing key: a meter that is not refuses a
	// signed command it does not know, and one that is refuses an unsigned
	// one. The head-end never falls back from one to the other.
	SignCommands bool `yaml:"sign_commands"`
	// PushAddr is where meters open connections to push (empty: no push
	// listener).
	PushAddr string `yaml:"push_addr"`
	// C1222PushAddr is where C12.22 meters open connections to push
	// (empty: none): a listener of its own, since a connection's first
	// octets do not say which protocol it speaks.
	C1222PushAddr string `yaml:"c1222_push_addr"`
	// PushPerSource caps the push connections one source address may hold,
	// so a flood costs only its source; meters behind one NAT address
	// share it. PushFirstFrame is how long a new push connection has to
	// deliver its first whole frame.
	PushPerSource  int           `yaml:"push_per_source"`
	PushFirstFrame time.Duration `yaml:"push_first_frame"`
	// Concurrency caps meter sessions in flight; PerSegment caps them per
	// network segment (cell, concentrator).
	Concurrency int `yaml:"concurrency"`
	PerSegment  int `yaml:"per_segment"`
	// SegmentCapacity gives named segments (radio collectors) their own
	// cap instead of PerSegment.
	SegmentCapacity map[string]int `yaml:"segment_capacity"`
	// JobTimeout is the deadline of one meter session.
	JobTimeout time.Duration `yaml:"job_timeout"`
	// Attempts is how often a failing meter is tried in one run.
	Attempts int `yaml:"attempts"`
	// Window spreads the start of the daily run's jobs.
	Window time.Duration `yaml:"window"`
	// DailyAt is when, after local midnight in Zone, the run for the day
	// before starts; negative disables the schedule.
	DailyAt time.Duration `yaml:"daily_at"`
	Zone    string        `yaml:"zone"`
	// Intraday, when positive, also collects today's readings so far that
	// often, for a near-real-time portal (0: the daily run only).
	Intraday time.Duration `yaml:"intraday"`
	// ClockThreshold is the drift above which collection sets a meter's
	// clock.
	ClockThreshold time.Duration `yaml:"clock_threshold"`
	// BackfillDays is how far back a never-collected meter is read.
	BackfillDays int `yaml:"backfill_days"`
	// FirmwareKeyFile holds the firmware public key (PEM) images must be
	// signed by before the head-end sends them (empty: no firmware
	// campaigns).
	FirmwareKeyFile string `yaml:"firmware_key_file"`
}

// HTTP configures the HTTP server.
type HTTP struct {
	// Addr defaults to loopback so a fresh install exposes nothing.
	Addr              string        `yaml:"addr"`
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	ReadTimeout       time.Duration `yaml:"read_timeout"`
	WriteTimeout      time.Duration `yaml:"write_timeout"`
	IdleTimeout       time.Duration `yaml:"idle_timeout"`
	// ShutdownTimeout bounds the drain of requests in flight on shutdown.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// MaxBodyBytes caps every request body.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
}

// Store selects the database.
type Store struct {
	// URL is empty (or "sqlite") for the embedded SQLite database under
	// Data, "sqlite:///path/to/file.db" for another file, or a PostgreSQL
	// URL ("postgres://user@host:5432/db").
	URL string `yaml:"url"`
	// ConnectTimeout bounds the first connection at start-up.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// RetentionMonths is how many months of interval days are kept: a
	// month goes whole once it lies more than this many months before the
	// current one. 0 keeps every reading.
	RetentionMonths int `yaml:"retention_months"`
}

// Bus selects the message bus.
type Bus struct {
	// URL is empty for the in-process NATS JetStream server under Data, or
	// one or more comma-separated nats:// URLs of an external cluster.
	URL string `yaml:"url"`
	// Replicas is the JetStream replication factor of amigo's streams on
	// an external cluster; the embedded server always uses 1.
	Replicas int `yaml:"replicas"`
	// DuplicateWindow is how long the bus remembers message ids, so a
	// publish retried within it is stored once.
	DuplicateWindow time.Duration `yaml:"duplicate_window"`
	ConnectTimeout  time.Duration `yaml:"connect_timeout"`
}

// Log configures structured logging.
type Log struct {
	// Format is "text", "json" or "auto" (text on a terminal, else JSON).
	Format string `yaml:"format"`
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
}

// Default returns the embedded defaults.
func Default() Config {
	return Config{
		Data: DefaultDataDir(),
		HTTP: HTTP{
			Addr:              "127.0.0.1:8080",
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      60 * time.Second,
			IdleTimeout:       120 * time.Second,
			ShutdownTimeout:   10 * time.Second,
			MaxBodyBytes:      8 << 20,
		},
		Store: Store{ConnectTimeout: 5 * time.Second},
		Bus:   Bus{Replicas: 1, DuplicateWindow: 10 * time.Minute, ConnectTimeout: 5 * time.Second},
		Log:   Log{Format: "auto", Level: "info"},
		HeadEnd: HeadEnd{PushAddr: "127.0.0.1:4060", C1222PushAddr: "127.0.0.1:1154", PushPerSource: 8, PushFirstFrame: 5 * time.Second, Concurrency: 256, PerSegment: 32, JobTimeout: 2 * time.Minute,
			Attempts: 3, Window: time.Hour, DailyAt: time.Hour, Zone: "UTC", ClockThreshold: 10 * time.Second, BackfillDays: 10},
		Approvals:  DefaultApprovals(),
		Safeguards: DefaultSafeguards(),
		HAN:        DefaultHAN(),
		OpenADR:    DefaultOpenADR(),
		Outage:     DefaultOutage(),
		Node:       DefaultNode(),
	}
}

// DefaultDataDir is $XDG_DATA_HOME/amigo, or ~/.local/share/amigo.
func DefaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "amigo")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "amigo")
	}
	return "amigo-data"
}

// Load returns the defaults overlaid by the YAML file at path (if path is
// not empty) and then by the environment. Unknown keys in the file are an
// error, so a misspelt setting is caught rather than silently ignored.
func Load(path string, getenv func(string) string) (Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	return LoadEnv(path, func(k string) (string, bool) { v := getenv(k); return v, v != "" })
}

// LoadEnv is Load with an environment that tells a variable set to the
// empty string from one not set (os.LookupEnv): AMIGO_PUSH_ADDR="" then
// means no push listener, as its description says.
func LoadEnv(path string, lookup func(string) (string, bool)) (Config, error) {
	c := Default()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("config file: %w", err)
		}
		if err := decodeYAML(b, &c); err != nil {
			return c, fmt.Errorf("config file %s: %w", path, err)
		}
		if err := c.Safeguards.Validate(); err != nil {
			return c, fmt.Errorf("config file %s: %w", path, err)
		}
	}
	if lookup == nil {
		lookup = os.LookupEnv
	}
	if err := c.applyEnv(lookup); err != nil {
		return c, err
	}
	return c, nil
}

func decodeYAML(b []byte, c *Config) error {
	if err := unknownKeys(b, reflect.TypeOf(c)); err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		// yaml.v3 errors span lines; one line reads better in a terminal.
		return errors.New(strings.ReplaceAll(strings.TrimPrefix(err.Error(), "yaml: "), "\n", "; "))
	}
	return nil
}

// Env names the environment variables that override the file.
var Env = map[string]string{
	"AMIGO_DATA":            "data directory",
	"AMIGO_HTTP":            "HTTP listen address",
	"AMIGO_STORE_URL":       "database URL (empty: embedded SQLite)",
	"AMIGO_BUS_URL":         "NATS URL (empty: embedded JetStream)",
	"AMIGO_LOG_FORMAT":      "text, json or auto",
	"AMIGO_LOG_LEVEL":       "debug, info, warn or error",
	"AMIGO_PUSH_ADDR":       "push listener address (empty: none)",
	"AMIGO_C1222_PUSH_ADDR": "C12.22 push listener address (empty: none)",
}

func (c *Config) applyEnv(lookup func(string) (string, bool)) error {
	set := func(name string, dst *string) {
		if v, _ := lookup(name); v != "" {
			*dst = v
		}
	}
	set("AMIGO_DATA", &c.Data)
	set("AMIGO_HTTP", &c.HTTP.Addr)
	set("AMIGO_STORE_URL", &c.Store.URL)
	set("AMIGO_BUS_URL", &c.Bus.URL)
	set("AMIGO_LOG_FORMAT", &c.Log.Format)
	set("AMIGO_LOG_LEVEL", &c.Log.Level)
	if v, ok := lookup("AMIGO_PUSH_ADDR"); ok {
		c.HeadEnd.PushAddr = v
	}
	if v, ok := lookup("AMIGO_C1222_PUSH_ADDR"); ok {
		c.HeadEnd.C1222PushAddr = v
	}
	set("AMIGO_MASTER_KEY_FILE", &c.HeadEnd.MasterKeyFile)
	c.HeadEnd.PKCS11.applyEnv(lookup)
	set("AMIGO_SIGNING_KEY_FILE", &c.HeadEnd.SigningKeyFile)
	c.HAN.applyEnv(lookup)
	c.OpenADR.applyEnv(lookup)
	return c.Node.applyEnv(lookup)
}

// Validate checks the settings that can be checked without touching the
// network or the disk.
func (c Config) Validate() error {
	if c.Data == "" {
		return errors.New("data directory is empty")
	}
	if _, _, err := net.SplitHostPort(c.HTTP.Addr); err != nil {
		return fmt.Errorf("http address %q: %w", c.HTTP.Addr, err)
	}
	switch c.Log.Format {
	case "text", "json", "auto":
	default:
		return fmt.Errorf("log format %q: want text, json or auto", c.Log.Format)
	}
	switch strings.ToLower(c.Log.Level) {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log level %q: want debug, info, warn or error", c.Log.Level)
	}
	if _, err := c.StoreKind(); err != nil {
		return err
	}
	if c.Bus.URL != "" {
		for _, u := range strings.Split(c.Bus.URL, ",") {
			pu, err := url.Parse(strings.TrimSpace(u))
			if err != nil || pu.Host == "" {
				return fmt.Errorf("bus url %q: want nats://host:port", RedactURL(u))
			}
		}
	}
	if h := c.HeadEnd; h.PushPerSource <= 0 || h.PushFirstFrame <= 0 {
		return errors.New("headend: push_per_source and push_first_frame must be positive")
	}
	if h := c.HeadEnd; h.PushAddr != "" {
		if _, _, err := net.SplitHostPort(h.PushAddr); err != nil {
			return fmt.Errorf("push address %q: %w", h.PushAddr, err)
		}
	}
	if h := c.HeadEnd; h.C1222PushAddr != "" {
		if _, _, err := net.SplitHostPort(h.C1222PushAddr); err != nil {
			return fmt.Errorf("C12.22 push address %q: %w", h.C1222PushAddr, err)
		}
		if _, port, _ := net.SplitHostPort(h.C1222PushAddr); h.C1222PushAddr == h.PushAddr && port != "0" {
			return fmt.Errorf("C12.22 push address %q is the DLMS push address: each protocol's meters push to a listener of their own", h.C1222PushAddr)
		}
	}
	if h := c.HeadEnd; h.Concurrency < 1 || h.PerSegment < 1 || h.Attempts < 1 || h.JobTimeout <= 0 || h.BackfillDays < 1 {
		return errors.New("headend: concurrency, per_segment, attempts, job_timeout and backfill_days must be positive")
	}
	if err := c.HeadEnd.PKCS11.validate(); err != nil {
		return err
	}
	if _, err := time.LoadLocation(c.HeadEnd.Zone); err != nil {
		return fmt.Errorf("headend zone %q: %w", c.HeadEnd.Zone, err)
	}
	if _, err := c.MDM.Validation.RuleSets(); err != nil {
		return fmt.Errorf("mdm: %w", err)
	}
	if err := c.Approvals.validate(); err != nil {
		return err
	}
	if _, err := c.AnomalyPolicy(); err != nil {
		return err
	}
	if err := c.Safeguards.Validate(); err != nil {
		return err
	}
	if err := c.HAN.validate(); err != nil {
		return err
	}
	if err := c.OpenADR.validate(); err != nil {
		return err
	}
	if err := c.Outage.validate(); err != nil {
		return err
	}
	if err := c.Node.validate(); err != nil {
		return err
	}
	if c.Store.RetentionMonths < 0 || c.Store.RetentionMonths > 1200 {
		return fmt.Errorf("store retention_months %d: want 0 (keep every reading) to 1200", c.Store.RetentionMonths)
	}
	if c.Bus.Replicas < 1 || c.Bus.Replicas > 5 {
		return fmt.Errorf("bus replicas %d: want 1 to 5", c.Bus.Replicas)
	}
	return nil
}

// StoreKind is "sqlite" or "postgres", from the store URL.
func (c Config) StoreKind() (string, error) {
	u := c.Store.URL
	switch {
	case u == "" || u == "sqlite" || strings.HasPrefix(u, "sqlite://"):
		return "sqlite", nil
	case strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://"):
		return "postgres", nil
	}
	return "", fmt.Errorf("store url %q: want sqlite, sqlite:///file or postgres://", RedactURL(u))
}

// StoreURL is the URL store.Open takes: Store.URL, with the embedded
// database's file (SQLitePath) filled in as sqlite://PATH.
func (c Config) StoreURL() string {
	if k, err := c.StoreKind(); err == nil && k == "sqlite" {
		return "sqlite://" + c.SQLitePath()
	}
	return c.Store.URL
}

// SQLitePath is the database file the embedded store uses.
func (c Config) SQLitePath() string {
	if p, ok := strings.CutPrefix(c.Store.URL, "sqlite://"); ok && p != "" {
		return p
	}
	return filepath.Join(c.Data, "amigo.db")
}

// RedactURL hides the password (and any secret-looking query parameter) of
// a URL so that it can be logged or printed in an error.
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		// Unparseable: it may still hold a secret, so show only its scheme.
		if i := strings.Index(s, "://"); i > 0 {
			return s[:i] + "://…"
		}
		return "…"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	changed := false
	for k := range q {
		switch strings.ToLower(k) {
		case "password", "sslpassword", "token", "secret":
			q.Set(k, "xxxxx")
			changed = true
		}
	}
	if changed {
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// Secret is a string that never prints: logging or formatting it shows a
// placeholder, so a key or password cannot reach a log line by accident.
type Secret string

// String redacts.
func (Secret) String() string { return "[redacted]" }

// GoString redacts.
func (Secret) GoString() string { return "[redacted]" }

// MarshalText redacts, so JSON and YAML output does not leak either.
func (Secret) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }

// Reveal returns the secret itself, for the one place that needs it.
func (s Secret) Reveal() string { return string(s) }
