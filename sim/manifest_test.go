package sim_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/amigo-ami/amigo/sim"
)

const header = "meter_id,serial,manufacturer,model,kind,protocol,address,transport,client_sap,authentication,security_policy,system_title,ek,ak,lls_password,usage_point_id,time_zone,segment,region,archetype\n"
const goodRow = "1,AMG10000000001,AMG,AMG-E1,electricity-1p,dlms,tcp://127.0.0.2:4059,wrapper,1,hls-gmac,authenticated-encrypted,414d470000000001,000102030405060708090a0b0c0d0e0f,d0d1d2d3d4d5d6d7d8d9dadbdcdddedf,abc123,UP0000000001,Europe/Amsterdam,cell-0,region-0,family\n"

func TestReadManifestErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		line     int
		column   string
	}{
		{"empty", "", 1, ""},
		{"missing column", "meter_id,serial\n1,x\n", 1, "manufacturer"},
		{"bad id", header + strings.Replace(goodRow, "1,", "x,", 1), 2, "meter_id"},
		{"short key", header + goodRow + strings.Replace(strings.Replace(goodRow, "1,", "2,", 1), "000102030405060708090a0b0c0d0e0f", "0001", 1), 3, "ek"},
		{"bad address", header + strings.Replace(goodRow, "tcp://127.0.0.2:4059", "127.0.0.2", 1), 2, "address"},
		{"duplicate", header + goodRow + goodRow, 3, "meter_id"},
		{"ragged", header + "1,2,3\n", 2, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sim.ReadManifest(strings.NewReader(tc.in))
			var me *sim.ManifestError
			if !errors.As(err, &me) || !errors.Is(err, sim.ErrManifest) {
				t.Fatalf("err %v, want a *ManifestError", err)
			}
			if me.Line != tc.line || me.Column != tc.column {
				t.Errorf("line %d column %q, want %d %q (%v)", me.Line, me.Column, tc.line, tc.column, err)
			}
		})
	}
	rows, err := sim.ReadManifest(strings.NewReader(header + goodRow))
	if err != nil || len(rows) != 1 || rows[0].Address.Port() != 4059 || len(rows[0].EK) != 16 {
		t.Fatalf("good manifest: %v %+v", err, rows)
	}
}

func FuzzReadManifest(f *testing.F) {
	f.Add([]byte(header + goodRow))
	f.Add([]byte(header))
	f.Add([]byte("meter_id\n1\n"))
	f.Add([]byte(header + "1,\"unterminated\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rows, err := sim.ReadManifest(bytes.NewReader(b))
		if err != nil {
			return
		}
		for _, r := range rows {
			if len(r.SystemTitle) != 8 {
				t.Fatalf("system title of %d bytes", len(r.SystemTitle))
			}
		}
	})
}
