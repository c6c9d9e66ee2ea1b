// Package dlmstrace owns loading the shared byte-exact DLMS session traces
// for tests: where the files live (../shared/testdata/dlms-traces beside the
// repository root), the typed schema of a trace file, and hex decoding of
// its steps. The traces are read in place; nothing is copied into the
// repository.
//
// Tests skip when the traces are absent, except under CI, which always
// provides them: there a missing directory is a failure rather than
// silently lost coverage (package testenv owns that rule).
package dlmstrace

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/amigo-ami/amigo/testenv"
)

// Step directions as the traces spell them.
const (
	ClientToServer = "C->S"
	ServerToClient = "S->C"
)

// File is one recorded session.
type File struct {
	// Name is the base name of the file, e.g. "04-wrapper-hls-gmac.json".
	// It is not part of the JSON.
	Name string `json:"-"`

	PeerClient  string      `json:"peer_client"`
	PeerServer  string      `json:"peer_server"`
	PeerDetails PeerDetails `json:"peer_details"`
	Description string      `json:"description"`
	// Transport is "wrapper", "hdlc" or "modeE+hdlc".
	Transport string `json:"transport"`
	// Port is the server's TCP port.
	Port          int    `json:"port"`
	ClientSAP     int    `json:"client_sap"`
	ServerAddress int    `json:"server_address"`
	Addressing    string `json:"addressing"`
	// Authentication and Security are prose, e.g. "HighGMac (HLS
	// mechanism 5)" and "AuthenticationEncryption".
	Authentication string `json:"authentication"`
	Security       string `json:"security"`
	// LLSPassword is set for low-level-security sessions only.
	LLSPassword string `json:"lls_password"`
	// Keys is empty unless the session is ciphered.
	Keys Keys `json:"keys"`
	// ClientSystemTitle and ServerSystemTitle are hex; "" where the file
	// has null (unciphered sessions).
	ClientSystemTitle string        `json:"client_system_title"`
	ServerSystemTitle string        `json:"server_system_title"`
	Associations      []Association `json:"associations"`
	Capture           Capture       `json:"capture"`
	Quirks            []string      `json:"quirks"`
	// ProfileSetup says how the load profile was filled, for the files
	// that read it.
	ProfileSetup  string        `json:"profile_setup"`
	Steps         []Step        `json:"steps"`
	DecodedValues DecodedValues `json:"decoded_values"`
}

// PeerDetails names the exact client and server builds.
type PeerDetails struct {
	Client string `json:"client"`
	Server string `json:"server"`
}

// Keys are the published Gurux test keys of an HLS session, in hex.
type Keys struct {
	EK            string `json:"block_cipher_key_EK"`
	AK            string `json:"authentication_key_AK"`
	SecuritySuite int    `json:"security_suite"`
	Note          string `json:"note"`
}

// Association is one association within the TCP connection.
type Association struct {
	Association int    `json:"association"`
	ClientSAP   int    `json:"client_sap"`
	StartsWith  string `json:"starts_with"`
}

// Capture says how the bytes were recorded and cross-checked.
type Capture struct {
	// Checks maps each cross-check to its outcome, a bool or a note.
	Checks        map[string]any `json:"checks"`
	CapturedAtUTC string         `json:"captured_at_utc"`
	Method        string         `json:"method"`
	RelayPort     int            `json:"relay_port"`
}

// DecodedValues holds the values read in the session.
type DecodedValues struct {
	Clock              string `json:"clock"`
	RegisterValue      string `json:"register_1.1.21.25.0.255_value"`
	RegisterScalerUnit string `json:"register_1.1.21.25.0.255_scaler_unit"`
	// Ops are the values decoded from the APDUs, in session order.
	Ops []Op `json:"from_apdus_in_order"`
	// GuruxClient holds what the Gurux client itself reported; its shape
	// differs per operation, so each value is left as JSON.
	GuruxClient map[string]json.RawMessage `json:"gurux_client"`
}

// Op is one operation of DecodedValues.Ops. Which fields are set depends on
// the service: GETs give DataHex (or Entries and FirstEntryHex for a
// profile buffer), SETs ValueWritten and Result, ACTIONs Result and
// ReturnParameters.
type Op struct {
	Op                string `json:"op"`
	DataHex           string `json:"data_hex"`
	Decoded           string `json:"decoded"`
	Meaning           string `json:"meaning"`
	TrailingBytesHex  string `json:"trailing_bytes_hex"`
	Blocks            int    `json:"blocks"`
	RawDataTotalBytes int    `json:"raw_data_total_bytes"`
	Entries           int    `json:"entries"`
	DecodedSummary    string `json:"decoded_summary"`
	FirstEntry        string `json:"first_entry"`
	FirstEntryHex     string `json:"first_entry_hex"`
	ValueWritten      string `json:"value_written"`
	// Result is nil when the operation has no result field.
	Result           *int `json:"result"`
	ReturnParameters bool `json:"return_parameters"`
}

// Step is one complete frame or line on the wire. The hex fields keep the
// file's spelling; Frame, APDU and Plain decode them.
type Step struct {
	// Dir is ClientToServer or ServerToClient.
	Dir string `json:"dir"`
	// Hex is the wrapper frame, HDLC frame with flags, or IEC 62056-21
	// line exactly as sent.
	Hex  string `json:"hex"`
	Note string `json:"note"`
	// APDUHex is the APDU as carried, reassembled across HDLC segments
	// without the LLC, on the step that completes it; "" otherwise.
	APDUHex string `json:"apdu_hex"`
	// DecryptedAPDUHex is the plaintext of a ciphered APDU, or of the
	// ciphered InitiateRequest/Response inside an AARQ/AARE/RLRQ/RLRE; ""
	// when there is none.
	DecryptedAPDUHex string `json:"decrypted_apdu_hex"`
	// Association counts associations within the TCP connection, from 1.
	Association int `json:"association"`
	// TOffsetMS is the time since the first step, in milliseconds.
	TOffsetMS float64 `json:"t_offset_ms"`
}

// Frame returns the bytes on the wire. Like APDU and Plain it panics
// on malformed hex, which Load rules out for every step it returns.
func (s Step) Frame() []byte { return mustDecode("hex", s.Hex) }

// APDU returns the APDU the step completes, or nil.
func (s Step) APDU() []byte { return mustDecode("apdu_hex", s.APDUHex) }

// Plain returns the decrypted plaintext, or nil.
func (s Step) Plain() []byte { return mustDecode("decrypted_apdu_hex", s.DecryptedAPDUHex) }

// BlockCipherKey returns EK, or nil for an unciphered session.
func (k Keys) BlockCipherKey() []byte { return mustDecode("block_cipher_key_EK", k.EK) }

// AuthenticationKey returns AK, or nil for an unciphered session.
func (k Keys) AuthenticationKey() []byte { return mustDecode("authentication_key_AK", k.AK) }

// ClientTitle returns the client system title, or nil.
func (f *File) ClientTitle() []byte { return mustDecode("client_system_title", f.ClientSystemTitle) }

// ServerTitle returns the server system title, or nil.
func (f *File) ServerTitle() []byte { return mustDecode("server_system_title", f.ServerSystemTitle) }

func mustDecode(field, s string) []byte {
	if s == "" {
		return nil
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(fmt.Sprintf("dlmstrace: %s %q: %v", field, s, err))
	}
	return b
}

// Locate finds the traces directory without a test, in
// ../shared/testdata/dlms-traces beside the repository root.
func Locate() (string, error) {
	dir, err := testenv.LocateShared("dlms-traces")
	if err != nil {
		return "", fmt.Errorf("dlmstrace: %w", err)
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return "", fmt.Errorf("dlmstrace: %s is not a directory", dir)
	}
	return dir, nil
}

// Dir returns the traces directory. When it is missing the test is
// skipped, or failed under CI (see testenv).
func Dir(tb testing.TB) string {
	tb.Helper()
	return testenv.Shared(tb, "dlms-traces")
}

// Load reads one trace. name is a file name ("04-wrapper-hls-gmac.json") or
// a prefix that names exactly one file ("04"). A missing directory skips
// as Dir does; a missing or malformed file fails the test.
func Load(tb testing.TB, name string) *File {
	tb.Helper()
	dir := Dir(tb)
	path := filepath.Join(dir, name)
	if !strings.HasSuffix(name, ".json") {
		matches, err := filepath.Glob(filepath.Join(dir, name+"*.json"))
		if err != nil || len(matches) != 1 {
			tb.Fatalf("dlmstrace: %q names %d trace files in %s (%v), want exactly 1", name, len(matches), dir, err)
		}
		path = matches[0]
	}
	f, err := parseFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

// All reads every trace, sorted by name.
func All(tb testing.TB) []*File {
	tb.Helper()
	dir := Dir(tb)
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(paths) == 0 {
		tb.Fatalf("dlmstrace: no trace files in %s (%v)", dir, err)
	}
	sort.Strings(paths)
	files := make([]*File, 0, len(paths))
	for _, p := range paths {
		f, err := parseFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		files = append(files, f)
	}
	return files
}

// parseFile decodes and checks one file, so that the hex accessors cannot
// panic on what it returns.
func parseFile(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("dlmstrace: trace file missing: %w", err)
		}
		return nil, fmt.Errorf("dlmstrace: %w", err)
	}
	f := &File{}
	if err := json.Unmarshal(b, f); err != nil {
		return nil, fmt.Errorf("dlmstrace: %s: %w", path, err)
	}
	f.Name = filepath.Base(path)
	if err := f.check(); err != nil {
		return nil, fmt.Errorf("dlmstrace: %s: %w", f.Name, err)
	}
	return f, nil
}

func (f *File) check() error {
	if len(f.Steps) == 0 {
		return errors.New("no steps")
	}
	for field, h := range map[string]string{
		"client_system_title":   f.ClientSystemTitle,
		"server_system_title":   f.ServerSystemTitle,
		"block_cipher_key_EK":   f.Keys.EK,
		"authentication_key_AK": f.Keys.AK,
	} {
		if _, err := hex.DecodeString(h); err != nil {
			return fmt.Errorf("%s: %w", field, err)
		}
	}
	for i, s := range f.Steps {
		if s.Dir != ClientToServer && s.Dir != ServerToClient {
			return fmt.Errorf("step %d: dir %q", i, s.Dir)
		}
		if s.Hex == "" {
			return fmt.Errorf("step %d: no hex", i)
		}
		for field, h := range map[string]string{"hex": s.Hex, "apdu_hex": s.APDUHex, "decrypted_apdu_hex": s.DecryptedAPDUHex} {
			if _, err := hex.DecodeString(h); err != nil {
				return fmt.Errorf("step %d: %s: %w", i, field, err)
			}
		}
	}
	return nil
}
