package dlmsdriver_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/dlms/apdu"
	"github.com/amigo-ami/amigo/dlms/security"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/headend/dlmsdriver"
	"github.com/amigo-ami/amigo/sim"
)

var (
	fuzzEK    = bytes.Repeat([]byte{0x11}, 16)
	fuzzAK    = bytes.Repeat([]byte{0x22}, 16)
	fuzzTitle = []byte("AMG00001")
)

// fuzzPush is a valid last-gasp push under the fuzz keys.
func fuzzPush(tb testing.TB) []byte {
	ek, _ := security.NewKey(fuzzEK)
	ak, _ := security.NewKey(fuzzAK)
	n := &apdu.DataNotification{Body: sim.PushBody(sim.PushSetupLN, "AMG1", 1, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))}
	plain, err := n.Append(nil)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := security.WrapGeneral(nil, security.Global, security.NewSecurityControl(0, security.AuthenticatedEncryption),
		security.Keys{Unicast: ek, Authentication: ak}, fuzzTitle, 7, plain)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// fuzzDecode decodes a push as the head-end does: it finds the sender by
// the push id the frame claims (only fuzzTitle is registered, as meter
// m1), then decodes under that meter's credentials.
func fuzzDecode(d *dlmsdriver.Driver, b []byte) (headend.Push, error) {
	id, err := d.PushSender(b)
	if err != nil {
		return headend.Push{}, err
	}
	if id != hex.EncodeToString(fuzzTitle) {
		return headend.Push{}, headend.ErrUnknownSender
	}
	creds, err := dlmsdriver.Credentials{EK: fuzzEK, AK: fuzzAK}.Marshal()
	if err != nil {
		return headend.Push{}, err
	}
	p, err := d.DecodePush(context.Background(), headend.Target{Meter: cim.Meter{MRID: "m1"}, Credentials: creds}, b)
	if err == nil && p.MeterID != "m1" {
		return p, fmt.Errorf("push from %q decoded for m1", p.MeterID)
	}
	return p, err
}

func TestDecodePush(t *testing.T) {
	p, err := fuzzDecode(dlmsdriver.New(dlmsdriver.Config{}), fuzzPush(t))
	if err != nil {
		t.Fatal(err)
	}
	if p.MeterID != "m1" || p.Counter != 7 || len(p.Events) != 1 || p.Events[0].Type != cim.EventPowerOff || p.Events[0].Code != 1 {
		t.Fatalf("%+v", p)
	}
}

// definitionsPush is a ciphered data-notification, typed byte by byte,
// whose body is what a push setup's push_object_list holds: an array of
// (class 40, 0.0.25.9.0.255, attribute 2, data index 0) and (class 8,
// 0.0.1.0.0.255, attribute 2, data index 0). It has no event code.
func definitionsPush(tb testing.TB) []byte {
	plain := []byte{
		0x0F, 0x00, 0x00, 0x00, 0x01, // data-notification, long-invoke-id-and-priority 1
		0x00,       // date-time: absent (empty octet string)
		0x01, 0x02, // array of 2
		0x02, 0x04, 0x12, 0x00, 0x28, 0x09, 0x06, 0x00, 0x00, 0x19, 0x09, 0x00, 0xFF, 0x0F, 0x02, 0x12, 0x00, 0x00,
		0x02, 0x04, 0x12, 0x00, 0x08, 0x09, 0x06, 0x00, 0x00, 0x01, 0x00, 0x00, 0xFF, 0x0F, 0x02, 0x12, 0x00, 0x00,
	}
	ek, _ := security.NewKey(fuzzEK)
	ak, _ := security.NewKey(fuzzAK)
	b, err := security.WrapGeneral(nil, security.Global, security.NewSecurityControl(0, security.AuthenticatedEncryption),
		security.Keys{Unicast: ek, Authentication: ak}, fuzzTitle, 9, plain)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// A push that carries object definitions is recorded as a push received,
// not as an alarm: the class id 40 in it is no event code.
func TestDecodePushWithoutEventCode(t *testing.T) {
	p, err := fuzzDecode(dlmsdriver.New(dlmsdriver.Config{}), definitionsPush(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Events) != 1 {
		t.Fatalf("%+v", p)
	}
	e := p.Events[0]
	if e.Code != 0 || e.Type != dlmsdriver.EventPushReceived || e.Severity != "info" || !strings.Contains(e.Reason, "2 object definitions") ||
		e.Details["objects"] != "40/0.0.25.9.0.255/2, 8/0.0.1.0.0.255/2" || len(p.Registers) != 0 {
		t.Fatalf("event %+v", e)
	}
}

func FuzzDecodePush(f *testing.F) {
	f.Add(fuzzPush(f))
	f.Add(definitionsPush(f))
	f.Add([]byte{0xDB, 0x08})
	f.Add([]byte{0x0F, 0, 0, 0, 1, 0, 0})
	d := dlmsdriver.New(dlmsdriver.Config{})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := fuzzDecode(d, b)
		if err == nil && p.MeterID != "m1" {
			t.Fatalf("push from %q accepted", p.MeterID)
		}
	})
}

func FuzzParseCalendar(f *testing.F) {
	f.Add(`{"name":"TOU","seasons":[{"name":"all","start":"01-01","week":"wk"}],"weeks":[{"name":"wk","days":[1,1,1,1,1,2,2]}],"days":[{"id":1,"actions":[{"start":"07:00","rate":1},{"start":"23:00","rate":2}]},{"id":2,"actions":[{"start":"00:00","rate":2}]}]}`)
	f.Add(`{}`)
	f.Add(`{"name":"x","seasons":[{"start":"13-40"}]}`)
	f.Fuzz(func(t *testing.T, s string) {
		c, err := dlmsdriver.ParseCalendar(s)
		if err == nil && (c.Name == "" || len(c.Days) == 0) {
			t.Fatal("empty calendar accepted")
		}
		if err == nil {
			for _, sd := range c.SpecialDays {
				if n := len(sd.Date); n != 5 && n != 10 {
					t.Fatalf("special day %q accepted", sd.Date)
				}
			}
		}
	})
}
