package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"time"
)

// encodingV1 opens every record's canonical encoding. A later encoding
// gets a new tag, so that records sealed under this one still verify.
const encodingV1 = "amigo-audit/1\x00"

// Canonical is the record's canonical encoding, version 1: the tag, then
// seq and the time in microseconds since 1970 UTC as big-endian int64,
// then actor, action, target and outcome, the number of details and each
// detail's key and value in key order, and the previous record's hash;
// every string and byte field is prefixed by its length as a big-endian
// uint32. Length prefixes keep field boundaries unambiguous, so no two
// different records share an encoding.
func Canonical(r Record) []byte {
	var b []byte
	b = append(b, encodingV1...)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Seq))
	b = binary.BigEndian.AppendUint64(b, uint64(r.At.UnixMicro()))
	for _, s := range []string{r.Actor, string(r.Action), r.Target, r.Outcome} {
		b = appendField(b, []byte(s))
	}
	keys := make([]string, 0, len(r.Details))
	for k := range r.Details {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = binary.BigEndian.AppendUint32(b, uint32(len(keys)))
	for _, k := range keys {
		b = appendField(b, []byte(k))
		b = appendField(b, []byte(r.Details[k]))
	}
	return appendField(b, r.Prev)
}

func appendField(b, v []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
	return append(b, v...)
}

// HashOf is the SHA-256 of the record's canonical encoding, which covers
// its seq and the previous record's hash: what Hash must equal.
func HashOf(r Record) []byte {
	h := sha256.Sum256(Canonical(r))
	return h[:]
}

// Seal sets the record's hash once its seq and Prev are set; the store
// calls it inside the transaction that appends the record.
func Seal(r *Record) { r.Hash = HashOf(*r) }

// Intact reports whether the record's stored hash is its own.
func Intact(r Record) bool { return bytes.Equal(r.Hash, HashOf(r)) }

// normalize puts the record in the form the store keeps: the time in UTC
// to the microsecond, no empty details map.
func normalize(r Record) Record {
	if r.At.IsZero() {
		r.At = time.Now()
	}
	r.At = r.At.UTC().Truncate(time.Microsecond)
	if len(r.Details) == 0 {
		r.Details = nil
	} else {
		r.Details = cloneDetails(r.Details)
	}
	if r.Outcome == "" {
		r.Outcome = OK
	}
	return r
}

// cloneDetails copies details, into a map that is never nil.
func cloneDetails(m map[string]string) map[string]string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
