package c1218

import (
	"bytes"
	"sync"

	"github.com/amigo-ami/amigo/c1219"
	"github.com/amigo-ami/amigo/psem"
)

// meterTables is a c1219.Store as a meter serves it: ST0, ST1, ST3 and ST5
// from c1219's encoders, two manufacturer tables (one over two 512-octet
// packets), and Remote Reset, counted.
type meterTables struct {
	*c1219.Store
	mu     sync.Mutex
	resets int
}

func newMeterTables() *meterTables {
	f := c1219.DefaultFormat
	g := c1219.GenConfig{
		Format: f, DeviceClass: [4]byte{'A', 'M', 'G', 'O'}, NameplateType: 2,
		MaxProcParmLen: 64, MaxRespDataLen: 64, DimMfgStatusUsed: 1,
		StdTablesUsed:  c1219.NewSet(2, 0, 1, 3, 5, 7, 8),
		MfgTablesUsed:  c1219.NewSet(1, 1, 2),
		StdProcUsed:    c1219.NewSet(2, 9),
		StdTablesWrite: c1219.NewSet(2, 7),
		MfgTablesWrite: c1219.NewSet(1, 1),
	}
	m := &meterTables{Store: c1219.NewStore(f)}
	m.Set(0, g.Encode())
	m.Set(1, c1219.MfgID{Manufacturer: testManufacturer, Model: testModel, HWVersion: 3, HWRevision: 1,
		FWVersion: 7, FWRevision: 12, SerialNo: testSerial}.Encode(f))
	m.Set(3, c1219.ModeStatus{Mode: c1219.ModeMetering}.Encode(f, g))
	m.Set(5, c1219.DeviceIdent{ID: testDeviceID}.Encode(f))
	long := make([]byte, 900)
	for i := range long {
		long[i] = byte(i * 7)
	}
	m.Set(c1219.MfgFlag|2, long)
	m.Set(c1219.MfgFlag|1, bytes.Repeat([]byte{0x5A}, 3000))
	m.HandleProc(c1219.SPRemoteReset, c1219.LevelMaster, func(req c1219.ProcInitiate) (c1219.Result, []byte) {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.resets++
		return c1219.ResultCompleted, []byte{byte(m.resets)}
	})
	return m
}

// security grants the master level for the test password.
func (m *meterTables) security(uid uint16, user string, pw [psem.PasswordLen]byte) (psem.Tables, error) {
	if !bytes.Equal(pw[:], testPassword) {
		return nil, psem.ISC
	}
	m.SetLevel(c1219.LevelMaster)
	return nil, nil
}

// server is the meter side of one link over the store: the test password
// grants the master level, a session's end drops it.
func (m *meterTables) server() *psem.Server {
	return psem.NewServer(m, psem.ServerConfig{
		Ident:      psem.Ident{Std: psem.StdC1218, Ver: 2},
		Security:   m.security,
		EndSession: func() { m.SetLevel(c1219.LevelPublic) },
	})
}
