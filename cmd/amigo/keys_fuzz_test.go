package main

import (
	"slices"
	"strings"
	"testing"
)

func TestParseMeterList(t *testing.T) {
	got, err := parseMeterList(strings.NewReader("# a shipment\nAMG1\n\n  AMG2  # the second\nAMG1\n"))
	if err != nil || !slices.Equal(got, []string{"AMG1", "AMG2"}) {
		t.Fatalf("%q %v", got, err)
	}
	if _, err := parseMeterList(strings.NewReader("AMG1\nAMG2,AMG3\n")); err == nil || !strings.HasPrefix(err.Error(), ":2:") {
		t.Fatalf("two on a line: %v", err)
	}
}

// FuzzParseMeterList: any input gives distinct, non-empty mRIDs without
// blanks, or an error; never a panic.
func FuzzParseMeterList(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		ms, err := parseMeterList(strings.NewReader(string(b)))
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, m := range ms {
			if m == "" || seen[m] || strings.ContainsAny(m, " \t,;#\n") {
				t.Fatalf("mRID %q in %q", m, ms)
			}
			seen[m] = true
		}
	})
}
