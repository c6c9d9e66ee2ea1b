package cosem

import (
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/obis"
)

func enc(d axdr.Data) string { return strings.ToUpper(hex.EncodeToString(axdr.Encode(d))) }

func dec(t testing.TB, h string) axdr.Data {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(h, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	d, n, err := axdr.Decode(b)
	if err != nil || n != len(b) {
		t.Fatalf("decode %s: n=%d err=%v", h, n, err)
	}
	return d
}

func wantResult(t *testing.T, what string, err error, r Result) {
	t.Helper()
	if got := Result(ResultOf(err)); got != r {
		t.Fatalf("%s: result %s, want %s (err %v)", what, got, r, err)
	}
}

func mustLN(s string) obis.Code { return obis.MustParse(s) }

func TestResultOf(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		err  error
		want uint8
	}{
		{nil, 0},
		{ErrHardwareFault, 1},
		{ErrTemporaryFailure, 2},
		{ErrReadWriteDenied, 3},
		{ErrObjectUndefined, 4},
		{ErrClassInconsistent, 9},
		{ErrObjectUnavailable, 11},
		{ErrTypeUnmatched, 12},
		{ErrScopeOfAccessViolated, 13},
		{ErrOtherReason, 250},
		{Errorf(ResultTypeUnmatched, "x"), 12},
		{Wrap(ResultHardwareFault, "relay", errors.New("io")), 1},
		{errors.Join(errors.New("outer"), Errorf(ResultReadWriteDenied, "inner")), 3},
		{ctx.Err(), 2},
		{errors.New("plain"), 250},
	}
	for _, tt := range tests {
		if got := ResultOf(tt.err); got != tt.want {
			t.Errorf("ResultOf(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
	if !errors.Is(Errorf(ResultTypeUnmatched, "detail"), ErrTypeUnmatched) {
		t.Error("errors.Is does not match a detailed type-unmatched error")
	}
	if errors.Is(Errorf(ResultTypeUnmatched, "detail"), ErrReadWriteDenied) {
		t.Error("errors.Is matches a different result")
	}
}

func TestClassInfo(t *testing.T) {
	want := map[uint16]struct {
		ver            uint8
		attrs, methods int
	}{
		1: {0, 2, 0}, 3: {0, 3, 1}, 4: {0, 5, 1}, 5: {0, 9, 2}, 7: {1, 8, 2}, 8: {0, 9, 6}, 9: {0, 2, 1}, 11: {0, 2, 2},
		15: {1, 9, 4}, 18: {0, 7, 4}, 20: {0, 10, 1}, 21: {0, 4, 0}, 22: {0, 4, 0}, 23: {1, 9, 0}, 40: {0, 7, 1}, 41: {0, 6, 0},
		64: {1, 6, 8}, 70: {0, 4, 2}, 71: {0, 11, 0}, 72: {1, 14, 8},
	}
	if len(Classes()) != len(want) {
		t.Fatalf("%d classes, want %d", len(Classes()), len(want))
	}
	for id, w := range want {
		c, ok := ClassInfo(id)
		if !ok {
			t.Fatalf("class %d missing", id)
		}
		if c.Version != w.ver || len(c.Attributes) != w.attrs || len(c.Methods) != w.methods {
			t.Errorf("class %d (%s): v%d %d attrs %d methods, want v%d %d %d", id, c.Name, c.Version,
				len(c.Attributes), len(c.Methods), w.ver, w.attrs, w.methods)
		}
		for i, a := range c.Attributes {
			if int(a.Index) != i+1 || a.Name == "" {
				t.Errorf("class %d attribute %d: %+v", id, i+1, a)
			}
		}
		if c.Attributes[0].Name != "logical_name" {
			t.Errorf("class %d attribute 1 is %s", id, c.Attributes[0].Name)
		}
	}
	if _, ok := ClassInfo(2); ok {
		t.Error("class 2 known")
	}
	for _, tt := range []struct{ got, want string }{
		{ClassName(70), "Disconnect control"},
		{ClassName(9999), "class 9999"},
		{AttributeName(7, 2), "buffer"},
		{AttributeName(8, 2), "time"},
		{AttributeName(9999, 1), "logical_name"},
		{AttributeName(3, 9), "attr 9"},
		{MethodName(8, 6), "shift_time"},
		{MethodName(15, 1), "reply_to_HLS_authentication"},
		{MethodName(64, 2), "key_transfer"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
