package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/amigo-ami/amigo/dsmr"
	"github.com/amigo-ami/amigo/han"
)

func init() {
	register("p1", "read a DSMR/e-MUCS P1 port: telegrams as JSON lines, or to MQTT for Home Assistant", cmdP1)
}

// p1Line is one telegram as amigo p1 prints it.
type p1Line struct {
	Header    string          `json:"header"`
	Version   string          `json:"version"`
	Time      *time.Time      `json:"time,omitempty"`
	CRC       string          `json:"crc,omitempty"`
	Counter   *uint32         `json:"frame_counter,omitempty"`
	Objects   []p1Object      `json:"objects"`
	MBus      []p1MBus        `json:"mbus,omitempty"`
	Failures  []p1Failure     `json:"power_failures,omitempty"`
	Unparsed  []dsmr.Unparsed `json:"unparsed,omitempty"`
	Equipment string          `json:"equipment_id,omitempty"`
}

type p1Object struct {
	OBIS   string    `json:"obis"`
	Name   string    `json:"name,omitempty"`
	Values []p1Value `json:"values"`
}

type p1Value struct {
	Value string `json:"value"`
	Unit  string `json:"unit,omitempty"`
}

type p1MBus struct {
	Channel uint8     `json:"channel"`
	Type    int       `json:"type"`
	ID      string    `json:"id,omitempty"`
	Time    time.Time `json:"time,omitzero"`
	Value   string    `json:"value,omitempty"`
	Unit    string    `json:"unit,omitempty"`
}

type p1Failure struct {
	End     time.Time `json:"end"`
	Seconds int64     `json:"seconds"`
}

func p1JSON(t *dsmr.Telegram, r *dsmr.Reader, encrypted bool) p1Line {
	out := p1Line{Header: t.Header, Version: t.Version.String(), Unparsed: t.Unparsed, Objects: []p1Object{}}
	if at, ok := t.Time(); ok {
		out.Time = &at
	}
	if t.HasCRC {
		out.CRC = fmt.Sprintf("%04X", t.CRC)
	}
	if encrypted {
		c := r.Frame.Counter
		out.Counter = &c
	}
	out.Equipment, _ = t.Text(dsmr.MustCode("0-0:96.1.1"))
	for _, l := range t.Lines {
		o := p1Object{OBIS: l.Code.String()}
		if obj, ok := dsmr.Lookup(l.Code); ok {
			o.Name = obj.Name
		}
		for _, v := range l.Values {
			o.Values = append(o.Values, p1Value{Value: v.Text, Unit: v.Unit})
		}
		out.Objects = append(out.Objects, o)
	}
	for _, m := range t.MBus() {
		mb := p1MBus{Channel: m.Channel, Type: m.Type, ID: m.ID}
		if m.HasRead {
			mb.Time, mb.Value, mb.Unit = m.At, m.Value.String(), m.Unit
		}
		out.MBus = append(out.MBus, mb)
	}
	for _, f := range t.PowerFailures() {
		out.Failures = append(out.Failures, p1Failure{End: f.End, Seconds: int64(f.Duration / time.Second)})
	}
	return out
}

func cmdP1(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("p1", "[flags] SOURCE",
		"Reads P1 telegrams (DSMR 2.2 to 5.0.2, Belgian e-MUCS, Luxembourg/Austrian encrypted P1) from\n"+
			"SOURCE: tcp://host:port (a ser2net-style bridge, or a simulated meter's P1 port), a serial\n"+
			"device (115200 8N1; --old for DSMR 2.2/3.0 at 9600 7E1) or a file of recorded telegrams.\n"+
			"Prints each telegram as one JSON line; with --mqtt publishes it to Home Assistant by MQTT\n"+
			"discovery instead. Telegrams with a bad CRC, cut short, or garbage between them are counted,\n"+
			"logged and skipped; the counts are printed to stderr at the end.", stderr)
	keyHex := fs.String("key", "", "AES-128 `key` (32 hex digits) of an encrypted P1 port")
	akHex := fs.String("ak", "", "authentication `key` of encrypted frames (default: the published Smarty AK)")
	old := fs.Bool("old", false, "serial port at 9600 7E1, as DSMR 2.2 and 3.0 meters send")
	baud := fs.Int("baud", 0, "serial port `speed` (default 115200, or 9600 with --old)")
	idle := fs.Duration("idle", 60*time.Second, "give up on a source silent this `long`")
	count := fs.Int("count", 0, "stop after `n` telegrams (0: read until the source ends or an interrupt)")
	badCRC := fs.Bool("accept-bad-crc", false, "use telegrams whose CRC does not match (still counted)")
	broker := fs.String("mqtt", "", "publish to the MQTT broker at `url` (tcp://127.0.0.1:1883) with Home Assistant discovery")
	user := fs.String("mqtt-user", "", "MQTT `user name`")
	discovery := fs.String("discovery-prefix", "homeassistant", "Home Assistant discovery `prefix`")
	topics := fs.String("topic-prefix", "amigo", "state topic `prefix`")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{errors.New("want one SOURCE: tcp://host:port, a serial device or a file")}
	}
	var key, ak []byte
	if *keyHex != "" {
		k, err := hex.DecodeString(*keyHex)
		if err != nil || len(k) != 16 {
			return usageError{errors.New("--key: want 32 hex digits (AES-128)")}
		}
		key = k
	}
	if *akHex != "" {
		k, err := hex.DecodeString(*akHex)
		if err != nil || len(k) != 16 {
			return usageError{errors.New("--ak: want 32 hex digits")}
		}
		ak = k
	}
	if *count < 0 {
		return usageError{errors.New("--count: want 0 or more")}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var pub *han.Publisher
	if *broker != "" {
		p, err := han.New(ctx, han.Options{Broker: *broker, ClientID: "amigo-p1-" + fmt.Sprint(os.Getpid()), Username: *user,
			Password: os.Getenv("AMIGO_MQTT_PASSWORD"), DiscoveryPrefix: *discovery, TopicPrefix: *topics, Timeout: 10 * time.Second})
		if err != nil {
			return fmt.Errorf("MQTT %s: %w", *broker, err)
		}
		defer p.Close()
		pub = p
	}
	src, err := dsmr.Open(ctx, fs.Arg(0), dsmr.SourceOptions{Old: *old, Baud: *baud, Idle: *idle})
	if err != nil {
		return err
	}
	defer src.Close()
	r := dsmr.NewReader(src, dsmr.ReaderOptions{Key: key, AK: ak})
	enc := json.NewEncoder(stdout)
	announced := map[string]int{}
	n := 0
	defer func() {
		b, _ := json.Marshal(r.Stats())
		fmt.Fprintf(stderr, "amigo p1: %s\n", b)
	}()
	for *count == 0 || n < *count {
		t, err := r.Next()
		var se *dsmr.StreamError
		switch {
		case errors.As(err, &se):
			fmt.Fprintf(stderr, "amigo p1: %v (%q)\n", se, se.Text)
			if !(*badCRC && t != nil && errors.Is(err, dsmr.ErrCRC)) {
				continue
			}
		case errors.Is(err, io.EOF):
			return nil
		case err != nil:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("%s: %w", fs.Arg(0), err)
		}
		n++
		if pub == nil {
			if err := enc.Encode(p1JSON(t, r, key != nil)); err != nil {
				return err
			}
			continue
		}
		d, es, ss := han.P1(t, time.Now())
		if announced[d.ID] != len(es) {
			// A new meter, or one whose telegram gained or lost an
			// object (a gas meter attached): announce again.
			if err := pub.Announce(ctx, d, es); err != nil {
				return err
			}
			announced[d.ID] = len(es)
		}
		if err := pub.Publish(ctx, d, ss); err != nil {
			fmt.Fprintf(stderr, "amigo p1: publishing meter %s: %v\n", d.ID, err)
		}
	}
	return nil
}
