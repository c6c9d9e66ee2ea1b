package bus

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Headers a dead letter carries beside the original message's own.
const (
	headerReason   = "Amigo-Dead-Reason"   // why the message could not be used
	headerSubject  = "Amigo-Dead-Subject"  // the subject it was published on
	headerStream   = "Amigo-Dead-Stream"   // the stream it was stored in
	headerSequence = "Amigo-Dead-Sequence" // its sequence in that stream
	headerMsgID    = "Amigo-Dead-Msg-Id"   // the message id it was published with
	headerBy       = "Amigo-Dead-By"       // the consumer that gave up on it
)

// DeadLetter copies a delivered message to the dead-letter stream with the
// reason it could not be used, and waits for the bus to store it; only
// then may the original be acknowledged. by names the consumer giving up.
// The dead letter's id is the original's place in its stream, so a
// redelivered message dead-lettered again is stored once.
func (b *Bus) DeadLetter(ctx context.Context, d *Delivery, by, reason string) error {
	h := nats.Header{}
	for k, vs := range d.m.Headers() {
		if !strings.HasPrefix(k, "Nats-") {
			h[k] = vs
		}
	}
	h.Set(headerReason, oneLine(reason))
	h.Set(headerSubject, d.m.Subject())
	h.Set(headerBy, by)
	orig := d.ID()
	if orig != "" {
		h.Set(headerMsgID, oneLine(orig))
	}
	id := "dl/" + d.m.Subject() + "/" + orig
	if md, err := d.m.Metadata(); err == nil {
		seq := strconv.FormatUint(md.Sequence.Stream, 10)
		h.Set(headerStream, md.Stream)
		h.Set(headerSequence, seq)
		id = "dl/" + md.Stream + "/" + seq
	}
	h.Set(nats.MsgIdHdr, id)
	msg := &nats.Msg{Subject: b.subject(DeadLetters, by, d.stream), Data: d.m.Data(), Header: h}
	if _, err := b.js.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("bus: dead-lettering %s: %w", d.m.Subject(), err)
	}
	return nil
}

// oneLine keeps a header value on one line, as NATS headers must be.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
	if len(s) > 2000 {
		s = s[:2000] + "…"
	}
	return s
}

// DeadLetterRecord is a message a consumer could not use, as the
// dead-letter stream keeps it.
type DeadLetterRecord struct {
	// Seq is the dead letter's place in the dead-letter stream.
	Seq uint64    `json:"seq"`
	At  time.Time `json:"at"`
	// By names the consumer that gave up on the message.
	By     string `json:"by"`
	Reason string `json:"reason"`
	// Subject, Stream, StreamSeq and MsgID say where the original was.
	Subject   string `json:"subject"`
	Stream    string `json:"stream,omitempty"`
	StreamSeq uint64 `json:"streamSeq,omitempty"`
	MsgID     string `json:"msgId,omitempty"`
	// Header holds the original's own headers; Data its payload as it was.
	Header map[string][]string `json:"header,omitempty"`
	Data   []byte              `json:"data"`
}

// DeadLetters lists the latest dead letters, newest first, at most limit
// (100 when limit ≤ 0).
func (b *Bus) DeadLetters(ctx context.Context, limit int) ([]DeadLetterRecord, error) {
	if limit <= 0 {
		limit = 100
	}
	s, first, last, err := b.deadLetterStream(ctx)
	if err != nil {
		return nil, err
	}
	var out []DeadLetterRecord
	for seq := last; seq >= first && seq > 0 && len(out) < limit; seq-- {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return out, fmt.Errorf("bus: dead letters: message %d: %w", seq, err)
		}
		out = append(out, toDeadLetter(m))
	}
	return out, nil
}

func (b *Bus) deadLetterStream(ctx context.Context) (jetstream.Stream, uint64, uint64, error) {
	name := b.streamName(DeadLetters)
	s, err := b.js.Stream(ctx, name)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("bus: dead letters: stream %s: %w", name, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("bus: dead letters: stream %s: %w", name, err)
	}
	return s, info.State.FirstSeq, info.State.LastSeq, nil
}

// ErrNoDeadLetter says there is no dead letter of that sequence.
var ErrNoDeadLetter = errors.New("bus: no such dead letter")

// Replay publishes a dead letter's payload again on the subject it first
// came on, for its consumers to take anew (after the registry learnt the
// meter, say). Its id is the dead letter's, so replaying one twice within
// the duplicate window stores it once. The dead letter stays, as a record.
func (b *Bus) Replay(ctx context.Context, seq uint64) (duplicate bool, err error) {
	s, _, _, err := b.deadLetterStream(ctx)
	if err != nil {
		return false, err
	}
	m, err := s.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return false, fmt.Errorf("%w: %d", ErrNoDeadLetter, seq)
	}
	if err != nil {
		return false, fmt.Errorf("bus: dead letter %d: %w", seq, err)
	}
	d := toDeadLetter(m)
	if t, _ := topicOf(d.Subject); t == 0 {
		return false, fmt.Errorf("bus: dead letter %d came on %s, where no message type is published", seq, d.Subject)
	}
	id := "replay/" + strconv.FormatUint(seq, 10) + "/" + d.MsgID
	return b.PublishSealed(ctx, Envelope{subject: d.Subject, id: id, data: d.Data})
}

func toDeadLetter(m *jetstream.RawStreamMsg) DeadLetterRecord {
	d := DeadLetterRecord{Seq: m.Sequence, At: m.Time, Data: m.Data, Subject: m.Subject}
	h := map[string][]string{}
	for k, vs := range m.Header {
		switch k {
		case headerReason:
			d.Reason = first(vs)
		case headerSubject:
			d.Subject = first(vs)
		case headerStream:
			d.Stream = first(vs)
		case headerSequence:
			d.StreamSeq, _ = strconv.ParseUint(first(vs), 10, 64)
		case headerMsgID:
			d.MsgID = first(vs)
		case headerBy:
			d.By = first(vs)
		default:
			if !strings.HasPrefix(k, "Nats-") {
				h[k] = vs
			}
		}
	}
	if len(h) > 0 {
		d.Header = h
	}
	return d
}

func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}
