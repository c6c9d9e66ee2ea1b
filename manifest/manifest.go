// Package manifest owns the shipment file: the CSV a utility receives
// with a batch of meters (identity, address, protocol, security profile and
// keys), which the simulator writes and the head-end imports. README.md
// describes the columns.
package manifest

import (
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Columns are the columns of a shipment manifest, in the order
// Write writes them. README.md describes each.
var Columns = []string{
	"meter_id", "serial", "manufacturer", "model", "kind", "protocol", "address", "transport",
	"client_sap", "authentication", "security_policy", "system_title", "ek", "ak", "lls_password",
	"usage_point_id", "time_zone", "segment", "region", "archetype",
}

// Row is one meter of a manifest.
type Row struct {
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
	// Parent is the electricity meter a gas or water meter hangs behind on
	// M-Bus, and Channel its M-Bus channel (1..4); zero for other meters.
	Parent  uint64
	Channel uint8
}

// OptionalColumns may be absent from a manifest; Write writes them.
var OptionalColumns = []string{"parent_meter_id", "mbus_channel"}

// ErrManifest is wrapped by every Read error.
var ErrManifest = errors.New("manifest: invalid")

// RowError is a bad manifest row: Line is 1-based and counts the
// header; Column is empty when the row as a whole is wrong.
type RowError struct {
	Line   int
	Column string
	Err    error
}

func (e *RowError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("manifest line %d: %v", e.Line, e.Err)
	}
	return fmt.Sprintf("manifest line %d, column %s: %v", e.Line, e.Column, e.Err)
}

// Unwrap returns the cause; errors.Is(err, ErrManifest) holds as well.
func (e *RowError) Unwrap() []error { return []error{ErrManifest, e.Err} }

func (r *Row) record(rec []string) {
	copy(rec, []string{
		strconv.FormatUint(r.MeterID, 10), r.Serial, r.Manufacturer, r.Model, r.Kind, r.Protocol,
		"tcp://" + r.Address.String(), r.Transport, strconv.Itoa(int(r.ClientSAP)), r.Authentication,
		r.SecurityPolicy, hex.EncodeToString(r.SystemTitle), hex.EncodeToString(r.EK), hex.EncodeToString(r.AK),
		r.LLSPassword, r.UsagePointID, r.TimeZone, r.Segment, r.Region, r.Archetype, "", "",
	})
	if r.Parent != 0 {
		rec[len(Columns)] = strconv.FormatUint(r.Parent, 10)
		rec[len(Columns)+1] = strconv.Itoa(int(r.Channel))
	}
}

// Read parses a manifest. The header names the columns, in any order;
// every column of Columns must be there, others are ignored. A bad row does
// not stop the file: it is left out and reported in bad, by line and
// column. err is for a file that cannot be read at all (no header, a
// missing column, broken CSV quoting, an I/O error).
func Read(r io.Reader) (rows []Row, bad []*RowError, err error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if err == io.EOF {
		return nil, nil, &RowError{Line: 1, Err: errors.New("empty manifest: no header")}
	}
	if err != nil {
		return nil, nil, csvErr(err)
	}
	pos := make(map[string]int, len(head))
	for i, h := range head {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if _, dup := pos[h]; dup {
			return nil, nil, &RowError{Line: 1, Column: h, Err: errors.New("column appears twice")}
		}
		pos[h] = i
	}
	idx := make([]int, len(Columns))
	for i, c := range Columns {
		j, ok := pos[c]
		if !ok {
			return nil, nil, &RowError{Line: 1, Column: c, Err: errors.New("missing column")}
		}
		idx[i] = j
	}
	opt := make([]int, len(OptionalColumns))
	for i, c := range OptionalColumns {
		opt[i] = -1
		if j, ok := pos[c]; ok {
			opt[i] = j
		}
	}
	seen := map[uint64]int{}
	// Sub-meters whose parent must appear in the file, checked at the end.
	type subRef struct {
		row    int // index in rows
		line   int
		parent uint64
	}
	var subs []subRef
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			// A sub-meter whose parent is not in the file cannot be
			// reached: report it at its own line and leave it out.
			drop := map[int]bool{}
			for _, sr := range subs {
				if _, ok := seen[sr.parent]; !ok {
					bad = append(bad, &RowError{Line: sr.line, Column: "parent_meter_id", Err: fmt.Errorf("parent meter %d is not in the file", sr.parent)})
					drop[sr.row] = true
				}
			}
			if len(drop) > 0 {
				kept := rows[:0]
				for i, r := range rows {
					if !drop[i] {
						kept = append(kept, r)
					}
				}
				rows = kept
				slices.SortStableFunc(bad, func(a, b *RowError) int { return a.Line - b.Line })
			}
			return rows, bad, nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) && !errors.Is(pe.Err, csv.ErrQuote) && !errors.Is(pe.Err, csv.ErrBareQuote) {
				bad = append(bad, &RowError{Line: pe.Line, Err: pe.Err})
				continue
			}
			return rows, bad, csvErr(err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(head) {
			bad = append(bad, &RowError{Line: line, Err: fmt.Errorf("%d fields, the header has %d", len(rec), len(head))})
			continue
		}
		row, err := parseRow(rec, idx, line)
		if err == nil {
			err = parseSub(&row, rec, opt, line)
		}
		if err != nil {
			var re *RowError
			if !errors.As(err, &re) {
				re = &RowError{Line: line, Err: err}
			}
			bad = append(bad, re)
			continue
		}
		if first, dup := seen[row.MeterID]; dup {
			bad = append(bad, &RowError{Line: line, Column: "meter_id", Err: fmt.Errorf("meter %d already on line %d", row.MeterID, first)})
			continue
		}
		seen[row.MeterID] = line
		if row.Parent != 0 {
			subs = append(subs, subRef{len(rows), line, row.Parent})
		}
		rows = append(rows, row)
	}
}

// Write writes rows as CSV with a header row; next yields them one at a
// time so that a large fleet is never held in memory.
func Write(w io.Writer, next func(yield func(Row) bool) error) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(append(append([]string(nil), Columns...), OptionalColumns...)); err != nil {
		return err
	}
	rec := make([]string, len(Columns)+len(OptionalColumns))
	var werr error
	err := next(func(r Row) bool {
		r.record(rec)
		werr = cw.Write(rec)
		return werr == nil
	})
	if err != nil {
		return err
	}
	if werr != nil {
		return werr
	}
	cw.Flush()
	return cw.Error()
}

func csvErr(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &RowError{Line: pe.Line, Err: pe.Err}
	}
	return fmt.Errorf("%w: %w", ErrManifest, err)
}

func parseRow(rec []string, idx []int, line int) (Row, error) {
	get := func(c int) string { return strings.TrimSpace(rec[idx[c]]) }
	bad := func(c int, err error) (Row, error) {
		return Row{}, &RowError{Line: line, Column: Columns[c], Err: err}
	}
	var r Row
	var err error
	for c := range Columns {
		v := get(c)
		switch Columns[c] {
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
		return Row{}, &RowError{Line: line, Err: errors.New("hls-gmac needs ek and ak")}
	}
	if r.Authentication == "lls" && r.LLSPassword == "" {
		return Row{}, &RowError{Line: line, Column: "lls_password", Err: errors.New("lls needs a password")}
	}
	return r, nil
}

// parseSub reads the optional M-Bus columns: a gas or water meter needs
// its parent and channel, an electricity meter has neither.
func parseSub(r *Row, rec []string, opt []int, line int) error {
	get := func(i int) string {
		if opt[i] < 0 {
			return ""
		}
		return strings.TrimSpace(rec[opt[i]])
	}
	p, ch := get(0), get(1)
	sub := r.Kind == "gas" || r.Kind == "water"
	switch {
	case !sub && (p != "" || ch != ""):
		return &RowError{Line: line, Column: "parent_meter_id", Err: fmt.Errorf("a %s meter has no M-Bus parent", r.Kind)}
	case !sub:
		return nil
	case p == "" || ch == "":
		return &RowError{Line: line, Column: "parent_meter_id", Err: errors.New("a gas or water meter needs parent_meter_id and mbus_channel")}
	}
	var err error
	if r.Parent, err = strconv.ParseUint(p, 10, 64); err != nil || r.Parent == r.MeterID {
		return &RowError{Line: line, Column: "parent_meter_id", Err: errors.New("not another meter's id")}
	}
	n, err := strconv.ParseUint(ch, 10, 8)
	if err != nil || n < 1 || n > 4 {
		return &RowError{Line: line, Column: "mbus_channel", Err: errors.New("want 1 to 4")}
	}
	r.Channel = uint8(n)
	return nil
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
