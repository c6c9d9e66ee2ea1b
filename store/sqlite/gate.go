package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"
	"strings"
	"sync/atomic"
	"time"
)

// SQLite lets one writer in at a time, and a writer that finds the lock
// taken polls for it, sleeping up to 100 ms between tries. Under a steady
// stream of short write transactions from this process's own connections
// (a fleet's key changes, say) a poller can lose every race for longer
// than busy_timeout and fail with SQLITE_BUSY while the store is
// perfectly healthy. The gate queues this process's writers in Go, first
// come first served, so that only one of its connections asks SQLite for
// the write lock at a time; SQLite's own busy handling is left to settle
// contention with other processes (an `amigo user add` beside a server).
//
// A write is a transaction (every BEGIN is IMMEDIATE, see Open), or a
// statement executed outside one, or a query outside one that writes (an
// upsert RETURNING its row), gated until its rows are closed. Other
// queries read a WAL snapshot and are not gated.
type gate struct {
	slot chan struct{}
	// wait bounds the time in the queue; past it the writer goes on to
	// SQLite's busy handling as if there were no gate, so a writer that
	// needs a second connection while holding the gate cannot deadlock.
	wait time.Duration
	// waitedOut counts the writers that went on without the gate.
	waitedOut atomic.Int64
}

func newGate(wait time.Duration) *gate { return &gate{slot: make(chan struct{}, 1), wait: wait} }

// enter waits for the write slot; the returned function leaves it.
func (g *gate) enter(ctx context.Context) (func(), error) {
	select {
	case g.slot <- struct{}{}:
		return g.leave, nil
	default:
	}
	t := time.NewTimer(g.wait)
	defer t.Stop()
	select {
	case g.slot <- struct{}{}:
		return g.leave, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
		g.waitedOut.Add(1)
		return func() {}, nil
	}
}

func (g *gate) leave() { <-g.slot }

// connector opens the driver's connections wrapped in the gate.
type connector struct {
	dsn  string
	drv  driver.Driver
	gate *gate
}

func (c *connector) Connect(context.Context) (driver.Conn, error) {
	dc, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return &gatedConn{c: dc, gate: c.gate}, nil
}

func (c *connector) Driver() driver.Driver { return c.drv }

// gatedConn is one connection; database/sql uses a connection from one
// goroutine at a time, so its fields need no lock.
type gatedConn struct {
	c    driver.Conn
	gate *gate
	// inTx is set between BEGIN and COMMIT or ROLLBACK: statements in a
	// transaction run under the gate the transaction holds, and leave
	// gives it back.
	inTx  bool
	leave func()
}

var errNoContext = errors.New("sqlite: the driver lacks a context method")

func (g *gatedConn) Prepare(query string) (driver.Stmt, error) {
	return g.PrepareContext(context.Background(), query)
}

func (g *gatedConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	p, ok := g.c.(driver.ConnPrepareContext)
	if !ok {
		return nil, errNoContext
	}
	st, err := p.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	return &gatedStmt{s: st, conn: g, query: query}, nil
}

func (g *gatedConn) Close() error {
	g.endTx()
	return g.c.Close()
}

// endTx leaves the gate a transaction held, once.
func (g *gatedConn) endTx() {
	if g.inTx {
		g.inTx = false
		g.leave()
		g.leave = nil
	}
}

func (g *gatedConn) Begin() (driver.Tx, error) {
	return g.BeginTx(context.Background(), driver.TxOptions{})
}

func (g *gatedConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	b, ok := g.c.(driver.ConnBeginTx)
	if !ok {
		return nil, errNoContext
	}
	leave, err := g.gate.enter(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := b.BeginTx(ctx, opts)
	if err != nil {
		leave()
		return nil, err
	}
	g.inTx, g.leave = true, leave
	return &gatedTx{tx: tx, conn: g}, nil
}

// write runs one statement outside a transaction under the gate.
func (g *gatedConn) write(ctx context.Context, fn func() (driver.Result, error)) (driver.Result, error) {
	if g.inTx {
		return fn()
	}
	leave, err := g.gate.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer leave()
	return fn()
}

func (g *gatedConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	e, ok := g.c.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	return g.write(ctx, func() (driver.Result, error) { return e.ExecContext(ctx, query, args) })
}

func (g *gatedConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := g.c.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	return g.query(ctx, query, func() (driver.Rows, error) { return q.QueryContext(ctx, query, args) })
}

// query runs a query outside a transaction under the gate when it
// writes, holding it until its rows are closed.
func (g *gatedConn) query(ctx context.Context, query string, fn func() (driver.Rows, error)) (driver.Rows, error) {
	if g.inTx || !writes(query) {
		return fn()
	}
	leave, err := g.gate.enter(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := fn()
	if err != nil {
		leave()
		return nil, err
	}
	return &gatedRows{Rows: rows, leave: leave}, nil
}

// writes reports whether a statement's first word is a write's.
func writes(query string) bool {
	q := strings.TrimLeft(query, " \t\r\n(")
	i := strings.IndexAny(q, " \t\r\n(")
	if i < 0 {
		i = len(q)
	}
	switch strings.ToUpper(q[:i]) {
	case "INSERT", "UPDATE", "DELETE", "REPLACE":
		return true
	}
	return false
}

// gatedRows leaves the gate when the rows of a writing query are closed,
// when SQLite has finished the statement.
type gatedRows struct {
	driver.Rows
	leave func()
}

func (r *gatedRows) Close() error {
	err := r.Rows.Close()
	if r.leave != nil {
		r.leave()
		r.leave = nil
	}
	return err
}

func (g *gatedConn) Ping(ctx context.Context) error {
	if p, ok := g.c.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (g *gatedConn) ResetSession(ctx context.Context) error {
	if r, ok := g.c.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (g *gatedConn) IsValid() bool {
	if v, ok := g.c.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

type gatedTx struct {
	tx   driver.Tx
	conn *gatedConn
}

func (t *gatedTx) Commit() error {
	defer t.conn.endTx()
	return t.tx.Commit()
}

func (t *gatedTx) Rollback() error {
	defer t.conn.endTx()
	return t.tx.Rollback()
}

type gatedStmt struct {
	s     driver.Stmt
	conn  *gatedConn
	query string
}

func (s *gatedStmt) Close() error  { return s.s.Close() }
func (s *gatedStmt) NumInput() int { return s.s.NumInput() }

// Exec and Query complete driver.Stmt; database/sql calls the context
// forms, which the driver has.
func (s *gatedStmt) Exec(args []driver.Value) (driver.Result, error) {
	//lint:ignore SA1019 driver.Stmt requires it
	return s.conn.write(context.Background(), func() (driver.Result, error) { return s.s.Exec(args) })
}

func (s *gatedStmt) Query(args []driver.Value) (driver.Rows, error) {
	//lint:ignore SA1019 driver.Stmt requires it
	return s.conn.query(context.Background(), s.query, func() (driver.Rows, error) { return s.s.Query(args) })
}

func (s *gatedStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	e, ok := s.s.(driver.StmtExecContext)
	if !ok {
		return nil, errNoContext
	}
	return s.conn.write(ctx, func() (driver.Result, error) { return e.ExecContext(ctx, args) })
}

func (s *gatedStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := s.s.(driver.StmtQueryContext)
	if !ok {
		return nil, errNoContext
	}
	return s.conn.query(ctx, s.query, func() (driver.Rows, error) { return q.QueryContext(ctx, args) })
}
