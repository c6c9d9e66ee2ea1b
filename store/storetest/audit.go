package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/audit"
	"github.com/amigo-ami/amigo/store"
)

func testAudit(t *testing.T, o Opener) {
	s, _ := o.Open(t)
	al, ok := s.(store.AuditLog)
	if !ok {
		t.Fatal("the store keeps no audit trail")
	}
	log := audit.New(al)
	t0 := time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)
	recs := []audit.Record{
		{At: t0, Actor: "alice", Action: audit.SignIn, Outcome: audit.OK, Details: map[string]string{"remote": "127.0.0.1"}},
		{At: t0.Add(time.Second), Actor: "mallory", Action: audit.SignIn, Outcome: audit.Failed},
		{At: t0.Add(2 * time.Second), Actor: "alice", Action: audit.TokenIssue, Target: "bob", Outcome: audit.OK},
		{At: t0.Add(3 * time.Second), Action: audit.Denied, Target: "GET /api/v1/users", Outcome: audit.Refused},
	}
	for i, r := range recs {
		got, err := log.AppendRecord(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		if got.Seq != int64(i+1) || len(got.Hash) != 32 || !audit.Intact(got) {
			t.Fatalf("appended %d: %+v", i, got)
		}
	}
	all, err := log.Records(ctx, audit.Query{})
	if err != nil || len(all) != 4 {
		t.Fatalf("%d records, %v", len(all), err)
	}
	for i, r := range all {
		if !audit.Intact(r) {
			t.Fatalf("record %d read back does not hash to its hash: %+v", r.Seq, r)
		}
		if i > 0 && string(r.Prev) != string(all[i-1].Hash) {
			t.Fatalf("record %d does not link to %d", r.Seq, all[i-1].Seq)
		}
	}
	if all[0].Details["remote"] != "127.0.0.1" || !all[0].At.Equal(t0) || all[2].Target != "bob" {
		t.Fatalf("read back %+v", all)
	}
	byActor, _ := log.Records(ctx, audit.Query{Actor: "alice"})
	byAction, _ := log.Records(ctx, audit.Query{Action: audit.SignIn})
	byTime, _ := log.Records(ctx, audit.Query{From: t0.Add(time.Second), To: t0.Add(3 * time.Second)})
	newest, _ := log.Records(ctx, audit.Query{Newest: true, Limit: 2})
	before, _ := log.Records(ctx, audit.Query{Before: 3, Limit: 1})
	after, _ := log.Records(ctx, audit.Query{After: 3})
	seqs := func(rs []audit.Record) string {
		return fmt.Sprint(func() (out []int64) {
			for _, r := range rs {
				out = append(out, r.Seq)
			}
			return
		}())
	}
	for _, c := range []struct {
		name string
		got  []audit.Record
		want string
	}{
		{"actor", byActor, "[1 3]"}, {"action", byAction, "[1 2]"}, {"time", byTime, "[2 3]"},
		{"newest", newest, "[4 3]"}, {"before", before, "[2]"}, {"after", after, "[4]"},
	} {
		if seqs(c.got) != c.want {
			t.Errorf("by %s: seqs %s, want %s", c.name, seqs(c.got), c.want)
		}
	}
	rep, err := audit.Verify(ctx, al, audit.VerifyOptions{PageSize: 3})
	if err != nil || !rep.OK() || rep.Records != 4 || rep.Head.Seq != 4 {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}

// testAuditConcurrent appends from several writers, each with its own
// connection pool as separate nodes would have, and checks one chain.
func testAuditConcurrent(t *testing.T, o Opener) {
	_, where := o.Open(t)
	const writers, each = 6, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		node := o.Reopen(t, where).(store.AuditLog)
		log := audit.New(node)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := log.Append(ctx, audit.Record{Actor: fmt.Sprintf("node%d", w), Action: audit.ConfigChange, Target: fmt.Sprint(i)}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	st := o.Reopen(t, where).(store.AuditLog)
	rep, err := audit.Verify(ctx, st, audit.VerifyOptions{PageSize: 40})
	if err != nil || !rep.OK() || rep.Records != writers*each || rep.Head.Seq != writers*each {
		t.Fatalf("after %d concurrent appends: %d records, head %d, faults %v, %v", writers*each, rep.Records, rep.Head.Seq, rep.Faults, err)
	}
}
