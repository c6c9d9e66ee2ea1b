package iec62056

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

var ams = func() *time.Location {
	l, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		panic(err)
	}
	return l
}()

func TestProfileTime(t *testing.T) {
	for _, tc := range []struct {
		at   time.Time
		want string
	}{
		{time.Date(2026, 1, 5, 10, 15, 0, 0, ams), "02601051015"},
		{time.Date(2026, 7, 5, 10, 15, 0, 0, ams), "12607051015"},
		// The hour repeated on 25 October 2026: first in summer time,
		// then in standard time.
		{time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC), "12610250230"},
		{time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC), "02610250230"},
	} {
		s := FormatProfileTime(tc.at, ams)
		if s != tc.want {
			t.Errorf("%v: %s, want %s", tc.at, s, tc.want)
		}
		back, err := ParseProfileTime(s, ams)
		if err != nil || !back.Equal(tc.at) {
			t.Errorf("%s: %v %v, want %v", s, back, err, tc.at)
		}
	}
	if at, err := ParseProfileTime("22603101200", ams); err != nil || !at.Equal(time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("UTC: %v %v", at, err)
	}
	for _, bad := range []string{"", "2603", "1260310120x", "32613101200"} {
		if _, err := ParseProfileTime(bad, ams); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// profileMeter adds a load profile to the test meter: 100 quarter-hours
// of 250 Wh from 10 March 2026 00:15, a status change at the 50th.
type profileMeter struct{ *testMeter }

func (m profileMeter) Profile(_ byte, addr string, args []Value) ([]DataSet, error) {
	if addr != "P.01" {
		return nil, MeterError("ERR05")
	}
	first := time.Date(2026, 3, 10, 0, 15, 0, 0, ams)
	mk := func(at time.Time, status string, n int) ProfileBlock {
		b := ProfileBlock{First: at, Status: status, Period: 15 * time.Minute, Codes: []string{"1.29", "2.29"}, Units: []string{"kWh", "kWh"}}
		for range n {
			b.Rows = append(b.Rows, []string{"0.250", "0.000"})
		}
		return b
	}
	return ProfileSets([]ProfileBlock{mk(first, "00", 50), mk(first.Add(50*15*time.Minute), "80", 50)}, ams), nil
}

func TestProfileOverProgramming(t *testing.T) {
	c, _ := serve(t, Identification{Manufacturer: "AMG", BaudChar: '5'}, profileMeter{newTestMeter()})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := Program(ctx, c, "")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	req := ProfileRequest("P.01", time.Date(2026, 3, 10, 0, 0, 0, 0, ams), time.Time{}, ams)
	if got := req.Data.String(); got != "P.01(02603100000;)" {
		t.Errorf("request %s", got)
	}
	lines, err := p.ReadLines(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 102 {
		t.Fatalf("%d lines over the partial blocks, want 102", len(lines))
	}
	blocks, err := ParseProfile(lines, ams)
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 2 || len(blocks[1].Rows) != 50 || blocks[1].Status != "80" || !blocks[1].First.Equal(time.Date(2026, 3, 10, 12, 45, 0, 0, ams)) ||
		blocks[0].Codes[1] != "2.29" || blocks[0].Period != 15*time.Minute {
		t.Fatalf("blocks %+v", blocks)
	}
	if _, err := p.ReadLines(ctx, ProfileRequest("P.02", time.Time{}, time.Time{}, ams)); err == nil || !strings.Contains(err.Error(), "ERR05") {
		t.Errorf("unknown profile: %v", err)
	}
	// The session goes on after the profile.
	if d, err := p.Read(ctx, "1.8.0"); err != nil || d.Address != "1.8.0" {
		t.Fatalf("read after profile: %v %v", d, err)
	}
}

func TestProfileRefusedWithoutProfile(t *testing.T) {
	c, _ := serve(t, Identification{Manufacturer: "AMG", BaudChar: '5'}, newTestMeter())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := Program(ctx, c, "")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	if _, err := p.ReadLines(ctx, ProfileRequest("P.01", time.Time{}, time.Time{}, ams)); err == nil || !strings.Contains(err.Error(), "UNSUPPORTED") {
		t.Fatalf("%v", err)
	}
}

func TestParseProfileRefuses(t *testing.T) {
	h := DataSet{Address: "P.01", Values: []Value{{Value: "02603100015"}, {Value: "00"}, {Value: "15"}, {Value: "1"}, {Value: "1.29"}, {Value: "kWh"}}}
	for i, sets := range [][]DataSet{
		{{Values: []Value{{Value: "1"}}}},
		{h, {Values: []Value{{Value: "1"}, {Value: "2"}}}},
		{{Address: "P.01", Values: h.Values[:3]}},
		{{Address: "P.01", Values: append([]Value{{Value: "02603100015"}, {Value: "00"}, {Value: "0"}}, h.Values[3:]...)}},
		{{Address: "1.8.0", Values: h.Values}},
	} {
		if _, err := ParseProfile(sets, ams); err == nil {
			t.Errorf("%d: %v parsed", i, sets)
		}
	}
}

func FuzzParseDataLines(f *testing.F) {
	seeds(f, "blocks")
	seeds(f, "profiles")
	f.Fuzz(func(t *testing.T, b []byte) {
		sets, partial, err := ParseDataLines(b)
		if err != nil {
			return
		}
		if blocks, err := ParseProfile(sets, ams); err == nil {
			for _, bl := range blocks {
				for _, r := range bl.Rows {
					if len(r) != len(bl.Codes) {
						t.Fatalf("row of %d under %d channels", len(r), len(bl.Codes))
					}
				}
			}
		}
		enc, err := AppendDataLines(nil, sets, partial)
		if err != nil {
			return
		}
		back, p2, err := ParseDataLines(enc)
		if err != nil || p2 != partial || fmt.Sprint(back) != fmt.Sprint(sets) {
			t.Fatalf("%q: re-encoded %q: %v %v", b, enc, back, err)
		}
	})
}
