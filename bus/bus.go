// Package bus owns amigo's message bus: NATS with JetStream, either an
// in-process server storing under the data directory (the default) or an
// external cluster. It creates amigo's streams idempotently at start and
// publishes with message ids, so a publish that is retried is stored once.
//
// It owns the contract on the bus too: each message type (messages.go)
// knows its subject, its id and its encoding, and callers publish and
// receive typed values. Publishing, consuming through durable consumers
// and dead-lettering are methods here, so that no NATS type leaves the
// package.
package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/amigo-ami/amigo/retry"
)

// Kinds of message, one stream each.
const (
	Readings = "readings" // interval blocks and register reads
	Events   = "events"   // end-device events and alarms
	Commands = "commands" // end-device controls and their results
	// DeadLetters holds messages a consumer could not use (undecodable,
	// unknown meter, impossible timestamps), with the reason, for people
	// to inspect; the stream they came from moves on.
	DeadLetters = "deadletters"
	// Outages holds outage management's outage events as they change.
	Outages = "outages"
)

// Kinds lists every stream amigo creates.
var Kinds = []string{Readings, Events, Commands, DeadLetters, Outages}

// Options configures Open.
type Options struct {
	// URL is empty for the embedded server, else comma-separated nats:// URLs.
	URL string
	// Dir is where the embedded server keeps JetStream data.
	Dir string
	// Namespace prefixes subjects ("amigo.readings.>") and stream names
	// ("AMIGO_READINGS"); tests use their own to share one server.
	Namespace string
	Replicas  int
	// DuplicateWindow is how long message ids are remembered.
	DuplicateWindow time.Duration
	ConnectTimeout  time.Duration
	// SyncAlways makes the embedded server fsync every write, so that not
	// even a power cut loses an acknowledged message. Without it an
	// acknowledged message survives a killed process but may be lost with
	// the machine.
	SyncAlways bool
	Logger     *slog.Logger
}

// publishAckTimeout bounds the wait for one published message's
// acknowledgement.
const publishAckTimeout = 15 * time.Second

// Bus is a connection to JetStream with amigo's streams in place.
type Bus struct {
	ns  *server.Server
	nc  *nats.Conn
	js  jetstream.JetStream
	opt Options
}

// Open starts or connects to the bus and creates the streams.
func Open(ctx context.Context, o Options) (*Bus, error) {
	if o.Namespace == "" {
		o.Namespace = "amigo"
	}
	if o.Replicas < 1 {
		o.Replicas = 1
	}
	if o.DuplicateWindow <= 0 {
		o.DuplicateWindow = 10 * time.Minute
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	b := &Bus{opt: o}
	opts := []nats.Option{
		nats.Name("amigo"),
		nats.Timeout(o.ConnectTimeout),
		nats.MaxReconnects(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				o.Logger.Warn("bus disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { o.Logger.Info("bus reconnected", "server", nc.ConnectedUrlRedacted()) }),
	}
	var err error
	if o.URL == "" {
		if b.ns, err = startEmbedded(o); err != nil {
			return nil, err
		}
		opts = append(opts, nats.InProcessServer(b.ns))
		b.nc, err = nats.Connect("", opts...)
	} else {
		// The default ping every two minutes would let a node talk to a
		// dead server far longer than a lease lives: a few seconds of
		// silence moves it to another server of the cluster.
		opts = append(opts, nats.PingInterval(2*time.Second), nats.MaxPingsOutstanding(2))
		b.nc, err = nats.Connect(o.URL, opts...)
	}
	if err != nil {
		b.shutdownServer()
		return nil, fmt.Errorf("bus %s: %w", b.where(), err)
	}
	// An acknowledgement lost with a connection (a server frozen or
	// killed under it) would leave its publisher waiting for ever: past
	// this, the publish fails and is tried again, and the message id
	// keeps a second copy out.
	if b.js, err = jetstream.New(b.nc, jetstream.WithPublishAsyncTimeout(publishAckTimeout)); err != nil {
		b.Close(ctx)
		return nil, fmt.Errorf("bus %s: %w", b.where(), err)
	}
	if err := b.ensureStreams(ctx); err != nil {
		b.Close(ctx)
		return nil, fmt.Errorf("bus %s: %w", b.where(), err)
	}
	return b, nil
}

func startEmbedded(o Options) (*server.Server, error) {
	dir := filepath.Join(o.Dir, "nats")
	ns, err := server.NewServer(&server.Options{
		ServerName: "amigo-embedded",
		// No listener: only this process reaches the bus, so an embedded
		// install opens no port.
		DontListen:             true,
		JetStream:              true,
		StoreDir:               dir,
		SyncAlways:             o.SyncAlways,
		NoSigs:                 true,
		NoLog:                  true,
		DisableJetStreamBanner: true,
	})
	if err != nil {
		return nil, fmt.Errorf("bus: embedded server: %w", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(o.ConnectTimeout) {
		ns.Shutdown()
		return nil, fmt.Errorf("bus: embedded server under %s did not start within %s", dir, o.ConnectTimeout)
	}
	return ns, nil
}

func (b *Bus) where() string {
	if b.ns != nil {
		return "embedded"
	}
	var hosts []string
	for _, u := range strings.Split(b.opt.URL, ",") {
		if i := strings.LastIndex(u, "@"); i >= 0 {
			u = u[i+1:] // credentials never reach an error message
		}
		hosts = append(hosts, strings.TrimPrefix(strings.TrimSpace(u), "nats://"))
	}
	return strings.Join(hosts, ",")
}

// streamName returns the JetStream stream that holds one kind of message.
func (b *Bus) streamName(kind string) string {
	return strings.ToUpper(b.opt.Namespace + "_" + kind)
}

// subject returns the subject for a kind of message with the given tokens,
// e.g. subject(Readings, "m1") is "amigo.readings.m1". Tokens are made safe
// for NATS (no dots, spaces or wildcards).
func (b *Bus) subject(kind string, tokens ...string) string {
	s := b.opt.Namespace + "." + kind
	for _, t := range tokens {
		s += "." + SafeToken(t)
	}
	return s
}

// SafeToken replaces the characters NATS gives meaning to in a subject.
func SafeToken(t string) string {
	if t == "" {
		return "_"
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case '.', '*', '>', ' ', '\t', '\r', '\n':
			return '_'
		}
		return r
	}, t)
}

func (b *Bus) ensureStreams(ctx context.Context) error {
	for _, k := range Kinds {
		cfg := jetstream.StreamConfig{
			Name:       b.streamName(k),
			Subjects:   []string{b.opt.Namespace + "." + k + ".>"},
			Storage:    jetstream.FileStorage,
			Retention:  jetstream.LimitsPolicy,
			Replicas:   b.opt.Replicas,
			Duplicates: b.opt.DuplicateWindow,
			MaxAge:     7 * 24 * time.Hour,
		}
		// Nodes starting together on a fresh cluster ask for the same
		// streams at once, and the meta leader answers some only after a
		// while: each attempt has its own deadline, and the caller's
		// bounds them all.
		for n := 1; ; n++ {
			actx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_, err := b.js.CreateOrUpdateStream(actx, cfg)
			cancel()
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return fmt.Errorf("stream %s: %w", cfg.Name, err)
			}
			b.opt.Logger.Warn("bus: stream not created yet; retrying", "stream", cfg.Name, "attempt", n, "err", err)
			if retry.Wait(ctx, retry.Backoff(200*time.Millisecond, 5*time.Second, n)) != nil {
				return fmt.Errorf("stream %s: %w", cfg.Name, err)
			}
		}
	}
	return nil
}

// Embedded reports whether the bus runs in this process.
func (b *Bus) Embedded() bool { return b.ns != nil }

// Ready returns nil when the connection is up and JetStream answers.
func (b *Bus) Ready(ctx context.Context) error {
	if b.nc == nil || !b.nc.IsConnected() {
		return errors.New("bus: not connected")
	}
	if _, err := b.js.AccountInfo(ctx); err != nil {
		return fmt.Errorf("bus: jetstream: %w", err)
	}
	return nil
}

// Close drains the connection, so that every publish in flight is flushed
// and acknowledged, then stops the embedded server.
func (b *Bus) Close(ctx context.Context) error {
	var err error
	if b.nc != nil && !b.nc.IsClosed() {
		done := make(chan struct{})
		b.nc.SetClosedHandler(func(*nats.Conn) { close(done) })
		if err = b.nc.Drain(); err == nil {
			select {
			case <-done:
			case <-ctx.Done():
				err = fmt.Errorf("bus: drain: %w", ctx.Err())
				b.nc.Close()
			}
		} else {
			b.nc.Close()
		}
	}
	b.shutdownServer()
	return err
}

func (b *Bus) shutdownServer() {
	if b.ns != nil {
		b.ns.Shutdown()
		b.ns.WaitForShutdown()
	}
}
