package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/mbus"
	"github.com/amigo-ami/amigo/sim"
	"github.com/amigo-ami/amigo/wmbus"
)

func init() {
	register("wmbus", "decode wireless M-Bus telegrams, one or a receiver's stream", cmdWMBus)
}

func cmdWMBus(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stdout, "Usage: amigo wmbus decode HEX [--key KEY]\n       amigo wmbus listen ADDR --keys FILE [--count N]")
		if len(args) == 0 {
			return usageError{errors.New("want decode or listen")}
		}
		return nil
	}
	switch args[0] {
	case "decode":
		return cmdWMBusDecode(args[1:], stdout, stderr)
	case "listen":
		return cmdWMBusListen(args[1:], stdout, stderr)
	}
	return usageError{fmt.Errorf("unknown subcommand %q: want decode or listen", args[0])}
}

func cmdWMBusDecode(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("wmbus decode", "HEX [--key KEY]",
		"Decodes one telegram given in hex: as a receiver stream carries it (T1 3-of-6 chips, C1 with its\n"+
			"second sync word, S1 Manchester), a format A frame with its CRCs, or a frame without CRCs as\n"+
			"many receivers print it. Prints it as JSON: mode, meter, security and the data records.", stderr)
	key := fs.String("key", "", "the meter's AES-128 `key` (32 hex digits), for security modes 5 and 7")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{errors.New("want one HEX telegram")}
	}
	raw, err := hex.DecodeString(strings.Join(strings.Fields(fs.Arg(0)), ""))
	if err != nil {
		return usageError{fmt.Errorf("telegram: %v", err)}
	}
	var keys wmbus.KeyFunc
	if *key != "" {
		k, err := hex.DecodeString(*key)
		if err != nil || len(k) != 16 {
			return usageError{errors.New("--key: want 32 hex digits")}
		}
		keys = func(wmbus.Address) ([]byte, bool) { return k, true }
	}
	t, err := decodeAny(raw, keys)
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(toJSON(t))
}

// decodeAny tries the renditions of a telegram a user may paste.
func decodeAny(raw []byte, keys wmbus.KeyFunc) (wmbus.Telegram, error) {
	t, err := wmbus.Decode(raw, keys)
	if err == nil || !errors.Is(err, wmbus.ErrFrame) && !errors.Is(err, wmbus.ErrCRC) {
		return t, err
	}
	first := err
	if f, err := wmbus.DecodeA(raw); err == nil {
		return wmbus.Parse(f, keys)
	}
	if f, err := wmbus.DecodeBare(raw); err == nil {
		return wmbus.Parse(f, keys)
	}
	return t, first
}

type recordJSON struct {
	Quantity string      `json:"quantity"`
	Function string      `json:"function,omitempty"`
	Storage  uint64      `json:"storage,omitempty"`
	Tariff   uint32      `json:"tariff,omitempty"`
	Subunit  uint32      `json:"subunit,omitempty"`
	Unit     string      `json:"unit,omitempty"`
	Value    json.Number `json:"value,omitempty"`
	Time     string      `json:"time,omitempty"`
	Invalid  bool        `json:"invalid,omitempty"`
	Text     string      `json:"text,omitempty"`
	Bytes    string      `json:"bytes,omitempty"`
}

type telegramJSON struct {
	Mode     string       `json:"mode,omitempty"`
	Format   string       `json:"format,omitempty"`
	Meter    string       `json:"meter"`
	Version  byte         `json:"version"`
	Type     byte         `json:"device_type"`
	Security int          `json:"security"`
	Access   byte         `json:"access"`
	Status   byte         `json:"status"`
	Counter  *uint32      `json:"counter,omitempty"`
	Records  []recordJSON `json:"records"`
	Data     string       `json:"data,omitempty"`
	Error    string       `json:"records_error,omitempty"`
}

func toJSON(t wmbus.Telegram) telegramJSON {
	out := telegramJSON{Meter: wmbus.MeterName(t.Meter), Version: t.Meter.Version, Type: t.Meter.Type,
		Security: t.Security, Access: t.ACC, Status: t.Status, Records: []recordJSON{}}
	if t.Mode != 0 {
		out.Mode, out.Format = t.Mode.String(), t.Format.String()
	}
	if t.AFL != nil {
		out.Counter = &t.AFL.MCR
	}
	recs, err := mbus.DecodeRecords(t.Data)
	if err != nil {
		out.Error, out.Data = err.Error(), hex.EncodeToString(t.Data)
	}
	for _, r := range recs {
		j := recordJSON{Quantity: r.Quantity.String(), Storage: r.Storage, Tariff: r.Tariff, Subunit: r.Subunit, Unit: r.Unit}
		if r.Function != mbus.Instantaneous {
			j.Function = r.Function.String()
		}
		switch r.Value.Kind {
		case mbus.KindTime:
			j.Unit, j.Invalid = "", r.Value.Invalid
			if !r.Value.Time.IsZero() {
				j.Time = r.Value.Time.Format("2006-01-02T15:04:05")
			}
		case mbus.KindText:
			j.Text = r.Value.Text
		case mbus.KindBytes:
			j.Bytes = hex.EncodeToString(r.Value.Bytes)
		default:
			if v, ok := r.Decimal(); ok {
				j.Value = json.Number(v)
			}
		}
		out.Records = append(out.Records, j)
	}
	return out
}

func cmdWMBusListen(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("wmbus listen", "ADDR --keys FILE [--count N]",
		"Connects to a wM-Bus receiver's stream at ADDR (host:port, e.g. a receiver behind a serial server,\n"+
			"or amigo sim --wmbus) and prints every telegram it decodes as a JSON line. A telegram it cannot\n"+
			"read (wrong CRC, unknown meter, wrong key) is reported on stderr and counted; the stream goes on.\n"+
			"The counts are printed when the stream ends. FILE is a keyring (lines METER KEY, e.g.\n"+
			"AMG11627777 00112233445566778899aabbccddeeff) or a manifest with wmbus_address and wmbus_key.", stderr)
	keysFile := fs.String("keys", "", "keyring or manifest `file`")
	count := fs.Int("count", 0, "stop after `n` telegrams decoded (0: until the stream ends or an interrupt)")
	dialTimeout := fs.Duration("dial-timeout", 10*time.Second, "give up connecting after this `long`")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{errors.New("want one ADDR")}
	}
	if *keysFile == "" {
		return usageError{errors.New("--keys is required")}
	}
	keys, err := loadWMBusKeys(*keysFile)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dctx, cancel := context.WithTimeout(ctx, *dialTimeout)
	conn, err := (&net.Dialer{}).DialContext(dctx, "tcp", fs.Arg(0))
	cancel()
	if err != nil {
		return fmt.Errorf("receiver %s: %w", fs.Arg(0), err)
	}
	defer conn.Close()
	rc := wmbus.NewReceiver(conn, keys.Key)
	enc := json.NewEncoder(stdout)
	var end error
	for *count == 0 || rc.Stats().Telegrams < *count {
		t, err := rc.Next(ctx)
		var te *wmbus.TelegramError
		if errors.As(err, &te) {
			fmt.Fprintf(stderr, "telegram: %v\n", err)
			continue
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && ctx.Err() == nil {
				end = err
			}
			break
		}
		if err := enc.Encode(toJSON(t)); err != nil {
			return err
		}
	}
	st := rc.Stats()
	fmt.Fprintf(stderr, "telegrams %d, errors %d: crc %d, malformed %d, sync %d, unknown meter %d, wrong key %d, unsupported %d\n",
		st.Telegrams, st.Errors(), st.CRC, st.Malformed, st.Sync, st.UnknownMeter, st.WrongKey, st.Unsupported)
	return end
}

// loadWMBusKeys reads a keyring file, or a manifest's wM-Bus columns.
func loadWMBusKeys(name string) (*wmbus.Keyring, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("--keys: %w", err)
	}
	head, _, _ := bytes.Cut(b, []byte("\n"))
	if !bytes.Contains(head, []byte("wmbus_key")) {
		k, err := wmbus.ReadKeyring(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("--keys %s: %w", name, err)
		}
		return k, nil
	}
	rows, _, err := manifest.Read(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("--keys %s: %w", name, err)
	}
	k := wmbus.NewKeyring()
	for _, r := range rows {
		if r.Fields["wmbus_key"] == "" {
			continue
		}
		if err := k.AddText(r.Fields["wmbus_address"], r.Fields["wmbus_key"]); err != nil {
			return nil, fmt.Errorf("--keys %s line %d: %w", name, r.Line, err)
		}
	}
	if k.Len() == 0 {
		return nil, fmt.Errorf("--keys %s: no wM-Bus keys in the manifest", name)
	}
	return k, nil
}

// serveWMBus starts the fleet's radio meters sending to receivers at
// addr, when set; the function returned waits for them to stop.
func serveWMBus(ctx context.Context, fleet *sim.Fleet, addr string, interval time.Duration, log *slog.Logger) (func(), error) {
	if addr == "" {
		return func() {}, nil
	}
	if interval <= 0 {
		return nil, usageError{fmt.Errorf("--wmbus-interval %v: want a positive duration", interval)}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--wmbus: %w", err)
	}
	log.Info("wM-Bus receiver stream", "address", ln.Addr().String(), "interval", interval.String())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := fleet.ServeWMBus(ctx, ln, sim.WMBusConfig{Interval: interval}); err != nil {
			log.Error("wM-Bus", "err", err)
		}
	}()
	return func() { <-done }, nil
}
