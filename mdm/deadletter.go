package mdm

import (
	"context"
	"fmt"

	"github.com/amigo-ami/amigo/bus"
)

// deadLetter is a message of a batch that can never be stored as it is.
type deadLetter struct {
	m      *bus.Delivery
	reason string
}

// deadLetter copies a message to the dead-letter stream and waits for the
// bus to store it; only then may the original be acknowledged. A
// redelivered message dead-lettered again is stored once (see
// bus.Bus.DeadLetter).
func (in *Ingest) deadLetter(ctx context.Context, d deadLetter) error {
	if err := in.o.Bus.DeadLetter(ctx, d.m, in.o.Durable, d.reason); err != nil {
		return fmt.Errorf("mdm: %w", err)
	}
	in.st.dead.Add(1)
	in.log.Warn("message dead-lettered", "subject", d.m.Subject(), "reason", d.reason)
	return nil
}

// DeadLetter is a message a consumer could not use.
type DeadLetter = bus.DeadLetterRecord

// DeadLetters lists the latest dead letters, newest first, at most limit
// (100 when limit ≤ 0).
func DeadLetters(ctx context.Context, b *bus.Bus, limit int) ([]DeadLetter, error) {
	return b.DeadLetters(ctx, limit)
}
