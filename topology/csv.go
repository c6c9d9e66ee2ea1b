package topology

import (
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Columns are the columns of the topology file, in the order WriteCSV
// writes them. The first four are required; the others may be absent.
var Columns = []string{
	"usage_point", "transformer", "feeder", "substation",
	"region", "lat", "lon", "phase", "distance_m", "transformer_distance_m",
}

const requiredColumns = 4

// MaxIDBytes bounds an id or region in the file: they are keys and
// labels, not documents.
const MaxIDBytes = 128

// Row is one service of the topology file: where a usage point hangs in
// the tree, and what is known of it. Zero values are unknown.
type Row struct {
	// Line is where the row was read (the header is line 1); zero for a
	// row not read from a file.
	Line                                        int
	UsagePoint, Transformer, Feeder, Substation string
	Region                                      string
	Lat, Lon                                    float64
	Phase                                       int
	DistanceM                                   int
	// TransformerDistanceM is the transformer's distance from its
	// substation along the feeder.
	TransformerDistanceM int
}

// CSVError is a bad topology file: Line is 1-based and counts the header;
// Column is empty when the row or file as a whole is wrong.
type CSVError struct {
	Line   int
	Column string
	Err    error
}

func (e *CSVError) Error() string {
	switch {
	case e.Line == 0:
		return fmt.Sprintf("topology file: %v", e.Err)
	case e.Column == "":
		return fmt.Sprintf("topology file line %d: %v", e.Line, e.Err)
	}
	return fmt.Sprintf("topology file line %d, column %s: %v", e.Line, e.Column, e.Err)
}

func (e *CSVError) Unwrap() error { return e.Err }

// ParseCSV reads a topology file: a header naming the columns (Columns,
// in any order; the first four required), then one row per service. A
// byte order mark and CRLF line ends are accepted. The file is refused
// whole at the first problem, with its line and column: a missing or
// unknown column, an empty id, a bad number, a usage point listed twice,
// a device given two parents, or one id used at two levels. Devices take
// the region their services share, and a position from theirs.
func ParseCSV(r io.Reader) (*Grid, error) {
	rows, err := readRows(r)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, &CSVError{Line: 2, Err: errors.New("no services: the file has a header only")}
	}
	nodes, err := NodesOf(rows)
	if err != nil {
		return nil, err
	}
	return New(nodes)
}

func readRows(r io.Reader) ([]Row, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err == io.EOF {
		return nil, &CSVError{Line: 1, Err: errors.New("empty file: no header")}
	}
	if err != nil {
		return nil, csvError(err)
	}
	col := make([]int, len(Columns)) // Columns index → record index, -1 absent
	for i := range col {
		col[i] = -1
	}
	for i, h := range head {
		if i == 0 {
			h = strings.TrimPrefix(h, "\ufeff")
		}
		h = strings.ToLower(strings.TrimSpace(h))
		c := slices.Index(Columns, h)
		if c < 0 {
			return nil, &CSVError{Line: 1, Column: fmt.Sprintf("%.40q", h), Err: fmt.Errorf("unknown column; the columns are %s", strings.Join(Columns, ", "))}
		}
		if col[c] >= 0 {
			return nil, &CSVError{Line: 1, Column: h, Err: errors.New("column appears twice")}
		}
		col[c] = i
	}
	for c := range requiredColumns {
		if col[c] < 0 {
			return nil, &CSVError{Line: 1, Column: Columns[c], Err: errors.New("missing column")}
		}
	}
	seen := map[string]int{} // usage point → line
	var rows []Row
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			return nil, csvError(err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(head) {
			return nil, &CSVError{Line: line, Err: fmt.Errorf("%d fields, the header has %d", len(rec), len(head))}
		}
		row, err := parseRow(rec, col, line)
		if err != nil {
			return nil, err
		}
		if first, dup := seen[row.UsagePoint]; dup {
			return nil, &CSVError{Line: line, Column: "usage_point", Err: fmt.Errorf("usage point %q already on line %d", row.UsagePoint, first)}
		}
		seen[row.UsagePoint] = line
		row.Line = line
		rows = append(rows, row)
	}
}

func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &CSVError{Line: pe.Line, Err: pe.Err}
	}
	return &CSVError{Err: err}
}

func parseRow(rec []string, col []int, line int) (Row, error) {
	var r Row
	for c, name := range Columns {
		if col[c] < 0 {
			continue
		}
		v := strings.TrimSpace(rec[col[c]])
		bad := func(err error) (Row, error) { return Row{}, &CSVError{Line: line, Column: name, Err: err} }
		if c < requiredColumns && v == "" {
			return bad(errors.New("empty"))
		}
		var err error
		switch name {
		case "usage_point", "transformer", "feeder", "substation", "region":
			if err := checkID(v); err != nil {
				return bad(err)
			}
			switch name {
			case "usage_point":
				r.UsagePoint = v
			case "transformer":
				r.Transformer = v
			case "feeder":
				r.Feeder = v
			case "substation":
				r.Substation = v
			case "region":
				r.Region = v
			}
		case "lat":
			if r.Lat, err = parseCoord(v, 90); err != nil {
				return bad(err)
			}
		case "lon":
			if r.Lon, err = parseCoord(v, 180); err != nil {
				return bad(err)
			}
		case "phase":
			if r.Phase, err = parseInt(v, 3); err != nil {
				return bad(err)
			}
		case "distance_m":
			if r.DistanceM, err = parseInt(v, maxDistanceM); err != nil {
				return bad(err)
			}
		case "transformer_distance_m":
			if r.TransformerDistanceM, err = parseInt(v, maxDistanceM); err != nil {
				return bad(err)
			}
		}
	}
	return r, nil
}

// maxDistanceM bounds a cable distance: no distribution feeder is 1000 km.
const maxDistanceM = 1_000_000

func checkID(v string) error {
	if len(v) > MaxIDBytes {
		return fmt.Errorf("over %d bytes", MaxIDBytes)
	}
	if !utf8.ValidString(v) {
		return errors.New("not UTF-8")
	}
	if strings.ContainsFunc(v, unicode.IsControl) {
		return errors.New("holds a control character")
	}
	return nil
}

func parseCoord(v string, limit float64) (float64, error) {
	if v == "" {
		return 0, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || f < -limit || f > limit {
		return 0, fmt.Errorf("%.32q: want degrees between -%g and %g", v, limit, limit)
	}
	return f, nil
}

func parseInt(v string, limit int) (int, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > limit {
		return 0, fmt.Errorf("%.32q: want a whole number from 0 to %d", v, limit)
	}
	return n, nil
}

// NodesOf turns rows into the nodes of a tree: each row's service, and
// its transformer, feeder and substation once. A row may leave the
// feeder and substation empty, when its transformer is placed by
// another row or by the version a manifest is merged over; then only
// its service comes out. It refuses a device given two parents or two
// distances, and an id used at two levels, naming both rows (by line
// where they have one).
func NodesOf(rows []Row) ([]Node, error) {
	type seen struct {
		node   *Node
		line   int    // the row that placed it
		region string // the rows' region while they agree
		mixed  bool   // the rows disagree on the region
	}
	at := map[string]*seen{}
	var order []string
	where := func(line, row int) string {
		if line > 0 {
			return fmt.Sprintf("line %d", line)
		}
		return fmt.Sprintf("row %d", row+1)
	}
	fail := func(r Row, column string, err error) error {
		return &CSVError{Line: r.Line, Column: column, Err: err}
	}
	for i, r := range rows {
		if r.UsagePoint == "" || r.Transformer == "" {
			return nil, fail(r, "usage_point", fmt.Errorf("%s: a service needs its usage point and transformer", where(r.Line, i)))
		}
		if (r.Feeder == "") != (r.Substation == "") {
			return nil, fail(r, "feeder", fmt.Errorf("%s: usage point %s: a feeder and its substation go together", where(r.Line, i), r.UsagePoint))
		}
		add := func(n Node, column string) error {
			s, ok := at[n.ID]
			if !ok {
				at[n.ID] = &seen{node: &n, line: i, region: r.Region}
				order = append(order, n.ID)
				return nil
			}
			first := where(rows[s.line].Line, s.line)
			switch {
			case s.node.Level != n.Level:
				return fail(r, column, fmt.Errorf("%q is a %s here but a %s on %s", n.ID, n.Level, s.node.Level, first))
			case n.Level == Service:
				return fail(r, column, fmt.Errorf("usage point %q already on %s", n.ID, first))
			case s.node.Parent != n.Parent:
				return fail(r, column, fmt.Errorf("%s %q is under %q here but under %q on %s", n.Level, n.ID, n.Parent, s.node.Parent, first))
			case n.DistanceM != 0 && s.node.DistanceM != 0 && n.DistanceM != s.node.DistanceM:
				return fail(r, "transformer_distance_m", fmt.Errorf("%s %q is %d m out here but %d m on %s", n.Level, n.ID, n.DistanceM, s.node.DistanceM, first))
			}
			if s.node.DistanceM == 0 {
				s.node.DistanceM = n.DistanceM
			}
			s.mixed = s.mixed || s.region != r.Region
			return nil
		}
		if r.Feeder != "" {
			if err := add(Node{ID: r.Substation, Level: Substation}, "substation"); err != nil {
				return nil, err
			}
			if err := add(Node{ID: r.Feeder, Level: Feeder, Parent: r.Substation}, "feeder"); err != nil {
				return nil, err
			}
			if err := add(Node{ID: r.Transformer, Level: Transformer, Parent: r.Feeder, DistanceM: r.TransformerDistanceM}, "transformer"); err != nil {
				return nil, err
			}
		}
		if err := add(Node{ID: r.UsagePoint, Level: Service, Parent: r.Transformer, Region: r.Region,
			Lat: r.Lat, Lon: r.Lon, Phase: r.Phase, DistanceM: r.DistanceM}, "usage_point"); err != nil {
			return nil, err
		}
	}
	// A device's region is its services' when they all share one; the
	// regions seen by a feeder or substation are those of its
	// transformers' rows, which are all of its services' rows.
	for _, id := range order {
		s := at[id]
		if s.node.Level != Service && !s.mixed {
			s.node.Region = s.region
		}
	}
	out := make([]Node, len(order))
	for i, id := range order {
		out[i] = *at[id].node
	}
	return out, nil
}

// WriteCSV writes the grid as a topology file: one row per service, by
// usage point id, with the optional columns any service has a value for.
// A service without its own region takes its nearest device's. Devices
// with no service under them are not written: the file describes
// services.
func (g *Grid) WriteCSV(w io.Writer) error {
	services := g.At(Service)
	rows := make([]Row, 0, len(services))
	for _, s := range services {
		r := Row{UsagePoint: s.ID, Region: s.Region, Lat: s.Lat, Lon: s.Lon, Phase: s.Phase, DistanceM: s.DistanceM}
		for _, a := range g.Path(s.ID)[1:] {
			switch a.Level {
			case Transformer:
				r.Transformer, r.TransformerDistanceM = a.ID, a.DistanceM
			case Feeder:
				r.Feeder = a.ID
			case Substation:
				r.Substation = a.ID
			}
			r.Region = cmp.Or(r.Region, a.Region)
		}
		rows = append(rows, r)
	}
	// Which optional columns hold anything.
	has := make([]bool, len(Columns))
	for c := range requiredColumns {
		has[c] = true
	}
	for _, r := range rows {
		rec := r.record()
		for c := requiredColumns; c < len(Columns); c++ {
			has[c] = has[c] || rec[c] != ""
		}
	}
	pick := func(rec []string) []string {
		out := rec[:0:0]
		for c, v := range rec {
			if has[c] {
				out = append(out, v)
			}
		}
		return out
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(pick(slices.Clone(Columns))); err != nil {
		return fmt.Errorf("topology file: %w", err)
	}
	for _, r := range rows {
		if err := cw.Write(pick(r.record())); err != nil {
			return fmt.Errorf("topology file: usage point %s: %w", r.UsagePoint, err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("topology file: %w", err)
	}
	return nil
}

// record is the row's fields in Columns order, empty where unknown.
func (r Row) record() []string {
	num := func(n int) string {
		if n == 0 {
			return ""
		}
		return strconv.Itoa(n)
	}
	coord := func(f float64) string {
		if f == 0 {
			return ""
		}
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return []string{r.UsagePoint, r.Transformer, r.Feeder, r.Substation, r.Region,
		coord(r.Lat), coord(r.Lon), num(r.Phase), num(r.DistanceM), num(r.TransformerDistanceM)}
}
