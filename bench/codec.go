package bench

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"fmt"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/dlms/security"
)

// measure runs f until at least d has passed and returns nanoseconds per
// call, growing the batch so the clock is read rarely.
func measure(ctx context.Context, d time.Duration, f func() error) (float64, error) {
	n := 1
	for {
		t0 := time.Now()
		for range n {
			if err := f(); err != nil {
				return 0, err
			}
		}
		el := time.Since(t0)
		if el >= d || ctx.Err() != nil {
			return float64(el.Nanoseconds()) / float64(n), ctx.Err()
		}
		n = min(n*2, max(n+1, int(float64(n)*1.2*float64(d)/float64(max(el, time.Microsecond)))))
	}
}

// profile96x4 is a day of a quarter-hour load profile as a meter sends
// it: clock, status and two energy registers per entry.
func profile96x4() axdr.Data {
	rows := make([]axdr.Data, 96)
	for i := range rows {
		dt := axdr.DateTime{Year: 2026, Month: 11, Day: 22, DayOfWeek: 7, Hour: uint8(i / 4), Minute: uint8(15 * (i % 4))}
		rows[i] = axdr.Structure(axdr.OctetString(dt.Append(nil)), axdr.Uint8(0), axdr.Uint32(uint32(100000+i*25)), axdr.Uint32(uint32(i*3)))
	}
	return axdr.Array(rows...)
}

func runCodec(ctx context.Context, o Options) ([]Result, error) {
	d := time.Second
	if o.Tiny {
		d = 20 * time.Millisecond
	}
	var out []Result
	p := profile96x4()
	enc := axdr.Encode(p)
	decode, err := measure(ctx, d, func() error { _, _, err := axdr.Decode(enc); return err })
	if err != nil {
		return nil, err
	}
	skip, err := measure(ctx, d, func() error { _, err := axdr.Skip(enc); return err })
	if err != nil {
		return nil, err
	}
	out = append(out, Result{Metric: "A-XDR decode, 96×4 profile", Value: decode / 1000, Unit: "µs/op",
		Baseline: "A-XDR skip (walk, no values)", BaselineValue: skip / 1000})
	buf := make([]byte, 0, len(enc))
	encode, err := measure(ctx, d, func() error { buf = p.Append(buf[:0]); return nil })
	if err != nil {
		return nil, err
	}
	out = append(out, Result{Metric: "A-XDR encode, 96×4 profile", Value: encode / 1000, Unit: "µs/op",
		Baseline: "A-XDR decode of the same", BaselineValue: decode / 1000})

	ek, ak := bytes.Repeat([]byte{0x11}, 16), bytes.Repeat([]byte{0x22}, 16)
	keys := security.Keys{Unicast: security.MustKey(ek), Authentication: security.MustKey(ak)}
	st := []byte("AMGBENCH")
	plain := bytes.Repeat([]byte{0xC4}, 1024)
	sc := security.AuthenticatedEncryption
	dst := make([]byte, 0, security.EncryptBufferSize(sc, len(plain)))
	ic := uint32(0)
	seal, err := measure(ctx, d, func() error {
		ic++
		_, err := security.AppendEncrypt(dst[:0], sc, keys, st, ic, plain)
		return err
	})
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(ek)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCMWithTagSize(block, security.TagSize)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, 12)
	aad := append([]byte{byte(sc)}, ak...)
	raw := make([]byte, 0, len(plain)+16)
	bare, err := measure(ctx, d, func() error { raw = gcm.Seal(raw[:0], nonce, plain, aad); return nil })
	if err != nil {
		return nil, err
	}
	out = append(out, Result{Metric: "suite-0 authenticated encryption, 1 KiB APDU", Value: seal / 1000, Unit: "µs/op",
		Baseline: "bare AES-128-GCM seal", BaselineValue: bare / 1000})

	ct, err := security.Encrypt(sc, keys, st, 7, plain)
	if err != nil {
		return nil, err
	}
	pdst := make([]byte, 0, security.DecryptBufferSize(len(ct)))
	open, err := measure(ctx, d, func() error {
		pt, _, err := security.AppendDecrypt(pdst[:0], keys, st, ct)
		if err == nil && len(pt) != len(plain) {
			err = fmt.Errorf("deciphered %d bytes, want %d", len(pt), len(plain))
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	sealed := gcm.Seal(nil, nonce, plain, aad)
	ptBuf := make([]byte, 0, len(plain))
	bareOpen, err := measure(ctx, d, func() error { _, err := gcm.Open(ptBuf[:0], nonce, sealed, aad); return err })
	if err != nil {
		return nil, err
	}
	out = append(out, Result{Metric: "suite-0 authenticated decryption, 1 KiB APDU", Value: open / 1000, Unit: "µs/op",
		Baseline: "bare AES-128-GCM open", BaselineValue: bareOpen / 1000})
	return out, nil
}
