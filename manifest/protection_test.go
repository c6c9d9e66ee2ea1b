package manifest_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/amigo-ami/amigo/manifest"
)

// TestProtectionColumn: the optional protection column takes vulnerable,
// medical or nothing, is written back, and a file without it reads with
// no protection.
func TestProtectionColumn(t *testing.T) {
	in := strings.TrimSuffix(header, "\n") + ",protection\n" +
		strings.TrimSuffix(goodRow, "\n") + ",medical\n" +
		strings.TrimSuffix(row("2"), "\n") + ",elderly\n" +
		strings.TrimSuffix(row("3"), "\n") + ", vulnerable \n" +
		strings.TrimSuffix(row("4"), "\n") + ",\n"
	rows, bad, err := manifest.Read(strings.NewReader(in))
	if err != nil || len(rows) != 3 || len(bad) != 1 {
		t.Fatalf("rows %+v bad %v err %v", rows, bad, err)
	}
	if b := bad[0]; b.Line != 3 || b.Column != "protection" || !strings.Contains(b.Error(), `"elderly": want vulnerable, medical or empty`) {
		t.Errorf("bad row: %v", b)
	}
	if rows[0].Protection != "medical" || rows[1].Protection != "vulnerable" || rows[2].Protection != "" {
		t.Errorf("protections %q %q %q", rows[0].Protection, rows[1].Protection, rows[2].Protection)
	}
	var buf bytes.Buffer
	if err := manifest.Write(&buf, dlmsFields, func(yield func(manifest.Row) bool) error {
		for _, r := range rows {
			if !yield(r) {
				break
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	again, bad, err := manifest.Read(&buf)
	if err != nil || len(bad) != 0 || len(again) != 3 || again[0].Protection != "medical" || again[1].Protection != "vulnerable" || again[2].Protection != "" {
		t.Fatalf("round trip %+v %v %v", again, bad, err)
	}
	old, _, err := manifest.Read(strings.NewReader(header + goodRow))
	if err != nil || len(old) != 1 || old[0].Protection != "" {
		t.Fatalf("without the column: %+v %v", old, err)
	}
}
