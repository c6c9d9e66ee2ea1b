package mbus

import (
	"context"
	"os"
	"testing"
)

// FuzzSlaveHandle feeds whatever frames decode from the input to a slave
// with two meters: it answers or stays silent, and never fails outright.
func FuzzSlaveHandle(f *testing.F) {
	for _, p := range []string{"testdata/snd_nke_1.bin", "testdata/req_ud2_fd.bin", "testdata/select.bin"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	sel, _ := Frame{Kind: FrameLong, C: CSndUD, A: AddrNetwork, CI: CISelect, Data: Wildcard().Bytes()}.Append(nil)
	f.Add(append(sel, 0x10, 0x7B, 0xFD, 0x78, 0x16, 0x10, 0x5B, 0xFD, 0x58, 0x16))
	f.Fuzz(func(t *testing.T, b []byte) {
		s := &Slave{Meters: []Meter{
			&testMeter{primary: 1, addr: Secondary{ID: 12345678, Manufacturer: "AMG", Version: 1, Medium: MediumGas}, history: 40},
			&testMeter{primary: 2, addr: Secondary{ID: 12349999, Manufacturer: "AMG", Version: 1, Medium: MediumWater}},
		}}
		st := make([]slaveState, len(s.Meters))
		for len(b) > 0 {
			fr, n, err := DecodeFrame(b)
			if err != nil {
				return
			}
			b = b[n:]
			reply, _ := s.handle(context.Background(), st, fr)
			if len(reply) == 0 || string(reply) == string(collisionBytes) {
				continue
			}
			if _, m, err := DecodeFrame(reply); err != nil || m != len(reply) {
				t.Fatalf("slave answered % X: %v", reply, err)
			}
		}
	})
}

// FuzzDecodeTelegram decodes a long frame's variable data response.
func FuzzDecodeTelegram(f *testing.F) {
	b, err := os.ReadFile("testdata/rsp_ud_example.bin")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, _, err := DecodeFrame(b)
		if err != nil {
			return
		}
		tg, err := DecodeTelegram(fr)
		if err == nil && tg.MoreFollows() && len(tg.Records) == 0 {
			t.Fatal("more follow without records")
		}
	})
}
