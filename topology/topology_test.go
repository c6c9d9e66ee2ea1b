package topology

import (
	"reflect"
	"strings"
	"testing"
)

func small(t *testing.T) *Grid {
	t.Helper()
	g, err := New([]Node{
		{ID: "UP3", Level: Service, Parent: "T2", Lat: 50, Lon: 6},
		{ID: "UP1", Level: Service, Parent: "T1", Lat: 50, Lon: 4},
		{ID: "UP2", Level: Service, Parent: "T1", Lat: 52, Lon: 4},
		{ID: "T1", Level: Transformer, Parent: "F1"},
		{ID: "T2", Level: Transformer, Parent: "F1"},
		{ID: "T3", Level: Transformer, Parent: "F2", Lat: 40, Lon: 1}, // surveyed, no services
		{ID: "F1", Level: Feeder, Parent: "S1"},
		{ID: "F2", Level: Feeder, Parent: "S1"},
		{ID: "S1", Level: Substation},
		{ID: "S2", Level: Substation},
	})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func ids(ns []Node) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.ID)
	}
	return out
}

func TestNavigation(t *testing.T) {
	g := small(t)
	if got := ids(g.Nodes()); !reflect.DeepEqual(got, []string{"S1", "S2", "F1", "F2", "T1", "T2", "T3", "UP1", "UP2", "UP3"}) {
		t.Fatalf("order %v", got)
	}
	if got := ids(g.At(Transformer)); !reflect.DeepEqual(got, []string{"T1", "T2", "T3"}) {
		t.Fatalf("transformers %v", got)
	}
	if got := g.Children("F1"); !reflect.DeepEqual(got, []string{"T1", "T2"}) {
		t.Fatalf("children of F1 %v", got)
	}
	for _, c := range []struct {
		id   string
		l    Level
		want string
	}{
		{"UP1", Feeder, "F1"}, {"UP1", Substation, "S1"}, {"UP1", Service, "UP1"}, {"T3", Feeder, "F2"},
		{"F1", Transformer, ""}, {"nope", Feeder, ""}, {"UP1", Level("bay"), ""},
	} {
		n, ok := g.Ancestor(c.id, c.l)
		if n.ID != c.want || ok != (c.want != "") {
			t.Errorf("Ancestor(%s, %s) = %q %v, want %q", c.id, c.l, n.ID, ok, c.want)
		}
	}
	if got := ids(g.Path("UP2")); !reflect.DeepEqual(got, []string{"UP2", "T1", "F1", "S1"}) {
		t.Fatalf("path %v", got)
	}
	if g.Path("nope") != nil {
		t.Fatal("path of an unknown node")
	}
	for id, want := range map[string][]string{"S1": {"UP1", "UP2", "UP3"}, "T1": {"UP1", "UP2"}, "UP3": {"UP3"}, "T3": nil, "S2": nil, "nope": nil} {
		if got := g.Services(id); !reflect.DeepEqual(got, want) {
			t.Errorf("Services(%s) = %v, want %v", id, got, want)
		}
		if got := g.Customers(id); got != len(want) {
			t.Errorf("Customers(%s) = %d, want %d", id, got, len(want))
		}
	}
	if g.Total() != 3 || g.Len() != 10 {
		t.Fatalf("total %d, len %d", g.Total(), g.Len())
	}
}

func TestPlace(t *testing.T) {
	g := small(t)
	// F1 sits at the mean of its three services, not of its two
	// transformers (T1 at 51,4 and T2 at 50,6 would give 50.5,5).
	f1, _ := g.Node("F1")
	if f1.Lat != 152.0/3 || f1.Lon != 14.0/3 {
		t.Fatalf("F1 at %v,%v", f1.Lat, f1.Lon)
	}
	if t1, _ := g.Node("T1"); t1.Lat != 51 || t1.Lon != 4 {
		t.Fatalf("T1 at %v,%v", t1.Lat, t1.Lon)
	}
	// A surveyed position stays; a device with no positioned service
	// stays unplaced.
	if t3, _ := g.Node("T3"); t3.Lat != 40 || t3.Lon != 1 {
		t.Fatalf("T3 at %v,%v", t3.Lat, t3.Lon)
	}
	if s2, _ := g.Node("S2"); s2.Lat != 0 || s2.Lon != 0 {
		t.Fatalf("S2 at %v,%v", s2.Lat, s2.Lon)
	}
	src := map[string]Node{}
	for _, n := range g.Source() {
		src[n.ID] = n
	}
	if src["F1"].Lat != 0 || src["T1"].Lat != 0 || src["T3"].Lat != 40 || src["UP1"].Lat != 50 {
		t.Fatalf("source kept derived positions: %+v", src)
	}
}

func TestNewRefuses(t *testing.T) {
	for _, c := range []struct {
		name  string
		nodes []Node
		say   string
	}{
		{"no id", []Node{{Level: Substation}}, "no id"},
		{"unknown level", []Node{{ID: "X", Level: "bay"}}, "unknown level"},
		{"twice", []Node{{ID: "S", Level: Substation}, {ID: "S", Level: Substation}}, "twice"},
		{"orphan", []Node{{ID: "F", Level: Feeder, Parent: "S"}}, "not in the grid"},
		{"skips a level", []Node{{ID: "S", Level: Substation}, {ID: "T", Level: Transformer, Parent: "S"}}, "not a feeder"},
		{"substation with parent", []Node{{ID: "S", Level: Substation, Parent: "X"}}, "has a parent"},
	} {
		if _, err := New(c.nodes); err == nil || !strings.Contains(err.Error(), c.say) {
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.say)
		}
	}
	// Of several faults the first given is named, every time.
	for range 20 {
		_, err := New([]Node{{ID: "A", Level: Feeder, Parent: "x"}, {ID: "B", Level: Feeder, Parent: "y"}, {ID: "C", Level: Feeder, Parent: "z"}})
		if err == nil || !strings.Contains(err.Error(), `"A"`) {
			t.Fatalf("got %v, want the first fault", err)
		}
	}
}

func TestMerge(t *testing.T) {
	base := parseFile(t, "feeders.csv")
	base.Version = 7
	// UP0000000003 moves to a new transformer on FD-2; UP0000000009 is new
	// under TR-1, placed by the base only; the rest keep their place.
	rows := []Row{
		{UsagePoint: "UP0000000003", Transformer: "TR-9", Feeder: "FD-2", Substation: "SS-1", Phase: 2},
		{UsagePoint: "UP0000000009", Transformer: "TR-1"},
	}
	nodes, err := NodesOf(rows)
	if err != nil {
		t.Fatal(err)
	}
	g, err := Merge(base, nodes)
	if err != nil {
		t.Fatal(err)
	}
	if g.Total() != 6 {
		t.Fatalf("%d services after the merge", g.Total())
	}
	if f, _ := g.Ancestor("UP0000000003", Feeder); f.ID != "FD-2" {
		t.Fatalf("UP0000000003 on %s", f.ID)
	}
	up3, _ := g.Node("UP0000000003")
	if up3.Phase != 2 || up3.Region != "north" || up3.Parent != "TR-9" {
		t.Fatalf("moved service kept %+v", up3)
	}
	if f, _ := g.Ancestor("UP0000000009", Feeder); f.ID != "FD-1" {
		t.Fatalf("UP0000000009 on %s", f.ID)
	}
	if p, _ := g.Ancestor("UP0000000001", Transformer); p.ID != "TR-1" {
		t.Fatalf("untouched service moved to %s", p.ID)
	}
	// TR-2 lost its only service but stays in the tree, with its distance.
	if tr, ok := g.Node("TR-2"); !ok || tr.DistanceM != 2400 || g.Customers("TR-2") != 0 {
		t.Fatalf("TR-2 %+v %v", tr, ok)
	}
	// TR-1's derived position follows its services, old and new.
	if tr, _ := g.Node("TR-1"); tr.Lat == 0 {
		t.Fatalf("TR-1 unplaced after the merge: %+v", tr)
	}
	if _, err := Merge(base, []Node{{ID: "FD-1", Level: Transformer, Parent: "FD-2"}}); err == nil || !strings.Contains(err.Error(), "feeder in version 7") {
		t.Fatalf("level clash: %v", err)
	}
	if _, err := Merge(base, []Node{{ID: "UPX", Level: Service, Parent: "TR-77"}}); err == nil || !strings.Contains(err.Error(), "TR-77") {
		t.Fatalf("unknown transformer: %v", err)
	}
	if g, err := Merge(nil, nodes[:4]); err != nil || g.Total() != 1 {
		t.Fatalf("merge over nothing: %v", err)
	}
}
