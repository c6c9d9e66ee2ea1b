package bus

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// Stored calls fn with every message one stream (Readings, Events,
// Commands) holds from sequence from on (from its first when from is 0),
// in order and decoded, until fn returns false. A message that does not
// decode comes with its error. It is for audits and tests: consumers take
// messages through a Consumer.
func (b *Bus) Stored(ctx context.Context, stream string, from uint64, fn func(seq uint64, m Message, err error) bool) error {
	name := b.streamName(stream)
	s, err := b.js.Stream(ctx, name)
	if err != nil {
		return fmt.Errorf("bus: stream %s: %w", name, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return fmt.Errorf("bus: stream %s: %w", name, err)
	}
	if info.State.Msgs == 0 {
		return nil
	}
	for seq := max(from, info.State.FirstSeq); seq <= info.State.LastSeq; seq++ {
		raw, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("bus: stream %s message %d: %w", name, seq, err)
		}
		m, err := Decode(raw.Subject, raw.Data)
		if !fn(seq, m, err) {
			return nil
		}
	}
	return nil
}

// DeleteStream removes the stream of one kind of message with everything
// in it. Publishes to it fail until EnsureStreams makes it again.
func (b *Bus) DeleteStream(ctx context.Context, kind string) error {
	if err := b.js.DeleteStream(ctx, b.streamName(kind)); err != nil {
		return fmt.Errorf("bus: deleting stream %s: %w", b.streamName(kind), err)
	}
	return nil
}

// EnsureStreams creates whichever of amigo's streams is missing, as Open
// does.
func (b *Bus) EnsureStreams(ctx context.Context) error { return b.ensureStreams(ctx) }
