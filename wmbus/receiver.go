package wmbus

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/amigo-ami/amigo/linkio"
)

// ErrSync: bytes on a receiver stream that begin no telegram; the
// receiver skips them.
var ErrSync = errors.New("wmbus: no telegram starts here")

// TelegramError is one telegram the receiver could not read. The stream
// goes on; the next call to Next reads the next telegram.
type TelegramError struct {
	Raw []byte // the telegram's bytes as received (nil for skipped bytes)
	Err error
}

func (e *TelegramError) Error() string { return e.Err.Error() }
func (e *TelegramError) Unwrap() error { return e.Err }

// Stats counts what a receiver read, by outcome.
type Stats struct {
	Telegrams    int // decoded
	CRC          int // a block's CRC did not match
	Malformed    int // not a telegram of the format it claimed
	Sync         int // runs of bytes that began no telegram
	UnknownMeter int // encrypted, and no key for the meter
	WrongKey     int // the key did not decrypt or authenticate it
	Unsupported  int // a feature this package does not read
}

// Errors returns how many telegrams or runs of bytes could not be read.
func (s Stats) Errors() int {
	return s.CRC + s.Malformed + s.Sync + s.UnknownMeter + s.WrongKey + s.Unsupported
}

// Receiver reads a stream of telegrams as a wM-Bus receiver hands them
// over (see AppendAir): T1, C1 and S1 mixed.
type Receiver struct {
	r    *bufio.Reader
	dl   *linkio.Deadlines
	keys KeyFunc
	// Idle, when set, ends Next with an error when the stream stays
	// silent this long; a receiver stream is otherwise waited on until
	// the context ends.
	Idle time.Duration

	mu    sync.Mutex
	stats Stats
}

// NewReceiver reads telegrams from r (a net.Conn gets the context's
// deadlines), decrypting with keys.
func NewReceiver(r io.Reader, keys KeyFunc) *Receiver {
	return &Receiver{r: bufio.NewReaderSize(r, 1024), dl: linkio.New(r), keys: keys}
}

// Stats returns the counts so far.
func (rc *Receiver) Stats() Stats {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.stats
}

func (rc *Receiver) count(err error) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	switch {
	case err == nil:
		rc.stats.Telegrams++
	case errors.Is(err, ErrCRC):
		rc.stats.CRC++
	case errors.Is(err, ErrSync):
		rc.stats.Sync++
	case errors.Is(err, ErrUnknownMeter):
		rc.stats.UnknownMeter++
	case errors.Is(err, ErrWrongKey):
		rc.stats.WrongKey++
	case errors.Is(err, ErrUnsupported):
		rc.stats.Unsupported++
	default:
		rc.stats.Malformed++
	}
}

// Next returns the next telegram. A telegram it cannot read comes back as
// a *TelegramError, counted; call Next again for the one after. Any other
// error (the stream ended, ctx ended) ends the stream.
func (rc *Receiver) Next(ctx context.Context) (Telegram, error) {
	stop := rc.dl.Watch(ctx)
	defer stop()
	skipped := 0
	for {
		var until time.Time
		if rc.Idle > 0 {
			until = time.Now().Add(rc.Idle)
		}
		if err := rc.dl.SetRead(ctx, until); err != nil {
			return Telegram{}, linkio.Error(ctx, "wmbus", "read", err)
		}
		head, err := rc.r.Peek(2)
		if err != nil {
			if skipped > 0 && errors.Is(err, io.EOF) {
				return Telegram{}, rc.fail(nil, fmt.Errorf("%w: %d bytes before the end", ErrSync, skipped))
			}
			return Telegram{}, linkio.Error(ctx, "wmbus", "read", err)
		}
		m, format, ok := airKind(head[0], head[1])
		if !ok {
			// Skipped bytes count once, when a telegram starts again.
			rc.r.Discard(1)
			skipped++
			continue
		}
		if skipped > 0 {
			return Telegram{}, rc.fail(nil, fmt.Errorf("%w: %d bytes skipped", ErrSync, skipped))
		}
		size, need := 0, 0
		for {
			size, need, err = airSize(m, format, head)
			if err != nil || need == 0 {
				break
			}
			if head, err = rc.r.Peek(need); err != nil {
				return Telegram{}, linkio.Error(ctx, "wmbus", "read", err)
			}
		}
		if err != nil {
			rc.r.Discard(1)
			skipped++
			continue
		}
		raw := make([]byte, size)
		if _, err := io.ReadFull(rc.r, raw); err != nil {
			return Telegram{}, linkio.Error(ctx, "wmbus", "read", err)
		}
		t, err := Decode(raw, rc.keys)
		if err != nil {
			return t, rc.fail(raw, err)
		}
		rc.count(nil)
		return t, nil
	}
}

func (rc *Receiver) fail(raw []byte, err error) error {
	rc.count(err)
	return &TelegramError{Raw: raw, Err: err}
}

// Decode decodes one telegram as AppendAir wrote it: its mode, frame and
// layers.
func Decode(raw []byte, keys KeyFunc) (Telegram, error) {
	m, format, f, err := DecodeAir(raw)
	if err != nil {
		return Telegram{Mode: m, Format: format}, fmt.Errorf("%v telegram: %w", m, err)
	}
	t, err := Parse(f, keys)
	t.Mode, t.Format = m, format
	return t, err
}
