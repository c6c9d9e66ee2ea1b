package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"modernc.org/sqlite"

	"github.com/amigo-ami/amigo/store"
)

// openGated opens a database file the way Open does, with a busy timeout
// of busy, so that a test can make SQLite's own waiting short.
func openGated(t *testing.T, busy time.Duration) *sql.DB {
	t.Helper()
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()), "synchronous(NORMAL)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db := sql.OpenDB(&connector{dsn: "file:" + filepath.Join(t.TempDir(), "g.db") + "?" + q.Encode(), drv: &sqlite.Driver{}, gate: newGate(busyTimeout)})
	db.SetMaxOpenConns(8)
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec("CREATE TABLE t (k INTEGER PRIMARY KEY, n INTEGER NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestGateKeepsWritersFromStarving runs many more writers than
// connections, each in short transactions, with SQLite's busy timeout at
// 50 ms: a writer left to SQLite's polling would fail with SQLITE_BUSY
// under such a stream, while queued in the gate every write lands.
func TestGateKeepsWritersFromStarving(t *testing.T) {
	db := openGated(t, 50*time.Millisecond)
	const writers, each = 32, 40
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				tx, err := db.Begin()
				if err != nil {
					errs <- err
					return
				}
				if _, err := tx.Exec("INSERT INTO t(k, n) VALUES (?, ?)", w*each+i, i); err != nil {
					tx.Rollback()
					errs <- err
					return
				}
				if err := tx.Commit(); err != nil {
					errs <- err
					return
				}
				// A write outside a transaction, and an upsert that returns
				// its row, queue in the gate too.
				if _, err := db.Exec("UPDATE t SET n = n + 1 WHERE k = ?", w*each+i); err != nil {
					errs <- err
					return
				}
				var n int
				if err := db.QueryRow("INSERT INTO t(k, n) VALUES (?, 0) ON CONFLICT (k) DO UPDATE SET n = t.n + 1 RETURNING n", w*each+i).Scan(&n); err != nil {
					errs <- err
					return
				}
				if n != i+2 {
					errs <- fmt.Errorf("row %d: n = %d, want %d", w*each+i, n, i+2)
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
	var rows, sum int
	if err := db.QueryRow("SELECT COUNT(*), SUM(n) FROM t").Scan(&rows, &sum); err != nil {
		t.Fatal(err)
	}
	if rows != writers*each {
		t.Fatalf("%d rows, want %d", rows, writers*each)
	}
	if want := writers * (each*(each-1)/2 + 2*each); sum != want {
		t.Fatalf("sum %d, want %d", sum, want)
	}
}

func TestGateQueues(t *testing.T) {
	g := newGate(time.Hour)
	leave, err := g.enter(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	entered := make(chan struct{})
	go func() {
		l, err := g.enter(context.Background())
		if err == nil {
			close(entered)
			l()
		}
	}()
	select {
	case <-entered:
		t.Fatal("a second writer entered while the first held the gate")
	case <-time.After(50 * time.Millisecond): // the second must still be waiting
	}
	leave()
	<-entered

	// A cancelled wait says so and holds nothing.
	leave, _ = g.enter(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := g.enter(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: %v", err)
	}
	leave()
	if l, err := g.enter(context.Background()); err != nil {
		t.Fatal(err)
	} else {
		l()
	}
}

// TestGateWaitIsBounded: past its wait a writer goes on without the gate,
// so one that holds it and needs a second write cannot deadlock itself.
func TestGateWaitIsBounded(t *testing.T) {
	g := newGate(20 * time.Millisecond)
	leave, _ := g.enter(context.Background())
	defer leave()
	l, err := g.enter(context.Background())
	if err != nil {
		t.Fatalf("bounded wait: %v", err)
	}
	l() // leaves nothing: the gate is still the first writer's
	select {
	case g.slot <- struct{}{}:
		t.Fatal("the bounded writer's leave freed the first writer's slot")
	default:
	}
}

// TestFirstStatementInATransactionDoesNotStall: many writers at once run
// a transaction whose statement nobody has prepared yet. Preparing it on
// the database, beside the transaction, would need a connection that
// every other writer holds while it waits for the transaction's lock:
// the store would stall until their waits ran out and fail them with
// SQLITE_BUSY. Prepared on the transaction's own connection, every write
// lands and no writer waits out its turn at the gate.
func TestFirstStatementInATransactionDoesNotStall(t *testing.T) {
	ctx := context.Background()
	s, g, err := open(ctx, filepath.Join(t.TempDir(), "s.db"), 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Every connection of the pool open and idle, as in a server that has
	// run a while, so that the writers take them all at once.
	var warm sync.WaitGroup
	for range 32 {
		warm.Add(1)
		go func() {
			defer warm.Done()
			s.SchemaVersion(ctx)
		}()
	}
	warm.Wait()
	const writers = 48
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	start := make(chan struct{})
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := s.ReserveCounters(ctx, []store.CounterReservation{{MeterID: fmt.Sprintf("m%d", w), Name: "ic", N: 10}})
			if err == nil {
				// Statements of several shapes, each new to the store.
				var cs []store.CommandCounter
				for k := range w%6 + 1 {
					cs = append(cs, store.CommandCounter{Type: "disconnect", Scope: "user", Key: fmt.Sprintf("u%d-%d", w, k)})
				}
				_, err = s.CountCommand(ctx, cs, 1000, []int64{990})
			}
			errs <- err
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := g.waitedOut.Load(); n > 0 {
		t.Fatalf("%d writers waited out the gate: the store stalled", n)
	}
	for w := range writers {
		first, err := s.ReserveCounter(ctx, fmt.Sprintf("m%d", w), "ic", 1)
		if err != nil || first != 10 {
			t.Fatalf("meter m%d: next counter %d, %v; want 10", w, first, err)
		}
	}
}
