package dlms

import "testing"

func TestLinkNames(t *testing.T) {
	for l, name := range map[Link]string{LinkWrapper: "wrapper", LinkHDLC: "hdlc"} {
		b, err := l.MarshalText()
		if err != nil || string(b) != name || l.String() != name {
			t.Errorf("%d: %q %s %v, want %q", uint8(l), b, l, err, name)
		}
		var back Link = 0xFF
		if err := back.UnmarshalText([]byte(name)); err != nil || back != l {
			t.Errorf("%q: %d %v", name, back, err)
		}
	}
	if l, err := ParseLink(""); err != nil || l != LinkWrapper {
		t.Errorf("empty: %s %v", l, err)
	}
	for _, s := range []string{"tcp", "HDLC", "wrapper "} {
		if _, err := ParseLink(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
	if _, err := Link(2).MarshalText(); err == nil {
		t.Error("link 2 marshalled")
	}
}
