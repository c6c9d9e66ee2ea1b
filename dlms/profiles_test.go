package dlms_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/cosem/objects"
	"github.com/amigo-ami/amigo/dlms"
	"github.com/amigo-ami/amigo/dlms/apdu"
	"github.com/amigo-ami/amigo/dlms/labmeter"
	"github.com/amigo-ami/amigo/dlms/security"
	"github.com/amigo-ami/amigo/dlms/server"
	"github.com/amigo-ami/amigo/obis"
)

// ReadProfiles asks for several profiles in one GET with list. The meter
// here has the lab load profile (clock column 0-0:1.0.0.255), a log whose
// clock column is another clock object, which the batched range cannot
// restrict on and which must be read again the long way, and no billing
// profile at all.
func TestReadProfilesInOneList(t *testing.T) {
	otherClock := obis.MustParse("0.1.1.0.0.255")
	logLN, missingLN := obis.MustParse("0.0.99.98.9.255"), obis.MustParse("0.0.98.1.0.255")
	cols := []cosem.CaptureObject{{ClassID: 8, LogicalName: otherClock, Attribute: 2}, {ClassID: 1, LogicalName: labmeter.StatusLN, Attribute: 2}}
	log := objects.NewProfileGeneric(logLN, cols, 0, 10, nil)
	now := time.Now().UTC().Truncate(time.Second)
	for i := 3; i >= 1; i-- {
		at := axdr.DateTimeOctets(axdr.FromTime(now.Add(-time.Duration(i)*time.Hour), 0))
		log.Rows = append(log.Rows, axdr.Structure(at, axdr.Uint8(uint8(i))))
	}
	f := startMeterWith(t, objects.NewClock(otherClock, 0), log)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	o := f.options(matrix[3], dlms.LinkWrapper) // HLS-GMAC, authenticated encryption
	o.InvocationCounter = 5000
	c, err := dlms.Dial(ctx, f.wrapper, o)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	from := now.Add(-26 * time.Hour)
	got, err := c.ReadProfiles(ctx, []dlms.ProfileRange{
		{LN: labmeter.LoadProfileLN, From: from, To: now},
		{LN: logLN, From: now.Add(-150 * time.Minute), To: now},
		{LN: missingLN, From: from, To: now},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d profiles for 3 ranges", len(got))
	}
	rows, lcols, err := c.ReadProfile(ctx, labmeter.LoadProfileLN, from, now)
	if err != nil {
		t.Fatal(err)
	}
	if lp := got[0]; lp.Err != nil || len(lp.Rows) != len(rows) || len(lp.Rows) < 100 || len(lp.Columns) != len(lcols) {
		t.Fatalf("load profile: %d rows, %d columns, %v; ReadProfile: %d rows, %d columns", len(lp.Rows), len(lp.Columns), lp.Err, len(rows), len(lcols))
	}
	if first, want := got[0].Rows[0].Items[2], rows[0].Items[2]; !first.Equal(want) {
		t.Fatalf("first A+ %v, ReadProfile %v", first, want)
	}
	// The log's range selects its last two entries (2 h and 1 h ago).
	if lg := got[1]; lg.Err != nil || len(lg.Rows) != 2 || len(lg.Columns) != 2 || lg.Columns[0].LogicalName != otherClock {
		t.Fatalf("log read again: %d rows, columns %v, %v", len(lg.Rows), lg.Columns, lg.Err)
	}
	if v, _ := got[1].Rows[0].Items[1].Uint(); v != 2 {
		t.Fatalf("log's first selected entry has value %d, want 2", v)
	}
	if !errors.Is(got[2].Err, dlms.ErrObjectUndefined) {
		t.Fatalf("missing profile: %v", got[2].Err)
	}
	if err := c.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// A meter that does not grant multiple references gets the same profiles
// one GET at a time, selective access and all.
func TestReadProfilesWithoutLists(t *testing.T) {
	lab, err := labmeter.New(labmeter.Config{Serial: "NOLIST1", Days: 2})
	if err != nil {
		t.Fatal(err)
	}
	conf := server.DefaultConformance &^ apdu.ConformanceMultipleReferences
	dev := &server.Device{Tree: lab.Tree, Address: 1, SystemTitle: []byte("AMI\x00\x00\x00\x00\x0A"), Counter: security.NewCounter(1, nil),
		Associations: []server.Association{{ClientSAP: 1, Authentication: security.MechanismHLSGMAC,
			Policy: security.PolicyAuthenticatedEncrypted, Keys: security.Keys{Unicast: ek, Authentication: ak}, MaxPDU: 512, Conformance: conf}}}
	srv, err := server.NewServer(dev)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	served := make(chan struct{})
	go func() { defer close(served); srv.ListenAndServeWrapper(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-served })

	o := dlms.Options{Link: dlms.LinkWrapper, ClientSAP: 1, Authentication: security.MechanismHLSGMAC, Policy: security.PolicyAuthenticatedEncrypted,
		Keys: security.Keys{Unicast: ek, Authentication: ak}, SystemTitle: []byte("AMGTEST2"), MaxPDU: 1024, InvocationCounter: 1}
	c, err := dlms.Dial(ctx, ln.Addr().String(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Negotiated().Conformance.Has(apdu.ConformanceMultipleReferences) {
		t.Fatal("multiple references granted")
	}
	now := time.Now().UTC().Truncate(time.Second)
	got, err := c.ReadProfiles(ctx, []dlms.ProfileRange{{LN: labmeter.LoadProfileLN, From: now.Add(-6 * time.Hour), To: now}, {LN: obis.MustParse("0.0.99.98.0.255"), From: now.Add(-6 * time.Hour), To: now}})
	if err != nil {
		t.Fatal(err)
	}
	if lp := got[0]; lp.Err != nil || len(lp.Rows) < 23 || len(lp.Rows) > 25 || len(lp.Columns) != 4 {
		t.Fatalf("load profile without lists: %d rows, %d columns, %v", len(lp.Rows), len(lp.Columns), lp.Err)
	}
	if !errors.Is(got[1].Err, dlms.ErrObjectUndefined) {
		t.Fatalf("missing event log: %v", got[1].Err)
	}
}
