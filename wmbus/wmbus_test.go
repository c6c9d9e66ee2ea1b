package wmbus

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readHex reads a testdata file of hex with # comments.
func readHex(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for _, l := range strings.Split(string(raw), "\n") {
		if i := strings.IndexByte(l, '#'); i >= 0 {
			l = l[:i]
		}
		sb.WriteString(strings.TrimSpace(l))
	}
	return unhex(t, sb.String())
}

func TestCRC(t *testing.T) {
	// The check value of CRC-16/EN-13757 in the CRC catalogue.
	if got := CRC([]byte("123456789")); got != 0xC2B7 {
		t.Fatalf("CRC(123456789) = %04x, want c2b7", got)
	}
}

func TestCMACRFC4493(t *testing.T) {
	key := unhex(t, "2b7e151628aed2a6abf7158809cf4f3c")
	msg := unhex(t, "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710")
	for _, c := range []struct {
		n    int
		want string
	}{
		{0, "bb1d6929e95937287fa37d129b756746"},
		{16, "070a16b46b4d4144f79bdd9dd04a287c"},
		{40, "dfa66747de9ae63030ca32611497c827"},
		{64, "51f0bebf7e3b9d92fc49741779363cfe"},
	} {
		got, err := CMAC(key, msg[:c.n])
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(got[:]) != c.want {
			t.Errorf("CMAC of %d bytes = %x, want %s", c.n, got, c.want)
		}
	}
}

func TestThreeOfSix(t *testing.T) {
	// 0x00: codes 010110 010110, then the postamble 0101.
	if got := Encode3of6([]byte{0x00}); !bytes.Equal(got, []byte{0x59, 0x65}) {
		t.Fatalf("Encode3of6(00) = % x, want 59 65", got)
	}
	// 0x12 0x34: 001101 001110 001011 011100.
	if got := Encode3of6([]byte{0x12, 0x34}); !bytes.Equal(got, []byte{0x34, 0xE2, 0xDC}) {
		t.Fatalf("Encode3of6(12 34) = % x, want 34 e2 dc", got)
	}
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	for n := 1; n <= len(all); n += 37 {
		back, err := Decode3of6(Encode3of6(all[:n]), n)
		if err != nil || !bytes.Equal(back, all[:n]) {
			t.Fatalf("%d bytes: back % x, %v", n, back, err)
		}
	}
	if _, err := Decode3of6([]byte{0xFF, 0xFF}, 1); !errors.Is(err, ErrFrame) {
		t.Fatalf("chips ff ff: %v, want ErrFrame", err)
	}
}

func TestManchester(t *testing.T) {
	if got := EncodeManchester([]byte{0xA0}); !bytes.Equal(got, []byte{0x99, 0x55}) {
		t.Fatalf("EncodeManchester(a0) = % x, want 99 55", got)
	}
	b := []byte{0, 1, 0x7F, 0x80, 0xFF}
	back, err := DecodeManchester(EncodeManchester(b))
	if err != nil || !bytes.Equal(back, b) {
		t.Fatalf("back % x, %v", back, err)
	}
	if _, err := DecodeManchester([]byte{0x00, 0x00}); !errors.Is(err, ErrFrame) {
		t.Fatalf("chips 00 00: %v", err)
	}
}

var testMeter = Address{Manufacturer: ManufacturerCode("AMG"), ID: 0x12345678, Version: 1, Type: DeviceWater}

func TestManufacturer(t *testing.T) {
	// EN 13757-3's example: "KAM" is 0x2C2D.
	if got := ManufacturerCode("KAM"); got != 0x2C2D {
		t.Fatalf("KAM = %04x", got)
	}
	if got := ManufacturerString(0x2C2D); got != "KAM" {
		t.Fatalf("2c2d = %s", got)
	}
	if BCDID(12345678) != 0x12345678 {
		t.Fatal("BCDID")
	}
}

func TestFormats(t *testing.T) {
	for _, n := range []int{1, 15, 16, 17, 100, 116, 117, 200, maxPayloadB} {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(i * 7)
		}
		f := Frame{C: CSndNR, Address: testMeter, Payload: p}
		a, err := f.AppendA(nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(a) != SizeA(a[0]) {
			t.Fatalf("%d: format A of %d bytes, SizeA %d", n, len(a), SizeA(a[0]))
		}
		got, err := DecodeA(a)
		if err != nil || !bytes.Equal(got.Payload, p) || got.Address != testMeter || got.C != CSndNR {
			t.Fatalf("%d: format A: %+v, %v", n, got, err)
		}
		b, err := f.AppendB(nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err = DecodeB(b)
		if err != nil || !bytes.Equal(got.Payload, p) || got.Address != testMeter {
			t.Fatalf("%d: format B: %+v, %v", n, got, err)
		}
		// Every flipped bit is caught by a CRC (or breaks L).
		for i := 0; i < len(a); i += 5 {
			bad := bytes.Clone(a)
			bad[i] ^= 0x10
			if _, err := DecodeA(bad); err == nil {
				t.Fatalf("%d: format A with byte %d flipped decoded", n, i)
			}
			if i < len(b) {
				bad := bytes.Clone(b)
				bad[i] ^= 0x10
				if _, err := DecodeB(bad); err == nil {
					t.Fatalf("%d: format B with byte %d flipped decoded", n, i)
				}
			}
		}
	}
}

func TestPublishedMode5WithELL(t *testing.T) {
	raw := readHex(t, "published-mode5-ell.hex")
	f := Frame{C: raw[1], Address: addressOf(raw[2:10]), Payload: raw[10:]}
	if int(raw[0]) != len(raw)-1 {
		t.Fatalf("L %d for %d bytes", raw[0], len(raw))
	}
	key := unhex(t, "4255794d3dccfd46953146e701b7db68")
	k := NewKeyring()
	if err := k.Add(f.Address, key); err != nil {
		t.Fatal(err)
	}
	tg, err := Parse(f, k.Key)
	if err != nil {
		t.Fatal(err)
	}
	if tg.ELL == nil || tg.ELL.CC != 0x20 || tg.ELL.ACC != 0x60 {
		t.Fatalf("ELL %+v", tg.ELL)
	}
	if tg.Security != SecurityMode5 || tg.ACC != 0x9D || len(tg.Data) != 9*16-2 {
		t.Fatalf("security %d ACC %02x data %d bytes", tg.Security, tg.ACC, len(tg.Data))
	}
	if got := MeterName(tg.Meter); got != "EFE50898527" {
		t.Fatalf("meter %s", got)
	}
	wrong := bytes.Clone(key)
	wrong[0] ^= 1
	if _, err := Parse(f, func(Address) ([]byte, bool) { return wrong, true }); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("wrong key: %v", err)
	}
	if _, err := Parse(f, NewKeyring().Key); !errors.Is(err, ErrUnknownMeter) || !strings.Contains(err.Error(), "50898527") {
		t.Fatalf("no key: %v", err)
	}
}

func TestSecurityRoundTrip(t *testing.T) {
	key := unhex(t, "000102030405060708090a0b0c0d0e0f")
	data := unhex(t, "0413 39300000 02fd17 0000")
	for _, m := range []Message{
		{Meter: testMeter, ACC: 7, Status: 0, Security: SecurityNone, Data: data},
		{Meter: testMeter, ACC: 8, Status: 0x04, Security: SecurityMode5, Data: data},
		{Meter: testMeter, ACC: 9, Security: SecurityMode7, Counter: 0x1234, CC: 0x20, Data: data},
	} {
		f, err := m.Frame(key)
		if err != nil {
			t.Fatal(err)
		}
		tg, err := Parse(f, func(a Address) ([]byte, bool) { return key, a.ID == testMeter.ID })
		if err != nil {
			t.Fatalf("mode %d: %v", m.Security, err)
		}
		got := bytes.TrimRight(tg.Data, "\x2f")
		if !bytes.Equal(got, data) || tg.Status != m.Status || tg.ACC != m.ACC || tg.Security != m.Security {
			t.Fatalf("mode %d: %+v", m.Security, tg)
		}
		if m.Security == SecurityMode7 && (tg.AFL == nil || tg.AFL.MCR != 0x1234 || tg.ELL == nil) {
			t.Fatalf("mode 7: AFL %+v ELL %+v", tg.AFL, tg.ELL)
		}
		if m.Security == SecurityNone {
			continue
		}
		wrong := bytes.Clone(key)
		wrong[15] ^= 0x80
		if _, err := Parse(f, func(Address) ([]byte, bool) { return wrong, true }); !errors.Is(err, ErrWrongKey) {
			t.Fatalf("mode %d, wrong key: %v", m.Security, err)
		}
		// A changed encrypted byte fails mode 7's MAC, or mode 5's 2F2F
		// when it is in the first block.
		bad := f
		bad.Payload = bytes.Clone(f.Payload)
		at := len(bad.Payload) - 20
		if m.Security == SecurityMode5 {
			at = 6
		}
		bad.Payload[at] ^= 1
		if _, err := Parse(bad, func(Address) ([]byte, bool) { return key, true }); !errors.Is(err, ErrWrongKey) {
			t.Fatalf("mode %d, tampered: %v", m.Security, err)
		}
	}
}

func TestELLIIEncrypted(t *testing.T) {
	key := unhex(t, "0f0e0d0c0b0a09080706050403020100")
	plain := append([]byte{CINone}, unhex(t, "0413 39300000")...)
	cc, sn := byte(0x20), uint32(ellEncCTR)<<29|0x1234
	body := []byte{0, 0}
	c := CRC(plain)
	body[0], body[1] = byte(c>>8), byte(c)
	body = append(body, plain...)
	if err := ellCTR(key, testMeter, cc, sn, body); err != nil {
		t.Fatal(err)
	}
	p := []byte{CIELLII, cc, 5, byte(sn), byte(sn >> 8), byte(sn >> 16), byte(sn >> 24)}
	f := Frame{C: CSndNR, Address: testMeter, Payload: append(p, body...)}
	tg, err := Parse(f, func(Address) ([]byte, bool) { return key, true })
	if err != nil || !bytes.Equal(tg.Data, plain[1:]) || tg.ELL.SN != sn {
		t.Fatalf("%+v, %v", tg, err)
	}
	if _, err := Parse(f, func(Address) ([]byte, bool) { return make([]byte, 16), true }); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("wrong key: %v", err)
	}
}

// stream builds a receiver stream of mixed modes.
func stream(t *testing.T, key []byte) (b []byte, want int) {
	t.Helper()
	data := unhex(t, "0413 39300000")
	add := func(m Mode, format Format, msg Message, k []byte) {
		f, err := msg.Frame(k)
		if err != nil {
			t.Fatal(err)
		}
		if b, err = AppendAir(b, m, format, &f); err != nil {
			t.Fatal(err)
		}
	}
	add(ModeT1, FormatA, Message{Meter: testMeter, ACC: 1, Security: SecurityMode5, Data: data}, key)
	add(ModeC1, FormatA, Message{Meter: testMeter, ACC: 2, Security: SecurityMode7, Counter: 2, CC: 0x20, Data: data}, key)
	add(ModeC1, FormatB, Message{Meter: testMeter, ACC: 3, Security: SecurityMode5, Data: data}, key)
	add(ModeS1, FormatA, Message{Meter: testMeter, ACC: 4, Security: SecurityMode5, Data: data}, key)
	// A wrong key, an unknown meter, a garbled CRC, and noise.
	add(ModeT1, FormatA, Message{Meter: testMeter, ACC: 5, Security: SecurityMode5, Data: data}, make([]byte, 16))
	other := testMeter
	other.ID = 0x99999999
	add(ModeC1, FormatA, Message{Meter: other, ACC: 6, Security: SecurityMode5, Data: data}, key)
	at := len(b)
	add(ModeC1, FormatA, Message{Meter: testMeter, ACC: 7, Security: SecurityMode5, Data: data}, key)
	b[at+20] ^= 0xFF
	b = append(b, 0x00, 0x01, 0x02)
	add(ModeT1, FormatA, Message{Meter: testMeter, ACC: 8, Security: SecurityMode7, Counter: 9, Data: data}, key)
	return b, 5
}

func TestReceiverCountsAndGoesOn(t *testing.T) {
	key := unhex(t, "000102030405060708090a0b0c0d0e0f")
	k := NewKeyring()
	if err := k.Add(testMeter, key); err != nil {
		t.Fatal(err)
	}
	b, want := stream(t, key)

	// Over a real socket, as from a receiver behind a serial server.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Write(b)
		c.Close()
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rc := NewReceiver(conn, k.Key)
	var accs []byte
	var modes []Mode
	for {
		tg, err := rc.Next(ctx)
		var te *TelegramError
		if errors.As(err, &te) {
			continue
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		accs = append(accs, tg.ACC)
		modes = append(modes, tg.Mode)
	}
	if !bytes.Equal(accs, []byte{1, 2, 3, 4, 8}) || len(accs) != want {
		t.Fatalf("decoded ACCs %v (modes %v)", accs, modes)
	}
	st := rc.Stats()
	if st.Telegrams != 5 || st.WrongKey != 1 || st.UnknownMeter != 1 || st.CRC != 1 || st.Sync != 1 || st.Errors() != 4 {
		t.Fatalf("stats %+v", st)
	}
}

func TestReceiverContext(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := NewReceiver(a, nil).Next(ctx)
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Next after cancel: %v", err)
	}
}

func TestKeyring(t *testing.T) {
	k, err := ReadKeyring(strings.NewReader("# keys\nAMG12345678 000102030405060708090a0b0c0d0e0f\n\n87654321 0f0e0d0c0b0a09080706050403020100\n"))
	if err != nil {
		t.Fatal(err)
	}
	if key, ok := k.Key(testMeter); !ok || key[1] != 1 {
		t.Fatal("AMG12345678 missing")
	}
	if _, ok := k.Key(Address{Manufacturer: ManufacturerCode("XYZ"), ID: 0x87654321}); !ok {
		t.Fatal("87654321 of any manufacturer missing")
	}
	for _, bad := range []string{"AMG1234567 00", "AMG12345678 0001", "A1G12345678 000102030405060708090a0b0c0d0e0f", "1234567a 000102030405060708090a0b0c0d0e0f"} {
		if _, err := ReadKeyring(strings.NewReader(bad)); err == nil {
			t.Errorf("%q read", bad)
		}
	}
}
