package hdlc

import (
	"bytes"
	"encoding/hex"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/amigo-ami/amigo/dlms/dlmstrace"
)

// hdlcTraces loads every trace whose transport carries HDLC frames.
func hdlcTraces(t testing.TB) []*dlmstrace.File {
	var out []*dlmstrace.File
	for _, tf := range dlmstrace.All(t) {
		if strings.Contains(tf.Transport, "hdlc") {
			out = append(out, tf)
		}
	}
	if len(out) == 0 {
		t.Fatal("no HDLC traces found")
	}
	return out
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	reKind = regexp.MustCompile(`^HDLC (I-frame|RR|RNR|SNRM|DISC|UA|DM|FRMR|UI)\b`)
	reNS   = regexp.MustCompile(`N\(S\)=(\d)`)
	reNR   = regexp.MustCompile(`N\(R\)=(\d)`)
	rePF   = regexp.MustCompile(`P/F=(\d)`)
	reDst  = regexp.MustCompile(`dst ([0-9A-F]{2}) \((\d+)\)`)
	reSrc  = regexp.MustCompile(`src ([0-9A-F]{2}) \((\d+)\)`)
	reInfo = regexp.MustCompile(`info (\d+) bytes`)
)

func atoi(t testing.TB, s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestTraceFrames decodes every HDLC frame of every trace, checks it against
// the step's note, re-encodes it byte for byte, tracks sequence numbers per
// direction and reassembles APDUs across segments.
func TestTraceFrames(t *testing.T) {
	kinds := map[string]Kind{"I-frame": KindI, "RR": KindRR, "RNR": KindRNR, "SNRM": KindSNRM,
		"DISC": KindDISC, "UA": KindUA, "DM": KindDM, "FRMR": KindFRMR, "UI": KindUI}
	total := 0
	for _, tf := range hdlcTraces(t) {
		t.Run(tf.Name, func(t *testing.T) {
			type dirState struct {
				vs    uint8
				apdu  []byte
				first bool
			}
			st := map[string]*dirState{"C->S": {first: true}, "S->C": {first: true}}
			for i, s := range tf.Steps {
				raw := s.Frame()
				if len(raw) == 0 || raw[0] != Flag {
					continue // IEC 62056-21 sign-on lines
				}
				total++
				f, n, err := DecodeFrame(raw)
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if n != len(raw) {
					t.Fatalf("step %d: consumed %d of %d", i, n, len(raw))
				}
				re, err := AppendFrame(nil, f)
				if err != nil || !bytes.Equal(re, raw) {
					t.Fatalf("step %d: re-encoded %X, %v; want %X", i, re, err, raw)
				}
				m := reKind.FindStringSubmatch(s.Note)
				if m == nil {
					t.Fatalf("step %d: note has no frame kind: %q", i, s.Note)
				}
				if got := f.Control.Kind(); got != kinds[m[1]] {
					t.Errorf("step %d: kind %v, note says %s", i, got, m[1])
				}
				if m := reNS.FindStringSubmatch(s.Note); m != nil && int(f.Control.NS()) != atoi(t, m[1]) {
					t.Errorf("step %d: N(S)=%d, note %s", i, f.Control.NS(), m[1])
				}
				if m := reNR.FindStringSubmatch(s.Note); m != nil && int(f.Control.NR()) != atoi(t, m[1]) {
					t.Errorf("step %d: N(R)=%d, note %s", i, f.Control.NR(), m[1])
				}
				if m := rePF.FindStringSubmatch(s.Note); m != nil && f.Control.PF() != (m[1] == "1") {
					t.Errorf("step %d: P/F=%v, note %s", i, f.Control.PF(), m[1])
				}
				for _, c := range []struct {
					re   *regexp.Regexp
					addr Address
				}{{reDst, f.Dst}, {reSrc, f.Src}} {
					m := c.re.FindStringSubmatch(s.Note)
					if m == nil {
						t.Fatalf("step %d: note lacks addresses", i)
					}
					enc, _ := AppendAddress(nil, c.addr)
					if hex.EncodeToString(enc) != strings.ToLower(m[1]) || int(c.addr.Upper) != atoi(t, m[2]) || c.addr.Size != 1 {
						t.Errorf("step %d: address %v (%X), note %s (%s)", i, c.addr, enc, m[1], m[2])
					}
				}
				// File 05 changes client SAP between associations; the
				// note check above pins the client byte, here the server side.
				server, client := f.Dst, f.Src
				if s.Dir == "S->C" {
					server, client = client, server
				}
				if server != ServerAddress(1, 0, 1) || client.Size != 1 {
					t.Errorf("step %d: server %v client %v", i, server, client)
				}
				if f.Segmented != strings.Contains(s.Note, "segmented") {
					t.Errorf("step %d: segmented=%v, note %q", i, f.Segmented, s.Note)
				}
				if m := reInfo.FindStringSubmatch(s.Note); m != nil && len(f.Info) != atoi(t, m[1]) {
					t.Errorf("step %d: info %d bytes, note %s", i, len(f.Info), m[1])
				} else if m == nil && len(f.Info) != 0 {
					t.Errorf("step %d: info %d bytes, note says none", i, len(f.Info))
				}

				ds, other := st[s.Dir], st["S->C"]
				if s.Dir == "S->C" {
					other = st["C->S"]
				}
				switch f.Control.Kind() {
				case KindSNRM:
					st["C->S"].vs, st["S->C"].vs = 0, 0
				case KindUA:
					p, err := ParseParams(f.Info)
					if err != nil || p != DefaultParams() {
						t.Errorf("step %d: UA params %+v, %v", i, p, err)
					}
				case KindRR:
					if f.Control.NR() != other.vs {
						t.Errorf("step %d: RR N(R)=%d, peer V(S)=%d", i, f.Control.NR(), other.vs)
					}
				case KindI:
					if f.Control.NS() != ds.vs {
						t.Errorf("step %d: N(S)=%d, want %d", i, f.Control.NS(), ds.vs)
					}
					if f.Control.NR() != other.vs {
						t.Errorf("step %d: N(R)=%d, peer V(S)=%d", i, f.Control.NR(), other.vs)
					}
					ds.vs = (ds.vs + 1) & 7
					info := f.Info
					if ds.first {
						llc := LLCRequest
						if s.Dir == "S->C" {
							llc = LLCResponse
						}
						if !bytes.HasPrefix(info, llc[:]) {
							t.Fatalf("step %d: first segment lacks LLC % X", i, llc)
						}
						info = info[3:]
					}
					ds.apdu = append(ds.apdu, info...)
					ds.first = !f.Segmented
					if !f.Segmented {
						if s.APDUHex == "" {
							t.Errorf("step %d: APDU completed but trace gives no apdu_hex", i)
						} else if want := s.APDU(); !bytes.Equal(ds.apdu, want) {
							t.Errorf("step %d: reassembled %X, want %X", i, ds.apdu, want)
						}
						ds.apdu = nil
					}
				}
			}
		})
	}
	t.Logf("%d frames decoded", total)
}

// TestTraceStreams feeds each direction of each trace through Reader as one
// byte stream, in several shapes: as captured, with shared flags, with noise
// between frames, and dribbled in small chunks.
func TestTraceStreams(t *testing.T) {
	for _, tf := range hdlcTraces(t) {
		for _, dir := range []string{"C->S", "S->C"} {
			var frames [][]byte
			var lead []byte // sign-on bytes before HDLC, left in as noise
			for _, s := range tf.Steps {
				raw := s.Frame()
				if s.Dir != dir {
					continue
				}
				if raw[0] != Flag {
					lead = append(lead, raw...)
					continue
				}
				frames = append(frames, raw)
			}
			shapes := map[string][]byte{}
			var plain, shared, noisy []byte
			plain = append(plain, lead...)
			shared = append(shared, lead...)
			for i, f := range frames {
				plain = append(plain, f...)
				if i == 0 {
					shared = append(shared, f...)
				} else {
					shared = append(shared, f[1:]...)
				}
				noisy = append(noisy, 0x00, 0x7E, 0xA0, 0x55, 0x7E, 0x7E)
				noisy = append(noisy, f...)
			}
			shapes["plain"], shapes["shared-flags"], shapes["noise"] = plain, shared, noisy
			for name, stream := range shapes {
				for _, chunk := range []int{0, 1, 7} {
					var r *Reader
					if chunk == 0 {
						r = NewReader(bytes.NewReader(stream))
					} else {
						r = NewReader(&dribble{b: stream, n: chunk})
					}
					for i, want := range frames {
						f, err := r.ReadFrame()
						if err != nil {
							t.Fatalf("%s %s %s/%d frame %d: %v", tf.Name, dir, name, chunk, i, err)
						}
						got, _ := AppendFrame(nil, f)
						if !bytes.Equal(got, want) {
							t.Fatalf("%s %s %s/%d frame %d: %X, want %X", tf.Name, dir, name, chunk, i, got, want)
						}
					}
					if _, err := r.ReadFrame(); err == nil {
						t.Fatalf("%s %s %s: frame after the last one", tf.Name, dir, name)
					}
				}
			}
		}
	}
}

// dribble returns at most n bytes per Read.
type dribble struct {
	b []byte
	n int
}

func (d *dribble) Read(p []byte) (int, error) {
	if len(d.b) == 0 {
		return 0, ioEOF
	}
	k := min(len(p), d.n, len(d.b))
	copy(p, d.b[:k])
	d.b = d.b[k:]
	return k, nil
}
