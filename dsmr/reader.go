package dsmr

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Stats count what a Reader met, by kind.
type Stats struct {
	Telegrams int `json:"telegrams"` // telegrams that parsed with a good (or no) CRC
	BadCRC    int `json:"bad_crc"`
	Truncated int `json:"truncated"` // telegrams cut before '!' (a new '/' came, or the stream ended)
	TooLong   int `json:"too_long"`
	Garbage   int `json:"garbage"` // lines (or runs of bytes) outside any telegram
	Decrypt   int `json:"decrypt"` // encrypted frames that did not open
	Malformed int `json:"malformed"`
	Unparsed  int `json:"unparsed_lines"` // lines kept in telegrams' Unparsed
}

// StreamError is one piece of a P1 stream that did not make a telegram.
// It is not fatal: call Next again.
type StreamError struct {
	Offset int64  // of the piece in the stream
	Text   string // the piece, clipped
	Err    error  // wraps ErrCRC, ErrTruncated, ErrGarbage, ErrTooLong, ErrDecrypt…
}

func (e *StreamError) Error() string {
	return fmt.Sprintf("dsmr: at byte %d: %v", e.Offset, e.Err)
}

func (e *StreamError) Unwrap() error { return e.Err }

// ReaderOptions configure a Reader.
type ReaderOptions struct {
	// Key is the AES-128 key (GUEK) of an encrypted P1 port; nil reads
	// plain telegrams.
	Key []byte
	// AK is the authentication key of encrypted frames (nil: DefaultAK).
	AK []byte
}

// Reader splits a P1 byte stream into telegrams.
type Reader struct {
	br    *bufio.Reader
	opt   ReaderOptions
	stats Stats
	off   int64
	cur   []byte // the telegram being read
	start int64
	// Frame is the header of the last encrypted frame read.
	Frame Frame
}

// NewReader reads telegrams from r.
func NewReader(r io.Reader, opt ReaderOptions) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 4096), opt: opt}
}

// Stats returns the counts so far.
func (r *Reader) Stats() Stats { return r.stats }

// Next returns the next telegram. A piece of the stream that is not a good
// telegram returns a *StreamError, counted in Stats: a telegram with a bad
// CRC comes with it, for a caller that wants to look. Any other error is
// the stream's own (io.EOF at its end) and ends it.
func (r *Reader) Next() (*Telegram, error) {
	if r.opt.Key != nil {
		return r.nextFrame()
	}
	for {
		line, err := r.line()
		if err != nil {
			if len(r.cur) > 0 && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
				r.stats.Truncated++
				e := r.fail(ErrTruncated, r.cur)
				r.cur = nil
				return nil, e
			}
			return nil, err
		}
		at := r.off - int64(len(line))
		if i := headerAt(line); i > 0 && len(r.cur) > 0 {
			// A header in the middle of a line: the telegram before it
			// was cut mid-line. No P1 value holds a '/'.
			prev := r.cur
			r.cur, r.start = append([]byte(nil), line[i:]...), at+int64(i)
			r.stats.Truncated++
			return nil, &StreamError{Offset: at - int64(len(prev)), Text: clip(string(prev)), Err: ErrTruncated}
		}
		if i := headerAt(line); i > 0 && len(r.cur) == 0 {
			junk := bytes.Trim(line[:i], " \r\n\x00")
			r.cur, r.start = append([]byte(nil), line[i:]...), at+int64(i)
			if len(junk) > 0 {
				r.stats.Garbage++
				return nil, &StreamError{Offset: at, Text: clip(string(junk)), Err: ErrGarbage}
			}
			continue
		}
		switch {
		case len(line) > 0 && line[0] == '/':
			if len(r.cur) > 0 {
				// A new header before the last one's '!': the last one
				// was cut (a meter reset, a bridge dropping bytes).
				prev := r.cur
				r.cur, r.start = append([]byte(nil), line...), at
				r.stats.Truncated++
				return nil, &StreamError{Offset: at - int64(len(prev)), Text: clip(string(prev)), Err: ErrTruncated}
			}
			r.cur, r.start = append(r.cur[:0], line...), at
		case len(r.cur) == 0:
			if len(bytes.Trim(line, " \t\r\n\x00")) == 0 {
				continue
			}
			r.stats.Garbage++
			return nil, &StreamError{Offset: at, Text: clip(string(line)), Err: ErrGarbage}
		default:
			r.cur = append(r.cur, line...)
			if len(r.cur) > MaxTelegram {
				r.stats.TooLong++
				e := r.fail(ErrTooLong, r.cur)
				r.cur = nil
				return nil, e
			}
			if line[0] != '!' {
				continue
			}
			b := r.cur
			r.cur = nil
			return r.parse(b)
		}
	}
}

// headerAt returns where a P1 header starts in line after its first
// byte, or -1: '/', a three-letter manufacturer flag and a baud character.
func headerAt(line []byte) int {
	for i := 1; i+5 <= len(line); i++ {
		if line[i] != '/' {
			continue
		}
		h := line[i+1 : i+5]
		if isLetter(h[0]) && isLetter(h[1]) && isLetter(h[2]) && (isLetter(h[3]) || '0' <= h[3] && h[3] <= '9') {
			return i
		}
	}
	return -1
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// line returns the next line with its '\n'; a line longer than the
// buffer is returned in pieces, which a telegram's size bound catches.
func (r *Reader) line() ([]byte, error) {
	b, err := r.br.ReadSlice('\n')
	r.off += int64(len(b))
	if errors.Is(err, bufio.ErrBufferFull) {
		return b, nil
	}
	if err != nil && len(b) > 0 && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if err != nil && len(b) > 0 {
		// The last line without its '\n': a telegram's "!XXXX" may end
		// the stream; the next call returns io.EOF.
		return b, nil
	}
	return b, err
}

func (r *Reader) fail(kind error, b []byte) *StreamError {
	return &StreamError{Offset: r.start, Text: clip(string(b)), Err: kind}
}

func (r *Reader) parse(b []byte) (*Telegram, error) {
	t, err := Parse(b)
	switch {
	case err == nil:
		r.stats.Telegrams++
		r.stats.Unparsed += len(t.Unparsed)
		return t, nil
	case errors.Is(err, ErrCRC):
		r.stats.BadCRC++
		return t, &StreamError{Offset: r.start, Text: clip(string(b)), Err: err}
	case errors.Is(err, ErrTruncated):
		r.stats.Truncated++
	default:
		r.stats.Malformed++
	}
	return nil, &StreamError{Offset: r.start, Text: clip(string(b)), Err: err}
}

// nextFrame reads encrypted frames: bytes before a frame tag are garbage,
// counted once per run.
func (r *Reader) nextFrame() (*Telegram, error) {
	head, err := r.br.Peek(13)
	if len(head) == 0 {
		return nil, err
	}
	if head[0] != frameTag {
		n := bytes.IndexByte(head, frameTag)
		if n < 0 {
			n = len(head)
		}
		skipped := make([]byte, n)
		_, _ = io.ReadFull(r.br, skipped)
		at := r.off
		r.off += int64(n)
		// One run of garbage is one error, however it arrives.
		for {
			more, _ := r.br.Peek(1)
			if len(more) == 0 || more[0] == frameTag {
				break
			}
			r.br.Discard(1)
			r.off++
			if len(skipped) < 40 {
				skipped = append(skipped, more[0])
			}
		}
		r.stats.Garbage++
		return nil, &StreamError{Offset: at, Text: fmt.Sprintf("% X", skipped), Err: ErrGarbage}
	}
	n, ferr := FrameLen(head)
	if ferr != nil || (n == 0 && err == nil) {
		// Not a frame after all: a stray tag byte.
		r.br.Discard(1)
		r.off++
		r.stats.Garbage++
		return nil, &StreamError{Offset: r.off - 1, Text: fmt.Sprintf("% X", head), Err: ErrGarbage}
	}
	if n == 0 {
		r.br.Discard(len(head))
		r.stats.Truncated++
		return nil, &StreamError{Offset: r.off, Text: fmt.Sprintf("% X", head), Err: ErrTruncated}
	}
	frame := make([]byte, n)
	k, err := io.ReadFull(r.br, frame)
	at := r.off
	r.off += int64(k)
	if err != nil {
		if k > 0 {
			r.stats.Truncated++
			return nil, &StreamError{Offset: at, Text: fmt.Sprintf("%d of %d bytes", k, n), Err: ErrTruncated}
		}
		return nil, err
	}
	f, plain, err := Decrypt(frame, r.opt.Key, r.opt.AK)
	if err != nil {
		r.stats.Decrypt++
		return nil, &StreamError{Offset: at, Text: fmt.Sprintf("frame %d", f.Counter), Err: err}
	}
	r.Frame, r.start = f, at
	return r.parse(plain)
}
