package dlmsdriver_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/amigo-ami/amigo/headend/dlmsdriver"
	"github.com/amigo-ami/amigo/manifest"
)

// TestRegisterGatewayColumns: a meter behind a concentrator keeps the
// concentrator's address, network and its physical address in its
// credentials; a row whose gateway columns are wrong is refused at the
// column at fault.
func TestRegisterGatewayColumns(t *testing.T) {
	header := strings.TrimSuffix(regHeader, "\n") + ",gateway,gateway_network,physical_address\n"
	row := func(id, gw, network, addr string) string {
		return strings.TrimSuffix(regRow(id), "\n") + "," + gw + "," + network + "," + addr + "\n"
	}
	in := header + row("1", "127.0.0.1:4061", "3", "414d470000000001") + // 2: behind a gateway
		row("2", "", "", "") + // 3: direct
		row("3", "127.0.0.1", "3", "41") + // 4: no port
		row("4", "127.0.0.1:4061", "300", "41") + // 5: network over 255
		row("5", "127.0.0.1:4061", "1", "") + // 6: no physical address
		row("6", "127.0.0.1:4061", "1", "zz") + // 7: not hex
		row("7", "", "1", "41") // 8: network without gateway
	rows, bad, err := manifest.Read(strings.NewReader(in))
	if err != nil || len(bad) != 0 {
		t.Fatalf("read: %v %v", bad, err)
	}
	d := dlmsdriver.New(dlmsdriver.Config{})
	want := map[int]string{4: "gateway", 5: "gateway_network", 6: "physical_address", 7: "physical_address", 8: "gateway"}
	for _, r := range rows {
		reg, err := d.Register(r)
		col, refused := want[r.Line]
		if !refused {
			if err != nil {
				t.Fatalf("line %d: %v", r.Line, err)
			}
			c, err := dlmsdriver.ParseCredentials(reg.Credentials)
			if err != nil {
				t.Fatal(err)
			}
			switch r.Line {
			case 2:
				if c.Gateway != "127.0.0.1:4061" || c.GatewayNetwork != 3 || !bytes.Equal(c.PhysicalAddress, []byte("AMG\x00\x00\x00\x00\x01")) {
					t.Fatalf("line 2: gateway %q network %d address %X", c.Gateway, c.GatewayNetwork, c.PhysicalAddress)
				}
			case 3:
				if c.Gateway != "" || c.PhysicalAddress != nil {
					t.Fatalf("line 3: a direct meter with gateway %q", c.Gateway)
				}
			}
			continue
		}
		var re *manifest.RowError
		if !errors.As(err, &re) || re.Line != r.Line || re.Column != col {
			t.Errorf("line %d: %v, want column %q", r.Line, err, col)
		}
	}
}
