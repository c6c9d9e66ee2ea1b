package store

import (
	"strings"
	"testing"
)

// FuzzSchemeOf: what Open reads as a scheme is a valid, lower-case scheme
// that the URL starts with (in any case) before its colon; anything else
// is a path. It never panics.
func FuzzSchemeOf(f *testing.F) {
	for _, s := range []string{"postgres://u:p@h/db", "sqlite:///a.db", "SQLite:x", "file:", "/var/lib/amigo.db",
		"C:\\amigo.db", "rel/at:12/x.db", "1x:y", ":x", "a+b.c-d:e", "", "mysql://x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, u string) {
		scheme, ok := schemeOf(u)
		if !ok {
			if scheme != "" {
				t.Fatalf("%q: no scheme, yet %q", u, scheme)
			}
			return
		}
		if len(scheme) < 2 || !validScheme(scheme) || scheme != strings.ToLower(scheme) {
			t.Fatalf("%q: scheme %q", u, scheme)
		}
		if !strings.EqualFold(u[:len(scheme)+1], scheme+":") {
			t.Fatalf("%q does not start with %q:", u, scheme)
		}
	})
}
