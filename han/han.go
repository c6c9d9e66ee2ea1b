// Package han owns what amigo gives the home area network: readings
// published to an MQTT broker as Home Assistant entities, announced by MQTT
// discovery. Its sources are a P1 port read by package dsmr (amigo p1), and
// amigo's own near-real-time data for a usage point whose household
// consented.
package han

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/amigo-ami/amigo/retry"
)

// Device is one physical thing in Home Assistant: a meter, or a usage
// point's amigo feed. ID is stable and unique (a meter's equipment id).
type Device struct {
	ID           string
	Name         string
	Manufacturer string
	Model        string
	SWVersion    string
}

// Entity is one sensor of a device, announced once by discovery.
type Entity struct {
	// Key is unique within the device and names the entity's state topic
	// (e.g. "energy_import_t1"); the unique id is Device.ID + "_" + Key.
	Key  string
	Name string
	// DeviceClass, StateClass and Unit are Home Assistant's: "energy",
	// "total_increasing", "kWh"; "power", "measurement", "W"; and so on.
	DeviceClass string
	StateClass  string
	Unit        string
	// Icon is optional ("mdi:flash").
	Icon string
	// ExpireAfter, when set, makes Home Assistant show the entity as
	// unavailable once no state arrived for that long: right for a source
	// that publishes on a known period, so that a stalled feed does not
	// look like a steady value.
	ExpireAfter time.Duration
}

// State is one entity's value at a time. Value is a number, or text for
// an entity without a unit.
type State struct {
	Key   string
	Value any
	At    time.Time
}

// Options configure a Publisher.
type Options struct {
	// Broker is the MQTT broker's URL: tcp://127.0.0.1:1883.
	Broker   string
	ClientID string
	Username string
	Password string
	// DiscoveryPrefix is Home Assistant's discovery prefix ("homeassistant").
	DiscoveryPrefix string
	// TopicPrefix prefixes state topics ("amigo").
	TopicPrefix string
	// Timeout bounds connecting and each publish acknowledgement.
	Timeout time.Duration
	// Logger, when set, hears of lost connections and reconnects.
	Logger *slog.Logger
	// ReconnectBase and ReconnectCeiling pace reconnecting after a lost
	// connection (retry.Backoff); 0 means 1 s and 1 min.
	ReconnectBase, ReconnectCeiling time.Duration
}

// ErrNotConnected is returned by a publish while the broker is unreachable;
// the publisher keeps reconnecting in the background.
var ErrNotConnected = errors.New("han: not connected to the broker")

// Payloads of the availability topic.
const (
	Online  = "online"
	Offline = "offline"
)

// qos is 1 everywhere: a state or config the broker did not acknowledge
// is an error the caller sees, and a duplicate is harmless.
const qos = 1

// Publisher publishes devices' entities and states to one broker. Its
// availability topic is one per connection, because MQTT gives a
// connection one last will: every entity it announces points at it, so
// the broker marks them all unavailable when the publisher dies.
type Publisher struct {
	o      Options
	client mqtt.Client
	log    *slog.Logger

	ctx    context.Context // ends at Close; stops reconnecting
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	entities  map[string]map[string]Entity // device id → key → entity announced
	uniqueIDs map[string]string            // unique id → device id owning it
	closed    bool
}

// New connects to the broker.
func New(ctx context.Context, o Options) (*Publisher, error) {
	if o.Broker == "" {
		return nil, errors.New("han: no broker URL")
	}
	if o.ClientID == "" {
		o.ClientID = "amigo"
	}
	if o.DiscoveryPrefix == "" {
		o.DiscoveryPrefix = "homeassistant"
	}
	if o.TopicPrefix == "" {
		o.TopicPrefix = "amigo"
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.ReconnectBase <= 0 {
		o.ReconnectBase = time.Second
	}
	if o.ReconnectCeiling <= 0 {
		o.ReconnectCeiling = time.Minute
	}
	if err := checkTopicPart("topic prefix", o.TopicPrefix, true); err != nil {
		return nil, err
	}
	if err := checkTopicPart("discovery prefix", o.DiscoveryPrefix, true); err != nil {
		return nil, err
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Publisher{
		o:         o,
		log:       log.With("broker", o.Broker, "client_id", o.ClientID),
		entities:  map[string]map[string]Entity{},
		uniqueIDs: map[string]string{},
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())

	avail := p.AvailabilityTopic()
	opts := mqtt.NewClientOptions().
		AddBroker(o.Broker).
		SetClientID(o.ClientID).
		SetUsername(o.Username).
		SetPassword(o.Password).
		SetCleanSession(true).
		SetConnectTimeout(o.Timeout).
		SetWriteTimeout(o.Timeout).
		SetPingTimeout(o.Timeout).
		SetKeepAlive(30*time.Second).
		// Reconnecting is ours, paced by retry.Backoff with jitter, so a
		// broker restart does not see every home's publisher at once.
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetWill(avail, Offline, qos, true).
		SetOnConnectHandler(func(c mqtt.Client) {
			// Every connection, first or again, says online: the broker
			// published the will when the last one died.
			t := c.Publish(avail, qos, true, Online)
			go func() {
				if err := p.wait(p.ctx, t, "availability "+avail); err != nil {
					p.log.Warn("han: availability not acknowledged", "err", err)
				}
			}()
		}).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			p.log.Warn("han: connection to the broker lost", "err", err)
			p.reconnect()
		})
	p.client = mqtt.NewClient(opts)

	cctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	if err := p.wait(cctx, p.client.Connect(), "connect"); err != nil {
		p.cancel()
		return nil, err
	}
	return p, nil
}

// reconnect tries again, with backoff, until connected or closed.
func (p *Publisher) reconnect() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for n := 1; ; n++ {
			if retry.Wait(p.ctx, retry.Backoff(p.o.ReconnectBase, p.o.ReconnectCeiling, n)) != nil {
				return
			}
			ctx, cancel := context.WithTimeout(p.ctx, p.o.Timeout)
			err := p.wait(ctx, p.client.Connect(), "reconnect")
			cancel()
			if err == nil {
				p.log.Info("han: reconnected to the broker", "attempts", n)
				return
			}
			if p.ctx.Err() != nil {
				return
			}
			p.log.Warn("han: reconnect failed", "attempt", n, "err", err)
		}
	}()
}

// wait waits for t, at most until ctx ends or the publisher's timeout.
func (p *Publisher) wait(ctx context.Context, t mqtt.Token, what string) error {
	timer := time.NewTimer(p.o.Timeout)
	defer timer.Stop()
	select {
	case <-t.Done():
		if err := t.Error(); err != nil {
			return fmt.Errorf("han: %s at %s: %w", what, p.o.Broker, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("han: %s at %s: %w", what, p.o.Broker, ctx.Err())
	case <-timer.C:
		return fmt.Errorf("han: %s at %s: no acknowledgement within %s", what, p.o.Broker, p.o.Timeout)
	}
}

// AvailabilityTopic is where this publisher's connection says online, and
// its last will says offline.
func (p *Publisher) AvailabilityTopic() string {
	return p.o.TopicPrefix + "/" + TopicID(p.o.ClientID) + "/availability"
}

// StateTopic is where the state of entity key of device d is published.
func (p *Publisher) StateTopic(d Device, key string) string {
	return p.o.TopicPrefix + "/" + TopicID(d.ID) + "/" + key + "/state"
}

// ConfigTopic is where the discovery config of entity key of device d is
// retained: <discovery prefix>/sensor/<node>/<object>/config.
func (p *Publisher) ConfigTopic(d Device, key string) string {
	return p.o.DiscoveryPrefix + "/sensor/" + TopicID(d.ID) + "/" + key + "/config"
}

// Config is the discovery config Announce publishes for e of d.
func (p *Publisher) Config(d Device, e Entity) DiscoveryConfig {
	c := DiscoveryConfig{
		Name:              e.Name,
		UniqueID:          UniqueID(d, e.Key),
		ObjectID:          TopicID(d.ID) + "_" + e.Key,
		StateTopic:        p.StateTopic(d, e.Key),
		ValueTemplate:     "{{ value_json.value }}",
		AvailabilityTopic: p.AvailabilityTopic(),
		PayloadAvailable:  Online,
		PayloadNotAvail:   Offline,
		DeviceClass:       e.DeviceClass,
		StateClass:        e.StateClass,
		Unit:              e.Unit,
		Icon:              e.Icon,
		QoS:               qos,
		Device: DiscoveryDevice{
			Identifiers:  []string{d.ID},
			Name:         d.Name,
			Manufacturer: d.Manufacturer,
			Model:        d.Model,
			SWVersion:    d.SWVersion,
		},
		Origin: DiscoveryOrigin{Name: "amigo"},
	}
	if e.ExpireAfter > 0 {
		c.ExpireAfter = int((e.ExpireAfter + time.Second - 1) / time.Second)
	}
	if c.Device.Name == "" {
		c.Device.Name = d.ID
	}
	return c
}

// Announce publishes (retained) the discovery config of each entity of d.
// Every config is validated first against Home Assistant's rules
// (Validate); a bad entity is refused, with nothing published.
func (p *Publisher) Announce(ctx context.Context, d Device, es []Entity) error {
	if err := checkDevice(d); err != nil {
		return err
	}
	cfgs := make([]DiscoveryConfig, len(es))
	for i, e := range es {
		if err := checkKey(e.Key); err != nil {
			return fmt.Errorf("han: device %s: %w", d.ID, err)
		}
		cfgs[i] = p.Config(d, e)
		if err := Validate(cfgs[i]); err != nil {
			return fmt.Errorf("han: device %s entity %q: %w", d.ID, e.Key, err)
		}
	}
	p.mu.Lock()
	seen := map[string]bool{}
	for _, c := range cfgs {
		if seen[c.UniqueID] {
			p.mu.Unlock()
			return fmt.Errorf("han: device %s: unique id %s announced twice", d.ID, c.UniqueID)
		}
		seen[c.UniqueID] = true
		if owner, ok := p.uniqueIDs[c.UniqueID]; ok && owner != d.ID {
			p.mu.Unlock()
			return fmt.Errorf("han: device %s: unique id %s already belongs to device %s", d.ID, c.UniqueID, owner)
		}
	}
	p.mu.Unlock()

	for i, c := range cfgs {
		b, err := json.Marshal(c)
		if err != nil {
			return fmt.Errorf("han: device %s entity %q: %w", d.ID, es[i].Key, err)
		}
		if err := p.publish(ctx, p.ConfigTopic(d, es[i].Key), true, b); err != nil {
			return fmt.Errorf("han: device %s entity %q config: %w", d.ID, es[i].Key, err)
		}
		p.mu.Lock()
		if p.entities[d.ID] == nil {
			p.entities[d.ID] = map[string]Entity{}
		}
		p.entities[d.ID][es[i].Key] = es[i]
		p.uniqueIDs[c.UniqueID] = d.ID
		p.mu.Unlock()
	}
	return nil
}

// Withdraw removes d's entities from Home Assistant: an empty retained
// config deletes an entity, and an empty retained state forgets its last
// value, so nothing of d stays on the broker.
func (p *Publisher) Withdraw(ctx context.Context, d Device, keys []string) error {
	for _, k := range keys {
		if err := checkKey(k); err != nil {
			return fmt.Errorf("han: device %s: %w", d.ID, err)
		}
		if err := p.publish(ctx, p.ConfigTopic(d, k), true, nil); err != nil {
			return fmt.Errorf("han: device %s entity %q withdraw: %w", d.ID, k, err)
		}
		if err := p.publish(ctx, p.StateTopic(d, k), true, nil); err != nil {
			return fmt.Errorf("han: device %s entity %q withdraw state: %w", d.ID, k, err)
		}
		p.mu.Lock()
		delete(p.entities[d.ID], k)
		delete(p.uniqueIDs, UniqueID(d, k))
		p.mu.Unlock()
	}
	return nil
}

// Publish publishes the states of d's entities. Each must have been
// announced, and a value must suit its entity: a number where the entity
// has a unit or a state class.
func (p *Publisher) Publish(ctx context.Context, d Device, ss []State) error {
	payloads := make([][]byte, len(ss))
	for i, s := range ss {
		p.mu.Lock()
		e, ok := p.entities[d.ID][s.Key]
		p.mu.Unlock()
		if !ok {
			return fmt.Errorf("han: device %s: state for entity %q, which was not announced", d.ID, s.Key)
		}
		b, err := EncodeState(e, s)
		if err != nil {
			return fmt.Errorf("han: device %s: %w", d.ID, err)
		}
		payloads[i] = b
	}
	for i, s := range ss {
		// Retained, so that Home Assistant starting after a slow source's
		// last reading still shows it.
		if err := p.publish(ctx, p.StateTopic(d, s.Key), true, payloads[i]); err != nil {
			return fmt.Errorf("han: device %s entity %q state: %w", d.ID, s.Key, err)
		}
	}
	return nil
}

func (p *Publisher) publish(ctx context.Context, topic string, retained bool, payload []byte) error {
	if !p.client.IsConnectionOpen() {
		return ErrNotConnected
	}
	return p.wait(ctx, p.client.Publish(topic, qos, retained, payload), "publish "+topic)
}

// Close disconnects, after marking d's availability offline.
func (p *Publisher) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	var err error
	if p.client.IsConnectionOpen() {
		// A clean disconnect does not fire the will, so offline is said here.
		ctx, cancel := context.WithTimeout(context.Background(), p.o.Timeout)
		err = p.wait(ctx, p.client.Publish(p.AvailabilityTopic(), qos, true, Offline), "availability offline")
		cancel()
	}
	p.cancel()
	p.client.Disconnect(uint(min(p.o.Timeout, time.Second) / time.Millisecond))
	p.wg.Wait()
	return err
}
