package headend

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/intervalcodec"
	"github.com/amigo-ami/amigo/retry"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// outMsg is one message for the bus.
type outMsg struct {
	subject, id string
	data        []byte
	// readings is how many interval readings an interval block carries.
	readings int
}

// collectionMsgs turns what one session read into bus messages with
// idempotency keys, so that a publish repeated after a crash or a retry is
// stored once.
func (h *HeadEnd) collectionMsgs(meterID string, c *Collection) ([]outMsg, error) {
	out := make([]outMsg, 0, len(c.Blocks)+len(c.Events)+1)
	for i := range c.Blocks {
		b := &c.Blocks[i]
		if len(b.Readings) == 0 {
			continue
		}
		data := intervalcodec.Append(nil, *b)
		id := "ib/" + meterID + "/" + b.ReadingType.ID + "/" + strconv.FormatInt(b.Readings[0].End.Unix(), 10) + "/" +
			strconv.FormatInt(b.Readings[len(b.Readings)-1].End.Unix(), 10) + "/" + strconv.Itoa(len(b.Readings))
		out = append(out, outMsg{h.bus.IntervalsSubject(meterID), id, data, len(b.Readings)})
	}
	if len(c.Registers) > 0 {
		data, err := json.Marshal(c.Registers)
		if err != nil {
			return nil, fmt.Errorf("meter %s: encoding registers: %w", meterID, err)
		}
		first, last := c.Registers[0].TimeStamp, c.Registers[0].TimeStamp
		for _, r := range c.Registers {
			if r.TimeStamp.Before(first) {
				first = r.TimeStamp
			}
			if r.TimeStamp.After(last) {
				last = r.TimeStamp
			}
		}
		id := "rr/" + meterID + "/" + strconv.FormatInt(first.Unix(), 10) + "/" + strconv.FormatInt(last.Unix(), 10) + "/" + strconv.Itoa(len(c.Registers))
		out = append(out, outMsg{h.bus.RegistersSubject(meterID), id, data, 0})
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
	data, err := json.Marshal(e)
	if err != nil {
		return outMsg{}, fmt.Errorf("meter %s: encoding event: %w", e.MeterID, err)
	}
	return outMsg{h.bus.EventsSubject(e.MeterID), "ev/" + e.MRID, data, 0}, nil
}

func (h *HeadEnd) controlMsg(c cim.EndDeviceControl) (outMsg, error) {
	data, err := json.Marshal(c)
	if err != nil {
		return outMsg{}, fmt.Errorf("meter %s: encoding command: %w", c.MeterID, err)
	}
	return outMsg{h.bus.CommandsSubject(c.MeterID), "ctl/" + c.MRID + "/" + string(c.Status), data, 0}, nil
}

// publishOnce sends msgs asynchronously and waits for every
// acknowledgement; it returns the messages not acknowledged.
func (h *HeadEnd) publishOnce(ctx context.Context, msgs []outMsg) ([]outMsg, error) {
	js := h.bus.JetStream()
	futs := make([]jetstream.PubAckFuture, len(msgs))
	var failed []outMsg
	var firstErr error
	for i, m := range msgs {
		f, err := js.PublishMsgAsync(&nats.Msg{Subject: m.subject, Data: m.data, Header: nats.Header{nats.MsgIdHdr: []string{m.id}}})
		if err != nil {
			failed = append(failed, m)
			if firstErr == nil {
				firstErr = err
			}
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
		case err := <-f.Err():
			failed = append(failed, msgs[i])
			if firstErr == nil {
				firstErr = err
			}
		case <-ctx.Done():
			return append(failed, msgs[i:]...), ctx.Err()
		}
	}
	return failed, firstErr
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
