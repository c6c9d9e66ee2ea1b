package topology

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func parseFile(t *testing.T, name string) *Grid {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g, err := ParseCSV(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return g
}

func TestParseCSV(t *testing.T) {
	g := parseFile(t, "feeders.csv")
	if g.Len() != 2+3+4+5 || g.Total() != 5 {
		t.Fatalf("%d nodes, %d services", g.Len(), g.Total())
	}
	up, _ := g.Node("UP0000000002")
	want := Node{ID: "UP0000000002", Level: Service, Parent: "TR-1", Region: "north", Lat: 52.3, Lon: 5.3, Phase: 2, DistanceM: 60}
	if up != want {
		t.Fatalf("service %+v, want %+v", up, want)
	}
	tr, _ := g.Node("TR-1")
	if tr.Parent != "FD-1" || tr.DistanceM != 800 || tr.Region != "north" || math.Abs(tr.Lat-52.2) > 1e-9 || math.Abs(tr.Lon-5.2) > 1e-9 {
		t.Fatalf("transformer %+v", tr)
	}
	// A device with services in two regions is in neither.
	if ss, _ := g.Node("SS-1"); ss.Region != "" {
		t.Fatalf("substation SS-1 across regions got region %q", ss.Region)
	}
	if fd, _ := g.Node("FD-2"); fd.Region != "south" {
		t.Fatalf("feeder FD-2 region %q", fd.Region)
	}
	if f, ok := g.Ancestor("UP0000000004", Feeder); !ok || f.ID != "FD-2" {
		t.Fatalf("feeder of UP0000000004: %+v %v", f, ok)
	}
	if c := g.Customers("FD-1"); c != 3 {
		t.Fatalf("FD-1 serves %d", c)
	}
}

func TestParseCSVHeaderByNameBOMAndCRLF(t *testing.T) {
	g := parseFile(t, "bom-crlf.csv")
	if p := g.Path("UP2"); len(p) != 4 || p[1].ID != "TR-1" || p[2].ID != "FD-1" || p[3].ID != "SS-1" {
		t.Fatalf("path of UP2: %+v", p)
	}
	q := parseFile(t, "quoted.csv")
	if n, ok := q.Node("UP,1"); !ok || n.Region != "east, upper" {
		t.Fatalf("quoted fields: %+v %v", n, ok)
	}
	if _, ok := q.Node(`FD "A"`); !ok {
		t.Fatal(`feeder FD "A" not read`)
	}
}

func TestCSVRoundTrip(t *testing.T) {
	for _, name := range []string{"feeders.csv", "bom-crlf.csv", "minimal.csv", "quoted.csv"} {
		g := parseFile(t, name)
		var buf bytes.Buffer
		if err := g.WriteCSV(&buf); err != nil {
			t.Fatal(err)
		}
		g2, err := ParseCSV(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatalf("%s: reading back %q: %v", name, buf.String(), err)
		}
		if !reflect.DeepEqual(g.Nodes(), g2.Nodes()) {
			t.Fatalf("%s: round trip changed the grid:\n%+v\n%+v", name, g.Nodes(), g2.Nodes())
		}
		var again bytes.Buffer
		if err := g2.WriteCSV(&again); err != nil || again.String() != buf.String() {
			t.Fatalf("%s: written twice differently (%v):\n%s\n%s", name, err, buf.String(), again.String())
		}
	}
}

func TestWriteCSVLeavesEmptyColumnsOut(t *testing.T) {
	var buf bytes.Buffer
	if err := parseFile(t, "minimal.csv").WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	if want := "usage_point,transformer,feeder,substation\nUP1,TR-1,FD-1,SS-1\n"; buf.String() != want {
		t.Fatalf("wrote %q, want %q", buf.String(), want)
	}
}

func TestParseCSVErrors(t *testing.T) {
	const head = "usage_point,transformer,feeder,substation,phase,lat\n"
	for _, c := range []struct {
		name, in    string
		line        int
		column, in2 string // column named, and a word the message holds
	}{
		{"empty", "", 1, "", "no header"},
		{"header only", head, 2, "", "no services"},
		{"missing column", "usage_point,transformer,feeder\nA,B,C\n", 1, "substation", "missing"},
		{"unknown column", "usage_point,transformer,feeder,substation,colour\n", 1, `"colour"`, "unknown column"},
		{"column twice", "usage_point,transformer,feeder,substation,feeder\n", 1, "feeder", "twice"},
		{"empty id", head + "UP1,,F1,S1,,\n", 2, "transformer", "empty"},
		{"short row", head + "UP1,T1,F1\n", 2, "", "3 fields"},
		{"bad phase", head + "UP1,T1,F1,S1,4,\n", 2, "phase", "0 to 3"},
		{"bad lat", head + "UP1,T1,F1,S1,1,91\n", 2, "lat", "degrees"},
		{"nan lat", head + "UP1,T1,F1,S1,1,NaN\n", 2, "lat", "degrees"},
		{"service twice", head + "UP1,T1,F1,S1,,\nUP2,T1,F1,S1,,\nUP1,T2,F1,S1,,\n", 4, "usage_point", "line 2"},
		{"transformer on two feeders", head + "UP1,T1,F1,S1,,\nUP2,T1,F2,S1,,\n", 3, "transformer", `under "F1" on line 2`},
		{"feeder on two substations", head + "UP1,T1,F1,S1,,\nUP2,T2,F1,S2,,\n", 3, "feeder", "line 2"},
		{"id at two levels", head + "UP1,T1,F1,S1,,\nUP2,F1,F2,S1,,\n", 3, "transformer", `"F1" is a transformer here but a feeder on line 2`},
		{"service named as a device", head + "UP1,T1,F1,S1,,\nT1,T2,F1,S1,,\n", 3, "usage_point", "transformer on line 2"},
		{"broken quote", head + "\"UP1,T1,F1,S1,,\n", 2, "", "quote"},
		{"control character", head + "UP\x1b1,T1,F1,S1,,\n", 2, "usage_point", "control"},
	} {
		t.Run(c.name, func(t *testing.T) {
			g, err := ParseCSV(strings.NewReader(c.in))
			var ce *CSVError
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, %v; want a CSVError", g, err)
			}
			if ce.Line != c.line || ce.Column != c.column || !strings.Contains(err.Error(), c.in2) {
				t.Fatalf("error %q (line %d, column %q); want line %d, column %q, saying %q", err, ce.Line, ce.Column, c.line, c.column, c.in2)
			}
		})
	}
}

func TestParseCSVTransformerDistanceConflict(t *testing.T) {
	in := "usage_point,transformer,feeder,substation,transformer_distance_m\nUP1,T1,F1,S1,100\nUP2,T1,F1,S1,\nUP3,T1,F1,S1,200\n"
	_, err := ParseCSV(strings.NewReader(in))
	var ce *CSVError
	if !errors.As(err, &ce) || ce.Line != 4 || ce.Column != "transformer_distance_m" {
		t.Fatalf("got %v", err)
	}
	g, err := ParseCSV(strings.NewReader("usage_point,transformer,feeder,substation,transformer_distance_m\nUP1,T1,F1,S1,\nUP2,T1,F1,S1,300\n"))
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := g.Node("T1"); n.DistanceM != 300 {
		t.Fatalf("T1 distance %d, want the one row that gives it", n.DistanceM)
	}
}

func FuzzParseCSV(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.csv"))
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("usage_point,transformer,feeder,substation\nA,A,A,A\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		g, err := ParseCSV(bytes.NewReader(in))
		if err != nil {
			var ce *CSVError
			if !errors.As(err, &ce) && !strings.HasPrefix(err.Error(), "topology") {
				t.Fatalf("unexplained error %v", err)
			}
			return
		}
		// What was read writes and reads back as itself.
		var buf bytes.Buffer
		if err := g.WriteCSV(&buf); err != nil {
			t.Fatal(err)
		}
		g2, err := ParseCSV(&buf)
		if err != nil {
			t.Fatalf("reading back what was written: %v", err)
		}
		if !reflect.DeepEqual(g.Nodes(), g2.Nodes()) {
			t.Fatalf("round trip changed the grid:\n%+v\n%+v", g.Nodes(), g2.Nodes())
		}
	})
}
