package bus

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/amigo-ami/amigo/cim"
)

// The contract between publishers and consumers. Each message type below
// owns its subject, its message id and its encoding; nobody else builds a
// subject or an id, or reads one by its tokens. Every message carries an
// id, so a publish retried after a crash is stored once.
//
//	<ns>.readings.<meter>.intervals   Intervals      binary (AppendBlock); JSON still read   id "ib/<meter>/<readingType>/<first end unix>/<last end unix>/<n>"
//	<ns>.readings.<meter>.registers   Registers      JSON []cim.Reading                       id "rr/<meter>/<first time unix>/<last time unix>/<n>"
//	<ns>.events.<meter>               Event          JSON cim.EndDeviceEvent                  id "ev/<event mRID>"
//	<ns>.commands.<meter>.issued      CommandIssued  JSON cim.EndDeviceControl                id "cmd/<command mRID>"
//	<ns>.commands.<meter>.step        CommandStep    JSON cim.EndDeviceControl                id "ctl/<command mRID>/<status>"
//	<ns>.outages.<device>             Outage         JSON outage event (package outage)      id "out/<outage ID>/<state>[/<revision>]"
//	<ns>.deadletters.<by>.<stream>    a dead letter: the original payload, the reason in headers (see DeadLetter)

// Topic is one type of message.
type Topic uint8

// The topics.
const (
	TopicIntervals Topic = iota + 1
	TopicRegisters
	TopicEvent
	TopicCommandIssued
	TopicCommandStep
	TopicOutage
)

// Last subject tokens of the topics that have one.
const (
	tokIntervals = "intervals"
	tokRegisters = "registers"
	tokIssued    = "issued"
	tokStep      = "step"
)

func (t Topic) String() string {
	switch t {
	case TopicIntervals:
		return "interval block"
	case TopicRegisters:
		return "register reads"
	case TopicEvent:
		return "event"
	case TopicCommandIssued:
		return "command issued"
	case TopicCommandStep:
		return "command step"
	case TopicOutage:
		return "outage"
	}
	return "topic " + strconv.Itoa(int(t))
}

// stream is the kind of message, and so the stream, the topic is stored in.
func (t Topic) stream() string {
	switch t {
	case TopicIntervals, TopicRegisters:
		return Readings
	case TopicEvent:
		return Events
	case TopicCommandIssued, TopicCommandStep:
		return Commands
	case TopicOutage:
		return Outages
	}
	return ""
}

// subject is where the topic's messages of one meter go.
func (b *Bus) subjectOf(t Topic, meter string) string {
	switch t {
	case TopicIntervals:
		return b.subject(Readings, meter, tokIntervals)
	case TopicRegisters:
		return b.subject(Readings, meter, tokRegisters)
	case TopicEvent:
		return b.subject(Events, meter)
	case TopicCommandIssued:
		return b.subject(Commands, meter, tokIssued)
	case TopicCommandStep:
		return b.subject(Commands, meter, tokStep)
	case TopicOutage:
		return b.subject(Outages, meter)
	}
	return b.subject("unknown", meter)
}

// filter is the subject filter that selects every message of topic t.
func (b *Bus) filter(t Topic) string {
	switch t {
	case TopicIntervals:
		return b.subject(Readings) + ".*." + tokIntervals
	case TopicRegisters:
		return b.subject(Readings) + ".*." + tokRegisters
	case TopicEvent:
		return b.subject(Events) + ".*"
	case TopicCommandIssued:
		return b.subject(Commands) + ".*." + tokIssued
	case TopicCommandStep:
		return b.subject(Commands) + ".*." + tokStep
	case TopicOutage:
		return b.subject(Outages) + ".*"
	}
	return b.subject("unknown")
}

// topicOf reads a subject of any namespace: its topic and the meter token.
func topicOf(subject string) (Topic, string) {
	tok := strings.Split(subject, ".")
	n := len(tok)
	switch {
	case n >= 4 && tok[n-3] == Readings && tok[n-1] == tokIntervals:
		return TopicIntervals, tok[n-2]
	case n >= 4 && tok[n-3] == Readings && tok[n-1] == tokRegisters:
		return TopicRegisters, tok[n-2]
	case n >= 3 && tok[n-2] == Events:
		return TopicEvent, tok[n-1]
	case n >= 4 && tok[n-3] == Commands && tok[n-1] == tokIssued:
		return TopicCommandIssued, tok[n-2]
	case n >= 4 && tok[n-3] == Commands && tok[n-1] == tokStep:
		return TopicCommandStep, tok[n-2]
	case n >= 3 && tok[n-2] == Outages:
		return TopicOutage, tok[n-1]
	}
	return 0, ""
}

// Message is a value the bus carries: one of Intervals, Registers, Event,
// CommandIssued and CommandStep.
type Message interface {
	// Topic says which type of message it is.
	Topic() Topic
	// Meter is the meter the message is about.
	Meter() string
	// ID is the message id: publishing the same message again within the
	// duplicate window stores nothing.
	ID() string
	// appendPayload appends the message's encoding to dst.
	appendPayload(dst []byte) ([]byte, error)
}

// Intervals is an interval block of one meter and reading type.
type Intervals cim.IntervalBlock

// Registers is register reads of one meter, taken in one session.
type Registers []cim.Reading

// Event is an end-device event.
type Event cim.EndDeviceEvent

// CommandIssued is a command to carry out: the head-end nodes share one
// consumer of these, so exactly one takes each.
type CommandIssued cim.EndDeviceControl

// CommandStep is a command's move to a new status.
type CommandStep cim.EndDeviceControl

func (Intervals) Topic() Topic     { return TopicIntervals }
func (Registers) Topic() Topic     { return TopicRegisters }
func (Event) Topic() Topic         { return TopicEvent }
func (CommandIssued) Topic() Topic { return TopicCommandIssued }
func (CommandStep) Topic() Topic   { return TopicCommandStep }

func (m Intervals) Meter() string     { return m.MeterID }
func (m Event) Meter() string         { return m.MeterID }
func (m CommandIssued) Meter() string { return m.MeterID }
func (m CommandStep) Meter() string   { return m.MeterID }
func (m Registers) Meter() string {
	if len(m) == 0 {
		return ""
	}
	return m[0].MeterID
}

func (m Intervals) ID() string {
	n := len(m.Readings)
	if n == 0 {
		return "ib/" + m.MeterID + "/" + m.ReadingType.ID + "/empty"
	}
	return "ib/" + m.MeterID + "/" + m.ReadingType.ID + "/" + strconv.FormatInt(m.Readings[0].End.Unix(), 10) + "/" +
		strconv.FormatInt(m.Readings[n-1].End.Unix(), 10) + "/" + strconv.Itoa(n)
}

func (m Registers) ID() string {
	if len(m) == 0 {
		return "rr/empty"
	}
	first, last := m[0].TimeStamp, m[0].TimeStamp
	for _, r := range m {
		if r.TimeStamp.Before(first) {
			first = r.TimeStamp
		}
		if r.TimeStamp.After(last) {
			last = r.TimeStamp
		}
	}
	return "rr/" + m.Meter() + "/" + strconv.FormatInt(first.Unix(), 10) + "/" + strconv.FormatInt(last.Unix(), 10) + "/" + strconv.Itoa(len(m))
}

func (m Event) ID() string         { return "ev/" + m.MRID }
func (m CommandIssued) ID() string { return "cmd/" + m.MRID }
func (m CommandStep) ID() string   { return "ctl/" + m.MRID + "/" + string(m.Status) }

func (m Intervals) appendPayload(dst []byte) ([]byte, error) {
	return AppendBlock(dst, cim.IntervalBlock(m)), nil
}
func (m Registers) appendPayload(dst []byte) ([]byte, error) {
	return appendJSON(dst, []cim.Reading(m))
}
func (m Event) appendPayload(dst []byte) ([]byte, error) {
	return appendJSON(dst, cim.EndDeviceEvent(m))
}
func (m CommandIssued) appendPayload(dst []byte) ([]byte, error) {
	return appendJSON(dst, cim.EndDeviceControl(m))
}
func (m CommandStep) appendPayload(dst []byte) ([]byte, error) {
	return appendJSON(dst, cim.EndDeviceControl(m))
}

// Outage is a change of an outage event (package outage's Event): the
// device out, on its subject in place of a meter. The bus reads only the
// fields it routes and names the message by; JSON is the whole event as
// outage management encoded it, so the bus does not depend on the outage
// model.
type Outage struct {
	OutageID string `json:"id"`
	Device   string `json:"device"`
	State    string `json:"state"`
	// Revision tells a correction of an outage in the same state from a
	// retried publish of the same change: an end the meters' own reports
	// moved, a start an event log told later. Empty: the first of its state.
	Revision string          `json:"-"`
	JSON     json.RawMessage `json:"-"`
}

func (Outage) Topic() Topic    { return TopicOutage }
func (m Outage) Meter() string { return m.Device }
func (m Outage) ID() string {
	if m.Revision != "" {
		return "out/" + m.OutageID + "/" + m.State + "/" + m.Revision
	}
	return "out/" + m.OutageID + "/" + m.State
}
func (m Outage) appendPayload(dst []byte) ([]byte, error) {
	if len(m.JSON) > 0 {
		return append(dst, m.JSON...), nil
	}
	return appendJSON(dst, m)
}

func appendJSON(dst []byte, v any) ([]byte, error) {
	data, err := json.Marshal(v)
	return append(dst, data...), err
}

// Errors of Decode; each wraps one.
var (
	// ErrUnknownSubject: no message type is published there.
	ErrUnknownSubject = errors.New("no message type for subject")
	// ErrUndecodable: the payload is not the subject's message type.
	ErrUndecodable = errors.New("does not decode")
	// ErrMisrouted: the payload's meter is not the subject's.
	ErrMisrouted = errors.New("published on the subject of another meter")
)

// Decode reads a message as its subject names it, in any namespace. It
// checks the shape, and that the meter in the payload is the one in the
// subject; whether the values make sense is the consumer's to judge.
func Decode(subject string, data []byte) (Message, error) {
	t, token := topicOf(subject)
	var m Message
	var meters []string
	var err error
	switch t {
	case TopicIntervals:
		// Binary since the head-end switched; JSON from before stays
		// readable on a stream that still holds it.
		var b cim.IntervalBlock
		if IsBinaryBlock(data) {
			b, err = DecodeBlock(data)
		} else {
			err = json.Unmarshal(data, &b)
		}
		m, meters = Intervals(b), []string{b.MeterID}
	case TopicRegisters:
		var rs []cim.Reading
		err = json.Unmarshal(data, &rs)
		for _, r := range rs {
			meters = append(meters, r.MeterID)
		}
		m = Registers(rs)
	case TopicEvent:
		var e cim.EndDeviceEvent
		err = json.Unmarshal(data, &e)
		m, meters = Event(e), []string{e.MeterID}
	case TopicCommandIssued, TopicCommandStep:
		var c cim.EndDeviceControl
		err = json.Unmarshal(data, &c)
		m, meters = CommandIssued(c), []string{c.MeterID}
		if t == TopicCommandStep {
			m = CommandStep(c)
		}
	case TopicOutage:
		var o Outage
		err = json.Unmarshal(data, &o)
		if err == nil && (o.OutageID == "" || o.Device == "" || o.State == "") {
			err = errors.New("outage without id, device or state")
		}
		o.JSON = append(json.RawMessage(nil), data...)
		m, meters = o, []string{o.Device}
	default:
		return nil, fmt.Errorf("%w %q", ErrUnknownSubject, subject)
	}
	if err != nil {
		return nil, fmt.Errorf("%s on %s %w: %v", t, subject, ErrUndecodable, err)
	}
	for _, id := range meters {
		if SafeToken(id) != token {
			return nil, fmt.Errorf("%w: meter %s published on the subject of meter %s", ErrMisrouted, id, token)
		}
	}
	return m, nil
}
