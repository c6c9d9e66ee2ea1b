// Package audit owns the security audit trail: every security-relevant
// action (sign-in, tokens, users, commands and their approval or
// quarantine, keys, configuration, exports of personal data, and denied
// requests) appended to a hash-chained log that shows any record edited,
// deleted or reordered.
package audit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Action names what was done. The names are part of the log's record and
// never change once released.
type Action string

// Actions.
const (
	SignIn            Action = "sign-in"
	SignOut           Action = "sign-out"
	TokenIssue        Action = "token-issue"
	TokenRevoke       Action = "token-revoke"
	UserChange        Action = "user-change"
	CommandIssue      Action = "command-issue"
	CommandRefuse     Action = "command-refuse"
	CommandApprove    Action = "command-approve"
	CommandReject     Action = "command-reject"
	CommandQuarantine Action = "command-quarantine"
	CommandRelease    Action = "command-release"
	CommandDiscard    Action = "command-discard"
	KeyChange         Action = "key-change"
	ConfigChange      Action = "config-change"
	Export            Action = "export"
	Denied            Action = "denied"
	Firmware          Action = "firmware"
	ConsentGrant      Action = "consent-grant"
	ConsentRevoke     Action = "consent-revoke"
)

// Outcomes.
const (
	OK      = "ok"
	Refused = "refused"
	Failed  = "failed"
	// Suppressed marks the record standing for records a Limited dropped.
	Suppressed = "suppressed"
)

// Record is one entry of the trail.
type Record struct {
	// Seq and the hashes are set by the log when the record is appended.
	Seq int64     `json:"seq"`
	At  time.Time `json:"at"`
	// Actor is the user or token owner ("" for amigo itself).
	Actor  string `json:"actor,omitempty"`
	Action Action `json:"action"`
	// Target is what the action was on: a user, a meter, a command's mRID,
	// a route.
	Target  string            `json:"target,omitempty"`
	Outcome string            `json:"outcome"`
	Details map[string]string `json:"details,omitempty"`
	Prev    []byte            `json:"prev,omitempty"`
	Hash    []byte            `json:"hash,omitempty"`
}

// Appender appends records to the trail. A service takes this, not the
// log itself.
type Appender interface {
	Append(ctx context.Context, r Record) error
}

// Nop drops every record: for tests and tools that keep no trail.
type Nop struct{}

// Append implements Appender.
func (Nop) Append(context.Context, Record) error { return nil }

// Query filters and pages a listing of the trail. Empty fields match all.
type Query struct {
	Actor  string
	Action Action
	// From and To bound the records' time: From <= At < To.
	From, To time.Time
	// After lists records with a greater seq in ascending order; Before
	// lists records with a smaller seq, newest first. With neither, the
	// listing is ascending from the start unless Newest is set.
	After, Before int64
	Newest        bool
	// Limit caps the result; zero means 100.
	Limit int
}

// Store keeps the chain. AppendAudit runs in one transaction: it reads the
// last record's seq and hash, sets r.Seq to the next seq and r.Prev to that
// hash, calls seal, and inserts r under a unique seq, starting again when
// another writer took that seq first, so that every node writing to one
// database extends one chain. store.AuditLog is this interface.
type Store interface {
	AppendAudit(ctx context.Context, r Record, seal func(*Record)) (Record, error)
	AuditRecords(ctx context.Context, q Query) ([]Record, error)
}

// Log is the trail over a store: what services append to and what the
// API and the CLI read and verify.
type Log struct {
	st Store
}

// New returns the log kept in st.
func New(st Store) *Log { return &Log{st: st} }

// MaxField caps the bytes of the actor, the target and each detail kept:
// a request's path or a name tried at sign-in is the caller's to choose,
// and the trail must not be a way to fill the disk.
const MaxField = 512

// Append implements Appender: it seals r onto the end of the chain.
func (l *Log) Append(ctx context.Context, r Record) error {
	_, err := l.AppendRecord(ctx, r)
	return err
}

// AppendRecord appends r and returns it as kept, with its seq and hashes.
func (l *Log) AppendRecord(ctx context.Context, r Record) (Record, error) {
	if r.Action == "" {
		return Record{}, errors.New("audit: a record needs an action")
	}
	r = normalize(r)
	r.Actor, r.Target = clip(r.Actor), clip(r.Target)
	for k, v := range r.Details {
		r.Details[k] = clip(v)
	}
	// Appends finish even when the request that caused them is cancelled:
	// the action has happened.
	out, err := l.st.AppendAudit(context.WithoutCancel(ctx), r, Seal)
	if err != nil {
		return Record{}, fmt.Errorf("audit: appending %s on %q: %w", r.Action, r.Target, err)
	}
	return out, nil
}

func clip(s string) string {
	if len(s) <= MaxField {
		return s
	}
	return s[:MaxField] + "…"
}

// Records lists the trail.
func (l *Log) Records(ctx context.Context, q Query) ([]Record, error) {
	return l.st.AuditRecords(ctx, q)
}

// Limited appends at most a rate of records and drops the rest, saying so
// in the trail: the first record dropped in a burst appends a "suppressed"
// record in its place, and the next record let through carries the count
// dropped since in its "suppressed" detail. Denied requests go through
// one, so a flood of them cannot grow the trail without bound, nor hide
// that it happened.
type Limited struct {
	next Appender
	lim  *rate.Limiter

	mu         sync.Mutex
	suppressed int
}

// NewLimited lets through perSecond records a second, in bursts of burst.
func NewLimited(next Appender, perSecond float64, burst int) *Limited {
	return &Limited{next: next, lim: rate.NewLimiter(rate.Limit(perSecond), burst)}
}

// Append implements Appender.
func (l *Limited) Append(ctx context.Context, r Record) error {
	l.mu.Lock()
	if !l.lim.Allow() {
		l.suppressed++
		first := l.suppressed == 1
		l.mu.Unlock()
		if first {
			return l.next.Append(ctx, Record{At: r.At, Action: r.Action, Target: r.Target, Outcome: Suppressed,
				Details: map[string]string{"reason": "over the rate of records of this kind; later ones are counted, not kept"}})
		}
		return nil
	}
	n := l.suppressed
	l.suppressed = 0
	l.mu.Unlock()
	if n > 0 {
		r.Details = cloneDetails(r.Details)
		r.Details["suppressed"] = fmt.Sprint(n)
	}
	return l.next.Append(ctx, r)
}
