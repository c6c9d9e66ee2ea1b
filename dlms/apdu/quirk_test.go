package apdu

import (
	"bytes"
	"errors"
	"testing"

	"github.com/amigo-ami/amigo/axdr"
)

// The quirks the traces document, each handled by a deliberate choice.

// TestQuirkClockTrailingBytes: the server appends 18 junk bytes after the
// Get-Data-Result of the clock. Strict decoding rejects them; Tolerant
// keeps the sound value and hands the junk back as trailing bytes, which
// is what the Gurux client effectively does.
func TestQuirkClockTrailingBytes(t *testing.T) {
	raw := unhex(t, "C401C100090C07EA0B170115162500000000090F090C07EA0B170115162500000000090F")
	_, err := Decode(raw)
	var de *DecodeError
	if !errors.Is(err, ErrTrailingData) || !errors.As(err, &de) || de.Offset != 18 {
		t.Fatalf("strict: %v, want ErrTrailingData at 18", err)
	}
	a, trailing, err := Tolerant.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	r := a.(*GetResponseNormal)
	if r.Result.Data.Tag != axdr.TagOctetString || len(r.Result.Data.Bytes) != 12 {
		t.Fatalf("value %v", r.Result.Data)
	}
	if len(trailing) != 18 || !bytes.Equal(trailing, raw[18:]) {
		t.Fatalf("trailing %X", trailing)
	}
	// Trailing bytes alone do not license a bad APDU: a cut value is
	// still an error under Tolerant.
	if _, _, err := Tolerant.Decode(raw[:10]); !errors.Is(err, axdr.ErrTruncated) {
		t.Fatalf("cut value: %v", err)
	}
}

// TestQuirkEmptyLastBlockJunk: file 12's last block is empty (raw-data of
// length 0) and followed by 11 junk bytes that look like a copy of the
// APDU header. Tolerant decoding gives the empty last block and the junk
// as trailing bytes; the block is what ends the transfer.
func TestQuirkEmptyLastBlockJunk(t *testing.T) {
	raw := unhex(t, "C402C10100000002000000C402C101000000020000")
	if _, err := Decode(raw); !errors.Is(err, ErrTrailingData) {
		t.Fatalf("strict: %v", err)
	}
	a, trailing, err := Tolerant.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	b := a.(*GetResponseWithDataBlock).Block
	if !b.LastBlock || b.BlockNumber != 2 || len(b.Raw) != 0 || b.IsAccessResult {
		t.Fatalf("block %+v", b)
	}
	if !bytes.Equal(trailing, unhex(t, "00C402C101000000020000")) {
		t.Fatalf("trailing %X", trailing)
	}
}

// TestQuirkProtectedRLREWrongBERLengths: file 10's RLRE declares 36
// content octets where 40 follow, and user-information 34 where its octet
// string needs 35. The wrapper length covers all 42 bytes and the
// ciphered InitiateResponse authenticates when read by the inner lengths,
// so the inner lengths are right and the outer ones wrong. Strict decoding
// reports ErrBERLength; LenientBERLengths trusts the inner lengths, and
// re-encoding writes the correct lengths (so it is not byte-equal).
func TestQuirkProtectedRLREWrongBERLengths(t *testing.T) {
	raw := unhex(t, "6324800100BE220421281F300000005CBC5B42D6AB777DC32C18C2BF402B21336A8E8B5E18B6C9FFFE9E")
	if _, err := Decode(raw); !errors.Is(err, ErrBERLength) {
		t.Fatalf("strict: %v, want ErrBERLength", err)
	}
	// Trailing tolerance alone is not enough: the element straddles the
	// declared end.
	if _, _, err := (Options{AllowTrailing: true}).Decode(raw); !errors.Is(err, ErrBERLength) {
		t.Fatalf("AllowTrailing only: %v, want ErrBERLength", err)
	}
	a, trailing, err := (Options{LenientBERLengths: true}).Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	if trailing != nil {
		t.Fatalf("trailing %X", trailing)
	}
	r := a.(*RLRE)
	if !r.HasReason || r.Reason != ReleaseNormal || !bytes.Equal(r.UserInformation, raw[9:]) {
		t.Fatalf("rlre %+v", r)
	}
	inner, err := Decode(r.UserInformation)
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := inner.(*Ciphered); !ok || c.Kind() != "glo-initiate-response" || len(c.Raw) != 33 {
		t.Fatalf("user-information %v", inner)
	}
	got, err := r.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := append(unhex(t, "6328800100BE230421"), raw[9:]...)
	if !bytes.Equal(got, want) {
		t.Fatalf("re-encoded %X\nwant %X", got, want)
	}
	if _, err := Decode(got); err != nil {
		t.Fatalf("corrected RLRE does not decode strictly: %v", err)
	}
}

// TestLenientStillRejectsTruncation: leniency about lengths that are too
// short never extends an APDU past its input.
func TestLenientStillRejectsTruncation(t *testing.T) {
	for _, h := range []string{
		"6324800100BE220421281F30",                 // cut inside user-information
		"6328800100BE23042128",                     // APDU length beyond input
		"601DA109060760857405080101BE10040E010000", // cut AARQ
		"6005A1030607",                             // context OID cut inside
	} {
		if _, _, err := Tolerant.Decode(unhex(t, h)); !errors.Is(err, ErrTruncated) {
			t.Errorf("%s: %v, want ErrTruncated", h, err)
		}
	}
}
