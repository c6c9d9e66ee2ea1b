package mdm_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/mdm"
	"github.com/amigo-ami/amigo/store"
	_ "github.com/amigo-ami/amigo/store/engines"
)

// childEnv carries a childConfig to the ingest run as a child process.
const childEnv = "AMIGO_MDM_INGEST_CHILD"

type childConfig struct {
	NATS, Namespace string
	Engine, Where   string
	Batch           int
	AckWait         time.Duration
}

// TestMain runs the test binary as the ingest process TestKillNine starts
// and kills, when it is told so by the environment.
func TestMain(m *testing.M) {
	if raw := os.Getenv(childEnv); raw != "" {
		if err := ingestChild(raw); err != nil {
			fmt.Fprintln(os.Stderr, "ingest child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// ingestChild runs the ingest until it is killed.
func ingestChild(raw string) error {
	var c childConfig
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		return err
	}
	// A child whose parent died without killing it goes away by itself.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	st, err := store.Open(ctx, c.Where)
	if err != nil {
		return err
	}
	defer st.Close()
	b, err := bus.Open(ctx, bus.Options{URL: c.NATS, Namespace: c.Namespace})
	if err != nil {
		return err
	}
	defer b.Close(context.Background())
	in, err := mdm.New(mdm.Options{Store: st, Bus: b, Batch: c.Batch, AckWait: c.AckWait})
	if err != nil {
		return err
	}
	return in.Run(ctx)
}

// TestKillNine runs the ingest in a child process and kills it with
// SIGKILL at random points while a producer publishes. After every kill,
// each message the bus counts as acknowledged has its readings in the
// store; at the end the store holds every published reading once, and no
// interval nobody published.
func TestKillNine(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills processes")
	}
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) { testKillNine(t, e.name, e.open) })
	}
}

func testKillNine(t *testing.T, engine string, open func(testing.TB) (store.Store, string)) {
	ctx := context.Background()
	st, where := open(t)
	const meters = 20
	var ids []string
	for i := range meters {
		ids = append(ids, fmt.Sprintf("k%02d", i))
	}
	register(t, st, ids...)
	url := natsServer(t)
	var rnd [4]byte
	rand.Read(rnd[:])
	ns := "kill" + hex.EncodeToString(rnd[:])
	b, err := bus.Open(ctx, bus.Options{URL: url, Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(ctx)
	loc := amsterdam(t)

	// What the producer will publish: three days of every meter (one of
	// 92, one of 96 and one of 100 quarter hours) with a few intervals
	// never read, in blocks of random length sent in random order.
	days := []cim.Date{springDay(), springDay().AddDays(1), autumnDay()}
	type key struct {
		meter string
		date  cim.Date
	}
	want := map[key]map[int]int64{}
	var blocks []cim.IntervalBlock
	for _, m := range ids {
		for _, d := range days {
			k := key{m, d}
			want[k] = map[int]int64{}
			all := block(m, d.Start(loc).Add(15*time.Minute), d.Intervals(loc, 15*time.Minute), wh)
			for i := 0; i < len(all.Readings); {
				n := 1 + mrand.IntN(24)
				p := all
				p.Readings = nil
				for _, rd := range all.Readings[i:min(i+n, len(all.Readings))] {
					if mrand.IntN(30) == 0 {
						continue // never read
					}
					p.Readings = append(p.Readings, rd)
				}
				i += n
				if len(p.Readings) > 0 {
					blocks = append(blocks, p)
				}
			}
		}
	}
	for _, bl := range blocks {
		for _, rd := range bl.Readings {
			d := cim.DateOf(rd.End.Add(-15*time.Minute), loc)
			want[key{bl.MeterID, d}][int(rd.End.Add(-15*time.Minute).Sub(d.Start(loc))/(15*time.Minute))] = rd.Value
		}
	}
	mrand.Shuffle(len(blocks), func(i, j int) { blocks[i], blocks[j] = blocks[j], blocks[i] })
	// Now the messages: each block once, some published twice (a retry
	// the bus stores once), some followed by a re-read of part of it under
	// a new id. msgsOf counts the messages the stream will hold per day:
	// no day may end up with more versions than that.
	type outMsg struct {
		meter, id string
		data      []byte
	}
	var out []outMsg
	msgsOf := map[key]int{}
	for i, bl := range blocks {
		k := key{bl.MeterID, cim.DateOf(bl.Readings[0].End.Add(-15*time.Minute), loc)}
		data, _ := json.Marshal(bl)
		m := outMsg{bl.MeterID, blockID(bl), data}
		out = append(out, m)
		msgsOf[k]++
		switch mrand.IntN(10) {
		case 0:
			out = append(out, m)
		case 1:
			again := bl
			again.Readings = bl.Readings[:1+mrand.IntN(len(bl.Readings))]
			data, _ := json.Marshal(again)
			out = append(out, outMsg{m.meter, fmt.Sprintf("reread/%d", i), data})
			msgsOf[k]++
		}
	}

	var produced sync.WaitGroup
	done := make(chan struct{})
	produced.Go(func() {
		defer close(done)
		tick := time.NewTicker(6 * time.Millisecond)
		defer tick.Stop()
		for _, m := range out {
			<-tick.C
			publishRetry(t, b, b.SealRaw(bus.TopicIntervals, m.meter, m.id, m.data))
		}
	})
	defer produced.Wait()

	cons := func() (floor, pending, ackPending uint64) {
		t.Helper()
		s, err := b.ConsumerStatus(ctx, bus.Readings, "mdm-ingest")
		if errors.Is(err, bus.ErrNoConsumer) {
			return 0, 1, 0 // not created yet
		}
		if err != nil {
			t.Fatal(err)
		}
		return s.AckFloor, s.Pending, s.AckPending
	}
	// checked is the highest stream sequence whose readings were checked.
	var checked uint64
	checkAcked := func(floor uint64) {
		t.Helper()
		if floor <= checked {
			return
		}
		err := b.Stored(ctx, bus.Readings, checked+1, func(seq uint64, m bus.Message, err error) bool {
			if seq > floor {
				return false
			}
			if err != nil {
				t.Fatal(err)
			}
			checkReadings(t, st, loc, cim.IntervalBlock(m.(bus.Intervals)))
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		checked = max(checked, floor)
	}

	cfg := childConfig{NATS: url, Namespace: ns, Engine: engine, Where: where, AckWait: time.Second}
	kills, during := 0, 0
	for {
		finished := false
		select {
		case <-done:
			finished = true
		default:
		}
		cfg.Batch = 1 + mrand.IntN(48)
		child := startChild(t, cfg)
		floor0, _, _ := cons()
		if finished && kills >= 8 {
			// The last run: let it catch up with the whole stream.
			until(t, "the last ingest to drain the stream", func() bool {
				_, pending, ackPending := cons()
				return pending == 0 && ackPending == 0
			})
			child.kill(t)
			break
		}
		// Kill at a random point: after the child has acknowledged a
		// random number of further messages, or when it has nothing
		// left to do.
		step := uint64(1 + mrand.IntN(30))
		until(t, "the child to make progress", func() bool {
			floor, pending, ackPending := cons()
			if child.exited() {
				t.Fatalf("the ingest child exited by itself:\n%s", child.out.String())
			}
			select {
			case <-done:
				return floor >= floor0+step || pending == 0 && ackPending == 0
			default:
				return floor >= floor0+step
			}
		})
		child.kill(t)
		kills++
		if !finished {
			during++
		}
		floor, _, _ := cons()
		checkAcked(floor)
	}
	floor, _, _ := cons()
	checkAcked(floor)

	// Every published reading once, every other interval missing, no
	// reading taken for a conflict, and no version beyond one per message.
	for k, slots := range want {
		d, err := st.Day(ctx, k.meter, "A+15m", k.date)
		if err != nil {
			t.Fatalf("meter %s %s: %v", k.meter, k.date, err)
		}
		for i := range d.Values {
			v, ok := slots[i]
			switch {
			case ok && (d.Values[i] != v || d.Quality[i] != 0):
				t.Fatalf("meter %s %s interval %d: %d (%s), published %d", k.meter, k.date, i, d.Values[i], d.Quality[i], v)
			case !ok && (d.Values[i] != 0 || d.Quality[i] != cim.QualityMissing):
				t.Fatalf("meter %s %s interval %d: %d (%s), never published", k.meter, k.date, i, d.Values[i], d.Quality[i])
			}
		}
		vs, err := st.DayVersions(ctx, k.meter, "A+15m", k.date)
		if err != nil || len(vs) > msgsOf[k] {
			t.Fatalf("meter %s %s: %d versions from %d messages (%v)", k.meter, k.date, len(vs), msgsOf[k], err)
		}
	}
	t.Logf("%s: %d blocks, %d kills (%d while publishing), %d stream messages checked after kills", engine, len(blocks), kills, during, checked)
}

// publishRetry publishes until the bus acknowledges, as the head-end does.
func publishRetry(t testing.TB, b *bus.Bus, e bus.Envelope) {
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := b.PublishSealed(ctx, e)
		cancel()
		if err == nil {
			return
		}
		if attempt == 5 {
			t.Errorf("publish %s: %v", e.ID(), err)
			return
		}
	}
}

// natsServer starts a NATS server with JetStream on a loopback port, for
// processes to share.
func natsServer(t *testing.T) string {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(),
		NoLog: true, NoSigs: true, DisableJetStreamBanner: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS server did not start")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns.ClientURL()
}

type child struct {
	cmd  *exec.Cmd
	out  *bytes.Buffer
	done chan struct{}
}

func startChild(t *testing.T, c childConfig) *child {
	t.Helper()
	raw, _ := json.Marshal(c)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"="+string(raw))
	ch := &child{cmd: cmd, out: &bytes.Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = ch.out, ch.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(ch.done) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-ch.done })
	return ch
}

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (c *child) kill(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Kill(); err != nil && !c.exited() {
		t.Fatal(err)
	}
	<-c.done
}
