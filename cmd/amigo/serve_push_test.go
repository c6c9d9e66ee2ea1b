package main

import (
	"strings"
	"testing"
)

// --push and --c1222-push start each listener at the address given, or
// none for "off", as /readyz reports.
func TestServePushListenerFlags(t *testing.T) {
	for _, tc := range []struct {
		args        []string
		dlms, c1222 bool
	}{
		{[]string{"--push", "127.0.0.1:0", "--c1222-push", "127.0.0.1:0"}, true, true},
		{[]string{"--push", "127.0.0.1:0", "--c1222-push", "off"}, true, false},
		{[]string{"--push", "off", "--c1222-push", "127.0.0.1:0"}, false, true},
	} {
		p := serve(t, append([]string{"--data", t.TempDir()}, tc.args...)...)
		code, body := httpGet(t, "http://"+p.addr+"/readyz")
		p.stop(t)
		if code != 200 {
			t.Fatalf("%v: readyz %d %s", tc.args, code, body)
		}
		if got := strings.Contains(body, `"push":"ok"`); got != tc.dlms {
			t.Errorf("%v: DLMS push listener ready %v, want %v: %s", tc.args, got, tc.dlms, body)
		}
		if got := strings.Contains(body, `"push-c12.22":"ok"`); got != tc.c1222 {
			t.Errorf("%v: C12.22 push listener ready %v, want %v: %s", tc.args, got, tc.c1222, body)
		}
	}
}
