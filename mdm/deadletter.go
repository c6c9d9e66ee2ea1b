package mdm

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/amigo-ami/amigo/bus"
)

// Headers a dead letter carries beside the original message's own.
const (
	HeaderReason   = "Amigo-Dead-Reason"   // why the message could not be used
	HeaderSubject  = "Amigo-Dead-Subject"  // the subject it was published on
	HeaderStream   = "Amigo-Dead-Stream"   // the stream it was stored in
	HeaderSequence = "Amigo-Dead-Sequence" // its sequence in that stream
	HeaderMsgID    = "Amigo-Dead-Msg-Id"   // the message id it was published with
	HeaderBy       = "Amigo-Dead-By"       // the consumer that gave up on it
)

type deadLetter struct {
	m      jetstream.Msg
	kind   string
	reason string
}

// deadLetter copies a message to the dead-letter stream and waits for the
// bus to store it; only then may the original be acknowledged. Its id is
// the original's place in its stream, so a redelivered message that is
// dead-lettered again is stored once.
func (in *Ingest) deadLetter(ctx context.Context, d deadLetter) error {
	h := nats.Header{}
	for k, vs := range d.m.Headers() {
		if !strings.HasPrefix(k, "Nats-") {
			h[k] = vs
		}
	}
	h.Set(HeaderReason, oneLine(d.reason))
	h.Set(HeaderSubject, d.m.Subject())
	h.Set(HeaderBy, in.o.Durable)
	if id := d.m.Headers().Get(nats.MsgIdHdr); id != "" {
		h.Set(HeaderMsgID, oneLine(id))
	}
	id := "dl/" + d.m.Subject() + "/" + d.m.Headers().Get(nats.MsgIdHdr)
	if md, err := d.m.Metadata(); err == nil {
		seq := strconv.FormatUint(md.Sequence.Stream, 10)
		h.Set(HeaderStream, md.Stream)
		h.Set(HeaderSequence, seq)
		id = "dl/" + md.Stream + "/" + seq
	}
	h.Set(nats.MsgIdHdr, id)
	msg := &nats.Msg{Subject: in.o.Bus.Subject(bus.DeadLetters, "mdm", d.kind), Data: d.m.Data(), Header: h}
	if _, err := in.o.Bus.JetStream().PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("mdm: dead-lettering %s: %w", d.m.Subject(), err)
	}
	in.st.dead.Add(1)
	in.log.Warn("message dead-lettered", "subject", d.m.Subject(), "reason", d.reason)
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

// DeadLetter is a message a consumer could not use.
type DeadLetter struct {
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
	Header nats.Header `json:"header,omitempty"`
	Data   []byte      `json:"data"`
}

// DeadLetters lists the latest dead letters, newest first, at most limit
// (100 when limit ≤ 0).
func DeadLetters(ctx context.Context, b *bus.Bus, limit int) ([]DeadLetter, error) {
	if limit <= 0 {
		limit = 100
	}
	name := b.StreamName(bus.DeadLetters)
	s, err := b.JetStream().Stream(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("mdm: dead letters: stream %s: %w", name, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("mdm: dead letters: stream %s: %w", name, err)
	}
	var out []DeadLetter
	for seq := info.State.LastSeq; seq >= info.State.FirstSeq && seq > 0 && len(out) < limit; seq-- {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return out, fmt.Errorf("mdm: dead letters: stream %s message %d: %w", name, seq, err)
		}
		out = append(out, toDeadLetter(m))
	}
	return out, nil
}

func toDeadLetter(m *jetstream.RawStreamMsg) DeadLetter {
	d := DeadLetter{Seq: m.Sequence, At: m.Time, Data: m.Data, Subject: m.Subject}
	h := nats.Header{}
	for k, vs := range m.Header {
		switch k {
		case HeaderReason:
			d.Reason = first(vs)
		case HeaderSubject:
			d.Subject = first(vs)
		case HeaderStream:
			d.Stream = first(vs)
		case HeaderSequence:
			d.StreamSeq, _ = strconv.ParseUint(first(vs), 10, 64)
		case HeaderMsgID:
			d.MsgID = first(vs)
		case HeaderBy:
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
