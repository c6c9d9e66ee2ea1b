package sqldb

import (
	"context"
	"testing"
	"time"
)

// A connect deadline that passes during a migration must not fail it: on
// a loaded machine the full schema can take longer than reaching the
// database does, and the binary would then never start.
func TestMigrateOutlivesConnectDeadline(t *testing.T) {
	parent, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	mctx, done := migrateContext(parent)
	defer done()
	<-parent.Done()
	if err := mctx.Err(); err != nil {
		t.Fatalf("migration context ended with the connect deadline: %v", err)
	}
	if _, ok := mctx.Deadline(); !ok {
		t.Fatal("migration context has no bound of its own")
	}
}

// An interrupt still stops a migration.
func TestMigrateStopsOnCancel(t *testing.T) {
	parent, cancel := context.WithCancel(context.Background())
	mctx, done := migrateContext(parent)
	defer done()
	cancel()
	select {
	case <-mctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("migration context not cancelled with its parent")
	}
}
