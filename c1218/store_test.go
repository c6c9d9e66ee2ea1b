package c1218

import (
	"encoding/binary"
	"sync"

	"github.com/amigo-ami/amigo/psem"
)

// tableStore is a small meter-side table store for the link's tests: a
// few tables laid out as C12.19 says (ST0, ST1, ST3, ST5) and ST7/ST8
// running one procedure, Remote Reset, counted.
type tableStore struct {
	mu     sync.Mutex
	tables map[uint16][]byte
	resets int
	writes int
}

const (
	testManufacturer = "AMGO"
	testModel        = "C12TEST1"
	testSerial       = "0000000000123456"
	testDeviceID     = "AMIGO-METER-0042     "
)

func newTableStore() *tableStore {
	st0 := make([]byte, 0, 64)
	// FORMAT_CONTROL_1: data order little-endian (bit 0 clear), char
	// format ISO 8859/1 (2, bits 1..3); FORMAT_CONTROL_2: time format
	// 2 (bits 0..2), data access method 0; FORMAT_CONTROL_3: NI formats
	// INT64 both.
	st0 = append(st0, 2<<1, 0x02, 0xBB)
	st0 = append(st0, "AMGO"...)              // DEVICE_CLASS
	st0 = append(st0, 2)                      // NAMEPLATE_TYPE: electric
	st0 = append(st0, 0)                      // DEFAULT_SET_USED
	st0 = append(st0, 64)                     // MAX_PROC_PARM_LENGTH
	st0 = append(st0, 64)                     // MAX_RESP_DATA_LEN
	st0 = append(st0, 2, 0)                   // STD_VERSION_NO, STD_REVISION_NO
	st0 = append(st0, 2, 0, 2, 0, 0, 0, 0)    // DIM_STD_TBLS_USED 2, MFG 0, STD_PROC 2, MFG_PROC 0, MFG_STATUS 0, NBR_PENDING 0
	st0 = append(st0, 0b10101011, 0b00000001) // tables 0 1 3 5 7, and 8
	st0 = append(st0, 0, 0b00000110)          // procedures 9 and 10
	st1 := []byte(testManufacturer + testModel)
	st1 = append(st1, 3, 1, 7, 12) // hardware 3.1, firmware 7.12
	st1 = append(st1, testSerial...)
	st3 := []byte{0x01, 0x00, 0x00, 0x00, 0x00} // metering mode
	st5 := []byte(testDeviceID[:20])
	return &tableStore{tables: map[uint16][]byte{0: st0, 1: st1, 3: st3, 5: st5, 8: make([]byte, 4), 2049: make([]byte, 3000)}}
}

func (s *tableStore) table(id uint16) ([]byte, error) {
	t, ok := s.tables[id]
	if !ok {
		return nil, psem.IAR
	}
	return t, nil
}

func (s *tableStore) ReadTable(id uint16) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.table(id)
	return append([]byte(nil), t...), err
}

func (s *tableStore) ReadOffset(id uint16, off uint32, n uint16) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.table(id)
	if err != nil {
		return nil, err
	}
	if int(off)+int(n) > len(t) {
		return nil, psem.IAR
	}
	return append([]byte(nil), t[off:int(off)+int(n)]...), nil
}

func (s *tableStore) ReadIndex(id uint16, index []uint16, n uint16) ([]byte, error) {
	return nil, psem.SNS
}

func (s *tableStore) WriteTable(id uint16, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	if id == psem.ProcInitiateTable {
		if len(data) < 3 {
			return psem.IAR
		}
		proc := binary.LittleEndian.Uint16(data)
		result := byte(psem.ProcUnrecognized)
		if proc&0x0FFF == 9 {
			s.resets++
			result = 0
		}
		s.tables[8] = append([]byte{data[0], data[1], data[2], result}, byte(s.resets))
		return nil
	}
	if _, err := s.table(id); err != nil {
		return err
	}
	s.tables[id] = append([]byte(nil), data...)
	return nil
}

func (s *tableStore) WriteOffset(id uint16, off uint32, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	t, err := s.table(id)
	if err != nil {
		return err
	}
	if int(off)+len(data) > len(t) {
		return psem.IAR
	}
	copy(t[off:], data)
	return nil
}

func (s *tableStore) WriteIndex(id uint16, index []uint16, data []byte) error { return psem.SNS }
