package headend_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/audit"
	"github.com/amigo-ami/amigo/campaign"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/headend/dlmsdriver"
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/store"
)

// keyRig is a fleet rig whose head-end keeps an audit trail, with its
// meters imported.
type keyRig struct {
	*fleetRig
	h     *headend.HeadEnd
	d     *dlmsdriver.Driver
	audit *auditLog
	mrids []string
}

func newKeyRig(t *testing.T, n int, rows func([]manifest.Row)) *keyRig {
	t.Helper()
	return newKeyRigTB(t, n, rows)
}

func newKeyRigTB(t testing.TB, n int, rows func([]manifest.Row)) *keyRig {
	t.Helper()
	r := &keyRig{fleetRig: newFleetRigWith(t, n, meter.Faults{}, headend.CollectionConfig{}, rigOptions{noIngest: true}),
		d: dlmsdriver.New(dlmsdriver.Config{}), audit: &auditLog{}}
	if rows != nil {
		rows(r.rows)
	}
	var err error
	r.h, err = headend.New(headend.Options{Store: r.st, Bus: r.bus, Secrets: r.keys, Now: r.clk.Now,
		Drivers: []headend.Driver{r.d}, Audit: r.audit,
		Collection: headend.CollectionConfig{RetryBase: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := headend.Import(context.Background(), r.st, r.keys, dlmsDrivers, r.rows); err != nil {
		t.Fatal(err)
	}
	ms, err := r.st.Meters(context.Background(), store.MeterQuery{Limit: n + 1})
	if err != nil || len(ms) != n {
		t.Fatalf("%d meters imported %v, want %d", len(ms), err, n)
	}
	for _, m := range ms {
		r.mrids = append(r.mrids, m.MRID)
	}
	return r
}

// storeCounters reserves a meter's invocation counters in the store, as
// the head-end does.
type storeCounters struct {
	st      store.Store
	meterID string
}

func (c storeCounters) Reserve(ctx context.Context, name string, n uint32) (uint64, error) {
	return c.st.ReserveCounter(ctx, c.meterID, name, n)
}

// answers associates with meter mrid under creds and reads its clock.
func (r *keyRig) answers(ctx context.Context, mrid string, creds []byte) error {
	m, err := r.st.Meter(ctx, mrid)
	if err != nil {
		return err
	}
	s, err := r.d.Open(ctx, headend.Target{Meter: m, Credentials: creds, Counters: storeCounters{r.st, mrid}, Now: r.clk.Now})
	if err != nil {
		return err
	}
	defer s.Close(ctx)
	_, err = s.Clock(ctx)
	return err
}

func (r *keyRig) creds(t *testing.T, mrid string) []byte {
	t.Helper()
	b, err := headend.OpenCredentials(context.Background(), r.st, r.keys, mrid)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRotateKeys(t *testing.T) {
	ctx := context.Background()
	r := newKeyRig(t, 2, nil)
	mrid := r.mrids[0]
	old := r.creds(t, mrid)

	for gen := uint32(1); gen <= 2; gen++ {
		before := r.creds(t, mrid)
		res, err := r.h.RotateKeys(ctx, mrid)
		if err != nil {
			t.Fatalf("rotation %d: %v", gen, err)
		}
		if res != "keys changed" {
			t.Errorf("rotation %d: %q", gen, res)
		}
		now := r.creds(t, mrid)
		c, err := dlmsdriver.ParseCredentials(now)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := dlmsdriver.ParseCredentials(before)
		if c.KeyGeneration != gen || bytes.Equal(c.EK, b.EK) || bytes.Equal(c.AK, b.AK) || !bytes.Equal(c.KEK, b.KEK) {
			t.Fatalf("rotation %d: generation %d, keys changed %v %v, kek kept %v", gen, c.KeyGeneration,
				!bytes.Equal(c.EK, b.EK), !bytes.Equal(c.AK, b.AK), bytes.Equal(c.KEK, b.KEK))
		}
		if _, err := r.st.PendingMeterSecret(ctx, mrid); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("rotation %d left pending credentials: %v", gen, err)
		}
		// The old keys are refused, the new ones answer.
		if err := r.answers(ctx, mrid, before); err == nil {
			t.Fatalf("rotation %d: the meter still answers its old keys", gen)
		}
		if err := r.answers(ctx, mrid, now); err != nil {
			t.Fatalf("rotation %d: new keys: %v", gen, err)
		}
	}
	if err := r.answers(ctx, mrid, old); err == nil {
		t.Fatal("the meter answers its shipped keys")
	}
	// The sim holds the keys the head-end holds.
	c, _ := dlmsdriver.ParseCredentials(r.creds(t, mrid))
	ek, ak, err := r.fleet.Keys(0)
	if err != nil || !bytes.Equal(ek[:], c.EK) || !bytes.Equal(ak[:], c.AK) {
		t.Fatalf("the meter's keys differ from the head-end's (%v)", err)
	}
	// The other meter was left alone.
	if err := r.answers(ctx, r.mrids[1], r.creds(t, r.mrids[1])); err != nil {
		t.Fatal(err)
	}
	if recs := r.audit.find(audit.KeyChange, mrid); len(recs) != 2 || recs[0].Outcome != audit.OK {
		t.Fatalf("audit: %+v", recs)
	}
	m, _ := r.fleet.Meter(0)
	n := 0
	for _, e := range m.Events(r.clk.Now(), meter.LogStandard) {
		if e.Code == meter.EventKeyChanged {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d key change events in the meter's log, want 2", n)
	}
	// Importing the shipment again keeps the keys the meter was given in
	// the field: the shipped ones no longer open it.
	rotated := r.creds(t, mrid)
	rep, err := headend.Import(ctx, r.st, r.keys, dlmsDrivers, r.rows)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Unchanged != 2 || !bytes.Equal(r.creds(t, mrid), rotated) {
		t.Fatalf("re-import: %+v; keys kept %v", rep, bytes.Equal(r.creds(t, mrid), rotated))
	}
	if err := r.answers(ctx, mrid, r.creds(t, mrid)); err != nil {
		t.Fatalf("after re-import: %v", err)
	}
}

// TestRotateKeysCounters: the new key's invocation counter starts at zero
// in a counter of its own, the meter accepts it, and the head-end's next
// sessions continue it.
func TestRotateKeysCounters(t *testing.T) {
	ctx := context.Background()
	r := newKeyRig(t, 1, nil)
	mrid := r.mrids[0]
	// Use the shipped key's counter for a while first.
	for range 3 {
		if err := r.answers(ctx, mrid, r.creds(t, mrid)); err != nil {
			t.Fatal(err)
		}
	}
	oldNext, err := r.st.ReserveCounter(ctx, mrid, "dlms/1/ek", 1)
	if err != nil || oldNext == 0 {
		t.Fatalf("old key's counter at %d %v", oldNext, err)
	}
	if _, err := r.h.RotateKeys(ctx, mrid); err != nil {
		t.Fatal(err)
	}
	// The confirming association reserved the new key's first window,
	// from zero.
	next, err := r.st.ReserveCounter(ctx, mrid, "dlms/1/ek/1", 1)
	if err != nil || next != 64 {
		t.Fatalf("new key's counter at %d %v, want 64 (one window from zero)", next, err)
	}
	oldAfter, _ := r.st.ReserveCounter(ctx, mrid, "dlms/1/ek", 1)
	for range 3 {
		if err := r.answers(ctx, mrid, r.creds(t, mrid)); err != nil {
			t.Fatalf("a later session under the new key: %v", err)
		}
	}
	if v, _ := r.st.ReserveCounter(ctx, mrid, "dlms/1/ek", 1); v != oldAfter+1 {
		t.Fatalf("the old key's counter moved after the change: %d, want %d", v, oldAfter+1)
	}
	if v, _ := r.st.ReserveCounter(ctx, mrid, "dlms/1/ek/1", 1); v != 64*4+1 {
		t.Fatalf("new key's counter at %d, want %d after three more sessions", v, 64*4+1)
	}
}

func TestRotateKeysWrongWrap(t *testing.T) {
	ctx := context.Background()
	bad := strings.Repeat("ab", 16)
	r := newKeyRig(t, 2, func(rows []manifest.Row) { rows[0].Fields["kek"] = bad })
	mrid := r.mrids[0]
	old := r.creds(t, mrid)
	c, _ := dlmsdriver.ParseCredentials(old)
	if hex.EncodeToString(c.KEK) != bad {
		t.Fatalf("kek %x not imported", c.KEK)
	}
	_, err := r.h.RotateKeys(ctx, mrid)
	if !errors.Is(err, headend.ErrKeysKept) {
		t.Fatalf("rotation with a wrong wrap: %v, want ErrKeysKept", err)
	}
	if !strings.Contains(err.Error(), "key_transfer") {
		t.Errorf("the failure does not say what failed: %v", err)
	}
	if got := r.creds(t, mrid); !bytes.Equal(got, old) {
		t.Fatal("credentials changed")
	}
	if _, err := r.st.PendingMeterSecret(ctx, mrid); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("pending credentials left: %v", err)
	}
	if err := r.answers(ctx, mrid, old); err != nil {
		t.Fatalf("the meter no longer answers its old keys: %v", err)
	}
	m, _ := r.fleet.Meter(0)
	found := false
	for _, e := range m.Events(r.clk.Now(), meter.LogFraud) {
		found = found || e.Code == meter.EventDecryptionFailure
	}
	if !found {
		t.Error("no decryption failure event in the meter's fraud log")
	}
	if recs := r.audit.find(audit.KeyChange, mrid); len(recs) != 1 || recs[0].Outcome != audit.Failed {
		t.Fatalf("audit: %+v", recs)
	}
}

// TestRotateKeysResume: a rotation interrupted after staging, before or
// after the meter took the keys, is settled from what the meter answers.
func TestRotateKeysResume(t *testing.T) {
	ctx := context.Background()
	r := newKeyRig(t, 2, nil)
	stage := func(mrid string) []byte {
		t.Helper()
		next, err := r.d.RenewCredentials(r.creds(t, mrid))
		if err != nil {
			t.Fatal(err)
		}
		sealed, err := r.keys.Seal(next, []byte(mrid))
		if err != nil {
			t.Fatal(err)
		}
		if err := r.st.StageMeterSecret(ctx, mrid, sealed); err != nil {
			t.Fatal(err)
		}
		return next
	}

	// Crashed after the transfer: the new keys answer, and are promoted
	// without another transfer.
	a := r.mrids[0]
	next := stage(a)
	m, _ := r.st.Meter(ctx, a)
	s, err := r.d.Open(ctx, headend.Target{Meter: m, Credentials: r.creds(t, a), Counters: storeCounters{r.st, a}, Now: r.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.(headend.KeyChanger).ChangeKeys(ctx, next); err != nil {
		t.Fatal(err)
	}
	s.Close(ctx)
	res, err := r.h.RotateKeys(ctx, a)
	if err != nil || !strings.Contains(res, "interruption") {
		t.Fatalf("resume after the transfer: %q %v", res, err)
	}
	if got := r.creds(t, a); !bytes.Equal(got, next) {
		t.Fatal("the staged credentials were not promoted")
	}

	// Crashed before the transfer: the old keys answer, the stage is
	// dropped and the rotation done afresh.
	b := r.mrids[1]
	stale := stage(b)
	res, err = r.h.RotateKeys(ctx, b)
	if err != nil || !strings.Contains(res, "had not reached") {
		t.Fatalf("resume before the transfer: %q %v", res, err)
	}
	got := r.creds(t, b)
	if bytes.Equal(got, stale) {
		t.Fatal("the stale staged keys were promoted")
	}
	if err := r.answers(ctx, b, got); err != nil {
		t.Fatal(err)
	}
}

// TestRotateKeysUnsupported: a meter without a master key is refused
// before anything is staged.
func TestRotateKeysUnsupported(t *testing.T) {
	ctx := context.Background()
	r := newKeyRig(t, 1, func(rows []manifest.Row) { delete(rows[0].Fields, "kek") })
	_, err := r.h.RotateKeys(ctx, r.mrids[0])
	if !errors.Is(err, headend.ErrUnsupported) {
		t.Fatalf("rotation without a kek: %v", err)
	}
	if _, err := r.st.PendingMeterSecret(ctx, r.mrids[0]); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("pending credentials: %v", err)
	}
}

// TestKeyRotationCampaign runs RotateKeys as a campaign's step over a
// small fleet in which one meter's master key is not the one the
// head-end wraps under: that item fails with the reason, the meter keeps
// answering its old keys, every other meter is rotated.
func TestKeyRotationCampaign(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const n = 20
	r := newKeyRig(t, n, func(rows []manifest.Row) { rows[3].Fields["kek"] = strings.Repeat("cd", 16) })
	wrong := headend.MeterID(r.rows[3])
	eng := campaign.New(r.st, campaign.Options{Poll: 20 * time.Millisecond, Steps: map[string]campaign.Step{
		headend.KeyRotation: func(ctx context.Context, _ campaign.Campaign, id string) (string, error) {
			return r.h.RotateKeys(ctx, id)
		},
	}})
	shipped := map[string][]byte{}
	for _, id := range r.mrids {
		shipped[id] = r.creds(t, id)
	}
	c, err := eng.Create(ctx, campaign.Spec{Name: "keys", Kind: headend.KeyRotation, CreatedBy: "alice", Meters: r.mrids,
		Pilot: 5, MaxFailureRate: 0.5, MinFinished: 5, Concurrency: 8})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Approve(ctx, c.ID, "bob"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	deadline := time.Now().Add(time.Minute)
	for {
		if c, err = eng.Get(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
		if c.Status != store.CampaignRunning {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("campaign still running: %+v", c.Counts)
		}
		time.Sleep(20 * time.Millisecond) // polling the engine, not synchronising
	}
	cancel()
	<-done
	if c.Status != store.CampaignCompleted || c.Counts.Done != n-1 || c.Counts.Failed != 1 {
		t.Fatalf("campaign %s: %+v", c.Status, c.Counts)
	}
	rep, err := eng.Report(context.Background(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Failures) != 1 || !slices.Contains(rep.Failures[0].Meters, wrong) || !strings.Contains(rep.Failures[0].Error, "kept its old keys") {
		t.Fatalf("failures: %+v", rep.Failures)
	}
	bg := context.Background()
	for _, id := range r.mrids {
		cur := r.creds(t, id)
		if id == wrong {
			if !bytes.Equal(cur, shipped[id]) {
				t.Fatal("the failed meter's credentials changed")
			}
			if err := r.answers(bg, id, cur); err != nil {
				t.Fatalf("the failed meter no longer answers its old keys: %v", err)
			}
			continue
		}
		if err := r.answers(bg, id, shipped[id]); err == nil {
			t.Fatalf("meter %s still answers its shipped keys", id)
		}
		if err := r.answers(bg, id, cur); err != nil {
			t.Fatalf("meter %s: %v", id, err)
		}
	}
}

// TestRotateKeysUnreachable: a meter that answers to neither key set
// keeps its pending credentials for a later attempt to settle, and its
// current ones.
func TestRotateKeysUnreachable(t *testing.T) {
	ctx := context.Background()
	r := newKeyRig(t, 1, nil)
	id := r.mrids[0]
	old := r.creds(t, id)
	m, err := r.st.Meter(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	m.Address = "tcp://127.0.0.1:1"
	if err := r.st.PutRegistry(ctx, store.RegistryBatch{Meters: []cim.Meter{m}}); err != nil {
		t.Fatal(err)
	}
	next, err := r.d.RenewCredentials(old)
	if err != nil {
		t.Fatal(err)
	}
	sealed, _ := r.keys.Seal(next, []byte(id))
	if err := r.st.StageMeterSecret(ctx, id, sealed); err != nil {
		t.Fatal(err)
	}
	if _, err := r.h.RotateKeys(ctx, id); err == nil || !strings.Contains(err.Error(), "pending keys kept") {
		t.Fatalf("unreachable meter: %v", err)
	}
	if got, err := r.st.PendingMeterSecret(ctx, id); err != nil || !bytes.Equal(got, sealed) {
		t.Fatalf("pending credentials not kept: %v", err)
	}
	if !bytes.Equal(r.creds(t, id), old) {
		t.Fatal("current credentials changed")
	}
}
