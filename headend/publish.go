package headend

import (
	"context"
	"fmt"
	"time"

	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/retry"
)

// outMsg is one message sealed for the bus.
type outMsg struct {
	env bus.Envelope
	// readings is how many interval readings an interval block carries.
	readings int
}

// collectionMsgs turns what one session read into bus messages; their ids
// make a publish repeated after a crash or a retry stored once.
func (h *HeadEnd) collectionMsgs(meterID string, c *Collection) ([]outMsg, error) {
	out := make([]outMsg, 0, len(c.Blocks)+len(c.Events)+1)
	for i := range c.Blocks {
		b := &c.Blocks[i]
		if len(b.Readings) == 0 {
			continue
		}
		env, err := h.bus.Seal(bus.Intervals(*b))
		if err != nil {
			return nil, fmt.Errorf("meter %s: %w", meterID, err)
		}
		out = append(out, outMsg{env, len(b.Readings)})
	}
	if len(c.Registers) > 0 {
		env, err := h.bus.Seal(bus.Registers(c.Registers))
		if err != nil {
			return nil, fmt.Errorf("meter %s: %w", meterID, err)
		}
		out = append(out, outMsg{env, 0})
	}
	for i := range c.Events {
		m, err := h.eventMsg(c.Events[i])
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func (h *HeadEnd) eventMsg(e cim.EndDeviceEvent) (outMsg, error) {
	env, err := h.bus.Seal(bus.Event(e))
	if err != nil {
		return outMsg{}, fmt.Errorf("meter %s: %w", e.MeterID, err)
	}
	return outMsg{env, 0}, nil
}

// publishOnce sends msgs asynchronously and waits for every
// acknowledgement; it returns the messages not acknowledged.
func (h *HeadEnd) publishOnce(ctx context.Context, msgs []outMsg) ([]outMsg, error) {
	envs := make([]bus.Envelope, len(msgs))
	for i, m := range msgs {
		envs[i] = m.env
	}
	notAcked, err := h.bus.PublishAll(ctx, envs)
	failed := make([]outMsg, len(notAcked))
	for i, j := range notAcked {
		failed[i] = msgs[j]
	}
	return failed, err
}

// publish sends msgs and waits until the bus has acknowledged every one.
// While the bus is unavailable it keeps trying with backoff — collection
// pauses, nothing read is dropped — until ctx ends.
func (h *HeadEnd) publish(ctx context.Context, msgs []outMsg) error {
	for n := 1; len(msgs) > 0; n++ {
		rest, err := h.publishOnce(ctx, msgs)
		if len(rest) == 0 {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("publishing %d messages: %w", len(rest), ctx.Err())
		}
		h.m.busRetries.Inc()
		if n == 1 || n%10 == 0 {
			h.log.Warn("bus did not acknowledge; retrying", "messages", len(rest), "attempt", n, "err", err)
		}
		if err := retry.Wait(ctx, retry.Backoff(100*time.Millisecond, 5*time.Second, n)); err != nil {
			return fmt.Errorf("publishing %d messages: %w", len(rest), err)
		}
		msgs = rest
	}
	return nil
}

// retryStore repeats a store write while the store is unavailable, until
// ctx ends.
func (h *HeadEnd) retryStore(ctx context.Context, what string, fn func(context.Context) error) error {
	for n := 1; ; n++ {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		h.m.storeRetries.Inc()
		if n == 1 || n%10 == 0 {
			h.log.Warn("store write failed; retrying", "what", what, "attempt", n, "err", err)
		}
		if err := retry.Wait(ctx, retry.Backoff(100*time.Millisecond, 5*time.Second, n)); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
}
