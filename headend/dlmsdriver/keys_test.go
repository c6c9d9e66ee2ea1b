package dlmsdriver_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/amigo-ami/amigo/dlms/security"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/headend/dlmsdriver"
	"github.com/amigo-ami/amigo/manifest"
)

// TestKEKColumn: the optional kek column is carried into the credentials,
// checked like the other keys, and a manifest without it still imports
// into the same bytes as before.
func TestKEKColumn(t *testing.T) {
	kek := "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"
	hdr := strings.Replace(regHeader, ",mbus_channel\n", ",mbus_channel,kek\n", 1)
	in := hdr + strings.Replace(regElec, ",,\n", ",,,"+kek+"\n", 1) +
		strings.Replace(regRow("2"), ",,\n", ",,,f0f1\n", 1) + // 3: short kek
		strings.Replace(regRow("3"), ",,\n", ",,,\n", 1) // 4: no kek
	rows, bad, err := manifest.Read(strings.NewReader(in))
	if err != nil || len(bad) != 0 {
		t.Fatalf("read: %v %v", bad, err)
	}
	d := dlmsdriver.New(dlmsdriver.Config{})
	reg, err := d.Register(rows[0])
	if err != nil {
		t.Fatal(err)
	}
	c, _ := dlmsdriver.ParseCredentials(reg.Credentials)
	if len(c.KEK) != 16 || c.KEK[0] != 0xf0 || c.KeyGeneration != 0 {
		t.Fatalf("kek %x generation %d", c.KEK, c.KeyGeneration)
	}
	var re *manifest.RowError
	if _, err := d.Register(rows[1]); !errors.As(err, &re) || re.Column != "kek" {
		t.Fatalf("short kek: %v", err)
	}
	none, err := d.Register(rows[2])
	if err != nil || bytes.Contains(none.Credentials, []byte("kek")) || bytes.Contains(none.Credentials, []byte("keyGeneration")) {
		t.Fatalf("no kek: %s %v", none.Credentials, err)
	}
}

func TestRenewCredentials(t *testing.T) {
	d := dlmsdriver.New(dlmsdriver.Config{})
	cur := dlmsdriver.Credentials{ClientSAP: 1, Authentication: security.MechanismHLSGMAC, SystemTitle: []byte("AMG00001"),
		EK: bytes.Repeat([]byte{1}, 16), AK: bytes.Repeat([]byte{2}, 16), KEK: bytes.Repeat([]byte{3}, 16)}
	if _, err := d.RenewCredentials([]byte("{")); err == nil {
		t.Fatal("bad credentials renewed")
	}
	b, _ := cur.Marshal()
	seen := map[string]bool{}
	for gen := uint32(1); gen <= 3; gen++ {
		nb, err := d.RenewCredentials(b)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := dlmsdriver.ParseCredentials(nb)
		prev, _ := dlmsdriver.ParseCredentials(b)
		if n.KeyGeneration != gen || len(n.EK) != 16 || len(n.AK) != 16 || bytes.Equal(n.EK, prev.EK) || bytes.Equal(n.AK, prev.AK) ||
			bytes.Equal(n.EK, n.AK) || !bytes.Equal(n.KEK, cur.KEK) || !bytes.Equal(n.SystemTitle, cur.SystemTitle) || seen[string(n.EK)] {
			t.Fatalf("generation %d: %+v", gen, n)
		}
		seen[string(n.EK)] = true
		b = nb
	}
	for name, c := range map[string]dlmsdriver.Credentials{
		"no kek":    {ClientSAP: 1, Authentication: security.MechanismHLSGMAC, EK: cur.EK, AK: cur.AK},
		"lls":       {ClientSAP: 17, Authentication: security.MechanismLLS, Password: []byte("x"), KEK: cur.KEK},
		"gas meter": {ClientSAP: 1, Authentication: security.MechanismHLSGMAC, EK: cur.EK, AK: cur.AK, KEK: cur.KEK, MBusChannel: 1},
	} {
		b, _ := c.Marshal()
		if _, err := d.RenewCredentials(b); !errors.Is(err, headend.ErrUnsupported) {
			t.Errorf("%s: %v, want ErrUnsupported", name, err)
		}
	}
}
