package bus

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Envelope is a message sealed for the bus: its subject, id and payload,
// encoded once, so that a publish retried sends the same bytes.
type Envelope struct {
	subject, id string
	data        []byte
}

// ID is the envelope's message id.
func (e Envelope) ID() string { return e.id }

// Size is the payload's length in bytes.
func (e Envelope) Size() int { return len(e.data) }

// Seal encodes m for the bus.
func (b *Bus) Seal(m Message) (Envelope, error) {
	data, err := m.appendPayload(nil)
	if err != nil {
		return Envelope{}, fmt.Errorf("bus: encoding %s %s of meter %s: %w", m.Topic(), m.ID(), m.Meter(), err)
	}
	return Envelope{subject: b.subjectOf(m.Topic(), m.Meter()), id: m.ID(), data: data}, nil
}

// SealRaw seals a payload encoded elsewhere as a message of topic t about
// meter, with the given id: a replayed dead letter, or a damaged payload
// in a test of what consumers make of it.
func (b *Bus) SealRaw(t Topic, meter, id string, data []byte) Envelope {
	return Envelope{subject: b.subjectOf(t, meter), id: id, data: data}
}

// Publish stores m and waits for JetStream to acknowledge it durably.
// duplicate is true when m's id had already been stored within the
// duplicate window: the publish was then a harmless retry.
func (b *Bus) Publish(ctx context.Context, m Message) (duplicate bool, err error) {
	e, err := b.Seal(m)
	if err != nil {
		return false, err
	}
	return b.PublishSealed(ctx, e)
}

// PublishSealed is Publish for a sealed message.
func (b *Bus) PublishSealed(ctx context.Context, e Envelope) (duplicate bool, err error) {
	if e.id == "" {
		return false, errors.New("bus: publish without a message id")
	}
	// An acknowledgement lost with a server that died is waited for no
	// longer than an asynchronous one, not until the caller's deadline:
	// the caller retries, and the id keeps a second copy out.
	ctx, cancel := context.WithTimeout(ctx, publishAckTimeout)
	defer cancel()
	ack, err := b.js.Publish(ctx, e.subject, e.data, jetstream.WithMsgID(e.id))
	if err != nil {
		return false, fmt.Errorf("bus: publish %s (id %s): %w", e.subject, e.id, err)
	}
	return ack.Duplicate, nil
}

// PublishAll sends every envelope without waiting between them, then
// waits for each acknowledgement: a batch costs about one round trip. It
// returns the indexes of the envelopes the bus did not acknowledge (all
// from the first one still unanswered when ctx ended) and the first error.
func (b *Bus) PublishAll(ctx context.Context, es []Envelope) (notAcked []int, err error) {
	futs := make([]jetstream.PubAckFuture, len(es))
	for i, e := range es {
		if e.id == "" {
			notAcked = append(notAcked, i)
			err = cmpErr(err, fmt.Errorf("bus: publish %s without a message id", e.subject))
			continue
		}
		f, perr := b.js.PublishMsgAsync(&nats.Msg{Subject: e.subject, Data: e.data, Header: nats.Header{nats.MsgIdHdr: []string{e.id}}})
		if perr != nil {
			notAcked = append(notAcked, i)
			err = cmpErr(err, fmt.Errorf("bus: publish %s: %w", e.subject, perr))
			continue
		}
		futs[i] = f
	}
	for i, f := range futs {
		if f == nil {
			continue
		}
		select {
		case <-f.Ok():
		case perr := <-f.Err():
			notAcked = append(notAcked, i)
			err = cmpErr(err, fmt.Errorf("bus: publish %s: %w", es[i].subject, perr))
		case <-ctx.Done():
			for j := i; j < len(futs); j++ {
				if futs[j] != nil {
					notAcked = append(notAcked, j)
				}
			}
			return notAcked, ctx.Err()
		}
	}
	return notAcked, err
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}
