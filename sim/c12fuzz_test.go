package sim

import (
	"testing"
	"time"

	"github.com/amigo-ami/amigo/c1219"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/psem"
)

// FuzzC12Requests sends arbitrary PSEM requests to a simulated C12.18
// meter in a session with the password (so writes reach ST7 and the
// procedures decode their parameters): every request gets an answer, the
// meter never panics, and its model stays usable. Seeds in
// testdata/fuzz/FuzzC12Requests are reads of every kind, the procedures
// with good and bad parameters, and writes.
func FuzzC12Requests(f *testing.F) {
	loc, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		f.Fatal(err)
	}
	now := time.Date(2026, 3, 10, 12, 7, 0, 0, loc)
	model := meter.NewFleet(5, loc, now)
	model.HistoryDays = 3
	fl, err := NewFleet(Config{Meters: 2, Seed: 5, Now: func() time.Time { return now }, Model: model, C1218: 1})
	if err != nil {
		f.Fatal(err)
	}
	c, err := fl.newC12Meter(0)
	if err != nil {
		f.Fatal(err)
	}
	store, tables, err := c.store()
	if err != nil {
		f.Fatal(err)
	}
	srv := psem.NewServer(readOnly{tables}, fl.c1218ServerConfig(0, store, tables))
	pw := fl.C12Password(0)
	for _, r := range []psem.Request{psem.IdentRequest(), psem.LogonRequest(1, C12User), psem.SecurityRequest(pw[:])} {
		b, _ := r.Marshal()
		if resp := srv.Handle(b); len(resp.Data) == 0 || resp.Data[0] != byte(psem.OK) {
			f.Fatalf("opening the session: %x answered %x", b, resp.Data)
		}
	}
	f.Fuzz(func(t *testing.T, req []byte) {
		resp := srv.Handle(req)
		if len(resp.Data) == 0 {
			t.Fatalf("%x: no answer", req)
		}
		if resp.End || resp.Hangup || srv.State() != psem.StateSession {
			// The request ended the session: open it again for the next.
			srv.Reset()
			for _, r := range []psem.Request{psem.IdentRequest(), psem.LogonRequest(1, C12User), psem.SecurityRequest(pw[:])} {
				b, _ := r.Marshal()
				srv.Handle(b)
			}
		}
		if _, err := tables.ReadTable(uint16(c1219.ST23)); err != nil {
			t.Fatalf("after %x: ST23: %v", req, err)
		}
	})
}
