package server

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/amigo-ami/amigo/auth"
	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/han"
	"github.com/amigo-ami/amigo/testenv"
)

// TestHomeNetworkFollowsConsent: with han.mqtt.broker set, a household's
// consent given through the API starts its feed on the broker, and
// withdrawing it takes the feed away.
func TestHomeNetworkFollowsConsent(t *testing.T) {
	const broker = "127.0.0.1:1883"
	if c, err := net.DialTimeout("tcp", broker, 2*time.Second); err != nil {
		testenv.Service(t, "Mosquitto on "+broker, err)
	} else {
		c.Close()
	}
	root := fmt.Sprintf("amigotest/server-%d", time.Now().UnixNano())
	c := testConfig(t.TempDir())
	c.HAN.MQTT.Broker = "tcp://" + broker
	c.HAN.MQTT.ClientID = "amigo-" + root[len("amigotest/"):]
	c.HAN.MQTT.DiscoveryPrefix = root + "/ha"
	c.HAN.MQTT.TopicPrefix = root + "/amigo"
	s := start(t, c)
	// Shut down before the retained messages are cleared: a server
	// stopping says offline, retained.
	shutdown := sync.OnceFunc(func() { s.Shutdown(context.Background()) })
	defer shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Store.PutUsagePoints(ctx, cim.UsagePoint{MRID: "up-1", TimeZone: "UTC"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Store.PutMeters(ctx, cim.Meter{MRID: "m1", UsagePointID: "up-1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Auth.CreateUser(ctx, "anna", "a household's password", auth.Consumer, []string{"up-1"}); err != nil {
		t.Fatal(err)
	}
	anna, _, err := s.Auth.IssueToken(ctx, "anna", "tests", time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	msgs := make(chan mqtt.Message, 256)
	w := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + broker).SetClientID("watch-" + c.HAN.MQTT.ClientID))
	if tok := w.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("watcher: %v", tok.Error())
	}
	defer w.Disconnect(100)
	if tok := w.Subscribe(root+"/#", 1, func(_ mqtt.Client, m mqtt.Message) { msgs <- m }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	until := func(topic string) mqtt.Message {
		t.Helper()
		for {
			select {
			case m := <-msgs:
				if m.Topic() == topic {
					return m
				}
			case <-time.After(15 * time.Second):
				t.Fatalf("nothing on %s within 15 s", topic)
			}
		}
	}
	defer func() {
		// Leave nothing retained behind on the shared broker.
		shutdown()
		for _, k := range []string{han.KeyEnergyImport, han.KeyEnergyExport, han.KeyPowerImport, han.KeyPowerExport} {
			w.Publish(root+"/ha/sensor/amigo-up-1/"+k+"/config", 1, true, []byte{}).WaitTimeout(5 * time.Second)
			w.Publish(root+"/amigo/amigo-up-1/"+k+"/state", 1, true, []byte{}).WaitTimeout(5 * time.Second)
		}
		w.Publish(root+"/amigo/"+c.HAN.MQTT.ClientID+"/availability", 1, true, []byte{}).WaitTimeout(5 * time.Second)
	}()
	select {
	case <-s.HAN.Ready():
	case <-ctx.Done():
		t.Fatal("the bridge did not start")
	}

	consent := func(method string) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+s.Addr()+"/api/v1/usage-points/up-1/consents/home-network", nil)
		req.Header.Set("Authorization", "Bearer "+anna)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("%s consent: %d", method, resp.StatusCode)
		}
	}
	consent("PUT")
	end := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	if _, err := s.Bus.Publish(ctx, bus.Intervals(cim.IntervalBlock{MeterID: "m1", ReadingType: cim.EnergyImport15m,
		Readings: []cim.IntervalReading{{End: end, Value: 125}}})); err != nil {
		t.Fatal(err)
	}
	st, err := han.ParseState(until(root + "/amigo/amigo-up-1/power_import/state").Payload())
	if err != nil || st.Value != 500.0 {
		t.Fatalf("power state %+v %v, want 500 W", st, err)
	}
	consent("DELETE")
	if m := until(root + "/ha/sensor/amigo-up-1/power_import/config"); len(m.Payload()) != 0 {
		// The first config message is the announcement; the next is its withdrawal.
		if m := until(root + "/ha/sensor/amigo-up-1/power_import/config"); len(m.Payload()) != 0 {
			t.Fatalf("config after revoke: %s", m.Payload())
		}
	}
}
