// Package manifest owns the shipment file: the CSV a utility receives
// with a batch of meters. It reads and writes the columns every meter has
// (identity, address, protocol, usage point, segment), checks each row and
// the file as a whole, and carries the protocol's own columns (security
// profile, keys) raw in Row.Fields for the protocol's driver to check.
// README.md describes the columns.
package manifest

import (
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Columns are the columns every manifest has, whatever the protocol, in
// the order Write writes them. README.md describes each.
var Columns = []string{
	"meter_id", "serial", "manufacturer", "model", "kind", "protocol", "address",
	"usage_point_id", "time_zone", "segment", "region", "archetype",
}

// Row is one meter of a manifest.
type Row struct {
	// Line is where Read found the row (the header is line 1); zero for
	// a row that was not read from a file. Write ignores it.
	Line         int
	MeterID      uint64
	Serial       string
	Manufacturer string
	Model        string
	Kind         string         // "electricity-1p", "electricity-3p", "gas", "water"
	Protocol     string         // names the driver that reaches the meter: "dlms", ...
	Address      netip.AddrPort // written as tcp://a.b.c.d:port
	UsagePointID string
	TimeZone     string
	Segment      string
	Region       string
	Archetype    string
	// Parent is the electricity meter a gas or water meter is reached
	// through (on M-Bus, say); zero for other meters.
	Parent uint64
	// Firmware is the meter's firmware version as shipped (optional
	// column; empty when absent).
	Firmware string
	// Protection flags the usage point as one whose supply must not be
	// cut remotely without an override: "vulnerable", "medical" or empty
	// (optional column).
	Protection string
	// Substation, Feeder and Transformer place the usage point in the
	// electrical network (optional GridColumns; empty when absent or
	// unknown). A transformer may come alone, when the network already
	// places it; a feeder comes with its substation and transformer.
	Substation, Feeder, Transformer string
	// Phase is the phase a single-phase meter is connected to (1..3; 0:
	// unknown or three-phase).
	Phase int
	// Lat and Lon are the meter's position (WGS 84; zero: unknown).
	Lat, Lon float64
	// Fields holds the file's other columns by header name, trimmed and
	// checked as text only: the protocol's own columns, which its driver
	// checks at import. A column absent from the file has no entry, so a
	// driver tells a missing column from an empty field.
	Fields map[string]string
}

// Column is one of a protocol's own manifest columns, as its driver
// declares it.
type Column struct {
	Name string
	// Required columns must be in the file's header (a field may still
	// be empty where the driver allows it).
	Required bool
	// MaxBytes lowers MaxFieldBytes for the column (0: MaxFieldBytes).
	MaxBytes int
}

// Field returns the value of the protocol column c of the row: an error
// at the row's line and the column when a required column is absent from
// the file or the value is over the column's limit.
func (r *Row) Field(c Column) (string, *RowError) {
	v, ok := r.Fields[c.Name]
	if !ok && c.Required {
		return "", &RowError{Line: r.Line, Column: c.Name, Err: errors.New("missing column")}
	}
	if c.MaxBytes > 0 && len(v) > c.MaxBytes {
		return "", &RowError{Line: r.Line, Column: c.Name, Err: fmt.Errorf("%d bytes, at most %d", len(v), c.MaxBytes)}
	}
	return v, nil
}

// SubMeter reports whether the row is a gas or water meter, reached
// through its parent (on M-Bus) rather than on its own. A gas or water
// meter of a Standalone protocol is reached on its own.
func (r *Row) SubMeter() bool { return SubKind(r.Kind) && !Standalone(r.Protocol) }

// Standalone reports whether protocol reaches gas and water meters
// directly, with no electricity meter as parent: wired M-Bus from the
// head-end to a converter.
func Standalone(protocol string) bool { return protocol == "mbus" }

// SubKind reports whether kind is one that hangs behind an electricity
// meter on M-Bus.
func SubKind(kind string) bool { return kind == "gas" || kind == "water" }

// OptionalColumns may be absent from a manifest; Write writes them.
var OptionalColumns = []string{"parent_meter_id", "firmware", "protection"}

// GridColumns may be absent from a manifest: where the meter hangs in the
// electrical network, and where it is. Read parses them into Row's typed
// fields and keeps them in Fields by name too; Write writes those of them
// its caller names among the fields (from the typed field, or else from
// Fields), so a file without them is written without them.
var GridColumns = []string{"substation", "feeder", "transformer", "phase", "lat", "lon"}

// Protections are the values the protection column takes besides empty.
var Protections = []string{"vulnerable", "medical"}

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

// record fills rec with the row: Columns, then fields, then
// OptionalColumns.
func (r *Row) record(rec []string, fields []string) {
	copy(rec, []string{
		strconv.FormatUint(r.MeterID, 10), r.Serial, r.Manufacturer, r.Model, r.Kind, r.Protocol,
		"tcp://" + r.Address.String(), r.UsagePointID, r.TimeZone, r.Segment, r.Region, r.Archetype,
	})
	for i, f := range fields {
		if g := slices.Index(GridColumns, f); g >= 0 {
			// The typed field, or else the column a caller filled by
			// name.
			rec[len(Columns)+i] = cmp.Or(r.gridField(g), r.Fields[f])
			continue
		}
		rec[len(Columns)+i] = r.Fields[f]
	}
	opt := rec[len(Columns)+len(fields):]
	opt[0], opt[1], opt[2] = "", r.Firmware, r.Protection
	if r.Parent != 0 {
		opt[0] = strconv.FormatUint(r.Parent, 10)
	}
}

// gridField is the row's value of GridColumns[g] as written.
func (r *Row) gridField(g int) string {
	num := func(f float64) string {
		if f == 0 {
			return ""
		}
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	switch GridColumns[g] {
	case "substation":
		return r.Substation
	case "feeder":
		return r.Feeder
	case "transformer":
		return r.Transformer
	case "phase":
		if r.Phase == 0 {
			return ""
		}
		return strconv.Itoa(r.Phase)
	case "lat":
		return num(r.Lat)
	case "lon":
		return num(r.Lon)
	}
	return ""
}

// Read parses a manifest. The header names the columns, in any order;
// every column of Columns must be there, those of OptionalColumns and
// GridColumns may be, and the others are the protocol's own, carried in Row.Fields. A bad row does not stop the file: it is left out and
// reported in bad, by line and column, in line order. err is for a file
// that cannot be read at all (no header, a missing column, broken CSV
// quoting, a line over MaxLineBytes, an I/O error), and then no rows are
// returned.
//
// Beyond each row on its own, Read checks the file as a whole: meter ids
// and serials are unique, and a gas or water meter's parent is an
// electricity meter of the same file at the same address. A row that
// breaks one of these is reported at its own line. The protocol's columns
// are its driver's to check.
func Read(r io.Reader) (rows []Row, bad []*RowError, err error) {
	rd, err := NewReader(r)
	if err != nil {
		return nil, nil, err
	}
	for {
		row, rerr, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		if rerr != nil {
			bad = append(bad, rerr)
			continue
		}
		rows = append(rows, row)
	}
	// A sub-meter can only be reached through its parent, which may come
	// later in the file: check once every row is in.
	rows, more := CheckParents(rows, nil)
	if len(more) > 0 {
		bad = append(bad, more...)
		slices.SortStableFunc(bad, func(a, b *RowError) int { return a.Line - b.Line })
	}
	return rows, bad, nil
}

// MaxLineBytes bounds one line of a manifest. A row of the longest fields
// allowed is under 3 KiB; a longer one is refused at its line with the
// field that is too long, but a reader must not buffer a line of any size
// a sender likes, so past this the file is refused.
const MaxLineBytes = 1 << 20

// Reader reads a manifest one row at a time, so that a shipment of any
// size is checked and imported in batches as it arrives. It checks each
// row on its own and meter ids and serials against the rows before it; a
// sub-meter's parent is the caller's to check (CheckParents), since it may
// come later.
type Reader struct {
	cr      *csv.Reader
	lines   *lineLimit
	head    int
	p       rowParser
	ids     map[uint64]int // meter id → line
	serials map[string]int // serial → line
}

// NewReader reads the header of a manifest; the error is a *RowError at
// line 1 (wrapping ErrManifest) when the header is wrong.
func NewReader(r io.Reader) (*Reader, error) {
	ll := &lineLimit{r: r, line: 1}
	cr := csv.NewReader(ll)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if err == io.EOF {
		return nil, &RowError{Line: 1, Err: errors.New("empty manifest: no header")}
	}
	if err != nil {
		return nil, csvErr(err)
	}
	pos := make(map[string]int, len(head))
	for i, h := range head {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if _, dup := pos[h]; dup {
			return nil, &RowError{Line: 1, Column: h, Err: errors.New("column appears twice")}
		}
		pos[h] = i
	}
	idx := make([]int, len(Columns))
	for i, c := range Columns {
		j, ok := pos[c]
		if !ok {
			return nil, &RowError{Line: 1, Column: c, Err: errors.New("missing column")}
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
	// Every other column is the protocol's: which of them a row needs
	// depends on its protocol, known only at import.
	var extra []int
	var names []string
	for i, h := range head {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if !slices.Contains(Columns, h) && !slices.Contains(OptionalColumns, h) && !slices.Contains(GridColumns, h) {
			if h == "" || checkText(h, h) != nil {
				continue // not a name a driver could ask for
			}
			extra = append(extra, i)
			names = append(names, h)
		}
	}
	grid := make([]int, len(GridColumns))
	for i, c := range GridColumns {
		grid[i] = -1
		if j, ok := pos[c]; ok {
			grid[i] = j
		}
	}
	return &Reader{cr: cr, lines: ll, head: len(head),
		p:   rowParser{idx: idx, opt: opt, grid: grid, extra: extra, names: names, zones: map[string]error{}},
		ids: map[uint64]int{}, serials: map[string]int{}}, nil
}

// Next returns the next row. A row refused comes back as bad, and the
// rows after it can still be read; err is io.EOF at the end of the file,
// or the reason nothing more of it can be read (broken quoting, a line
// over MaxLineBytes, an I/O error).
func (rd *Reader) Next() (row Row, bad *RowError, err error) {
	rec, err := rd.cr.Read()
	if err == io.EOF {
		return Row{}, nil, io.EOF
	}
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) && !errors.Is(pe.Err, csv.ErrQuote) && !errors.Is(pe.Err, csv.ErrBareQuote) {
			return Row{}, &RowError{Line: pe.Line, Err: pe.Err}, nil
		}
		// Past broken quoting the line structure is lost: trust nothing
		// more of the file.
		return Row{}, nil, csvErr(err)
	}
	line, _ := rd.cr.FieldPos(0)
	if len(rec) != rd.head {
		return Row{}, &RowError{Line: line, Err: fmt.Errorf("%d fields, the header has %d", len(rec), rd.head)}, nil
	}
	row, err = rd.p.parse(rec, line)
	if err != nil {
		var re *RowError
		if !errors.As(err, &re) {
			re = &RowError{Line: line, Err: err}
		}
		return Row{}, re, nil
	}
	if first, dup := rd.ids[row.MeterID]; dup {
		return Row{}, &RowError{Line: line, Column: "meter_id", Err: fmt.Errorf("meter %d already on line %d", row.MeterID, first)}, nil
	}
	if first, dup := rd.serials[row.Serial]; dup {
		return Row{}, &RowError{Line: line, Column: "serial", Err: fmt.Errorf("serial %s already on line %d", row.Serial, first)}, nil
	}
	rd.ids[row.MeterID], rd.serials[row.Serial] = line, line
	return row, nil, nil
}

// lineLimit fails a read once a line runs over MaxLineBytes.
type lineLimit struct {
	r    io.Reader
	n    int // bytes since the last newline
	line int
}

func (l *lineLimit) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	for _, b := range p[:n] {
		if b == '\n' {
			l.n = 0
			l.line++
			continue
		}
		if l.n++; l.n > MaxLineBytes {
			return 0, &RowError{Line: l.line, Err: fmt.Errorf("line over %d bytes", MaxLineBytes)}
		}
	}
	return n, err
}

// CheckParents checks that each gas or water meter of rows hangs behind an
// electricity meter at the same address: one of rows, or else one that
// known returns (nil: none). It returns the rows that pass, in order, and
// a RowError at the line of each that does not.
func CheckParents(rows []Row, known func(id uint64) (Row, bool)) ([]Row, []*RowError) {
	byID := make(map[uint64]int, len(rows))
	for i, r := range rows {
		byID[r.MeterID] = i
	}
	var bad []*RowError
	var kept []Row // nil until a row is dropped
	for i, r := range rows {
		if r.SubMeter() {
			var parent Row
			j, ok := byID[r.Parent]
			if ok {
				parent = rows[j]
			} else if known != nil {
				parent, ok = known(r.Parent)
			}
			var err *RowError
			switch {
			case !ok:
				err = &RowError{Line: r.Line, Column: "parent_meter_id", Err: fmt.Errorf("meter %d: parent meter %d is not in the file (or its row was refused)", r.MeterID, r.Parent)}
			case parent.SubMeter():
				err = &RowError{Line: r.Line, Column: "parent_meter_id", Err: fmt.Errorf("meter %d: parent meter %d is a %s meter, not an electricity meter", r.MeterID, r.Parent, parent.Kind)}
			case parent.Address != r.Address || parent.Protocol != r.Protocol:
				err = &RowError{Line: r.Line, Column: "address", Err: fmt.Errorf("meter %d: %s, but its parent meter %d is at %s", r.MeterID, "tcp://"+r.Address.String(), r.Parent, "tcp://"+parent.Address.String())}
			}
			if err != nil {
				bad = append(bad, err)
				if kept == nil {
					kept = append(make([]Row, 0, len(rows)), rows[:i]...)
				}
				continue
			}
		}
		if kept != nil {
			kept = append(kept, r)
		}
	}
	if kept == nil {
		return rows, nil
	}
	return kept, bad
}

// Write writes rows as CSV with a header row: Columns, the protocol
// columns fields (from Row.Fields; empty where a row has none), then
// OptionalColumns. next yields the rows one at a time so that a large
// fleet is never held in memory.
func Write(w io.Writer, fields []string, next func(yield func(Row) bool) error) error {
	cw := csv.NewWriter(w)
	head := slices.Concat(Columns, fields, OptionalColumns)
	if err := cw.Write(head); err != nil {
		return err
	}
	rec := make([]string, len(head))
	var werr error
	err := next(func(r Row) bool {
		r.record(rec, fields)
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
	var re *RowError
	if errors.As(err, &re) {
		return re
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &RowError{Line: pe.Line, Err: pe.Err}
	}
	return fmt.Errorf("%w: %w", ErrManifest, err)
}

// rowParser parses the records of one file; zones caches time zone
// lookups, which read the system's zone database.
type rowParser struct {
	idx, opt []int
	// grid are the indexes of GridColumns, -1 where absent.
	grid []int
	// extra are the indexes of the protocol columns, names their names.
	extra []int
	names []string
	zones map[string]error
}

func (p *rowParser) parse(rec []string, line int) (Row, error) {
	get := func(c int) string { return strings.TrimSpace(rec[p.idx[c]]) }
	bad := func(c int, err error) (Row, error) {
		return Row{}, &RowError{Line: line, Column: Columns[c], Err: err}
	}
	r := Row{Line: line}
	var err error
	for c := range Columns {
		v := get(c)
		if err := checkText(Columns[c], v); err != nil {
			return bad(c, err)
		}
		switch Columns[c] {
		case "meter_id":
			if r.MeterID, err = strconv.ParseUint(v, 10, 64); err != nil || r.MeterID == 0 {
				return bad(c, errors.New("not a positive integer"))
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
			switch v {
			case "electricity", "electricity-1p", "electricity-3p", "gas", "water":
			default:
				return bad(c, fmt.Errorf("%q: want electricity-1p, electricity-3p, electricity, gas or water", v))
			}
			r.Kind = v
		case "protocol":
			// Which protocols there are is the head-end's to say: a
			// protocol no driver serves is refused at import.
			if v == "" {
				return bad(c, errors.New("empty"))
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
		case "usage_point_id":
			r.UsagePointID = v
		case "time_zone":
			zerr, done := p.zones[v]
			if !done {
				_, zerr = time.LoadLocation(v)
				p.zones[v] = zerr
			}
			if zerr != nil {
				return bad(c, fmt.Errorf("unknown time zone %q", v))
			}
			r.TimeZone = v
		case "segment":
			r.Segment = v
		case "region":
			r.Region = v
		case "archetype":
			r.Archetype = v
		}
	}
	if i := p.opt[1]; i >= 0 {
		v := strings.TrimSpace(rec[i])
		if err := checkText("firmware", v); err != nil {
			return Row{}, &RowError{Line: line, Column: "firmware", Err: err}
		}
		r.Firmware = v
	}
	if i := p.opt[2]; i >= 0 {
		v := strings.TrimSpace(rec[i])
		if v != "" && !slices.Contains(Protections, v) {
			return Row{}, &RowError{Line: line, Column: "protection", Err: fmt.Errorf("%.32q: want vulnerable, medical or empty", v)}
		}
		r.Protection = v
	}
	if len(p.extra) > 0 {
		r.Fields = make(map[string]string, len(p.extra))
		for k, i := range p.extra {
			v := strings.TrimSpace(rec[i])
			if err := checkText(p.names[k], v); err != nil {
				return Row{}, &RowError{Line: line, Column: p.names[k], Err: err}
			}
			r.Fields[p.names[k]] = v
		}
	}
	if err := p.parseSub(&r, rec, line); err != nil {
		return Row{}, err
	}
	if err := p.parseGrid(&r, rec, line); err != nil {
		return Row{}, err
	}
	return r, nil
}

// parseGrid reads the optional GridColumns.
func (p *rowParser) parseGrid(r *Row, rec []string, line int) error {
	for g, name := range GridColumns {
		i := p.grid[g]
		if i < 0 {
			continue
		}
		v := strings.TrimSpace(rec[i])
		bad := func(err error) error { return &RowError{Line: line, Column: name, Err: err} }
		if err := checkText(name, v); err != nil {
			return bad(err)
		}
		// Kept by name as well, as read, for code that asks for a
		// column by its name.
		if r.Fields == nil {
			r.Fields = map[string]string{}
		}
		r.Fields[name] = v
		switch name {
		case "substation":
			r.Substation = v
		case "feeder":
			r.Feeder = v
		case "transformer":
			r.Transformer = v
		case "phase":
			if v == "" {
				continue
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 3 {
				return bad(fmt.Errorf("%.32q: want 1, 2, 3 or empty", v))
			}
			r.Phase = n
		case "lat", "lon":
			if v == "" {
				continue
			}
			limit := 90.0
			if name == "lon" {
				limit = 180
			}
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f != f || f < -limit || f > limit {
				return bad(fmt.Errorf("%.32q: want degrees between -%g and %g", v, limit, limit))
			}
			if name == "lat" {
				r.Lat = f
			} else {
				r.Lon = f
			}
		}
	}
	switch {
	case r.Feeder != "" && (r.Substation == "" || r.Transformer == ""):
		return &RowError{Line: line, Column: "feeder", Err: errors.New("a feeder needs its substation and transformer")}
	case r.Substation != "" && r.Feeder == "":
		return &RowError{Line: line, Column: "substation", Err: errors.New("a substation needs the feeder and transformer below it")}
	case r.Transformer != "" && r.UsagePointID == "":
		return &RowError{Line: line, Column: "transformer", Err: errors.New("a meter placed in the network needs its usage point")}
	}
	return nil
}

// parseSub reads the optional parent column: a gas or water meter needs
// its parent, an electricity meter has none.
func (p *rowParser) parseSub(r *Row, rec []string, line int) error {
	par := ""
	if p.opt[0] >= 0 {
		par = strings.TrimSpace(rec[p.opt[0]])
	}
	switch {
	case !r.SubMeter() && par != "" && SubKind(r.Kind):
		return &RowError{Line: line, Column: "parent_meter_id", Err: fmt.Errorf("a %s meter read over %s has no parent", r.Kind, r.Protocol)}
	case !r.SubMeter() && par != "":
		return &RowError{Line: line, Column: "parent_meter_id", Err: fmt.Errorf("a %s meter has no parent", r.Kind)}
	case !r.SubMeter():
		return nil
	case par == "":
		return &RowError{Line: line, Column: "parent_meter_id", Err: errors.New("a gas or water meter needs parent_meter_id")}
	}
	var err error
	if r.Parent, err = strconv.ParseUint(par, 10, 64); err != nil || r.Parent == 0 || r.Parent == r.MeterID {
		return &RowError{Line: line, Column: "parent_meter_id", Err: errors.New("not another meter's id")}
	}
	return nil
}

// MaxFieldBytes bounds a text field of a manifest; FieldLimits lowers it
// for some columns. A registry entry is a label on a screen and a key in
// the database, not a document.
const MaxFieldBytes = 128

// FieldLimits are the common columns held to less than MaxFieldBytes; a
// protocol's columns say theirs in Column.MaxBytes.
var FieldLimits = map[string]int{"serial": 64, "time_zone": 64}

// checkText refuses a field over its length limit, or one that is not
// UTF-8 or holds a control character (a NUL, a newline in quotes, an
// escape sequence for whoever prints it).
func checkText(column, v string) error {
	limit := MaxFieldBytes
	if l, ok := FieldLimits[column]; ok {
		limit = l
	}
	if len(v) > limit {
		return fmt.Errorf("%d bytes, at most %d", len(v), limit)
	}
	if !utf8.ValidString(v) {
		return errors.New("not UTF-8")
	}
	for i, c := range v {
		if unicode.IsControl(c) {
			return fmt.Errorf("control character %U at byte %d", c, i)
		}
	}
	return nil
}
