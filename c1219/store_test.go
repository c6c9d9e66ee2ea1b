package c1219

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/psem"
)

func wantCode(t *testing.T, what string, err error, c psem.Code) {
	t.Helper()
	var got psem.Code
	if !errors.As(err, &got) || got != c {
		t.Errorf("%s: %v, want %v", what, err, c)
	}
}

func TestStoreReads(t *testing.T) {
	m := fixture(DefaultFormat)
	s := NewStore(DefaultFormat)
	for id, b := range m.tables() {
		s.Set(id, b)
	}
	var tables psem.Tables = s
	b, err := tables.ReadTable(uint16(ST1))
	if err != nil || !bytes.Equal(b, m.st1.Encode(DefaultFormat)) {
		t.Fatalf("ST1 % X %v", b, err)
	}
	b, err = tables.ReadOffset(uint16(ST1), 4, 8)
	if err != nil || string(b) != "SIM-C12 " {
		t.Errorf("ST1 offset 4: %q %v", b, err)
	}
	_, err = tables.ReadOffset(uint16(ST1), 30, 3)
	wantCode(t, "offset past the end", err, psem.IAR)
	_, err = tables.ReadTable(uint16(ST2))
	wantCode(t, "missing table", err, psem.IAR)
	_, err = tables.ReadTable(uint16(MT(1)))
	wantCode(t, "missing manufacturer table", err, psem.IAR)

	// Index reads follow the table's shape: ST76 field 5 is the entries.
	s.SetIndexer(ST76, ShapeST76(DefaultFormat, m.st71).Indexer())
	size := EventEntrySize(DefaultFormat, m.st71)
	b, err = tables.ReadIndex(uint16(ST76), []uint16{5, 2}, uint16(size))
	if err != nil {
		t.Fatal(err)
	}
	entry, err := DecodeST76(append(make([]byte, LogHeaderSize), append(b, make([]byte, 3*size)...)...), DefaultFormat, ActLog{
		Flags: m.st71.Flags, EventDataLen: m.st71.EventDataLen, NbrEventEntries: 4})
	if err != nil || entry.Entries[0].Code != EventDemandReset {
		t.Errorf("entry 2: %+v %v", entry, err)
	}
	b, err = tables.ReadIndex(uint16(ST76), []uint16{3}, 4)
	if err != nil || !bytes.Equal(b, []byte{3, 0, 0, 0}) {
		t.Errorf("LAST_ENTRY_SEQ_NBR % X %v", b, err)
	}
	_, err = tables.ReadIndex(uint16(ST76), []uint16{5, 4}, 1)
	wantCode(t, "entry past the array", err, psem.IAR)
	_, err = tables.ReadIndex(uint16(ST76), []uint16{0, 1}, 1)
	wantCode(t, "index inside a field", err, psem.IAR)
	_, err = tables.ReadIndex(uint16(ST22), []uint16{0}, 1)
	wantCode(t, "table without a shape", err, psem.IAR)
	// Tables whose layout their length settles have a shape of their own.
	b, err = tables.ReadIndex(uint16(ST1), []uint16{1}, 8)
	if err != nil || string(b) != "SIM-C12 " {
		t.Errorf("ST1 ED_MODEL by index: %q %v", b, err)
	}
	b, err = tables.ReadIndex(uint16(ST12), []uint16{4}, 4)
	if err != nil || !bytes.Equal(b, []byte{0x00, 0x44, 0x02, 0x00}) {
		t.Errorf("ST12 entry 4: % X %v", b, err)
	}
	b, err = tables.ReadIndex(uint16(ST0), []uint16{20}, 10)
	if err != nil || !bytes.Equal(b, m.st0.StdTablesWrite) {
		t.Errorf("ST0 STD_TBLS_WRITE: % X %v", b, err)
	}
	b, err = tables.ReadIndex(uint16(ST63), []uint16{0, 3}, 4)
	if err != nil || !bytes.Equal(b, []byte{17, 0, 0, 0}) {
		t.Errorf("ST63 LAST_BLOCK_SEQ_NBR: % X %v", b, err)
	}
	for id, tb := range m.tables() {
		if sh, ok := DefaultShape(id, DefaultFormat, tb); ok && sh.Len() != len(tb) {
			t.Errorf("%v: default shape of %d octets", id, sh.Len())
		}
	}
	if _, ok := DefaultShape(ST61, DefaultFormat, make([]byte, 12)); ok {
		t.Error("a 12-octet ST61 has a shape")
	}

	// ST64: [block, 3 (LP_INT), interval, 1 (INT_DATA), channel].
	s.SetIndexer(ST64, ShapeST64(DefaultFormat, m.st61, m.st62, 1).Indexer())
	b, err = tables.ReadIndex(uint16(ST64), []uint16{1, 3, 2, 1, 2}, 4)
	if err != nil || !bytes.Equal(b, []byte{20, 0, 0, 0}) {
		t.Errorf("block 1 interval 2 channel 2: % X %v", b, err)
	}
	// ST23: [1 (TOT_DATA_BLOCK), 0 (SUMMATIONS), 0].
	s.SetIndexer(ST23, ShapeST23(DefaultFormat, m.st21).Indexer())
	b, err = tables.ReadIndex(uint16(ST23), []uint16{1, 0, 0}, 8)
	if err != nil || !bytes.Equal(b, DefaultFormat.EncodeNI(1234567, NIInt64)) {
		t.Errorf("total Wh: % X %v", b, err)
	}
	b, err = tables.ReadIndex(uint16(ST23), []uint16{2, 1, 0, 3}, 8)
	if err != nil || !bytes.Equal(b, DefaultFormat.EncodeNI(456*2, NIInt64)) {
		t.Errorf("tier 2 varh export: % X %v", b, err)
	}
	if got := ShapeST23(DefaultFormat, m.st21).Len(); got != len(m.tables()[ST23]) {
		t.Errorf("ST23 shape %d octets", got)
	}
	if got := ShapeST64(DefaultFormat, m.st61, m.st62, 1).Len(); got != len(m.tables()[ST64]) {
		t.Errorf("ST64 shape %d octets", got)
	}

	full := DefaultFormat
	full.Access = AccessFull
	_, err = NewStore(full).ReadOffset(uint16(ST1), 0, 1)
	wantCode(t, "offset read of a full-only device", err, psem.SNS)
}

func TestStoreWrites(t *testing.T) {
	s := NewStore(DefaultFormat)
	s.Set(ST5, DeviceIdent{ID: "OLD"}.Encode(DefaultFormat))
	s.SetAccess(ST5, Access{Write: LevelMaster})
	s.Set(ST1, make([]byte, 32))
	s.SetAccess(ST1, Access{ReadOnly: true})

	err := s.WriteTable(uint16(ST5), DeviceIdent{ID: "NEW"}.Encode(DefaultFormat))
	wantCode(t, "write without clearance", err, psem.ISC)
	s.SetLevel(LevelMaster)
	if err := s.WriteTable(uint16(ST5), DeviceIdent{ID: "NEW"}.Encode(DefaultFormat)); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteOffset(uint16(ST5), 3, []byte("-1")); err != nil {
		t.Fatal(err)
	}
	b, _ := s.ReadTable(uint16(ST5))
	if id, _ := DecodeST5(b, DefaultFormat); id.ID != "NEW-1" {
		t.Errorf("ST5 %q", id.ID)
	}
	wantCode(t, "write past the end", s.WriteOffset(uint16(ST5), 19, []byte("ab")), psem.IAR)
	wantCode(t, "full write of the wrong length", s.WriteTable(uint16(ST5), []byte("short")), psem.ONP)
	wantCode(t, "read-only table", s.WriteOffset(uint16(ST1), 0, []byte{1}), psem.ONP)
	wantCode(t, "missing table", s.WriteTable(uint16(ST2), []byte{1}), psem.IAR)

	// A computed table moves on each read and takes writes through its
	// handler only.
	var mu sync.Mutex
	clock := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	s.SetSource(ST52, func() []byte {
		mu.Lock()
		defer mu.Unlock()
		clock = clock.Add(time.Second)
		return Clock{Time: clock, Qual: QualFor(clock)}.Encode(DefaultFormat)
	})
	a, _ := s.ReadTable(uint16(ST52))
	b, _ = s.ReadTable(uint16(ST52))
	if bytes.Equal(a, b) {
		t.Error("computed table did not move")
	}
	wantCode(t, "write of a computed table", s.WriteTable(uint16(ST52), a), psem.ONP)
	var set time.Time
	s.OnWrite(ST52, func(off int, data, image []byte) error {
		c, err := DecodeST52(image, DefaultFormat)
		if err != nil {
			return psem.ONP
		}
		mu.Lock()
		defer mu.Unlock()
		clock, set = c.Time, c.Time
		return nil
	})
	target := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := s.WriteTable(uint16(ST52), Clock{Time: target}.Encode(DefaultFormat)); err != nil || !set.Equal(target) {
		t.Errorf("clock set %v %v", set, err)
	}
	wantCode(t, "handler refusal", s.WriteTable(uint16(ST52), []byte{26, 13, 1, 0, 0, 0, 0}), psem.ONP)
	s.OnWrite(ST5, func(int, []byte, []byte) error { return fmt.Errorf("disk full") })
	wantCode(t, "handler failure", s.WriteOffset(uint16(ST5), 0, []byte("X")), psem.ERR)
}

func TestStoreProcedures(t *testing.T) {
	f := DefaultFormat
	s := NewStore(f)
	s.SetAccess(ST7, Access{Write: LevelReader})
	resets := 0
	s.HandleProc(SPRemoteReset, LevelMaster, func(req ProcInitiate) (Result, []byte) {
		rr, err := DecodeRemoteReset(req.Params)
		if err != nil {
			return ResultInvalidParam, nil
		}
		if rr.Demand {
			resets++
		}
		return ResultCompleted, []byte{byte(resets)}
	})
	state := SwitchClosed
	s.HandleProc(MPServiceSwitch, LevelMaster, func(req ProcInitiate) (Result, []byte) {
		if len(req.Params) != 1 || req.Params[0] > byte(SwitchArm) {
			return ResultInvalidParam, nil
		}
		state = [...]SwitchState{SwitchOpen, SwitchClosed, SwitchArmed}[req.Params[0]]
		return ResultCompleted, []byte{byte(state)}
	})
	run := func(p ProcInitiate) (ProcResponse, error) {
		if err := s.WriteTable(uint16(ST7), p.Encode(f)); err != nil {
			return ProcResponse{}, err
		}
		b, err := s.ReadTable(uint16(ST8))
		if err != nil {
			return ProcResponse{}, err
		}
		return DecodeST8(b, f)
	}
	reset := ProcInitiate{Proc: SPRemoteReset, Seq: 1, Params: RemoteReset{Demand: true}.Encode()}
	_, err := run(reset)
	wantCode(t, "ST7 without clearance", err, psem.ISC)
	s.SetLevel(LevelReader)
	r, err := run(reset)
	if err != nil || r.Result != ResultNoAuth || r.Seq != 1 || resets != 0 {
		t.Errorf("reset at reader level: %+v %v", r, err)
	}
	s.SetLevel(LevelMaster)
	reset.Seq = 2
	r, err = run(reset)
	if err != nil || r.Result != ResultCompleted || r.Seq != 2 || r.Proc != SPRemoteReset || !bytes.Equal(r.Data, []byte{1}) {
		t.Errorf("reset: %+v %v", r, err)
	}
	r, err = run(ProcInitiate{Proc: SPRemoteReset, Seq: 3, Params: []byte{1, 2}})
	if err != nil || r.Result != ResultInvalidParam {
		t.Errorf("bad parameter: %+v %v", r, err)
	}
	r, err = run(ProcInitiate{Proc: SPColdStart, Seq: 4})
	if err != nil || r.Result != ResultUnrecognized || r.Seq != 4 {
		t.Errorf("unknown procedure: %+v %v", r, err)
	}
	r, err = run(ProcInitiate{Proc: MPServiceSwitch, Seq: 5, Params: []byte{byte(SwitchDisconnect)}})
	if err != nil || r.Result != ResultCompleted || state != SwitchOpen || !bytes.Equal(r.Data, []byte{byte(SwitchOpen)}) {
		t.Errorf("disconnect: %+v %v", r, err)
	}
	// PostNothing leaves ST8 as it was; PostOnException posts failures only.
	r, err = run(ProcInitiate{Proc: MPServiceSwitch, Selector: PostNothing, Seq: 6, Params: []byte{byte(SwitchConnect)}})
	if err != nil || r.Seq != 5 || state != SwitchClosed {
		t.Errorf("no response: %+v %v", r, err)
	}
	r, _ = run(ProcInitiate{Proc: MPServiceSwitch, Selector: PostOnException, Seq: 7, Params: []byte{byte(SwitchDisconnect)}})
	if r.Seq != 5 || state != SwitchOpen {
		t.Errorf("success posted on exception only: %+v", r)
	}
	r, _ = run(ProcInitiate{Proc: MPServiceSwitch, Selector: PostOnException, Seq: 8, Params: []byte{9}})
	if r.Seq != 8 || r.Result != ResultInvalidParam {
		t.Errorf("failure on exception: %+v", r)
	}
	wantCode(t, "truncated ST7", s.WriteTable(uint16(ST7), []byte{9}), psem.ONP)
	wantCode(t, "ST8 write", s.WriteTable(uint16(ST8), []byte{0, 0, 0, 0}), psem.ONP)
	if err := s.WriteOffset(uint16(ST7), 0, reset.Encode(f)); err != nil || resets != 2 {
		t.Errorf("ST7 by offset: %v, %d resets", err, resets)
	}
}

// TestStoreConcurrent: sessions read while the meter updates its
// tables; run with -race.
func TestStoreConcurrent(t *testing.T) {
	s := NewStore(DefaultFormat)
	s.Set(ST23, make([]byte, 64))
	s.HandleProc(SPRemoteReset, 0, func(ProcInitiate) (Result, []byte) { return ResultCompleted, nil })
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				switch g {
				case 0:
					s.Set(ST23, bytes.Repeat([]byte{byte(i)}, 64))
				case 1:
					if b, err := s.ReadOffset(uint16(ST23), 8, 8); err != nil || len(b) != 8 || b[0] != b[7] {
						t.Errorf("torn read % X %v", b, err)
						return
					}
				case 2:
					if err := s.WriteTable(uint16(ST7), ProcInitiate{Proc: SPRemoteReset, Seq: uint8(i)}.Encode(DefaultFormat)); err != nil {
						t.Error(err)
						return
					}
				case 3:
					if _, err := s.ReadTable(uint16(ST8)); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}(g)
	}
	wg.Wait()
}

// FuzzStore drives a meter's store with requests as a session would send
// them: table, offset or index path, count, data. Whatever they are, the
// store answers with octets or a PSEM code, and never with more octets
// than asked.
func FuzzStore(f *testing.F) {
	f.Add(uint8(0), uint16(ST76), uint32(0), []byte{5, 2}, uint16(16), []byte{})
	f.Add(uint8(1), uint16(ST64), uint32(40), []byte{1, 3, 2, 1, 2}, uint16(4), []byte{})
	f.Add(uint8(2), uint16(ST7), uint32(0), []byte{}, uint16(0), []byte{0x09, 0x00, 1, 1})
	f.Add(uint8(3), uint16(ST5), uint32(3), []byte{0}, uint16(0), []byte("AB"))
	f.Add(uint8(4), uint16(ST0), uint32(0), []byte{20}, uint16(10), []byte{1})
	m := fixture(DefaultFormat)
	f.Fuzz(func(t *testing.T, op uint8, id uint16, off uint32, idx []byte, count uint16, data []byte) {
		s := NewStore(DefaultFormat)
		for tid, b := range m.tables() {
			s.Set(tid, b)
		}
		s.SetIndexer(ST76, ShapeST76(DefaultFormat, m.st71).Indexer())
		s.SetIndexer(ST64, ShapeST64(DefaultFormat, m.st61, m.st62, 1).Indexer())
		s.SetIndexer(ST23, ShapeST23(DefaultFormat, m.st21).Indexer())
		s.HandleProc(SPRemoteReset, 0, func(req ProcInitiate) (Result, []byte) {
			if _, err := DecodeRemoteReset(req.Params); err != nil {
				return ResultInvalidParam, nil
			}
			return ResultCompleted, []byte{1}
		})
		s.SetLevel(Level(op >> 4 & 3))
		index := make([]uint16, 0, len(idx))
		for _, k := range idx {
			index = append(index, uint16(k))
		}
		check := func(err error) {
			var c psem.Code
			if err != nil && !errors.As(err, &c) {
				t.Fatalf("%v is no PSEM code", err)
			}
		}
		switch op & 7 {
		case 0:
			b, err := s.ReadIndex(id, index, count)
			check(err)
			if err == nil && len(b) != int(count) {
				t.Fatalf("%d octets for %d", len(b), count)
			}
		case 1:
			b, err := s.ReadOffset(id, off, count)
			check(err)
			if err == nil && len(b) != int(count) {
				t.Fatalf("%d octets for %d", len(b), count)
			}
		case 2:
			check(s.WriteTable(id, data))
		case 3:
			check(s.WriteOffset(id, off, data))
		case 4:
			check(s.WriteIndex(id, index, data))
		default:
			_, err := s.ReadTable(id)
			check(err)
		}
		if b, err := s.ReadTable(uint16(ST8)); err == nil && len(b) > 0 {
			if _, err := DecodeST8(b, DefaultFormat); err != nil {
				t.Fatalf("ST8 after the request: %v", err)
			}
		}
	})
}
