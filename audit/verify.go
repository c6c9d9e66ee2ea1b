package audit

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// FaultKind names what Verify found wrong.
type FaultKind string

// Faults. Edited, Deleted, Reordered and Relinked are found from the log
// alone; Truncated and Rewritten only against an anchor kept elsewhere.
const (
	// Edited: the record's fields no longer hash to its stored hash.
	Edited FaultKind = "edited"
	// Deleted: records are missing after the fault's seq.
	Deleted FaultKind = "deleted"
	// Reordered: the record's hash is that of the same record at another
	// seq (Detail names it): it was moved.
	Reordered FaultKind = "reordered"
	// Relinked: the record is intact but does not follow the one before:
	// its previous hash is not that record's hash.
	Relinked FaultKind = "relinked"
	// Truncated: the log ends before the anchor's seq.
	Truncated FaultKind = "truncated"
	// Rewritten: the record at the anchor's seq has another hash than the
	// anchor: the log up to there was replaced, chain and all.
	Rewritten FaultKind = "rewritten"
)

// Fault is one thing wrong with the chain, at a seq.
type Fault struct {
	Seq    int64     `json:"seq"`
	Kind   FaultKind `json:"kind"`
	Detail string    `json:"detail"`
}

func (f Fault) String() string { return fmt.Sprintf("seq %d: %s: %s", f.Seq, f.Kind, f.Detail) }

// Anchor is a record's seq and hash, kept where the database's editor
// cannot change it along with the log: it fixes the chain up to that seq.
type Anchor struct {
	Seq  int64
	Hash []byte
}

// String is the anchor's text form, SEQ:HEX, which ParseAnchor reads.
func (a Anchor) String() string {
	return strconv.FormatInt(a.Seq, 10) + ":" + hex.EncodeToString(a.Hash)
}

// ParseAnchor reads SEQ:HEX.
func ParseAnchor(s string) (Anchor, error) {
	seq, h, ok := strings.Cut(strings.TrimSpace(s), ":")
	n, err := strconv.ParseInt(seq, 10, 64)
	if !ok || err != nil || n < 0 {
		return Anchor{}, fmt.Errorf("audit anchor %q: want SEQ:HEX", s)
	}
	b, err := hex.DecodeString(h)
	if err != nil || (n > 0 && len(b) != 32) || (n == 0 && len(b) != 0) {
		return Anchor{}, fmt.Errorf("audit anchor %q: want a 64-digit hex SHA-256 after the seq", s)
	}
	return Anchor{Seq: n, Hash: b}, nil
}

// Report is what Verify found.
type Report struct {
	// Records is how many records were read; Head is the last one's seq
	// and hash, the anchor to keep for the next verification.
	Records int64
	Head    Anchor
	// Faults lists the faults in seq order, at most MaxFaults of them;
	// More says that there were more.
	Faults []Fault
	More   bool
}

// OK reports whether the chain verified.
func (r Report) OK() bool { return len(r.Faults) == 0 }

// MaxFaults caps the faults a report lists.
const MaxFaults = 100

// VerifyOptions tune Verify.
type VerifyOptions struct {
	// Anchor, when set, is checked: the log must reach its seq with its
	// hash there.
	Anchor *Anchor
	// PageSize is the records read at a time (1000 when 0).
	PageSize int
}

// window is how far back a relinked record may point after a fault, and
// how far Verify looks for the seq a moved record came from.
const window = 64

// Verify walks the whole chain in seq order, a page at a time, and
// reports every fault: a record edited (its hash does not match, at its
// seq), deleted (a gap in seq after the last record before it), moved to
// another seq (reordered) or relinked (its previous hash is not the one
// before it). After a fault it carries on from the record as stored, so
// one edit is one fault, not a cascade. The error is for a failure to
// read, not for a fault.
func Verify(ctx context.Context, src Store, o VerifyOptions) (Report, error) {
	if o.PageSize <= 0 {
		o.PageSize = 1000
	}
	var rep Report
	add := func(f Fault) {
		if len(rep.Faults) >= MaxFaults {
			rep.More = true
			return
		}
		rep.Faults = append(rep.Faults, f)
	}
	var (
		last     Record // the record before, as stored
		faulted  bool   // last was itself at fault
		recent   [][]byte
		anchorAt = false
	)
	for after := int64(0); ; {
		page, err := src.AuditRecords(ctx, Query{After: after, Limit: o.PageSize})
		if err != nil {
			return rep, fmt.Errorf("audit: reading records after seq %d: %w", after, err)
		}
		for _, r := range page {
			rep.Records++
			if r.Seq < 1 {
				// Listed first, out of the chain: the rest is checked without it.
				add(Fault{Seq: r.Seq, Kind: Edited, Detail: "its seq is not a position in the chain, which starts at 1"})
				continue
			}
			gap := r.Seq != last.Seq+1
			if gap {
				add(Fault{Seq: last.Seq, Kind: Deleted, Detail: fmt.Sprintf("seq gap after %d: %s missing", last.Seq, span(last.Seq+1, r.Seq-1))})
			}
			bad := false
			if !Intact(r) {
				bad = true
				if from, ok := movedFrom(r); ok {
					add(Fault{Seq: r.Seq, Kind: Reordered, Detail: fmt.Sprintf("the record hashes as seq %d's: it was moved here", from)})
				} else {
					add(Fault{Seq: r.Seq, Kind: Edited, Detail: "its fields do not match its hash"})
				}
			} else if !gap && !bytes.Equal(r.Prev, last.Hash) && !(faulted && containsHash(recent, r.Prev)) {
				bad = true
				add(Fault{Seq: r.Seq, Kind: Relinked, Detail: fmt.Sprintf("its previous hash is not seq %d's hash", last.Seq)})
			}
			if o.Anchor != nil && r.Seq == o.Anchor.Seq {
				anchorAt = true
				// A record at fault itself is named so already.
				if !bad && !bytes.Equal(r.Hash, o.Anchor.Hash) {
					add(Fault{Seq: r.Seq, Kind: Rewritten, Detail: "its hash is not the anchor's: the log up to here was replaced"})
				}
			}
			last, faulted = r, bad
			recent = append(recent, r.Hash)
			if len(recent) > window {
				recent = recent[1:]
			}
		}
		if len(page) < o.PageSize {
			break
		}
		after = page[len(page)-1].Seq
	}
	rep.Head = Anchor{Seq: last.Seq, Hash: last.Hash}
	if a := o.Anchor; a != nil && !anchorAt && a.Seq > 0 {
		kind, detail := Truncated, fmt.Sprintf("the log ends at seq %d, before the anchor's seq %d", last.Seq, a.Seq)
		if last.Seq >= a.Seq {
			kind, detail = Deleted, fmt.Sprintf("the anchor's record %d is missing", a.Seq)
		}
		add(Fault{Seq: a.Seq, Kind: kind, Detail: detail})
	}
	return rep, nil
}

// movedFrom finds the seq near its own at which the record hashes: the
// seq it was sealed at before someone moved it.
func movedFrom(r Record) (int64, bool) {
	at := r.Seq
	for d := int64(1); d <= window; d++ {
		for _, s := range []int64{at - d, at + d} {
			if s < 1 {
				continue
			}
			r.Seq = s
			if Intact(r) {
				return s, true
			}
		}
	}
	return 0, false
}

func containsHash(hs [][]byte, h []byte) bool {
	for _, x := range hs {
		if bytes.Equal(x, h) {
			return true
		}
	}
	return false
}

func span(a, b int64) string {
	if a == b {
		return "seq " + strconv.FormatInt(a, 10)
	}
	return fmt.Sprintf("seqs %d to %d", a, b)
}

// ErrFault is what a caller returns when verification found faults.
var ErrFault = errors.New("audit trail verification failed")
