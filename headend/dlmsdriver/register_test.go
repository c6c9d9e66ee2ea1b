package dlmsdriver_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/amigo-ami/amigo/dlms"
	"github.com/amigo-ami/amigo/dlms/security"
	"github.com/amigo-ami/amigo/headend/dlmsdriver"
	"github.com/amigo-ami/amigo/manifest"
)

const (
	regHeader = "meter_id,serial,manufacturer,model,kind,protocol,address,transport,client_sap,authentication,security_policy,system_title,ek,ak,lls_password,usage_point_id,time_zone,segment,region,archetype,parent_meter_id,mbus_channel\n"
	regElec   = "1,AMG1,AMG,AMG-E1,electricity-1p,dlms,tcp://127.0.0.2:4059,wrapper,1,hls-gmac,authenticated-encrypted,414d470000000001,000102030405060708090a0b0c0d0e0f,d0d1d2d3d4d5d6d7d8d9dadbdcdddedf,abc123,UP1,Europe/Amsterdam,cell-0,region-0,family,,\n"
	regGas    = "1099511627777,AMG4,AMG,AMG-gas,gas,dlms,tcp://127.0.0.2:4059,wrapper,1,hls-gmac,authenticated-encrypted,,,,,UP1-gas,Europe/Amsterdam,cell-0,region-0,,1,1\n"
)

// regRow is regElec as meter id, with its own serial.
func regRow(id string) string {
	return strings.Replace(regElec, "1,AMG1,", id+",AMG1-"+id+",", 1)
}

// TestRegisterChecksColumns: the driver refuses a row whose DLMS columns
// are wrong at the row's line and the column at fault, and makes sealed-
// to-be credentials and the push id of the rest.
func TestRegisterChecksColumns(t *testing.T) {
	in := regHeader + regElec + regGas +
		strings.Replace(regRow("3"), "000102030405060708090a0b0c0d0e0f", "0001", 1) + // 4: short key
		strings.Replace(regRow("4"), ",wrapper,", ",serial,", 1) + // 5: unknown transport
		strings.Replace(regRow("5"), "414d470000000001", "", 1) + // 6: electricity without system title
		strings.Replace(regRow("6"), "hls-gmac,authenticated-encrypted,414d470000000001,000102030405060708090a0b0c0d0e0f", "hls-gmac,authenticated-encrypted,414d470000000001,", 1) + // 7: hls without ek
		strings.Replace(strings.Replace(regRow("8"), "hls-gmac", "lls", 1), "abc123", "", 1) + // 8: lls without password
		strings.Replace(strings.Replace(regGas, "1099511627777,AMG4", "1099511627778,AMG5", 1), ",1,1\n", ",1,9\n", 1) + // 9: channel 9
		strings.Replace(regRow("10"), ",,\n", ",,2\n", 1) + // 10: electricity with a channel
		strings.Replace(regRow("11"), ",1,hls-gmac", ",x,hls-gmac", 1) // 11: client SAP not a number
	rows, bad, err := manifest.Read(strings.NewReader(in))
	if err != nil || len(bad) != 0 {
		t.Fatalf("read: %v %v", bad, err)
	}
	d := dlmsdriver.New(dlmsdriver.Config{})
	want := map[int]string{4: "ek", 5: "transport", 6: "system_title", 7: "", 8: "lls_password", 9: "mbus_channel",
		10: "mbus_channel", 11: "client_sap"}
	for _, r := range rows {
		reg, err := d.Register(r)
		col, refused := want[r.Line]
		if !refused {
			if err != nil {
				t.Errorf("line %d: %v", r.Line, err)
			}
			continue
		}
		var re *manifest.RowError
		if !errors.As(err, &re) || re.Line != r.Line || re.Column != col || !errors.Is(err, manifest.ErrManifest) {
			t.Errorf("line %d: %v (%+v), want column %q", r.Line, err, reg, col)
		}
	}
	elec, err := d.Register(rows[0])
	if err != nil || elec.PushID != "414d470000000001" {
		t.Fatalf("electricity meter: %+v %v", elec, err)
	}
	c, err := dlmsdriver.ParseCredentials(elec.Credentials)
	if err != nil || c.Transport != dlms.LinkWrapper || c.ClientSAP != 1 || c.Authentication != security.MechanismHLSGMAC || len(c.EK) != 16 ||
		len(c.AK) != 16 || string(c.Password) != "abc123" || c.MBusChannel != 0 {
		t.Fatalf("credentials %+v %v", c, err)
	}
	// What the head-end sealed before the driver made the credentials
	// still opens: the same JSON names, and an electricity meter's bytes
	// are the same, so a re-import finds them unchanged.
	if !bytes.HasPrefix(elec.Credentials, []byte(`{"transport":"wrapper","clientSap":1,"authentication":"hls-gmac","securityPolicy":"authenticated-encrypted","systemTitle":"`)) ||
		bytes.Contains(elec.Credentials, []byte("mbusChannel")) {
		t.Fatalf("credentials encoding %s", elec.Credentials)
	}
	gas, err := d.Register(rows[1])
	if err != nil || gas.PushID != "" {
		t.Fatalf("gas meter: %+v %v", gas, err)
	}
	if c, err := dlmsdriver.ParseCredentials(gas.Credentials); err != nil || c.MBusChannel != 1 {
		t.Fatalf("gas credentials %+v %v", c, err)
	}
}

// TestRegisterMissingColumn: a file of DLMS meters without one of the
// driver's required columns has each row refused on it.
func TestRegisterMissingColumn(t *testing.T) {
	in := strings.Replace(regHeader, ",ak,", ",other,", 1) + regElec
	rows, bad, err := manifest.Read(strings.NewReader(in))
	if err != nil || len(bad) != 0 || len(rows) != 1 {
		t.Fatalf("read: %v %v", bad, err)
	}
	_, err = dlmsdriver.New(dlmsdriver.Config{}).Register(rows[0])
	var re *manifest.RowError
	if !errors.As(err, &re) || re.Column != "ak" || re.Line != 2 {
		t.Fatalf("err %v, want column ak missing", err)
	}
}

func FuzzRegister(f *testing.F) {
	f.Add([]byte(regHeader + regElec + regGas))
	f.Add([]byte(strings.Replace(regHeader+regElec, "hls-gmac", "lls", 1)))
	d := dlmsdriver.New(dlmsdriver.Config{})
	f.Fuzz(func(t *testing.T, b []byte) {
		rows, _, err := manifest.Read(bytes.NewReader(b))
		if err != nil {
			return
		}
		for _, r := range rows {
			reg, err := d.Register(r)
			if err != nil {
				var re *manifest.RowError
				if !errors.As(err, &re) || re.Line != r.Line {
					t.Fatalf("line %d: %v is not a row error at the row's line", r.Line, err)
				}
				continue
			}
			c, err := dlmsdriver.ParseCredentials(reg.Credentials)
			if err != nil {
				t.Fatalf("credentials do not parse: %v", err)
			}
			if !r.SubMeter() && (len(c.SystemTitle) != 8 || len(reg.PushID) != 16) {
				t.Fatalf("meter %d registered with system title %x, push id %q", r.MeterID, c.SystemTitle, reg.PushID)
			}
			if r.SubMeter() && (c.MBusChannel < 1 || c.MBusChannel > 4 || reg.PushID != "") {
				t.Fatalf("sub-meter %d: channel %d, push id %q", r.MeterID, c.MBusChannel, reg.PushID)
			}
		}
	})
}
