package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const modulePath = "github.com/amigo-ami/amigo"

// layer is one row of the import rules in docs/ARCHITECTURE.md: the
// packages it holds (path.Match patterns relative to the module) and the
// layers they may import.
type layer struct {
	name     string
	patterns []string
	mayUse   []string
}

// importRules reads the table under "## Who may import whom" in
// docs/ARCHITECTURE.md. The page is the rule: the test enforces what the
// page says, so the two cannot drift apart.
func importRules(t *testing.T, doc string) []layer {
	t.Helper()
	i := strings.Index(doc, "## Who may import whom")
	if i < 0 {
		t.Fatal(`docs/ARCHITECTURE.md has no "## Who may import whom" section`)
	}
	section := doc[i+len("## Who may import whom"):]
	if j := strings.Index(section, "\n## "); j >= 0 {
		section = section[:j]
	}
	code := regexp.MustCompile("`([^`]+)`")
	var ls []layer
	sc := bufio.NewScanner(strings.NewReader(section))
	for sc.Scan() {
		cells := strings.Split(strings.Trim(strings.TrimSpace(sc.Text()), "|"), "|")
		if len(cells) != 3 || !strings.HasPrefix(strings.TrimSpace(cells[0]), "**") {
			continue
		}
		l := layer{name: strings.Trim(strings.TrimSpace(cells[0]), "*")}
		for _, m := range code.FindAllStringSubmatch(cells[1], -1) {
			l.patterns = append(l.patterns, m[1])
		}
		for _, m := range regexp.MustCompile(`\*\*([a-z-]+)\*\*`).FindAllStringSubmatch(cells[2], -1) {
			l.mayUse = append(l.mayUse, m[1])
		}
		ls = append(ls, l)
	}
	if len(ls) < 4 {
		t.Fatalf("read only %d layers from docs/ARCHITECTURE.md's import rules", len(ls))
	}
	return ls
}

// layerOf returns the first layer with a pattern matching pkg (relative to
// the module), or "" when none does.
func layerOf(ls []layer, pkg string) string {
	for _, l := range ls {
		for _, p := range l.patterns {
			if ok, _ := path.Match(p, pkg); ok {
				return l.name
			}
		}
	}
	return ""
}

// importViolations checks a package graph (package → its imports, paths
// relative to the module; other modules' packages are ignored) against
// the rules, and returns one line per package no layer holds and per
// import its layer may not make.
func importViolations(ls []layer, graph map[string][]string) []string {
	may := map[string][]string{}
	for _, l := range ls {
		may[l.name] = l.mayUse
	}
	var out []string
	for pkg, imps := range graph {
		from := layerOf(ls, pkg)
		if from == "" {
			out = append(out, fmt.Sprintf("%s is in no layer: add it to docs/ARCHITECTURE.md", pkg))
			continue
		}
		for _, imp := range imps {
			to := layerOf(ls, imp)
			if to == "" {
				continue // reported as a package of its own
			}
			if to != from && !slices.Contains(may[from], to) {
				out = append(out, fmt.Sprintf("%s (%s) imports %s (%s): a %s package may import only %s", pkg, from, imp, to, from, strings.Join(append([]string{from}, may[from]...), ", ")))
			}
		}
	}
	slices.Sort(out)
	return out
}

// TestImportRules holds every package of the module to the import rules of
// docs/ARCHITECTURE.md, from what `go list` says each imports (tests'
// imports aside: a test may wire what it exercises).
func TestImportRules(t *testing.T) {
	root := filepath.Join("..", "..")
	doc, err := os.ReadFile(filepath.Join(root, "docs", "ARCHITECTURE.md"))
	if err != nil {
		t.Fatal(err)
	}
	ls := importRules(t, string(doc))
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", "./...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	graph := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg, ok := strings.CutPrefix(f[0], modulePath+"/")
		if !ok {
			continue
		}
		graph[pkg] = nil
		for _, imp := range f[1:] {
			if rel, ok := strings.CutPrefix(imp, modulePath+"/"); ok {
				graph[pkg] = append(graph[pkg], rel)
			}
		}
	}
	if len(graph) < 20 {
		t.Fatalf("go list found only %d packages", len(graph))
	}
	for _, v := range importViolations(ls, graph) {
		t.Error(v)
	}
}

// TestImportRulesCatchAWrongWayImport shows the check failing: the real
// rules against the real graph with one wrong-way import added for each
// rule the page states.
func TestImportRulesCatchAWrongWayImport(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "ARCHITECTURE.md"))
	if err != nil {
		t.Fatal(err)
	}
	ls := importRules(t, string(doc))
	for _, c := range []struct{ from, to, want string }{
		{"dlms", "headend", "dlms (protocol) imports headend (core)"},
		{"cosem", "store", "cosem (protocol) imports store (core)"},
		{"headend", "dlms", "headend (core) imports dlms (protocol)"},
		{"mdm", "headend/dlmsdriver", "mdm (core) imports headend/dlmsdriver (driver)"},
		{"server", "cmd/amigo", "server (wiring) imports cmd/amigo (binary)"},
		{"sim", "headend", "sim (meter) imports headend (core)"},
		{"cim", "store", "cim (base) imports store (core)"},
	} {
		got := importViolations(ls, map[string][]string{c.from: {c.to}})
		if len(got) != 1 || !strings.HasPrefix(got[0], c.want) {
			t.Errorf("%s importing %s: violations %q, want one starting %q", c.from, c.to, got, c.want)
		}
	}
	// The allowed direction passes.
	for _, c := range [][2]string{{"headend/dlmsdriver", "dlms"}, {"headend/dlmsdriver", "headend"}, {"server", "headend/dlmsdriver"}, {"cmd/amigo", "server"}, {"sim", "dlms/server"}} {
		if got := importViolations(ls, map[string][]string{c[0]: {c[1]}}); len(got) != 0 {
			t.Errorf("%s importing %s: violations %q, want none", c[0], c[1], got)
		}
	}
	if got := importViolations(ls, map[string][]string{"newthing": nil}); len(got) != 1 || !strings.Contains(got[0], "in no layer") {
		t.Errorf("an unplaced package: violations %q, want it named", got)
	}
}
