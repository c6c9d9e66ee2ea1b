package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/amigo-ami/amigo/c1218"
	"github.com/amigo-ami/amigo/c1219"
	"github.com/amigo-ami/amigo/c1222"
	"github.com/amigo-ami/amigo/psem"
)

// c1222Meter serves st session-less over C12.22 on loopback, to requests
// in ciphertext with key 3; the password of 20 octets A5 grants the
// master level.
func c1222Meter(t *testing.T, st *c1219.Store, aptitle string, key []byte) string {
	t.Helper()
	pw := bytes.Repeat([]byte{0xA5}, 20)
	srv := psem.NewServer(st, psem.ServerConfig{
		Ident:       psem.Ident{Std: psem.StdC1222, Ver: 1},
		Sessionless: true,
		Security: func(_ uint16, _ string, got [20]byte) (psem.Tables, error) {
			if !bytes.Equal(got[:], pw) {
				return nil, psem.ISC
			}
			st.SetLevel(c1219.LevelMaster)
			return nil, nil
		},
		EndSession: func() { st.SetLevel(c1219.LevelPublic) },
	})
	m, err := c1222.NewMeter(c1222.MeterConfig{ApTitle: c1222.MustApTitle(aptitle), Keys: map[uint8][]byte{3: key},
		MinMode: c1222.ModeCiphertext}, srv)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Listen(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}

func TestC12ToolOverC1222(t *testing.T) {
	_, st := c12Meter(t)
	const aptitle = "2.16.124.113620.1.22.1.7"
	key := bytes.Repeat([]byte{0x3C}, 16)
	addr := c1222Meter(t, st, aptitle, key)
	call := func(args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		args = append(args, "--link", "c12.22", "--aptitle", aptitle, "--key-id", "3", "--key", hex.EncodeToString(key))
		code := run(append([]string{"c12"}, args...), &out, &errb)
		return out.String(), errb.String(), code
	}
	out, errs, code := call("tables", addr)
	if code != 0 || !strings.Contains(out, "ident: C12.22 version 1.0") || !strings.Contains(out, `model "C12TEST1"`) {
		t.Fatalf("tables over C12.22: exit %d: %s%s", code, out, errs)
	}
	out, errs, code = call("procedure", addr, "9", "01", "--password", strings.Repeat("a5", 20))
	if code != 0 || !strings.Contains(out, "procedure 9: completed") {
		t.Fatalf("procedure over C12.22: exit %d: %s%s", code, out, errs)
	}
	if st.Level() != c1219.LevelPublic {
		t.Fatalf("the store kept level %d after the logoff", st.Level())
	}
	// The wrong key: the meter refuses unanswered, the tool says so.
	var errb bytes.Buffer
	code = run([]string{"c12", "read", addr, "1", "--link", "c12.22", "--aptitle", aptitle, "--key-id", "3",
		"--key", strings.Repeat("00", 16), "--timeout", "3s"}, new(bytes.Buffer), &errb)
	if code != 1 {
		t.Fatalf("wrong key: exit %d: %s", code, errb.String())
	}
}

// c12Meter serves a c1219.Store on loopback: ST0, ST1, ST3 and ST5 from
// c1219's encoders, a writable manufacturer table, and Remote Reset. The
// password of 20 octets A5 grants the master level.
func c12Meter(t *testing.T) (string, *c1219.Store) {
	t.Helper()
	f := c1219.DefaultFormat
	g := c1219.GenConfig{
		Format: f, DeviceClass: [4]byte{'A', 'M', 'G', 'O'}, NameplateType: 2, MaxProcParmLen: 64, MaxRespDataLen: 64,
		DimMfgStatusUsed: 1,
		StdTablesUsed:    c1219.NewSet(2, 0, 1, 3, 5, 7, 8),
		MfgTablesUsed:    c1219.NewSet(1, 1),
		StdProcUsed:      c1219.NewSet(2, 9, 10),
		StdTablesWrite:   c1219.NewSet(2, 7),
		MfgTablesWrite:   c1219.NewSet(1, 1),
	}
	st := c1219.NewStore(f)
	st.Set(0, g.Encode())
	st.Set(1, c1219.MfgID{Manufacturer: "AMGO", Model: "C12TEST1", HWVersion: 3, HWRevision: 1, FWVersion: 7, FWRevision: 12,
		SerialNo: "0000000000123456"}.Encode(f))
	st.Set(3, c1219.ModeStatus{Mode: c1219.ModeMetering}.Encode(f, g))
	st.Set(5, c1219.DeviceIdent{ID: "AMIGO-0042"}.Encode(f))
	st.Set(c1219.MfgFlag|1, make([]byte, 40))
	st.SetAccess(c1219.MfgFlag|1, c1219.Access{Write: c1219.LevelMaster})
	st.HandleProc(c1219.SPRemoteReset, c1219.LevelMaster, func(c1219.ProcInitiate) (c1219.Result, []byte) {
		return c1219.ResultCompleted, []byte{0x01}
	})
	pw := bytes.Repeat([]byte{0xA5}, 20)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c1218.ServeListener(ctx, ln, func(net.Conn) *psem.Server {
			return psem.NewServer(st, psem.ServerConfig{
				Ident: psem.Ident{Std: psem.StdC1218, Ver: 2},
				Security: func(_ uint16, _ string, got [20]byte) (psem.Tables, error) {
					if !bytes.Equal(got[:], pw) {
						return nil, psem.ISC
					}
					st.SetLevel(c1219.LevelMaster)
					return nil, nil
				},
				EndSession: func() { st.SetLevel(c1219.LevelPublic) },
			})
		})
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return ln.Addr().String(), st
}

func TestC12Tool(t *testing.T) {
	addr, st := c12Meter(t)
	pw := strings.Repeat("a5", 20)
	call := func(args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		code := run(append([]string{"c12"}, args...), &out, &errb)
		return out.String(), errb.String(), code
	}
	out, errs, code := call("tables", addr, "--password", pw, "--user", "amigo", "--user-id", "7")
	if code != 0 {
		t.Fatalf("tables: exit %d: %s", code, errs)
	}
	for _, want := range []string{
		"ident: C12.18 version 2.0",
		"ST0: C12.19 version 2.0, device class 414D474F, electric meter",
		"data order little-endian, characters ISO 8859/1, time format 2, NI formats INT64 and INT64",
		"standard tables: 0 1 3 5 7 8\n",
		"NI formats INT64 and INT64",
		"manufacturer tables: 2049\n",
		"standard procedures: 9 10\n",
		`ST1: manufacturer "AMGO", model "C12TEST1", hardware 3.1, firmware 7.12, serial "0000000000123456"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("tables printed no %q:\n%s", want, out)
		}
	}
	out, errs, code = call("write", addr, "2049", "0102030405", "--offset", "10", "--password", pw)
	if code != 0 || !strings.Contains(out, "table 2049: 5 octets written") {
		t.Fatalf("write: exit %d: %s%s", code, out, errs)
	}
	img, _ := st.Table(c1219.MfgFlag | 1)
	if want, _ := hex.DecodeString("000001020304050000"); !bytes.Equal(img[8:17], want) {
		t.Fatalf("table after write % x", img[8:17])
	}
	out, errs, code = call("read", addr, "2049", "--offset", "10", "--count", "5", "--password", pw)
	if code != 0 || !strings.Contains(out, "table 2049: 5 octets\n00000000  01 02 03 04 05") {
		t.Fatalf("read offset: exit %d: %s%s", code, out, errs)
	}
	out, errs, code = call("read", addr, "1")
	if code != 0 || !strings.Contains(out, "table 1: 32 octets") || !strings.Contains(out, "ST1: {Manufacturer:AMGO Model:C12TEST1 HWVersion:3") {
		t.Fatalf("read ST1: exit %d: %s%s", code, out, errs)
	}
	out, errs, code = call("procedure", addr, "9", "01", "--password", pw)
	if code != 0 || !strings.Contains(out, "procedure 9: completed\n00000000  01") {
		t.Fatalf("procedure: exit %d: %s%s", code, out, errs)
	}
	out, _, code = call("procedure", addr, "3", "--mfg", "--password", pw)
	if code != 1 || !strings.Contains(out, "procedure 3: unrecognized procedure") {
		t.Fatalf("unknown procedure: exit %d: %s", code, out)
	}
	_, errs, code = call("write", addr, "2049", "00", "--password", strings.Repeat("00", 20))
	if code != 1 || !strings.Contains(errs, "isc") {
		t.Fatalf("wrong password: exit %d: %s", code, errs)
	}
	if _, _, code = call("read", addr, "1", "--link", "c12.22"); code != 2 {
		t.Fatalf("--link c12.22 without --aptitle: exit %d", code)
	}
	if _, _, code = call("read", addr, "x"); code != 2 {
		t.Fatalf("bad table: exit %d", code)
	}
}
