package api

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/headend/dlmsdriver"
	"github.com/amigo-ami/amigo/obis"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
)

func TestObjectModelOfAMeter(t *testing.T) {
	st, _ := storetest.OpenSQLite(t)
	ctx := context.Background()
	if err := st.PutMeters(ctx, cim.Meter{MRID: "m1", Protocol: "dlms", Manufacturer: "AMG", Model: "E1"}); err != nil {
		t.Fatal(err)
	}
	drv := dlmsdriver.New(dlmsdriver.Config{})
	srv := httptest.NewServer(New(Deps{Store: st, Metrics: prometheus.NewRegistry(), Version: "t", MaxBodyBytes: 1024,
		ObjectModels: describer{drv, st.(headend.Models)}}))
	t.Cleanup(srv.Close)
	url := srv.URL + "/api/v1/meters/m1/object-model"
	if code, m := do(t, "GET", url, ""); code != 200 || m["model"] != nil {
		t.Fatalf("a meter never read: %d %v", code, m)
	}
	if code, m := do(t, "GET", srv.URL+"/api/v1/meters/nope/object-model", ""); code != 404 || errCode(m) != "not_found" {
		t.Fatalf("an unknown meter: %d %v", code, m)
	}
	imp := obis.MustParse("1.0.1.8.0.255")
	model := dlmsdriver.Model{Key: "AMG/E1//x", Manufacturer: "AMG", DeviceModel: "E1",
		Objects:  []dlmsdriver.Object{{Class: cosem.ClassRegister, LN: imp}, {Class: cosem.ClassProfileGeneric, LN: obis.MustParse("1.0.99.1.0.255")}},
		Profiles: []dlmsdriver.Profile{{LN: obis.MustParse("1.0.99.1.0.255"), Kind: "load", Period: 900, Columns: []cosem.CaptureObject{{ClassID: cosem.ClassClock, LogicalName: obis.MustParse("0.0.1.0.0.255"), Attribute: 2}, {ClassID: cosem.ClassRegister, LogicalName: imp, Attribute: 2}}}},
		Scalers:  map[obis.Code]dlmsdriver.Scale{imp: {Scaler: -2, Unit: 30}}}
	b, _ := json.Marshal(model)
	om := st.(store.ObjectModels)
	if err := om.PutTemplate(ctx, model.Key, b); err != nil {
		t.Fatal(err)
	}
	if err := om.PutTemplate(ctx, "registry/AMG/E1", []byte(model.Key)); err != nil {
		t.Fatal(err)
	}
	code, m := do(t, "GET", url, "")
	if code != 200 {
		t.Fatalf("%d %v", code, m)
	}
	got := map[string]bool{}
	for _, c := range m["channels"].([]any) {
		got[c.(map[string]any)["readingType"].(string)] = true
	}
	if !got["A+e-2"] || !got["A+15me-2"] {
		t.Errorf("channels %v", m["channels"])
	}
}

// describer is what the server wires in: the meter's driver describing it
// from the store's models.
type describer struct {
	d      headend.Describer
	models headend.Models
}

func (x describer) ObjectModel(ctx context.Context, m cim.Meter) (any, any, error) {
	return x.d.Describe(ctx, x.models, m)
}
