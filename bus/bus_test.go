package bus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/amigo-ami/amigo/testenv"
)

func externalURL() string {
	if u := os.Getenv("AMIGO_TEST_NATS_URL"); u != "" {
		return u
	}
	return "nats://127.0.0.1:4222"
}

func namespace() string {
	var b [5]byte
	rand.Read(b[:])
	return "t" + hex.EncodeToString(b[:])
}

func open(t *testing.T, o Options) *Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	b, err := Open(ctx, o)
	if err != nil {
		if o.URL != "" {
			testenv.Service(t, "external NATS at "+o.URL, err)
		}
		t.Fatal(err)
	}
	return b
}

func checkPublishOnce(t *testing.T, b *Bus) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ev := Event{MRID: "m1/log/1", MeterID: "meter.1", CreatedAt: time.Unix(1_780_000_000, 0).UTC()}
	env, err := b.Seal(ev)
	if err != nil || env.subject != b.opt.Namespace+".events.meter_1" || env.ID() != "ev/m1/log/1" {
		t.Fatalf("sealed %q %q, %v", env.subject, env.ID(), err)
	}
	if dup, err := b.Publish(ctx, ev); err != nil || dup {
		t.Fatalf("first publish: dup=%v err=%v", dup, err)
	}
	// A retried publish with the same id is stored once.
	if dup, err := b.Publish(ctx, ev); err != nil || !dup {
		t.Fatalf("retry: dup=%v err=%v", dup, err)
	}
	if _, err := b.PublishSealed(ctx, b.SealRaw(TopicEvent, "meter.1", "", []byte("x"))); err == nil {
		t.Fatal("published without an id")
	}
	st, err := b.js.Stream(ctx, b.streamName(Events))
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil || info.State.Msgs != 1 {
		t.Fatalf("stream holds %d messages, %v", info.State.Msgs, err)
	}
	if err := b.Ready(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestEmbeddedPublishOnceAndRestart(t *testing.T) {
	dir := t.TempDir()
	b := open(t, Options{Dir: dir})
	if !b.Embedded() {
		t.Fatal("not embedded")
	}
	checkPublishOnce(t, b)
	ctx := context.Background()
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// Streams are created idempotently and keep their messages.
	b2 := open(t, Options{Dir: dir})
	defer b2.Close(ctx)
	st, err := b2.js.Stream(ctx, b2.streamName(Events))
	if err != nil {
		t.Fatal(err)
	}
	info, _ := st.Info(ctx)
	if info.State.Msgs != 1 {
		t.Fatalf("after restart the stream holds %d messages", info.State.Msgs)
	}
	// The duplicate window survives the restart too.
	if dup, err := b2.Publish(ctx, Event{MRID: "m1/log/1", MeterID: "meter.1", CreatedAt: time.Unix(1_780_000_000, 0).UTC()}); err != nil || !dup {
		t.Fatalf("retry after restart: dup=%v err=%v", dup, err)
	}
}

func TestExternalCluster(t *testing.T) {
	ns := namespace()
	b := open(t, Options{URL: externalURL(), Namespace: ns})
	ctx := context.Background()
	t.Cleanup(func() {
		for _, k := range Kinds {
			b.DeleteStream(ctx, k)
		}
		b.Close(ctx)
	})
	if b.Embedded() {
		t.Fatal("embedded with a URL")
	}
	checkPublishOnce(t, b)
	// A second node starting against the same cluster finds the streams
	// there and leaves them be.
	b2 := open(t, Options{URL: externalURL(), Namespace: ns})
	defer b2.Close(ctx)
	st, _ := b2.js.Stream(ctx, b2.streamName(Events))
	info, _ := st.Info(ctx)
	if info.State.Msgs != 1 || info.Config.Retention != jetstream.LimitsPolicy {
		t.Fatalf("second open changed the stream: %+v", info.State)
	}
}

func TestUnreachableClusterFailsFast(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := Open(ctx, Options{URL: "nats://user:hunter2@127.0.0.1:1", ConnectTimeout: time.Second})
	if err == nil {
		t.Fatal("connected to nothing")
	}
	if s := err.Error(); containsAny(s, "hunter2", "\n") {
		t.Fatalf("error leaks or spans lines: %q", s)
	}
}

func containsAny(s string, subs ...string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}
