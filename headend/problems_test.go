package headend

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestProblemSummary(t *testing.T) {
	denied := ObjectProblem{Object: "0.0.96.5.0.255:2", Cause: "dlms: XTP0000001: get 1/0.0.96.5.0.255/2: read-write-denied"}
	if got, want := problemSummary([]ObjectProblem{denied}), "1 object failed: 0.0.96.5.0.255:2 read-write-denied"; got != want {
		t.Errorf("one: %q, want %q", got, want)
	}
	odd := ObjectProblem{Object: "1.0.99.1.0.255:2", Cause: "entry with 2 values for 3 columns: dlms: protocol error"}
	if got, want := problemSummary([]ObjectProblem{denied, odd}),
		"2 objects failed: 0.0.96.5.0.255:2 read-write-denied; 1.0.99.1.0.255:2 entry with 2 values for 3 columns: dlms: protocol error"; got != want {
		t.Errorf("two: %q, want %q", got, want)
	}
	// Many objects: bounded, and says how many it left out.
	var many []ObjectProblem
	for i := range 100 {
		many = append(many, ObjectProblem{Object: fmt.Sprintf("1.0.%d.8.0.255:2", i), Cause: "dlms: m: get: object-undefined"})
	}
	got := problemSummary(many)
	if len(got) > maxProblems || !strings.HasPrefix(got, "100 objects failed: 1.0.0.8.0.255:2 object-undefined; ") ||
		!strings.Contains(got, " more") {
		t.Errorf("many: %d bytes: %q", len(got), got)
	}
	// Warnings come after the failures, and say so.
	wrapped := ObjectProblem{Object: "8/0.0.1.0.0.255/2", Cause: "the date-time came wrapped", Warning: true}
	if got, want := problemSummary([]ObjectProblem{wrapped}), "1 object read with a warning: 8/0.0.1.0.0.255/2 warning: the date-time came wrapped"; got != want {
		t.Errorf("warning: %q, want %q", got, want)
	}
	if got, want := problemSummary([]ObjectProblem{wrapped, denied}),
		"1 object failed, 1 read with a warning: 0.0.96.5.0.255:2 read-write-denied; 8/0.0.1.0.0.255/2 warning: the date-time came wrapped"; got != want {
		t.Errorf("both: %q, want %q", got, want)
	}
	// One cause longer than the bound, of several-byte characters.
	long := ObjectProblem{Object: "1.0.1.8.0.255:2", Cause: strings.Repeat("é", 300)}
	if got := problemSummary([]ObjectProblem{long}); len(got) > maxProblems || !utf8.ValidString(got) {
		t.Errorf("long: %d bytes, valid %v", len(got), utf8.ValidString(got))
	}
}

func TestProblemCause(t *testing.T) {
	for cause, want := range map[string]string{
		"dlms: m: get 1/0.0.96.5.0.255/2: read-write-denied":                           "read-write-denied",
		"clock: dlms: m: get 8/0.0.1.0.0.255/2: object-undefined":                      "object-undefined",
		"value is not an integer amigo can scale exactly: visible-string(x)":           "not-integer",
		"profile 1.0.99.1.0.255: value is not an integer amigo can scale exactly in x": "not-integer",
		"warning: the date-time came wrapped in one more octet-string; read as it":     "tolerated",
		"the profile left the meter's object list":                                     "other",
		"dlms: m: get: data-access-result(77)":                                         "other",
		"":                                                                             "other",
	} {
		if got := problemCause(ObjectProblem{Cause: cause}); got != want {
			t.Errorf("%q: %q, want %q", cause, got, want)
		}
	}
	if got := problemCause(ObjectProblem{Cause: "the date-time came wrapped", Warning: true}); got != "tolerated" {
		t.Errorf("a warning: %q", got)
	}
}
