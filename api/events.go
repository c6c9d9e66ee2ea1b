package api

import (
	"context"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/store"
)

// listEvents lists end-device events newest first: filtered, counted and
// paged by a cursor.
func (a *API) listEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !knownParams(w, q, "meter", "type", "severity", "from", "to", "after", "limit") {
		return
	}
	limit, ok := limitParam(w, q.Get("limit"))
	if !ok {
		return
	}
	eq := store.EventQuery{MeterID: q.Get("meter"), Type: cim.EndDeviceEventType(q.Get("type")), Severity: q.Get("severity"), Limit: limit}
	for name, v := range map[string]string{"meter": eq.MeterID, "type": string(eq.Type), "severity": eq.Severity} {
		if len(v) > 200 {
			Error(w, http.StatusBadRequest, "bad_query", name+" is longer than 200 bytes")
			return
		}
	}
	var err error
	if eq.From, err = instantParam(q.Get("from"), false); err != nil {
		Error(w, http.StatusBadRequest, "bad_query", "from "+err.Error())
		return
	}
	if eq.To, err = instantParam(q.Get("to"), true); err != nil {
		Error(w, http.StatusBadRequest, "bad_query", "to "+err.Error())
		return
	}
	if s := q.Get("after"); s != "" {
		if eq.AfterAt, eq.AfterMRID, ok = decodeEventCursor(s); !ok {
			Error(w, http.StatusBadRequest, "bad_query", "after must be the next cursor of an earlier page")
			return
		}
	}
	ctx := r.Context()
	evs, err := a.d.Store.Events(ctx, eq)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	total, err := a.d.Store.CountEvents(ctx, eq)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	p := page[cim.EndDeviceEvent]{Items: evs, Total: &total}
	if p.Items == nil {
		p.Items = []cim.EndDeviceEvent{}
	}
	if len(evs) == limit {
		last := evs[len(evs)-1]
		p.Next = encodeEventCursor(last.CreatedAt, last.MRID)
	}
	JSON(w, p)
}

// instantParam reads an RFC 3339 time or a date, which is its UTC day:
// from its start, or, as the end of a range, up to the next day's start.
func instantParam(s string, end bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := cim.ParseDate(s)
	if err != nil {
		return time.Time{}, errBadInstant
	}
	if end {
		d = d.AddDays(1)
	}
	return d.Start(time.UTC), nil
}

var errBadInstant = badQuery("must be an RFC 3339 time or a date YYYY-MM-DD")

type badQuery string

func (e badQuery) Error() string { return string(e) }

// An event cursor is the last event's time and mRID: the listing's order,
// so a page never repeats or skips an event stored meanwhile behind it.
func encodeEventCursor(at time.Time, mrid string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at.UnixMicro(), 10) + "_" + mrid))
}

func decodeEventCursor(s string) (time.Time, string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return time.Time{}, "", false
	}
	us, mrid, ok := strings.Cut(string(b), "_")
	n, err := strconv.ParseInt(us, 10, 64)
	if !ok || err != nil || n == 0 {
		return time.Time{}, "", false
	}
	return time.UnixMicro(n).UTC(), mrid, true
}

// Relay event types (IEC 61968-9 domain 31): the disconnector opened,
// closed, or was armed for a reconnection by hand.
const (
	eventRelayOpened cim.EndDeviceEventType = "3.31.0.68"
	eventRelayClosed cim.EndDeviceEventType = "3.31.0.42"
	eventRelayArmed  cim.EndDeviceEventType = "3.31.0.2"
)

// relay is the supply switch's state as last known.
type relay struct {
	// State is connected, disconnected or ready for reconnection.
	State string    `json:"state"`
	At    time.Time `json:"at"`
	// Source is what told: the meter's disconnector "event" log, or a
	// confirmed "command".
	Source string `json:"source"`
	Detail string `json:"detail,omitempty"`
}

// relayOf is the newest of the meter's relay events and its confirmed
// switching commands; nil when neither ever happened. A command is
// confirmed at once while its event arrives with the next collection, and
// a hand operation at the meter shows only as an event: the newest wins.
func (a *API) relayOf(ctx context.Context, meterID string) (*relay, error) {
	var out *relay
	evs, err := a.d.Store.Events(ctx, store.EventQuery{MeterID: meterID, Types: []cim.EndDeviceEventType{eventRelayOpened, eventRelayClosed, eventRelayArmed}, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(evs) == 1 {
		e := evs[0]
		out = &relay{State: "connected", At: e.CreatedAt, Source: "event", Detail: e.Reason}
		switch e.Type {
		case eventRelayOpened:
			out.State = "disconnected"
		case eventRelayArmed:
			out.State = "ready for reconnection"
		}
	}
	cs, err := a.d.Store.Controls(ctx, store.ControlQuery{MeterID: meterID, Status: cim.ControlConfirmed, Limit: 50})
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		state := ""
		switch c.Type {
		case cim.ControlDisconnect:
			state = "disconnected"
		case cim.ControlReconnect:
			state = "connected"
		case cim.ControlArmReconnect:
			state = "ready for reconnection"
		default:
			continue
		}
		if out == nil || c.UpdatedAt.After(out.At) {
			out = &relay{State: state, At: c.UpdatedAt, Source: "command", Detail: c.Reason}
		}
		break
	}
	return out, nil
}
