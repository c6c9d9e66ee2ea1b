package osgp

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// A published vector: key 12 × 0xDF over a 28-octet OSGP message.
func TestOMADigestVector(t *testing.T) {
	key := bytes.Repeat([]byte{0xDF}, 12)
	msg, _ := hex.DecodeString("020200300003" + "7f30ea6d" + "0000000d00209800" + "31c30008000000000011")
	got, err := OMADigest(key, msg)
	if err != nil {
		t.Fatal(err)
	}
	if want := "dbe5cde507b1cb3d"; hex.EncodeToString(got[:]) != want {
		t.Fatalf("digest %x, want %s", got, want)
	}
}
