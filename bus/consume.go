package bus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ConsumerConfig describes a durable pull consumer.
type ConsumerConfig struct {
	// Durable names the consumer: a consumer made again under the name
	// resumes where the last one acknowledged, and consumers of one name
	// share the messages between them, each message going to one.
	Durable     string
	Description string
	// Stream is the kind of message consumed: Readings, Events or Commands.
	Stream string
	// Topic, when set, narrows the consumer to the messages of one topic.
	Topic Topic
	// AckWait is how long a fetched message may stay unacknowledged
	// before the bus hands it out again.
	AckWait time.Duration
	// MaxAckPending bounds the messages handed out and not acknowledged.
	MaxAckPending int
	// DeliverNew starts a new consumer at messages published from now
	// on, not at the start of the stream: for a live feed, to which a
	// week of history is noise.
	DeliverNew bool
}

// Consumer is a durable pull consumer: it fetches batches and lets the
// caller settle each message. Unlimited redelivery: a message is handed
// out again until it is acknowledged or terminated, nothing is dropped
// behind anyone's back.
type Consumer struct {
	b   *Bus
	cfg ConsumerConfig

	mu   sync.Mutex
	c    jetstream.Consumer
	gone bool // deleted on the server: made again before the next fetch
}

// Consumer creates or updates the durable consumer cfg describes.
func (b *Bus) Consumer(ctx context.Context, cfg ConsumerConfig) (*Consumer, error) {
	if cfg.Durable == "" || cfg.Stream == "" {
		return nil, errors.New("bus: a consumer needs a durable name and a stream")
	}
	if cfg.Topic != 0 && cfg.Topic.stream() != cfg.Stream {
		return nil, fmt.Errorf("bus: consumer %s: %s messages are not in the %s stream", cfg.Durable, cfg.Topic, cfg.Stream)
	}
	c := &Consumer{b: b, cfg: cfg}
	if err := c.create(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Consumer) create(ctx context.Context) error {
	cfg := jetstream.ConsumerConfig{
		Durable:       c.cfg.Durable,
		Description:   c.cfg.Description,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.cfg.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: c.cfg.MaxAckPending,
	}
	if c.cfg.DeliverNew {
		cfg.DeliverPolicy = jetstream.DeliverNewPolicy
	}
	if c.cfg.Topic != 0 {
		cfg.FilterSubject = c.b.filter(c.cfg.Topic)
	}
	stream := c.b.streamName(c.cfg.Stream)
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	jc, err := c.b.js.CreateOrUpdateConsumer(cctx, stream, cfg)
	if err != nil {
		return fmt.Errorf("bus: consumer %s on %s: %w", c.cfg.Durable, stream, err)
	}
	c.mu.Lock()
	c.c, c.gone = jc, false
	c.mu.Unlock()
	return nil
}

// Fetch takes up to n messages: what is there now, or else the first to
// arrive within wait together with whatever came with it. It never waits
// to fill a batch, so a quiet bus adds no latency.
//
// The wait is not cut short by ctx: a pull cancelled on the client can
// still be answered by the server, and that message would then sit out
// AckWait. ctx bounds only making the consumer again when it was deleted
// on the server.
func (c *Consumer) Fetch(ctx context.Context, n int, wait time.Duration) ([]*Delivery, error) {
	c.mu.Lock()
	jc, gone := c.c, c.gone
	c.mu.Unlock()
	if gone {
		if err := c.create(ctx); err != nil {
			return nil, err
		}
		c.mu.Lock()
		jc = c.c
		c.mu.Unlock()
	}
	msgs, err := c.collect(jc.FetchNoWait(n))
	if len(msgs) == 0 && err == nil {
		msgs, err = c.collect(jc.Fetch(1, jetstream.FetchMaxWait(wait)))
		if len(msgs) > 0 && n > 1 {
			more, _ := c.collect(jc.FetchNoWait(n - 1))
			msgs, err = append(msgs, more...), nil
		}
	}
	if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConsumerDeleted) {
		c.mu.Lock()
		c.gone = true
		c.mu.Unlock()
	}
	if err != nil {
		err = fmt.Errorf("bus: fetch from %s on %s: %w", c.cfg.Durable, c.cfg.Stream, err)
	}
	return msgs, err
}

func (c *Consumer) collect(b jetstream.MessageBatch, err error) ([]*Delivery, error) {
	if err != nil {
		return nil, err
	}
	var out []*Delivery
	for m := range b.Messages() {
		out = append(out, &Delivery{m: m, stream: c.cfg.Stream})
	}
	err = b.Error()
	if errors.Is(err, nats.ErrTimeout) || errors.Is(err, jetstream.ErrNoMessages) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		err = nil
	}
	return out, err
}

// ConsumerStatus is where a durable consumer stands.
type ConsumerStatus struct {
	// Pending is messages not yet handed out.
	Pending uint64
	// AckPending is messages handed out and not acknowledged.
	AckPending uint64
	// Redelivered is messages handed out more than once and not yet
	// acknowledged.
	Redelivered uint64
	// AckFloor is the stream sequence up to which every message is
	// acknowledged.
	AckFloor uint64
	// Delivered is the stream sequence of the last message handed out,
	// and StreamLast the stream's last sequence; Filtered says the
	// consumer sees only some of the stream's subjects.
	Delivered, StreamLast uint64
	Filtered              bool
}

// Idle reports whether the consumer has nothing to hand out and nothing
// unacknowledged. The server counts a message as pending a moment after
// its publish is acknowledged, so for a consumer of the whole stream a
// message stored but not yet handed out also keeps it busy.
func (s ConsumerStatus) Idle() bool {
	if s.Pending != 0 || s.AckPending != 0 || s.Redelivered != 0 {
		return false
	}
	return s.Filtered || s.Delivered >= s.StreamLast
}

// ErrNoConsumer says the durable consumer asked about does not exist.
var ErrNoConsumer = errors.New("bus: no such consumer")

// ConsumerStatus tells where the durable consumer of one stream stands.
func (b *Bus) ConsumerStatus(ctx context.Context, stream, durable string) (ConsumerStatus, error) {
	c, err := b.js.Consumer(ctx, b.streamName(stream), durable)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return ConsumerStatus{}, fmt.Errorf("%w: %s on %s", ErrNoConsumer, durable, stream)
	}
	if err != nil {
		return ConsumerStatus{}, fmt.Errorf("bus: consumer %s on %s: %w", durable, stream, err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		return ConsumerStatus{}, fmt.Errorf("bus: consumer %s on %s: %w", durable, stream, err)
	}
	st, err := b.js.Stream(ctx, b.streamName(stream))
	if err != nil {
		return ConsumerStatus{}, fmt.Errorf("bus: stream %s: %w", stream, err)
	}
	si, err := st.Info(ctx)
	if err != nil {
		return ConsumerStatus{}, fmt.Errorf("bus: stream %s: %w", stream, err)
	}
	return ConsumerStatus{Pending: info.NumPending, AckPending: uint64(info.NumAckPending),
		Redelivered: uint64(info.NumRedelivered), AckFloor: info.AckFloor.Stream,
		Delivered: info.Delivered.Stream, StreamLast: si.State.LastSeq,
		Filtered: info.Config.FilterSubject != "" || len(info.Config.FilterSubjects) > 0}, nil
}

// Delivery is one message handed out by a consumer, to be settled with
// Ack, AckSync, NakAfter or Term.
type Delivery struct {
	m      jetstream.Msg
	stream string
	meta   *jetstream.MsgMetadata
}

// Subject is where the message was published, for logs.
func (d *Delivery) Subject() string { return d.m.Subject() }

// Data is the payload as published.
func (d *Delivery) Data() []byte { return d.m.Data() }

// ID is the id the message was published with.
func (d *Delivery) ID() string { return d.m.Headers().Get(nats.MsgIdHdr) }

// Decode reads the message; see Decode.
func (d *Delivery) Decode() (Message, error) { return Decode(d.m.Subject(), d.m.Data()) }

func (d *Delivery) metadata() *jetstream.MsgMetadata {
	if d.meta == nil {
		md, err := d.m.Metadata()
		if err != nil {
			md = &jetstream.MsgMetadata{}
		}
		d.meta = md
	}
	return d.meta
}

// Deliveries is how often the message has been handed out, this time
// included.
func (d *Delivery) Deliveries() uint64 { return d.metadata().NumDelivered }

// Ack acknowledges the message without waiting for the bus to confirm.
func (d *Delivery) Ack() error { return d.m.Ack() }

// AckSync acknowledges the message and waits for the bus to confirm it.
// Acknowledgements travel in order on one connection, so a confirmed one
// confirms those sent before it.
func (d *Delivery) AckSync(ctx context.Context) error { return d.m.DoubleAck(ctx) }

// NakAfter hands the message back, to be delivered again after delay.
func (d *Delivery) NakAfter(delay time.Duration) error { return d.m.NakWithDelay(delay) }

// Term tells the bus never to deliver the message again.
func (d *Delivery) Term() error { return d.m.Term() }
