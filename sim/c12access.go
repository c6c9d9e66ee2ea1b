package sim

import (
	"crypto/subtle"

	"github.com/amigo-ami/amigo/c1219"
	"github.com/amigo-ami/amigo/psem"
)

// readOnly is what a C12.18 session may do before it presents the
// password: read every table, write none (and so run no procedure).
type readOnly struct{ psem.Tables }

func (readOnly) WriteTable(uint16, []byte) error          { return psem.ISC }
func (readOnly) WriteOffset(uint16, uint32, []byte) error { return psem.ISC }
func (readOnly) WriteIndex(uint16, []uint16, []byte) error {
	return psem.ISC
}

// c1218ServerConfig is the PSEM meter side of C12.18 meter i: any user
// may log on and read; the meter's password grants writes and
// procedures.
func (f *Fleet) c1218ServerConfig(i int, store *c1219.Store, full psem.Tables) psem.ServerConfig {
	pw := f.C12Password(i)
	return psem.ServerConfig{
		Ident: psem.Ident{Std: 0, Ver: 1, Rev: 0},
		Security: func(_ uint16, _ string, got [psem.PasswordLen]byte) (psem.Tables, error) {
			if subtle.ConstantTimeCompare(got[:], pw[:]) != 1 {
				return nil, psem.ISC
			}
			store.SetLevel(c1219.LevelMaster)
			return full, nil
		},
		EndSession: func() { store.SetLevel(c1219.LevelPublic) },
	}
}
