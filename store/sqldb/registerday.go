package sqldb

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/store"
)

// A meter's register reads are stored one row per meter and UTC day, the
// day's reads packed in one blob: a daily collection brings some 28 reads
// a meter, and a row each made 28 B-tree inserts with their key, where
// one read and one write of a small row now do. The blob is the store's
// own format, never exchanged:
//
//	version byte (1)
//	uvarint number of reading types, then each: uvarint length, bytes
//	uvarint number of reads, then each, in order of time then type:
//	  uvarint type index, uvarint µs since the day's start,
//	  zigzag varint value, uvarint quality
//
// A read is identified, as the rows were, by meter, reading type and
// time: a second read of the same is skipped.

const (
	registerDayVersion = 1
	dayMicros          = int64(24 * time.Hour / time.Microsecond)
	// maxRegisterDayReads bounds a decoded blob, far above any day a
	// meter could report (a read every second of 86,400 in a few types).
	maxRegisterDayReads = 1 << 20
)

// registerDayOf is the UTC day number of at_us, rounded down.
func registerDayOf(us int64) int64 {
	d := us / dayMicros
	if us%dayMicros < 0 {
		d--
	}
	return d
}

// regEntry is one read within a day's blob.
type regEntry struct {
	typ     string
	off     int64 // µs since the day's start
	value   int64
	quality cim.Quality
}

func compareRegEntry(a, b regEntry) int {
	return cmp.Or(cmp.Compare(a.off, b.off), cmp.Compare(a.typ, b.typ))
}

// encodeRegisterDay packs entries, which must be in compareRegEntry order
// without duplicates.
func encodeRegisterDay(es []regEntry) []byte {
	var types []string
	index := map[string]uint64{}
	for _, e := range es {
		if _, ok := index[e.typ]; !ok {
			index[e.typ] = uint64(len(types))
			types = append(types, e.typ)
		}
	}
	b := make([]byte, 0, 8+len(es)*8+len(types)*8)
	b = append(b, registerDayVersion)
	b = binary.AppendUvarint(b, uint64(len(types)))
	for _, t := range types {
		b = binary.AppendUvarint(b, uint64(len(t)))
		b = append(b, t...)
	}
	b = binary.AppendUvarint(b, uint64(len(es)))
	for _, e := range es {
		b = binary.AppendUvarint(b, index[e.typ])
		b = binary.AppendUvarint(b, uint64(e.off))
		b = binary.AppendVarint(b, e.value)
		b = binary.AppendUvarint(b, uint64(e.quality))
	}
	return b
}

var errRegisterDay = errors.New("register day: malformed")

// decodeRegisterDay unpacks a blob of encodeRegisterDay, appending to es.
// A malformed blob is an error, never a panic: it names what is wrong.
func decodeRegisterDay(es []regEntry, b []byte) ([]regEntry, error) {
	fail := func(what string) ([]regEntry, error) {
		return es, fmt.Errorf("%w: %s", errRegisterDay, what)
	}
	if len(b) == 0 {
		return fail("empty")
	}
	if b[0] != registerDayVersion {
		return fail(fmt.Sprintf("format %d, want %d", b[0], registerDayVersion))
	}
	p := 1
	uv := func() (uint64, bool) {
		v, n := binary.Uvarint(b[p:])
		if n <= 0 {
			return 0, false
		}
		p += n
		return v, true
	}
	nt, ok := uv()
	// A type takes at least one byte, its length.
	if !ok || nt > uint64(len(b)-p) {
		return fail("reading type count")
	}
	types := make([]string, nt)
	for i := range types {
		l, ok := uv()
		if !ok || l > uint64(len(b)-p) {
			return fail("reading type length")
		}
		types[i] = string(b[p : p+int(l)])
		p += int(l)
	}
	n, ok := uv()
	// A read takes at least four bytes.
	if !ok || n > maxRegisterDayReads || n > uint64(len(b)-p)/4 {
		return fail("read count")
	}
	es = slices.Grow(es, int(n))
	for range n {
		ti, ok1 := uv()
		off, ok2 := uv()
		if !ok1 || !ok2 {
			return fail("read type or time")
		}
		v, k := binary.Varint(b[p:])
		if k <= 0 {
			return fail("read value")
		}
		p += k
		q, ok3 := uv()
		if !ok3 {
			return fail("read quality")
		}
		if ti >= nt || off >= uint64(dayMicros) || q > 0xFFFF {
			return fail("read out of range")
		}
		es = append(es, regEntry{typ: types[ti], off: int64(off), value: v, quality: cim.Quality(q)})
	}
	if p != len(b) {
		return fail("trailing bytes")
	}
	return es, nil
}

// regDayReads turns a day's entries into reads of meter in [fromUS, toUS)
// of type typ ("" any), appending to out.
func regDayReads(out []store.RegisterRead, meter string, day int64, es []regEntry, typ string, fromUS, toUS int64) []store.RegisterRead {
	base := day * dayMicros
	for _, e := range es {
		at := base + e.off
		if at < fromUS || at >= toUS || (typ != "" && e.typ != typ) {
			continue
		}
		out = append(out, store.RegisterRead{MeterID: meter, ReadingType: e.typ,
			TimeStamp: time.UnixMicro(at).UTC(), Value: e.value, Quality: e.quality})
	}
	return out
}

// putRegisterDays adds reads to their meter-days within tx, returning how
// many were new. Each meter-day is read, merged and written back only when
// it gained a read. The write is conditional on the revision read, so that
// two writers of one meter-day on PostgreSQL, where both may read before
// either writes, cannot drop each other's reads: the loser reads again.
func (s *DB) putRegisterDays(ctx context.Context, tx *sql.Tx, rs []store.RegisterRead, migrating bool) (int, error) {
	type key struct {
		meter string
		day   int64
	}
	groups := map[key][]regEntry{}
	var order []key
	for _, r := range rs {
		us := r.TimeStamp.UnixMicro()
		k := key{r.MeterID, registerDayOf(us)}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], regEntry{typ: r.ReadingType, off: us - k.day*dayMicros, value: r.Value, quality: r.Quality})
	}
	// Every writer takes its meter-days' row locks in key order: two MDM
	// nodes storing overlapping batches (a redelivery) then wait for each
	// other instead of deadlocking.
	slices.SortFunc(order, func(a, b key) int {
		return cmp.Or(cmp.Compare(a.meter, b.meter), cmp.Compare(a.day, b.day))
	})
	// A migration prepares within its transaction: the table is not
	// there for any other connection yet.
	prepare := func(q string) (*sql.Stmt, error) {
		if migrating {
			return tx.PrepareContext(ctx, q)
		}
		return s.txStmt(ctx, tx, q)
	}
	get, err := prepare(s.q["getRegisterDay"])
	if err != nil {
		return 0, err
	}
	defer get.Close()
	put, err := prepare(s.q["putRegisterDay"])
	if err != nil {
		return 0, err
	}
	defer put.Close()
	n := 0
	var old []regEntry
	for _, k := range order {
		in := groups[k]
		for attempt := 0; ; attempt++ {
			if attempt == 8 {
				return n, fmt.Errorf("meter %s: register reads of day %s: written by others %d times while merging",
					k.meter, time.UnixMicro(k.day*dayMicros).UTC().Format(time.DateOnly), attempt)
			}
			var blob []byte
			rev := int64(-1)
			err := get.QueryRowContext(rowContext(ctx), k.meter, k.day).Scan(&blob, &rev)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return n, fmt.Errorf("meter %s: register reads: %w", k.meter, err)
			}
			old = old[:0]
			if len(blob) > 0 {
				if old, err = decodeRegisterDay(old, blob); err != nil {
					return n, fmt.Errorf("meter %s: register reads of day %s: %w", k.meter,
						time.UnixMicro(k.day*dayMicros).UTC().Format(time.DateOnly), err)
				}
			}
			merged, added := mergeRegEntries(old, in)
			if added == 0 {
				break
			}
			res, err := put.ExecContext(rowContext(ctx), k.meter, k.day, encodeRegisterDay(merged), rev+1, rev)
			if err != nil {
				return n, fmt.Errorf("meter %s: register reads: %w", k.meter, err)
			}
			if w, _ := res.RowsAffected(); w > 0 {
				n += added
				break
			}
		}
	}
	return n, nil
}

// mergeRegEntries returns old with the entries of in it lacks, in order,
// and how many were added; of two reads of one type and time in in, the
// first is kept, as the rows' insert kept the first.
func mergeRegEntries(old, in []regEntry) ([]regEntry, int) {
	out := slices.Clone(old)
	if !slices.IsSortedFunc(out, compareRegEntry) {
		slices.SortFunc(out, compareRegEntry)
	}
	added := 0
	for _, e := range in {
		i, found := slices.BinarySearchFunc(out, e, compareRegEntry)
		if found {
			continue
		}
		out = slices.Insert(out, i, e)
		added++
	}
	return out, added
}

// migrateRegisterRows moves the rows of the former register_reads table
// into register_days, a page of rows at a time in key order, then drops
// the table.
func migrateRegisterRows(ctx context.Context, s *DB, tx *sql.Tx) error {
	const page = 20000
	var lastMeter, lastType string
	lastAt := int64(-1 << 63)
	first := true
	for {
		q := "SELECT meter_id, reading_type, at_us, value, quality FROM register_reads"
		var args []any
		if !first {
			q += " WHERE meter_id > ? OR (meter_id = ? AND (reading_type > ? OR (reading_type = ? AND at_us > ?)))"
			args = []any{lastMeter, lastMeter, lastType, lastType, lastAt}
		}
		q += fmt.Sprintf(" ORDER BY meter_id, reading_type, at_us LIMIT %d", page)
		rows, err := tx.QueryContext(ctx, s.rebind(q), args...)
		if err != nil {
			return fmt.Errorf("register reads to days: %w", err)
		}
		var rs []store.RegisterRead
		for rows.Next() {
			var r store.RegisterRead
			var us int64
			var qual int
			if err := rows.Scan(&r.MeterID, &r.ReadingType, &us, &r.Value, &qual); err != nil {
				rows.Close()
				return fmt.Errorf("register reads to days: %w", err)
			}
			r.TimeStamp, r.Quality = time.UnixMicro(us).UTC(), cim.Quality(qual)
			lastMeter, lastType, lastAt = r.MeterID, r.ReadingType, us
			rs = append(rs, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("register reads to days: %w", err)
		}
		first = false
		if len(rs) > 0 {
			if _, err := s.putRegisterDays(ctx, tx, rs, true); err != nil {
				return fmt.Errorf("register reads to days: %w", err)
			}
		}
		if len(rs) < page {
			break
		}
	}
	if _, err := tx.ExecContext(ctx, "DROP TABLE register_reads"); err != nil {
		return fmt.Errorf("register reads to days: %w", err)
	}
	return nil
}
