package sim

import (
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// ManifestColumns are the columns of a shipment manifest, in the order
// WriteManifest writes them. MANIFEST.md describes each.
var ManifestColumns = []string{
	"meter_id", "serial", "manufacturer", "model", "kind", "protocol", "address", "transport",
	"client_sap", "authentication", "security_policy", "system_title", "ek", "ak", "lls_password",
	"usage_point_id", "time_zone", "segment", "region", "archetype",
}

// ManifestRow is one meter of a manifest.
type ManifestRow struct {
	MeterID        uint64
	Serial         string
	Manufacturer   string
	Model          string
	Kind           string
	Protocol       string         // "dlms"
	Address        netip.AddrPort // written as tcp://a.b.c.d:port
	Transport      string         // "wrapper"
	ClientSAP      uint16
	Authentication string // "hls-gmac", "lls", "none"
	SecurityPolicy string // "authenticated-encrypted", ...
	SystemTitle    []byte // 8 bytes
	EK, AK         []byte // 16 bytes each, or empty without HLS
	LLSPassword    string
	UsagePointID   string
	TimeZone       string
	Segment        string
	Region         string
	Archetype      string
}

// ErrManifest is wrapped by every ReadManifest error.
var ErrManifest = errors.New("sim: invalid manifest")

// ManifestError is a bad manifest row: Line is 1-based and counts the
// header; Column is empty when the row as a whole is wrong.
type ManifestError struct {
	Line   int
	Column string
	Err    error
}

func (e *ManifestError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("manifest line %d: %v", e.Line, e.Err)
	}
	return fmt.Sprintf("manifest line %d, column %s: %v", e.Line, e.Column, e.Err)
}

// Unwrap returns the cause; errors.Is(err, ErrManifest) holds as well.
func (e *ManifestError) Unwrap() []error { return []error{ErrManifest, e.Err} }

// Row returns meter i's manifest row.
func (f *Fleet) Row(i int) (ManifestRow, error) {
	m, err := f.peek(i)
	if err != nil {
		return ManifestRow{}, err
	}
	id := f.Identity(i)
	kind := m.Kind()
	model := "AMG-E1"
	if m.Phases() == 3 {
		model = "AMG-E3"
	}
	return ManifestRow{
		MeterID: id.ID, Serial: m.Serial(), Manufacturer: Manufacturer, Model: model, Kind: kind.String(),
		Protocol: "dlms", Address: id.Addr, Transport: "wrapper", ClientSAP: ManagementClient,
		Authentication: "hls-gmac", SecurityPolicy: "authenticated-encrypted",
		SystemTitle: id.SystemTitle[:], EK: id.EK[:], AK: id.AK[:], LLSPassword: id.Password,
		UsagePointID: fmt.Sprintf("UP%010d", id.ID), TimeZone: f.model.Location.String(),
		Segment: fmt.Sprintf("cell-%d", id.ID/1000), Region: fmt.Sprintf("region-%d", id.ID/100_000),
		Archetype: m.Archetype().String(),
	}, nil
}

// WriteManifest writes the fleet's manifest as CSV with a header row. It
// leaves idle meters idle.
func WriteManifest(w io.Writer, f *Fleet) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(ManifestColumns); err != nil {
		return err
	}
	rec := make([]string, len(ManifestColumns))
	for i := range f.Len() {
		r, err := f.Row(i)
		if err != nil {
			return err
		}
		r.record(rec)
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func (r *ManifestRow) record(rec []string) {
	copy(rec, []string{
		strconv.FormatUint(r.MeterID, 10), r.Serial, r.Manufacturer, r.Model, r.Kind, r.Protocol,
		"tcp://" + r.Address.String(), r.Transport, strconv.Itoa(int(r.ClientSAP)), r.Authentication,
		r.SecurityPolicy, hex.EncodeToString(r.SystemTitle), hex.EncodeToString(r.EK), hex.EncodeToString(r.AK),
		r.LLSPassword, r.UsagePointID, r.TimeZone, r.Segment, r.Region, r.Archetype,
	})
}

// ReadManifest parses a manifest. The header names the columns, in any
// order; every column of ManifestColumns must be there, others are ignored.
// A bad row fails with a *ManifestError naming its line and column.
func ReadManifest(r io.Reader) ([]ManifestRow, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err == io.EOF {
		return nil, &ManifestError{Line: 1, Err: errors.New("empty manifest: no header")}
	}
	if err != nil {
		return nil, csvErr(err)
	}
	pos := make(map[string]int, len(head))
	for i, h := range head {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if _, dup := pos[h]; dup {
			return nil, &ManifestError{Line: 1, Column: h, Err: errors.New("column appears twice")}
		}
		pos[h] = i
	}
	idx := make([]int, len(ManifestColumns))
	for i, c := range ManifestColumns {
		j, ok := pos[c]
		if !ok {
			return nil, &ManifestError{Line: 1, Column: c, Err: errors.New("missing column")}
		}
		idx[i] = j
	}
	var rows []ManifestRow
	seen := map[uint64]int{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			return nil, csvErr(err)
		}
		line, _ := cr.FieldPos(0)
		row, err := parseRow(rec, idx, line)
		if err != nil {
			return nil, err
		}
		if first, dup := seen[row.MeterID]; dup {
			return nil, &ManifestError{Line: line, Column: "meter_id", Err: fmt.Errorf("meter %d already on line %d", row.MeterID, first)}
		}
		seen[row.MeterID] = line
		rows = append(rows, row)
	}
}

func csvErr(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &ManifestError{Line: pe.Line, Err: pe.Err}
	}
	return fmt.Errorf("%w: %w", ErrManifest, err)
}

func parseRow(rec []string, idx []int, line int) (ManifestRow, error) {
	get := func(c int) string { return strings.TrimSpace(rec[idx[c]]) }
	bad := func(c int, err error) (ManifestRow, error) {
		return ManifestRow{}, &ManifestError{Line: line, Column: ManifestColumns[c], Err: err}
	}
	var r ManifestRow
	var err error
	for c := range ManifestColumns {
		v := get(c)
		switch ManifestColumns[c] {
		case "meter_id":
			if r.MeterID, err = strconv.ParseUint(v, 10, 64); err != nil {
				return bad(c, errors.New("not an unsigned integer"))
			}
		case "serial":
			if v == "" {
				return bad(c, errors.New("empty"))
			}
			r.Serial = v
		case "manufacturer":
			r.Manufacturer = v
		case "model":
			r.Model = v
		case "kind":
			r.Kind = v
		case "protocol":
			if v != "dlms" {
				return bad(c, fmt.Errorf("protocol %q: only dlms", v))
			}
			r.Protocol = v
		case "address":
			hp, ok := strings.CutPrefix(v, "tcp://")
			if !ok {
				return bad(c, fmt.Errorf("%q: want tcp://host:port", v))
			}
			if r.Address, err = netip.ParseAddrPort(hp); err != nil {
				return bad(c, err)
			}
		case "transport":
			if v != "wrapper" && v != "hdlc" {
				return bad(c, fmt.Errorf("transport %q: want wrapper or hdlc", v))
			}
			r.Transport = v
		case "client_sap":
			n, err := strconv.ParseUint(v, 10, 16)
			if err != nil {
				return bad(c, errors.New("not a 16-bit unsigned integer"))
			}
			r.ClientSAP = uint16(n)
		case "authentication":
			switch v {
			case "none", "lls", "hls-gmac":
			default:
				return bad(c, fmt.Errorf("%q: want none, lls or hls-gmac", v))
			}
			r.Authentication = v
		case "security_policy":
			switch v {
			case "none", "authenticated", "encrypted", "authenticated-encrypted":
			default:
				return bad(c, fmt.Errorf("%q: want none, authenticated, encrypted or authenticated-encrypted", v))
			}
			r.SecurityPolicy = v
		case "system_title":
			if r.SystemTitle, err = hexField(v, 8, false); err != nil {
				return bad(c, err)
			}
		case "ek":
			if r.EK, err = hexField(v, 16, true); err != nil {
				return bad(c, err)
			}
		case "ak":
			if r.AK, err = hexField(v, 16, true); err != nil {
				return bad(c, err)
			}
		case "lls_password":
			r.LLSPassword = v
		case "usage_point_id":
			r.UsagePointID = v
		case "time_zone":
			r.TimeZone = v
		case "segment":
			r.Segment = v
		case "region":
			r.Region = v
		case "archetype":
			r.Archetype = v
		}
	}
	if r.Authentication == "hls-gmac" && (r.EK == nil || r.AK == nil) {
		return ManifestRow{}, &ManifestError{Line: line, Err: errors.New("hls-gmac needs ek and ak")}
	}
	if r.Authentication == "lls" && r.LLSPassword == "" {
		return ManifestRow{}, &ManifestError{Line: line, Column: "lls_password", Err: errors.New("lls needs a password")}
	}
	return r, nil
}

// hexField decodes exactly n bytes of hex; empty is allowed when optional.
func hexField(v string, n int, optional bool) ([]byte, error) {
	if v == "" && optional {
		return nil, nil
	}
	if len(v) != 2*n {
		return nil, fmt.Errorf("want %d hex digits, got %d", 2*n, len(v))
	}
	b, err := hex.DecodeString(v)
	if err != nil {
		return nil, errors.New("not hex")
	}
	return b, nil
}
