package hdlc

import (
	"bytes"
	"errors"
	"io"
)

// Reader extracts HDLC frames from a byte stream. It skips bytes outside
// frames (line noise, an echoed IEC 62056-21 acknowledgement), lets a single
// flag close one frame and open the next, and locates the end of a frame by
// its length field so that an HCS or FCS byte equal to 0x7E does not split it.
type Reader struct {
	r          io.Reader
	buf        []byte
	start, end int
	// Skipped counts bytes discarded as not belonging to any valid frame.
	Skipped int
}

// readerBufSize holds two maximum-length frames, enough to compact rarely.
const readerBufSize = 2 * (MaxFrameLength + 2)

// NewReader returns a Reader reading from r.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: r, buf: make([]byte, readerBufSize)}
}

// Buffered returns the number of bytes read from the underlying reader but not
// yet consumed.
func (r *Reader) Buffered() int { return r.end - r.start }

// ReadFrame returns the next valid frame. Its Info field aliases the Reader's
// buffer and is valid only until the next call. Errors from the underlying
// reader (including deadline errors) are returned as is; the Reader stays
// usable after them.
func (r *Reader) ReadFrame() (Frame, error) {
	for {
		win := r.buf[r.start:r.end]
		i := bytes.IndexByte(win, Flag)
		if i < 0 {
			r.Skipped += len(win)
			r.start, r.end = 0, 0
			if err := r.fill(); err != nil {
				return Frame{}, err
			}
			continue
		}
		r.Skipped += i
		r.start += i
		win = r.buf[r.start:r.end]
		if len(win) >= 2 && win[1] == Flag {
			// Two flags in a row: the first closed a frame or is fill.
			r.start++
			continue
		}
		f, n, err := DecodeFrame(win)
		switch {
		case err == nil:
			// Keep the closing flag: it may open the next frame.
			r.start += n - 1
			return f, nil
		case errors.Is(err, ErrTruncated):
			if j := r.laterFrame(win); j > 0 {
				// A bogus length field must not hide complete frames behind it.
				r.Skipped += j
				r.start += j
				continue
			}
			if err := r.fill(); err != nil {
				return Frame{}, err
			}
		default:
			r.Skipped++
			r.start++
		}
	}
}

// laterFrame returns the offset of a later flag in win where a complete,
// valid frame starts, or 0.
func (r *Reader) laterFrame(win []byte) int {
	for j := 1; j < len(win); {
		k := bytes.IndexByte(win[j:], Flag)
		if k < 0 {
			return 0
		}
		j += k
		if _, _, err := DecodeFrame(win[j:]); err == nil {
			return j
		}
		j++
	}
	return 0
}

// fill reads more bytes, compacting the buffer first when it is full.
func (r *Reader) fill() error {
	if r.end == len(r.buf) {
		if r.start == 0 {
			// Cannot happen: the buffer holds more than a maximum frame.
			r.Skipped += r.end
			r.end = 0
		} else {
			r.end = copy(r.buf, r.buf[r.start:r.end])
			r.start = 0
		}
	}
	for range 100 {
		n, err := r.r.Read(r.buf[r.end:])
		r.end += n
		if n > 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}
