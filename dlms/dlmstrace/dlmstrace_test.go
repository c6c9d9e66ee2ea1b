package dlmstrace

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
)

// TestAll loads the real traces and checks that the schema covers every
// field they carry and that the hex accessors agree with each other.
func TestAll(t *testing.T) {
	files := All(t)
	if len(files) != 13 {
		t.Errorf("%d trace files, the README lists 13", len(files))
	}
	if !sort.SliceIsSorted(files, func(i, j int) bool { return files[i].Name < files[j].Name }) {
		t.Error("All is not sorted by name")
	}
	dir := Dir(t)
	for _, f := range files {
		t.Run(f.Name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, f.Name))
			if err != nil {
				t.Fatal(err)
			}
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			var strict File
			if err := dec.Decode(&strict); err != nil {
				t.Fatalf("schema misses a field: %v", err)
			}
			if f.Transport == "" || f.Port == 0 || f.ClientSAP == 0 || f.ServerAddress != 1 || len(f.Associations) == 0 || len(f.DecodedValues.Ops) == 0 {
				t.Errorf("header not decoded: %+v", f)
			}
			if c, ok := f.Capture.Checks["frames_concat_equal_relay_stream"].(bool); !ok || !c {
				t.Errorf("capture check %v", f.Capture.Checks)
			}
			ciphered := strings.Contains(f.Name, "hls")
			if got := len(f.Keys.BlockCipherKey()) + len(f.Keys.AuthenticationKey()); (got == 32) != ciphered || (got != 0 && got != 32) {
				t.Errorf("keys %d bytes, ciphered=%v", got, ciphered)
			}
			if got := len(f.ClientTitle()) + len(f.ServerTitle()); (got == 16) != ciphered || (got != 0 && got != 16) {
				t.Errorf("system titles %d bytes, ciphered=%v", got, ciphered)
			}
			apdus, plains := 0, 0
			for i, s := range f.Steps {
				frame := s.Frame()
				if len(frame) == 0 || !strings.EqualFold(fmt.Sprintf("%X", frame), s.Hex) {
					t.Fatalf("step %d: frame %X from %s", i, frame, s.Hex)
				}
				a := s.APDU()
				if (a == nil) != (s.APDUHex == "") {
					t.Fatalf("step %d: APDU %X from %q", i, a, s.APDUHex)
				}
				// A wrapper frame carries the APDU right after its 8-byte header.
				if f.Transport == "wrapper" && !bytes.Equal(frame[8:], a) {
					t.Errorf("step %d: wrapper payload %X, apdu_hex %X", i, frame[8:], a)
				}
				if a != nil {
					apdus++
				}
				if p := s.Plain(); p != nil {
					plains++
					if a == nil {
						t.Errorf("step %d: plaintext without an APDU", i)
					}
				}
				if s.Association < 1 || s.TOffsetMS < 0 {
					t.Errorf("step %d: association %d, t_offset_ms %v", i, s.Association, s.TOffsetMS)
				}
			}
			if apdus == 0 || (plains > 0) != ciphered {
				t.Errorf("%d APDUs, %d plaintexts, ciphered=%v", apdus, plains, ciphered)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	byPrefix := Load(t, "04")
	byName := Load(t, "04-wrapper-hls-gmac.json")
	if byPrefix.Name != "04-wrapper-hls-gmac.json" || byName.Name != byPrefix.Name || len(byName.Steps) != len(byPrefix.Steps) {
		t.Fatalf("Load(04) = %s, Load(full name) = %s", byPrefix.Name, byName.Name)
	}
	if !bytes.Equal(byName.Keys.BlockCipherKey(), []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}) ||
		string(byName.ClientTitle()) != "Gurux123" || string(byName.ServerTitle()) != "ABCDEFGH" {
		t.Errorf("keys %+v titles %q %q", byName.Keys, byName.ClientTitle(), byName.ServerTitle())
	}
	// The first step is the public client's AARQ in a wrapper frame.
	s := byName.Steps[0]
	if s.Dir != ClientToServer || !bytes.HasPrefix(s.Frame(), []byte{0, 1, 0, 16, 0, 1}) || s.APDU()[0] != 0x60 {
		t.Errorf("first step %+v", s)
	}
	// Only the SET and ACTION ops carry a result.
	var withResult int
	for _, op := range Load(t, "09").DecodedValues.Ops {
		if op.Result != nil {
			withResult++
		}
	}
	if withResult != 2 {
		t.Errorf("%d ops of 09 with a result, want the 2 ACTIONs", withResult)
	}
}

// fakeTB records how a test would end instead of ending it.
type fakeTB struct {
	testing.TB
	fatal, skip string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatal(args ...any) {
	f.fatal = fmt.Sprint(args...)
	runtime.Goexit()
}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (f *fakeTB) Skip(args ...any) {
	f.skip = fmt.Sprint(args...)
	runtime.Goexit()
}
func (f *fakeTB) Skipf(format string, args ...any) {
	f.skip = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls fn with a fakeTB on its own goroutine, as Goexit needs.
func run(t *testing.T, fn func(tb testing.TB)) *fakeTB {
	tb := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(tb)
	}()
	<-done
	return tb
}

// layout builds <tmp>/repo/go.mod, <tmp>/repo/a/b and, when withTraces,
// <tmp>/shared/testdata/dlms-traces, and returns the repo and traces paths.
func layout(t *testing.T, withTraces bool) (repo, traces string) {
	tmp := t.TempDir()
	repo = filepath.Join(tmp, "repo")
	traces = filepath.Join(tmp, "shared", "testdata", "dlms-traces")
	if err := os.MkdirAll(filepath.Join(repo, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "go.mod"), []byte("module example.com/x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if withTraces {
		if err := os.MkdirAll(traces, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return repo, traces
}

func TestLocate(t *testing.T) {
	repo, _ := layout(t, true)
	t.Chdir(filepath.Join(repo, "a", "b"))
	got, err := Locate()
	if want := filepath.Join("..", "..", "..", "shared", "testdata", "dlms-traces"); err != nil || got != want {
		t.Fatalf("Locate() = %q, %v; want %q", got, err, want)
	}
}

func TestDirMissing(t *testing.T) {
	repo, _ := layout(t, false)
	t.Chdir(filepath.Join(repo, "a"))
	t.Setenv("CI", "")
	if tb := run(t, func(tb testing.TB) { Dir(tb) }); tb.skip == "" || tb.fatal != "" || !strings.Contains(tb.skip, "dlms-traces") {
		t.Errorf("without CI: skip %q, fatal %q", tb.skip, tb.fatal)
	}
	t.Setenv("CI", "true")
	if tb := run(t, func(tb testing.TB) { Dir(tb) }); tb.fatal == "" || tb.skip != "" {
		t.Errorf("in CI: skip %q, fatal %q", tb.skip, tb.fatal)
	}
	// Outside any module there is no root to look beside.
	t.Chdir(t.TempDir())
	if _, err := Locate(); err == nil {
		t.Error("Locate found traces outside a module")
	}
}

func TestLoadRejects(t *testing.T) {
	repo, traces := layout(t, true)
	t.Chdir(repo)
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(traces, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("01-good.json", `{"transport":"wrapper","steps":[{"dir":"C->S","hex":"0001","apdu_hex":""}]}`)
	write("02-badhex.json", `{"steps":[{"dir":"C->S","hex":"0001","apdu_hex":"6"}]}`)
	write("03-baddir.json", `{"steps":[{"dir":"C<-S","hex":"0001"}]}`)
	write("04-nosteps.json", `{"transport":"hdlc"}`)
	write("05-notjson.json", `{`)
	write("06-badkey.json", `{"keys":{"block_cipher_key_EK":"XX"},"steps":[{"dir":"C->S","hex":"00"}]}`)
	if f := Load(t, "01"); f.Name != "01-good.json" || len(f.Steps) != 1 || f.Steps[0].APDU() != nil {
		t.Fatalf("good file: %+v", f)
	}
	// Malformed files, a missing one (07) and an ambiguous prefix (0).
	for _, name := range []string{"02", "03", "04", "05", "06", "07", "0"} {
		if tb := run(t, func(tb testing.TB) { Load(tb, name) }); tb.fatal == "" {
			t.Errorf("Load(%s) accepted", name)
		}
	}
	if tb := run(t, func(tb testing.TB) { All(tb) }); tb.fatal == "" {
		t.Error("All accepted a directory with malformed files")
	}
}

func TestStepPanicsOnHandMadeBadHex(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic on malformed hex")
		}
	}()
	Step{APDUHex: "ZZ"}.APDU()
}
