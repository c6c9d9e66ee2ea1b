package headend_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
	"github.com/amigo-ami/amigo/vault"
)

// failingRegistry fails its nth PutRegistry.
type failingRegistry struct {
	store.Store
	calls, failAt atomic.Int32
}

func (f *failingRegistry) PutRegistry(ctx context.Context, b store.RegistryBatch) error {
	if f.calls.Add(1) == f.failAt.Load() {
		return errors.New("disk full")
	}
	return f.Store.PutRegistry(ctx, b)
}

// TestImportBatchesCommitWhole: an import that fails part way leaves the
// batches before the failure whole (every meter with its keys) and none
// of the failed one; importing again completes the rest.
func TestImportBatchesCommitWhole(t *testing.T) {
	ctx := context.Background()
	st, _ := storetest.OpenSQLite(t)
	f := &failingRegistry{Store: st}
	f.failAt.Store(2)
	keys := vault.NewKeyring(testKeys(t, "k1", 1))
	rows := shipment(1100) // 1,210 rows: three batches
	rep, err := headend.Import(ctx, f, keys, dlmsDrivers, rows)
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("import: %v", err)
	}
	if rep.Created != 500 || len(rep.New) != 500 {
		t.Fatalf("report %+v", rep)
	}
	assertEveryMeterHasKeys(t, st, 500)
	rep, err = headend.Import(ctx, st, keys, dlmsDrivers, rows)
	if err != nil || rep.Created != len(rows)-500 || rep.Unchanged != 500 {
		t.Fatalf("import again: %+v %v", rep, err)
	}
	assertEveryMeterHasKeys(t, st, len(rows))
}

// assertEveryMeterHasKeys checks there are n meters and each has keys
// that open.
func assertEveryMeterHasKeys(t *testing.T, st store.Store, n int) {
	t.Helper()
	ctx := context.Background()
	keys := vault.NewKeyring(testKeys(t, "k1", 1))
	got := 0
	for after := ""; ; {
		ms, err := st.Meters(ctx, store.MeterQuery{After: after, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if _, err := headend.OpenCredentials(ctx, st, keys, m.MRID); err != nil {
				t.Errorf("meter %s without keys: %v", m.MRID, err)
			}
		}
		got += len(ms)
		if len(ms) < 1000 {
			break
		}
		after = ms[len(ms)-1].MRID
	}
	if got != n {
		t.Fatalf("%d meters registered, want %d", got, n)
	}
}

// TestImportFromAStream: a manifest is imported as it is read, bad rows
// counted and listed by line, and a sub-meter whose parent comes later in
// the file waits for it.
func TestImportFromAStream(t *testing.T) {
	ctx := context.Background()
	st, _ := storetest.OpenSQLite(t)
	keys := vault.NewKeyring(testKeys(t, "k1", 1))
	rows := shipment(2000)
	// The first gas meter before its parent.
	rows[0], rows[1] = rows[1], rows[0]
	pr, pw := io.Pipe()
	go func() {
		err := manifest.Write(pw, dlmsColumnNames(), func(yield func(manifest.Row) bool) error {
			for i, r := range rows {
				if i%700 == 5 {
					r.Segment = "cell\x00" // refused by the reader
				}
				if !yield(r) {
					break
				}
			}
			return nil
		})
		pw.CloseWithError(err)
	}()
	rd, err := manifest.NewReader(pr)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := headend.ImportFrom(ctx, st, keys, dlmsDrivers, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rejected != 4 || len(rep.Bad) != 4 || rep.Bad[0].Line != 7 || rep.Bad[0].Column != "segment" || rep.Accepted() != len(rows)-4 {
		t.Fatalf("report: %d accepted, %d rejected, bad %v", rep.Accepted(), rep.Rejected, rep.Bad)
	}
	gas, err := st.Meter(ctx, headend.MeterID(rows[0]))
	if err != nil || gas.Parent != headend.MeterID(rows[1]) {
		t.Fatalf("gas meter before its parent: %+v %v", gas, err)
	}
	assertEveryMeterHasKeys(t, st, len(rows)-4)
}
