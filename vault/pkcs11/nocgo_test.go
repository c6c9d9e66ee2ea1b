//go:build !cgo

package pkcs11

import (
	"errors"
	"testing"
)

func TestWithoutCgoOpenSaysSo(t *testing.T) {
	if _, err := Open(Config{Token: "t", PIN: "1"}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("open: %v, want ErrUnavailable", err)
	}
}
