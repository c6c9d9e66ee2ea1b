package audit_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/audit"
	"github.com/amigo-ami/amigo/store/storetest"
)

var ctx = context.Background()

// memStore is a chain in memory, which tests edit as an attacker would
// edit the database.
type memStore struct {
	mu   sync.Mutex
	recs []audit.Record
}

func (m *memStore) AppendAudit(_ context.Context, r audit.Record, seal func(*audit.Record)) (audit.Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r.Seq, r.Prev = 1, []byte{}
	if n := len(m.recs); n > 0 {
		r.Seq, r.Prev = m.recs[n-1].Seq+1, m.recs[n-1].Hash
	}
	seal(&r)
	m.recs = append(m.recs, r)
	return r, nil
}

func (m *memStore) AuditRecords(_ context.Context, q audit.Query) ([]audit.Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rs := slices.Clone(m.recs)
	slices.SortFunc(rs, func(a, b audit.Record) int { return int(a.Seq - b.Seq) })
	var out []audit.Record
	for _, r := range rs {
		if (q.After == 0 || r.Seq > q.After) && len(out) < q.Limit {
			out = append(out, r)
		}
	}
	return out, nil
}

func chain(t *testing.T, n int) (*memStore, *audit.Log) {
	t.Helper()
	m := &memStore{}
	l := audit.New(m)
	t0 := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	for i := range n {
		if err := l.Append(ctx, audit.Record{At: t0.Add(time.Duration(i) * time.Second), Actor: "alice", Action: audit.ConfigChange,
			Target: fmt.Sprint("item", i), Details: map[string]string{"n": fmt.Sprint(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	return m, l
}

func verify(t *testing.T, m *memStore, a *audit.Anchor) audit.Report {
	t.Helper()
	rep, err := audit.Verify(ctx, m, audit.VerifyOptions{Anchor: a, PageSize: 7})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func faults(rep audit.Report) string {
	var s []string
	for _, f := range rep.Faults {
		s = append(s, fmt.Sprintf("%d:%s", f.Seq, f.Kind))
	}
	return fmt.Sprint(s)
}

func TestVerifyFindsEachFault(t *testing.T) {
	for _, c := range []struct {
		name   string
		attack func(m *memStore)
		want   string
	}{
		{"intact", func(*memStore) {}, "[]"},
		{"field edited", func(m *memStore) { m.recs[9].Actor = "mallory" }, "[10:edited]"},
		{"detail edited", func(m *memStore) { m.recs[4].Details["n"] = "x" }, "[5:edited]"},
		{"time edited", func(m *memStore) { m.recs[19].At = m.recs[19].At.Add(time.Microsecond) }, "[20:edited]"},
		{"deleted", func(m *memStore) { m.recs = slices.Delete(m.recs, 11, 12) }, "[11:deleted]"},
		{"three deleted", func(m *memStore) { m.recs = slices.Delete(m.recs, 3, 6) }, "[3:deleted]"},
		{"first deleted", func(m *memStore) { m.recs = m.recs[1:] }, "[0:deleted]"},
		{"swapped", func(m *memStore) { m.recs[6].Seq, m.recs[7].Seq = m.recs[7].Seq, m.recs[6].Seq }, "[7:reordered 8:reordered]"},
		{"swapped contents", func(m *memStore) {
			m.recs[6], m.recs[7] = m.recs[7], m.recs[6]
			m.recs[6].Seq, m.recs[7].Seq = 7, 8
		}, "[7:reordered 8:reordered]"},
		{"edited and resealed", func(m *memStore) { m.recs[14].Target = "other"; audit.Seal(&m.recs[14]) }, "[16:relinked]"},
		{"relinked", func(m *memStore) { m.recs[14].Prev = m.recs[12].Hash; audit.Seal(&m.recs[14]) }, "[15:relinked 16:relinked]"},
		{"tail cut", func(m *memStore) { m.recs = m.recs[:20] }, "[]"},
		{"seq made negative", func(m *memStore) { m.recs[2].Seq = -3 }, "[-3:edited 2:deleted]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, _ := chain(t, 25)
			c.attack(m)
			rep := verify(t, m, nil)
			if got := faults(rep); got != c.want {
				t.Fatalf("faults %s, want %s: %v", got, c.want, rep.Faults)
			}
		})
	}
}

func TestAnchorFindsTruncationAndRewrite(t *testing.T) {
	m, _ := chain(t, 25)
	head := verify(t, m, nil).Head
	if head.Seq != 25 || len(head.Hash) != 32 {
		t.Fatalf("head %v", head)
	}
	if rep := verify(t, m, &head); !rep.OK() {
		t.Fatalf("intact log against its anchor: %v", rep.Faults)
	}
	cut := &memStore{recs: slices.Clone(m.recs[:22])}
	if got := faults(verify(t, cut, &head)); got != "[25:truncated]" {
		t.Fatalf("cut tail: %s", got)
	}
	// A log replaced whole by a freshly sealed one verifies alone; only the
	// anchor tells.
	forged, _ := chain(t, 0)
	for _, r := range m.recs {
		r.Seq, r.Prev, r.Hash = 0, nil, nil
		if r.Target == "item3" {
			r.Actor = "mallory"
		}
		if _, err := forged.AppendAudit(ctx, r, audit.Seal); err != nil {
			t.Fatal(err)
		}
	}
	if rep := verify(t, forged, nil); !rep.OK() {
		t.Fatalf("a resealed log: %v", rep.Faults)
	}
	if got := faults(verify(t, forged, &head)); got != "[25:rewritten]" {
		t.Fatalf("resealed log against the anchor: %s", got)
	}
}

// TestCanonicalEncoding pins the version 1 encoding and hash: a change to
// either would break every trail already written.
func TestCanonicalEncoding(t *testing.T) {
	r := audit.Record{Seq: 2, At: time.Date(2026, 12, 7, 1, 2, 3, 4000, time.UTC), Actor: "alice", Action: audit.SignIn,
		Target: "alice", Outcome: audit.OK, Details: map[string]string{"z": "1", "a": "2"}, Prev: []byte{0xaa}}
	const want = "616d69676f2d61756469742f3100" + "0000000000000002" + "00066200c61438c4" +
		"00000005616c696365" + "000000077369676e2d696e" + "00000005616c696365" + "000000026f6b" +
		"00000002" + "0000000161" + "0000000132" + "000000017a" + "0000000131" + "00000001aa"
	if got := hex.EncodeToString(audit.Canonical(r)); got != want {
		t.Fatalf("encoding\n got %s\nwant %s", got, want)
	}
	// Fields cannot run into each other.
	a := r
	a.Actor, a.Target = "alic", "ealice"
	if hex.EncodeToString(audit.HashOf(a)) == hex.EncodeToString(audit.HashOf(r)) {
		t.Fatal("moving a byte between fields kept the hash")
	}
}

func TestLimitedCountsWhatItDrops(t *testing.T) {
	m := &memStore{}
	l := audit.NewLimited(audit.New(m), 1e-9, 3) // a burst of 3, then nothing
	for i := range 10 {
		if err := l.Append(ctx, audit.Record{Action: audit.Denied, Target: fmt.Sprint(i), Outcome: audit.Refused}); err != nil {
			t.Fatal(err)
		}
	}
	if len(m.recs) != 4 || m.recs[3].Outcome != audit.Suppressed {
		t.Fatalf("%d records kept, last %+v", len(m.recs), m.recs[len(m.recs)-1])
	}
	if rep := verify(t, m, nil); !rep.OK() {
		t.Fatal(rep.Faults)
	}
}

func TestLimitedReportsCountOnNextRecord(t *testing.T) {
	m := &memStore{}
	now := time.Now()
	l := audit.NewLimited(audit.New(m), 1000, 1)
	for range 5 {
		l.Append(ctx, audit.Record{At: now, Action: audit.Denied})
	}
	// Wait for the bucket to refill: a condition, polled.
	deadline := time.Now().Add(5 * time.Second)
	for {
		l.Append(ctx, audit.Record{Action: audit.Denied, Target: "after"})
		m.mu.Lock()
		last := m.recs[len(m.recs)-1]
		m.mu.Unlock()
		if last.Target == "after" {
			if last.Details["suppressed"] == "" {
				t.Fatalf("the record after a burst says nothing of it: %+v", last)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the limiter never let a record through again")
		}
	}
}

func TestParseAnchor(t *testing.T) {
	m, _ := chain(t, 3)
	h := verify(t, m, nil).Head
	back, err := audit.ParseAnchor(h.String())
	if err != nil || back.Seq != 3 || hex.EncodeToString(back.Hash) != hex.EncodeToString(h.Hash) {
		t.Fatalf("%v %v", back, err)
	}
	for _, bad := range []string{"", "3", "x:00", "-1:", "3:zz", "3:" + hex.EncodeToString(h.Hash[:31])} {
		if _, err := audit.ParseAnchor(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func FuzzParseAnchor(f *testing.F) {
	f.Add("12:" + hex.EncodeToString(make([]byte, 32)))
	f.Add("0:")
	f.Add("x:y")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := audit.ParseAnchor(s)
		if err != nil {
			return
		}
		back, err := audit.ParseAnchor(a.String())
		if err != nil || back.Seq != a.Seq || string(back.Hash) != string(a.Hash) {
			t.Fatalf("%q → %v → %v %v", s, a, back, err)
		}
	})
}

// BenchmarkAppend appends records to the trail in an SQLite and a
// PostgreSQL store, each in its own transaction as the server does; and,
// as the baseline measured in the same run, the same appends to a chain
// in memory (the hashing alone).
func BenchmarkAppend(b *testing.B) {
	rec := audit.Record{Actor: "alice", Action: audit.CommandIssue, Target: "ctl-1", Outcome: audit.OK,
		Details: map[string]string{"meter": "m1", "type": "disconnect"}}
	b.Run("sqlite", func(b *testing.B) {
		st, _ := storetest.OpenSQLite(b)
		l := audit.New(st)
		for b.Loop() {
			if err := l.Append(ctx, rec); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
	b.Run("postgres", func(b *testing.B) {
		st, _ := storetest.OpenPostgres(b)
		l := audit.New(st)
		for b.Loop() {
			if err := l.Append(ctx, rec); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
	b.Run("memory", func(b *testing.B) {
		l := audit.New(&memStore{})
		for b.Loop() {
			if err := l.Append(ctx, rec); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
}
