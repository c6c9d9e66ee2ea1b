package han

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// DiscoveryConfig is the retained message that announces one sensor to
// Home Assistant's MQTT integration, in its JSON names.
type DiscoveryConfig struct {
	Name              string          `json:"name"`
	UniqueID          string          `json:"unique_id"`
	ObjectID          string          `json:"object_id,omitempty"`
	StateTopic        string          `json:"state_topic"`
	ValueTemplate     string          `json:"value_template,omitempty"`
	AvailabilityTopic string          `json:"availability_topic,omitempty"`
	PayloadAvailable  string          `json:"payload_available,omitempty"`
	PayloadNotAvail   string          `json:"payload_not_available,omitempty"`
	DeviceClass       string          `json:"device_class,omitempty"`
	StateClass        string          `json:"state_class,omitempty"`
	Unit              string          `json:"unit_of_measurement,omitempty"`
	Icon              string          `json:"icon,omitempty"`
	ExpireAfter       int             `json:"expire_after,omitempty"`
	QoS               int             `json:"qos,omitempty"`
	Device            DiscoveryDevice `json:"device"`
	Origin            DiscoveryOrigin `json:"origin,omitzero"`
}

// DiscoveryDevice is a config's device block, which groups entities into
// one device in Home Assistant.
type DiscoveryDevice struct {
	Identifiers  []string `json:"identifiers"`
	Name         string   `json:"name,omitempty"`
	Manufacturer string   `json:"manufacturer,omitempty"`
	Model        string   `json:"model,omitempty"`
	SWVersion    string   `json:"sw_version,omitempty"`
}

// DiscoveryOrigin names the software that announced the entity.
type DiscoveryOrigin struct {
	Name string `json:"name"`
	SW   string `json:"sw_version,omitempty"`
}

// StatePayload is what a state topic carries: the value, and when it was
// measured. Configs extract the value with {{ value_json.value }}.
type StatePayload struct {
	Value any    `json:"value"`
	At    string `json:"at,omitempty"`
}

// TopicID turns an id into a topic level Home Assistant accepts as a
// node or object id ([a-zA-Z0-9_-]): anything else becomes '_'. Meter and
// usage point ids are mostly of that alphabet already.
func TopicID(id string) string {
	var b strings.Builder
	for _, r := range id {
		if isIDRune(r) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// UniqueID is the unique id of entity key of d.
func UniqueID(d Device, key string) string { return TopicID(d.ID) + "_" + key }

func isIDRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-'
}

func checkKey(k string) error {
	if k == "" {
		return errors.New("entity without a key")
	}
	for _, r := range k {
		if !isIDRune(r) {
			return fmt.Errorf("entity key %q: only letters, digits, '_' and '-' may name a topic level", k)
		}
	}
	return nil
}

func checkDevice(d Device) error {
	if strings.TrimSpace(d.ID) == "" {
		return errors.New("han: device without an id")
	}
	return nil
}

// checkTopicPart refuses wildcards and empty levels in a topic prefix.
func checkTopicPart(what, s string, multiLevel bool) error {
	if s == "" {
		return fmt.Errorf("han: empty %s", what)
	}
	if strings.ContainsAny(s, "+#\x00") {
		return fmt.Errorf("han: %s %q holds an MQTT wildcard", what, s)
	}
	if !multiLevel && strings.Contains(s, "/") {
		return fmt.Errorf("han: %s %q holds a '/'", what, s)
	}
	for _, l := range strings.Split(s, "/") {
		if l == "" {
			return fmt.Errorf("han: %s %q has an empty level", what, s)
		}
	}
	return nil
}

// EncodeState is the payload of s for entity e: a finite number where e
// measures something (a unit or a state class), otherwise text.
func EncodeState(e Entity, s State) ([]byte, error) {
	v, err := stateValue(e, s.Value)
	if err != nil {
		return nil, fmt.Errorf("entity %q: %w", s.Key, err)
	}
	sp := StatePayload{Value: v}
	if !s.At.IsZero() {
		sp.At = s.At.UTC().Format(time.RFC3339Nano)
	}
	return json.Marshal(sp)
}

func stateValue(e Entity, v any) (any, error) {
	numeric := e.Unit != "" || e.StateClass != ""
	var f float64
	switch x := v.(type) {
	case nil:
		return nil, errors.New("no value")
	case float64:
		f = x
	case float32:
		f = float64(x)
	case int:
		return x, nil
	case int32:
		return x, nil
	case int64:
		return x, nil
	case uint32:
		return x, nil
	case uint64:
		return x, nil
	case string:
		if numeric {
			return nil, fmt.Errorf("text %q for an entity measured in %q", x, e.Unit)
		}
		return x, nil
	case bool:
		if numeric {
			return nil, fmt.Errorf("boolean for an entity measured in %q", e.Unit)
		}
		return x, nil
	case time.Time:
		if e.DeviceClass != "timestamp" {
			return nil, fmt.Errorf("a time for an entity of device class %q", e.DeviceClass)
		}
		return x.UTC().Format(time.RFC3339), nil
	default:
		return nil, fmt.Errorf("value of type %T", v)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("value %v is not a finite number", f)
	}
	return f, nil
}

// ParseDiscoveryConfig decodes a discovery config as a broker delivers
// it, refusing unknown fields so that a misspelt key is caught, and
// validates it against Home Assistant's rules.
func ParseDiscoveryConfig(b []byte) (DiscoveryConfig, error) {
	var c DiscoveryConfig
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return DiscoveryConfig{}, fmt.Errorf("han: discovery config: %w", err)
	}
	if dec.More() {
		return DiscoveryConfig{}, errors.New("han: discovery config: data after the object")
	}
	if err := Validate(c); err != nil {
		return DiscoveryConfig{}, err
	}
	return c, nil
}

// ParseState decodes a state payload. A number comes back as float64.
func ParseState(b []byte) (StatePayload, error) {
	var s StatePayload
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return StatePayload{}, fmt.Errorf("han: state: %w", err)
	}
	if s.Value == nil {
		return StatePayload{}, errors.New("han: state without a value")
	}
	switch s.Value.(type) {
	case float64, string, bool:
	default:
		return StatePayload{}, fmt.Errorf("han: state value of JSON type %T", s.Value)
	}
	if s.At != "" {
		if _, err := time.Parse(time.RFC3339Nano, s.At); err != nil {
			return StatePayload{}, fmt.Errorf("han: state time: %w", err)
		}
	}
	return s, nil
}
