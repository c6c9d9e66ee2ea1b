package config

import "testing"

// FuzzDecodeYAML: any file is loaded or refused with an error, never a
// panic, and a refusal is one line.
func FuzzDecodeYAML(f *testing.F) {
	for _, s := range []string{"", "htp: 1\n", "http:\n  addr: x\n  adr: y\n", "mdm:\n  validation:\n    groups:\n      - {name: a, mach: 1}\n",
		"a: &x {b: 1}\nhttp: *x\n", "<<: {data: x}\n", "http: [\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c := Default()
		if err := decodeYAML(b, &c); err != nil {
			for _, r := range err.Error() {
				if r == '\n' {
					t.Fatalf("error spans lines: %q", err)
				}
			}
		}
	})
}
