package config

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// HAN configures the home area network publisher: the readings of usage
// points whose household consented, published to an MQTT broker as Home
// Assistant entities (package han). With no broker it is off.
//
//	han:
//	  mqtt:
//	    broker: tcp://127.0.0.1:1883   # AMIGO_HAN_MQTT_BROKER; empty: off
//	    client_id: amigo-han
//	    username: amigo                # the password only from AMIGO_HAN_MQTT_PASSWORD
//	    discovery_prefix: homeassistant
//	    topic_prefix: amigo
//	    timeout: 10s
type HAN struct {
	MQTT MQTT `yaml:"mqtt"`
}

// MQTT is the broker the home area network publisher publishes to.
type MQTT struct {
	// Broker is the broker's URL (tcp://, ssl://, ws://, wss://); empty
	// turns the publisher off.
	Broker   string `yaml:"broker"`
	ClientID string `yaml:"client_id"`
	Username string `yaml:"username"`
	// Password comes from the environment only, so it is never in a file.
	Password        Secret        `yaml:"-"`
	DiscoveryPrefix string        `yaml:"discovery_prefix"`
	TopicPrefix     string        `yaml:"topic_prefix"`
	Timeout         time.Duration `yaml:"timeout"`
}

func init() {
	Env["AMIGO_HAN_MQTT_BROKER"] = "MQTT broker of the home area network publisher (empty: off)"
	Env["AMIGO_HAN_MQTT_PASSWORD"] = "the MQTT broker's password (never in the file)"
}

// DefaultHAN is off, with Home Assistant's discovery prefix ready.
func DefaultHAN() HAN {
	return HAN{MQTT: MQTT{ClientID: "amigo-han", DiscoveryPrefix: "homeassistant", TopicPrefix: "amigo", Timeout: 10 * time.Second}}
}

// Enabled reports whether a broker is configured.
func (h HAN) Enabled() bool { return h.MQTT.Broker != "" }

func (h *HAN) applyEnv(lookup func(string) (string, bool)) {
	if v, _ := lookup("AMIGO_HAN_MQTT_BROKER"); v != "" {
		h.MQTT.Broker = v
	}
	if v, _ := lookup("AMIGO_HAN_MQTT_PASSWORD"); v != "" {
		h.MQTT.Password = Secret(v)
	}
}

func (h HAN) validate() error {
	if !h.Enabled() {
		return nil
	}
	m := h.MQTT
	u, err := url.Parse(m.Broker)
	if err != nil || u.Host == "" {
		return fmt.Errorf("han.mqtt.broker %q: want tcp://host:port", RedactURL(m.Broker))
	}
	switch u.Scheme {
	case "tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss":
	default:
		return fmt.Errorf("han.mqtt.broker %q: scheme %q, want tcp, ssl, ws or wss", RedactURL(m.Broker), u.Scheme)
	}
	if m.Timeout <= 0 {
		return errors.New("han.mqtt.timeout must be positive")
	}
	for _, p := range []struct{ name, v string }{{"discovery_prefix", m.DiscoveryPrefix}, {"topic_prefix", m.TopicPrefix}} {
		if p.v == "" || strings.ContainsAny(p.v, "+#") || strings.HasPrefix(p.v, "/") || strings.HasSuffix(p.v, "/") {
			return fmt.Errorf("han.mqtt.%s %q: a topic without wildcards or outer slashes", p.name, p.v)
		}
	}
	return nil
}
