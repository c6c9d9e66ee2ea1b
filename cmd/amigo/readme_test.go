package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeLayoutNamesEveryPackage keeps the README's layout section true
// of the tree: every package directory is named there, and every name there
// is a package directory.
func TestReadmeLayoutNamesEveryPackage(t *testing.T) {
	root := filepath.Join("..", "..")
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	i := strings.Index(readme, "## Layout")
	if i < 0 {
		t.Fatal("README.md has no Layout section")
	}
	layout := readme[i:]
	if j := strings.Index(layout[len("## Layout"):], "\n## "); j >= 0 {
		layout = layout[:len("## Layout")+j]
	}
	named := map[string]bool{}
	for _, m := range regexp.MustCompile("`([a-z0-9/]+)`").FindAllStringSubmatch(layout, -1) {
		named[m[1]] = true
	}

	pkgs := map[string]bool{}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() && p != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules" || name == "vendor") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go") {
			rel, err := filepath.Rel(root, filepath.Dir(p))
			if err != nil {
				return err
			}
			if rel != "." {
				pkgs[filepath.ToSlash(rel)] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) < 20 {
		t.Fatalf("found only %d packages under %s: is this the repository?", len(pkgs), root)
	}
	for p := range pkgs {
		if !named[p] {
			t.Errorf("package %s is not named in README.md's Layout section", p)
		}
	}
	for n := range named {
		if !pkgs[n] && !strings.HasPrefix(n, "go ") {
			if st, err := os.Stat(filepath.Join(root, n)); err != nil || !st.IsDir() {
				t.Errorf("README.md's Layout names %s, which is not a package", n)
			}
		}
	}
}
