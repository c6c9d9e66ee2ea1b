package c1219

import (
	"errors"
	"fmt"
	"sync"

	"github.com/amigo-ami/amigo/psem"
)

// Level is the security clearance of the session a Store serves: 0 for
// a session that logged on without a password, higher levels for the
// passwords (or keys) the meter side checked. The Store only compares
// levels; what grants one is the session's business.
type Level uint8

// Levels amigo's meters use.
const (
	LevelPublic Level = 0 // logged on, no password
	LevelReader Level = 1 // the read password
	LevelMaster Level = 2 // the master password: writes and procedures
)

// Access is the clearance a table needs to be read and written.
type Access struct {
	Read, Write Level
	ReadOnly    bool // refuse every write (ISC would invite a retry with a password; ONP says it never will)
}

// ProcHandler runs a procedure written to ST7 and returns its result
// code and response data (RESP_DATA_RCD, for ST8). It runs with the
// Store's lock released, so it may call Set and SetSource to change the
// tables the procedure touches.
type ProcHandler func(req ProcInitiate) (Result, []byte)

// WriteHandler takes a write to a table. offset and data say which octets
// change; image is the whole table with the write applied. Returning a
// psem.Code refuses the write with that code; returning nil accepts it,
// and the Store keeps image as the table (unless the table is computed).
type WriteHandler func(offset int, data, image []byte) error

// Indexer turns an index path into the offset of the element it names,
// for index reads and writes.
type Indexer func(index []uint16) (int, error)

type tableEntry struct {
	data    []byte
	src     func() []byte
	access  Access
	write   WriteHandler
	indexer Indexer
}

type procEntry struct {
	level   Level
	handler ProcHandler
}

// Store is the meter side's table store: the images of the tables a
// meter serves (fixed, or computed on each read), their access levels, and
// the procedures ST7 runs. It implements psem.Tables. It is safe for
// concurrent use; a meter serves one session at a time, whose clearance
// SetLevel records.
type Store struct {
	mu     sync.Mutex
	f      Format
	tables map[TableID]*tableEntry
	procs  map[Proc]procEntry
	level  Level
	procMu sync.Mutex // one procedure at a time, so ST8 answers the last one
}

var _ psem.Tables = (*Store)(nil)

// NewStore is an empty store for a meter that declares format f in ST0.
// ST7 and ST8 are there from the start: writing ST7 runs a procedure,
// ST8 holds the response to the last one.
func NewStore(f Format) *Store {
	s := &Store{f: f, tables: map[TableID]*tableEntry{}, procs: map[Proc]procEntry{}}
	s.tables[ST7] = &tableEntry{}
	s.tables[ST8] = &tableEntry{access: Access{ReadOnly: true}}
	return s
}

// Format is the data format the store's tables are in.
func (s *Store) Format() Format { return s.f }

func (s *Store) entry(id TableID) *tableEntry {
	e := s.tables[id]
	if e == nil {
		e = &tableEntry{}
		s.tables[id] = e
	}
	return e
}

// Set makes data the image of table id (a copy is kept).
func (s *Store) Set(id TableID, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entry(id)
	e.data, e.src = append([]byte(nil), data...), nil
}

// SetSource makes table id computed: src runs on every read, with the
// Store's lock released. A computed table refuses writes unless it has a
// WriteHandler.
func (s *Store) SetSource(id TableID, src func() []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entry(id)
	e.data, e.src = nil, src
}

// SetAccess sets the clearance table id needs.
func (s *Store) SetAccess(id TableID, a Access) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entry(id).access = a
}

// OnWrite makes h take the writes of table id.
func (s *Store) OnWrite(id TableID, h WriteHandler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entry(id).write = h
}

// SetIndexer gives table id an index resolver; without one its index
// reads and writes are refused with IAR. Shape.Indexer builds one.
func (s *Store) SetIndexer(id TableID, ix Indexer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entry(id).indexer = ix
}

// HandleProc registers the handler of procedure p, which needs clearance
// level; a procedure without a handler answers ResultUnrecognized.
func (s *Store) HandleProc(p Proc, level Level, h ProcHandler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.procs[p&0xFFF] = procEntry{level: level, handler: h}
}

// SetLevel records the clearance of the session being served.
func (s *Store) SetLevel(l Level) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.level = l
}

// Level is the clearance of the session being served.
func (s *Store) Level() Level {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.level
}

// Table is the current image of table id, without access checks (for
// the meter's own use), and whether the store has it.
func (s *Store) Table(id TableID) ([]byte, bool) {
	s.mu.Lock()
	e := s.tables[TableID(id)]
	if e == nil {
		s.mu.Unlock()
		return nil, false
	}
	data, src := e.data, e.src
	s.mu.Unlock()
	if src != nil {
		return src(), true
	}
	return append([]byte(nil), data...), true
}

// read is the image of id after the access check.
func (s *Store) read(id uint16) ([]byte, *tableEntry, error) {
	s.mu.Lock()
	e := s.tables[TableID(id)]
	if e == nil {
		s.mu.Unlock()
		return nil, nil, psem.IAR
	}
	if s.level < e.access.Read {
		s.mu.Unlock()
		return nil, nil, psem.ISC
	}
	data, src := e.data, e.src
	s.mu.Unlock()
	if src != nil {
		data = src()
	}
	return data, e, nil
}

// ReadTable serves a full read.
func (s *Store) ReadTable(id uint16) ([]byte, error) {
	data, _, err := s.read(id)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), data...), nil
}

// ReadOffset serves a partial read by offset; a range past the table's
// end is refused with IAR.
func (s *Store) ReadOffset(id uint16, offset uint32, count uint16) ([]byte, error) {
	if s.f.Access == AccessFull || s.f.Access == AccessIndex {
		return nil, psem.SNS
	}
	data, _, err := s.read(id)
	if err != nil {
		return nil, err
	}
	end := uint64(offset) + uint64(count)
	if end > uint64(len(data)) {
		return nil, psem.IAR
	}
	return append([]byte(nil), data[offset:end]...), nil
}

// ReadIndex serves a partial read by index: count octets from the
// element the index path names.
func (s *Store) ReadIndex(id uint16, index []uint16, count uint16) ([]byte, error) {
	if s.f.Access == AccessFull || s.f.Access == AccessOffset {
		return nil, psem.SNS
	}
	data, e, err := s.read(id)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	ix := e.indexer
	s.mu.Unlock()
	if ix == nil {
		ix = s.defaultIndexer(TableID(id), data)
	}
	if ix == nil {
		return nil, psem.IAR
	}
	off, err := ix(index)
	if err != nil {
		return nil, psem.IAR
	}
	if off < 0 || off+int(count) > len(data) {
		return nil, psem.IAR
	}
	return append([]byte(nil), data[off:off+int(count)]...), nil
}

// WriteTable serves a full write.
func (s *Store) WriteTable(id uint16, data []byte) error {
	if TableID(id) == ST7 {
		return s.initiate(data)
	}
	return s.write(id, 0, data, true)
}

// WriteOffset serves a partial write by offset.
func (s *Store) WriteOffset(id uint16, offset uint32, data []byte) error {
	if s.f.Access == AccessFull || s.f.Access == AccessIndex {
		return psem.SNS
	}
	if TableID(id) == ST7 {
		if offset != 0 {
			return psem.ONP
		}
		return s.initiate(data)
	}
	if uint64(offset) > 1<<31 {
		return psem.IAR
	}
	return s.write(id, int(offset), data, false)
}

// WriteIndex serves a partial write by index.
func (s *Store) WriteIndex(id uint16, index []uint16, data []byte) error {
	if s.f.Access == AccessFull || s.f.Access == AccessOffset {
		return psem.SNS
	}
	s.mu.Lock()
	e := s.tables[TableID(id)]
	var ix Indexer
	if e != nil {
		ix = e.indexer
	}
	s.mu.Unlock()
	if e == nil {
		return psem.IAR
	}
	if ix == nil {
		if cur, ok := s.Table(TableID(id)); ok {
			ix = s.defaultIndexer(TableID(id), cur)
		}
	}
	if ix == nil {
		return psem.IAR
	}
	off, err := ix(index)
	if err != nil || off < 0 {
		return psem.IAR
	}
	return s.write(id, off, data, false)
}

// defaultIndexer is the shape of a table whose layout its own octets and
// the store's format settle, for a table without an Indexer of its own.
func (s *Store) defaultIndexer(id TableID, data []byte) Indexer {
	if sh, ok := DefaultShape(id, s.f, data); ok {
		return sh.Indexer()
	}
	return nil
}

// DefaultShape is the structure of the standard tables whose layout the
// format and the table's own length settle: ST0 (its dimensions are in
// its header), ST1, ST5, ST11, ST12 and ST16 (arrays as long as the
// table), ST21, ST51, ST52, ST55, ST61 (as many data sets as fit), ST63
// and ST71. It reports false for any other table, or a length the
// layout cannot have.
func DefaultShape(id TableID, f Format, data []byte) (Shape, bool) {
	n := len(data)
	ones := func(k int) []Shape {
		out := make([]Shape, k)
		for i := range out {
			out[i] = Leaf(1)
		}
		return out
	}
	var sh Shape
	switch id {
	case ST0:
		if n < 19 {
			return Shape{}, false
		}
		std, mfg, sp, mp := int(data[13]), int(data[14]), int(data[15]), int(data[16])
		fields := append(ones(3), Leaf(4))
		fields = append(fields, ones(12)...)
		fields = append(fields, Leaf(std), Leaf(mfg), Leaf(sp), Leaf(mp), Leaf(std), Leaf(mfg))
		sh = Record(fields...)
	case ST1:
		sh = Record(Leaf(4), Leaf(8), Leaf(1), Leaf(1), Leaf(1), Leaf(1), Leaf(f.IDSize(16)))
	case ST5:
		sh = Record(Leaf(f.IDSize(20)))
	case ST11:
		sh = Record(ones(8)...)
	case ST12:
		sh = Array(n/4, Leaf(4))
	case ST16:
		sh = Array(n, Leaf(1))
	case ST21:
		sh = Record(ones(10)...)
	case ST51:
		sh = Record(append(ones(5), Leaf(2), Leaf(2))...)
	case ST52:
		sh = Record(Leaf(f.LTimeSize()), Leaf(1))
	case ST55:
		sh = Record(Leaf(f.LTimeSize()), Leaf(1), Leaf(2))
	case ST61:
		if n < 7 || (n-7)%6 != 0 {
			return Shape{}, false
		}
		fields := []Shape{Leaf(4), Leaf(2), Leaf(1)}
		for i := 0; i < (n-7)/6; i++ {
			fields = append(fields, Leaf(2), Leaf(2), Leaf(1), Leaf(1))
		}
		sh = Record(fields...)
	case ST63:
		sh = Array(n/13, Record(Leaf(1), Leaf(2), Leaf(2), Leaf(4), Leaf(2), Leaf(2)))
	case ST71:
		fields := append(ones(5), Leaf(2), Leaf(2))
		if n == 12 {
			fields = append(fields, Leaf(1), Leaf(2))
		}
		sh = Record(fields...)
	default:
		return Shape{}, false
	}
	if sh.Len() != n {
		return Shape{}, false
	}
	return sh, true
}

func (s *Store) write(id uint16, off int, data []byte, full bool) error {
	s.mu.Lock()
	e := s.tables[TableID(id)]
	if e == nil {
		s.mu.Unlock()
		return psem.IAR
	}
	if e.access.ReadOnly {
		s.mu.Unlock()
		return psem.ONP
	}
	if s.level < e.access.Write {
		s.mu.Unlock()
		return psem.ISC
	}
	cur, src, h := e.data, e.src, e.write
	s.mu.Unlock()
	if src != nil {
		if h == nil {
			return psem.ONP
		}
		cur = src()
	}
	if full {
		if len(data) != len(cur) {
			return psem.ONP // a full write replaces the table; its length is the device's
		}
	} else if off+len(data) > len(cur) {
		return psem.IAR
	}
	image := append([]byte(nil), cur...)
	copy(image[off:], data)
	if h != nil {
		if err := h(off, data, image); err != nil {
			return refusal(err)
		}
	}
	if src == nil {
		s.mu.Lock()
		e.data = image
		s.mu.Unlock()
	}
	return nil
}

// refusal keeps a psem.Code and turns any other error into ERR.
func refusal(err error) error {
	var c psem.Code
	if errors.As(err, &c) {
		return c
	}
	return psem.ERR
}

// initiate runs the procedure a write of ST7 names and posts its
// response in ST8 as the selector asks.
func (s *Store) initiate(data []byte) error {
	s.mu.Lock()
	st7 := s.tables[ST7]
	if s.level < st7.access.Write {
		s.mu.Unlock()
		return psem.ISC
	}
	s.mu.Unlock()
	req, err := DecodeST7(data, s.f)
	if err != nil {
		return psem.ONP
	}
	s.procMu.Lock()
	defer s.procMu.Unlock()
	s.mu.Lock()
	p, ok := s.procs[req.Proc]
	level := s.level
	s.mu.Unlock()
	var res Result
	var resp []byte
	switch {
	case !ok || p.handler == nil:
		res = ResultUnrecognized
	case level < p.level:
		res = ResultNoAuth
	default:
		res, resp = p.handler(req)
	}
	post := true
	switch req.Selector {
	case PostNothing:
		post = false
	case PostOnException:
		post = res != ResultCompleted
	}
	s.mu.Lock()
	st7.data = append([]byte(nil), data...)
	if post {
		s.entry(ST8).data = ProcResponse{Proc: req.Proc, Selector: req.Selector, Seq: req.Seq, Result: res, Data: resp}.Encode(s.f)
	}
	s.mu.Unlock()
	return nil
}

// Shape is the structure of a table for index reads and writes: a record
// of elements, an array of one shape, or a leaf of some octets. An index
// path names an element level by level: the field of a record, the entry
// of an array (counting from 0 at each level, as the standard's index
// does), and the element's offset is the octets before it.
type Shape struct {
	Size   int     // a leaf's octets
	Fields []Shape // a record's elements
	Elem   *Shape  // an array's element
	Count  int     // an array's length
}

// Leaf is a field of n octets.
func Leaf(n int) Shape { return Shape{Size: n} }

// Record is a record of fields.
func Record(fields ...Shape) Shape { return Shape{Fields: fields} }

// Array is n elements of shape e.
func Array(n int, e Shape) Shape { return Shape{Elem: &e, Count: n} }

// Len is the shape's octets.
func (sh Shape) Len() int {
	switch {
	case sh.Elem != nil:
		return sh.Count * sh.Elem.Len()
	case sh.Fields != nil:
		n := 0
		for _, f := range sh.Fields {
			n += f.Len()
		}
		return n
	}
	return sh.Size
}

// Offset is the offset of the element index names.
func (sh Shape) Offset(index []uint16) (int, error) {
	off := 0
	cur := sh
	for depth, k := range index {
		switch {
		case cur.Elem != nil:
			if int(k) >= cur.Count {
				return 0, fmt.Errorf("c1219: index %v: element %d of an array of %d", index, k, cur.Count)
			}
			off += int(k) * cur.Elem.Len()
			cur = *cur.Elem
		case cur.Fields != nil:
			if int(k) >= len(cur.Fields) {
				return 0, fmt.Errorf("c1219: index %v: field %d of a record of %d", index, k, len(cur.Fields))
			}
			for _, f := range cur.Fields[:k] {
				off += f.Len()
			}
			cur = cur.Fields[k]
		default:
			return 0, fmt.Errorf("c1219: index %v: level %d goes inside a field", index, depth)
		}
	}
	return off, nil
}

// Indexer is the shape's index resolver, for Store.SetIndexer.
func (sh Shape) Indexer() Indexer { return sh.Offset }

// ShapeST23 is ST23's structure per ST21: NBR_DEMAND_RESETS (when
// counted), TOT_DATA_BLOCK, TIER_DATA_BLOCK; each block is SUMMATIONS,
// DEMANDS, COINCIDENTS.
func ShapeST23(f Format, a ActRegs) Shape {
	n1, n2, occ := f.NI1.Size(), f.NI2.Size(), int(a.NbrOccur)
	var dem []Shape
	if a.Func1&RegDateTime != 0 {
		dem = append(dem, Array(occ, Leaf(f.STimeSize())))
	}
	if a.Func1&RegCumDemand != 0 {
		dem = append(dem, Leaf(n1))
	}
	if a.Func1&RegContCumDemand != 0 {
		dem = append(dem, Leaf(n1))
	}
	dem = append(dem, Array(occ, Leaf(n2)))
	blk := Record(Array(int(a.NbrSummations), Leaf(n1)), Array(int(a.NbrDemands), Record(dem...)),
		Array(int(a.NbrCoinValues), Array(occ, Leaf(n2))))
	var top []Shape
	if a.Func1&RegDemandResetCtr != 0 {
		top = append(top, Leaf(1))
	}
	return Record(append(top, blk, Array(int(a.NbrTiers), blk))...)
}

// ShapeST64 is data set n's structure per ST61 and ST62: an array of
// blocks, each BLK_END_TIME, END_READINGS, SIMPLE_INT_STATUS (when
// present), LP_INT (an array of intervals, each EXTENDED_INT_STATUS when
// present and INT_DATA).
func ShapeST64(f Format, a ActLP, c LPControl, n int) Shape {
	s, sc, ok := lpSet(a, c, n)
	if !ok {
		return Record()
	}
	ch := int(s.NbrChns)
	blk := []Shape{Leaf(f.STimeSize())}
	var rd []Shape
	if a.Flags&LPBlkEndRead != 0 {
		rd = append(rd, Leaf(f.NI1.Size()))
	}
	if a.Flags&LPBlkEndPulse != 0 {
		rd = append(rd, Leaf(4))
	}
	blk = append(blk, Array(ch, Record(rd...)))
	if a.Flags&LPClosureStatus != 0 {
		blk = append(blk, Array(ch, Leaf(2)))
	}
	if a.Flags&LPSimpleIntStatus != 0 {
		blk = append(blk, Leaf(setOctets(int(s.NbrBlkInts))))
	}
	var iv []Shape
	if a.Flags&LPExtendedIntStatus != 0 {
		iv = append(iv, Leaf(ch/2+1))
	}
	iv = append(iv, Array(ch, Leaf(intSize(sc.IntFmt, f))))
	blk = append(blk, Array(int(s.NbrBlkInts), Record(iv...)))
	return Array(int(s.NbrBlocks), Record(blk...))
}

func logTableShape(f Format, s logShape) Shape {
	var e []Shape
	if s.time {
		e = append(e, Leaf(f.LTimeSize()))
	}
	if s.number {
		e = append(e, Leaf(2))
	}
	if s.seq {
		e = append(e, Leaf(2))
	}
	e = append(e, Leaf(2), Leaf(2), Leaf(s.argLen))
	return Record(Leaf(1), Leaf(2), Leaf(2), Leaf(4), Leaf(2), Array(s.n, Record(e...)))
}

// ShapeST74 is ST74's structure per ST71: the five list status fields,
// then the array of entries.
func ShapeST74(f Format, a ActLog) Shape { return logTableShape(f, historyShape(f, a)) }

// ShapeST76 is ST76's structure per ST71: the five list status fields,
// then the array of entries (index [5, i] is entry i).
func ShapeST76(f Format, a ActLog) Shape { return logTableShape(f, eventShape(f, a)) }

// ShapeArray is the structure of a table that is one array of n
// fixed-size elements (ST12, ST16).
func ShapeArray(n, size int) Shape { return Array(n, Leaf(size)) }
