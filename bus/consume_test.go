package bus

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
)

func events(n int) []Message {
	var out []Message
	for i := range n {
		out = append(out, Event{MRID: fmt.Sprintf("e%d", i), MeterID: "m1", CreatedAt: time.Unix(1_780_000_000+int64(i), 0).UTC()})
	}
	return out
}

// fetchAll fetches until want messages came or the deadline passed.
func fetchAll(t *testing.T, c *Consumer, want int) []*Delivery {
	t.Helper()
	var got []*Delivery
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < want && time.Now().Before(deadline) {
		ds, err := c.Fetch(context.Background(), want-len(got), 100*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ds...)
	}
	if len(got) != want {
		t.Fatalf("fetched %d messages, want %d", len(got), want)
	}
	return got
}

// TestConsumerSettles: a message acknowledged is gone, one handed back
// with a delay comes again after it, one terminated never comes again, and
// a message dead-lettered is listed with its reason and can be replayed.
func TestConsumerSettles(t *testing.T) {
	b := open(t, Options{Dir: t.TempDir()})
	defer b.Close(context.Background())
	ctx := context.Background()
	var envs []Envelope
	for _, m := range events(4) {
		e, err := b.Seal(m)
		if err != nil {
			t.Fatal(err)
		}
		envs = append(envs, e)
	}
	if notAcked, err := b.PublishAll(ctx, envs); err != nil || len(notAcked) != 0 {
		t.Fatalf("publish: %v %v", notAcked, err)
	}
	c, err := b.Consumer(ctx, ConsumerConfig{Durable: "test", Stream: Events, AckWait: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ds := fetchAll(t, c, 4)
	if err := ds[0].AckSync(ctx); err != nil {
		t.Fatal(err)
	}
	ds[1].NakAfter(200 * time.Millisecond)
	ds[2].Term()
	if err := b.DeadLetter(ctx, ds[3], "test", "a reason\nover two lines"); err != nil {
		t.Fatal(err)
	}
	ds[3].AckSync(ctx)
	again := fetchAll(t, c, 1)
	if again[0].ID() != "ev/e1" || again[0].Deliveries() != 2 {
		t.Fatalf("redelivered %s (%d deliveries), want ev/e1 the second time", again[0].ID(), again[0].Deliveries())
	}
	if err := again[0].AckSync(ctx); err != nil {
		t.Fatal(err)
	}
	if ds, _ := c.Fetch(ctx, 10, 300*time.Millisecond); len(ds) != 0 {
		t.Fatalf("%d more messages after all were settled", len(ds))
	}
	st, err := b.ConsumerStatus(ctx, Events, "test")
	if err != nil || !st.Idle() || st.AckFloor != 4 {
		t.Fatalf("status %+v %v", st, err)
	}
	dls, err := b.DeadLetters(ctx, 10)
	if err != nil || len(dls) != 1 {
		t.Fatalf("dead letters %+v %v", dls, err)
	}
	dl := dls[0]
	if dl.Reason != "a reason over two lines" || dl.By != "test" || dl.MsgID != "ev/e3" || dl.StreamSeq != 4 || dl.Subject != envs[3].subject {
		t.Fatalf("dead letter %+v", dl)
	}
	// Replayed, the payload comes again; replayed twice, it is stored once.
	for i := range 2 {
		if dup, err := b.Replay(ctx, dl.Seq); err != nil || dup != (i == 1) {
			t.Fatalf("replay %d: dup %v, %v", i, dup, err)
		}
	}
	back := fetchAll(t, c, 1)
	m, err := back[0].Decode()
	if err != nil || m.(Event).MRID != "e3" {
		t.Fatalf("replayed %+v %v", m, err)
	}
	back[0].AckSync(ctx)
}

// TestSharedConsumer: consumers of one durable name split the messages,
// and a topic narrows what a consumer sees.
func TestSharedConsumer(t *testing.T) {
	b := open(t, Options{Dir: t.TempDir()})
	defer b.Close(context.Background())
	ctx := context.Background()
	for i := range 20 {
		c := cim.EndDeviceControl{MRID: fmt.Sprintf("c%d", i), MeterID: fmt.Sprintf("m%d", i%3), Status: cim.ControlQueued}
		if _, err := b.Publish(ctx, CommandIssued(c)); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Publish(ctx, CommandStep(c)); err != nil {
			t.Fatal(err)
		}
	}
	cfg := ConsumerConfig{Durable: "nodes", Stream: Commands, Topic: TopicCommandIssued, AckWait: 30 * time.Second}
	c1, err := b.Consumer(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := b.Consumer(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for len(seen) < 20 {
		for _, c := range []*Consumer{c1, c2} {
			ds, err := c.Fetch(ctx, 3, 50*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range ds {
				m, err := d.Decode()
				if err != nil {
					t.Fatal(err)
				}
				if _, ok := m.(CommandIssued); !ok {
					t.Fatalf("a %s reached the consumer of issued commands", m.Topic())
				}
				seen[m.ID()]++
				d.Ack()
			}
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s delivered %d times", id, n)
		}
	}
	var steps int
	if err := b.Stored(ctx, Commands, 0, func(_ uint64, m Message, err error) bool {
		if _, ok := m.(CommandStep); ok && err == nil {
			steps++
		}
		return true
	}); err != nil || steps != 20 {
		t.Fatalf("%d steps stored, %v", steps, err)
	}
}
