package han

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/amigo-ami/amigo/testenv"
)

// brokerAddr is the Mosquitto scripts/test.sh starts.
const brokerAddr = "127.0.0.1:1883"

// needBroker skips (or fails under CI) when Mosquitto does not answer.
func needBroker(t *testing.T) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", brokerAddr, 2*time.Second)
	if err != nil {
		testenv.Service(t, "Mosquitto on "+brokerAddr, err)
	}
	c.Close()
	return "tcp://" + brokerAddr
}

// prefixes are topic prefixes of this test alone, so that runs and
// parallel tests never see each other's retained messages.
func prefixes(t *testing.T) (discovery, topic string) {
	n := fmt.Sprintf("%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), time.Now().UnixNano())
	return testRoot(t, n) + "/ha", testRoot(t, n) + "/amigo"
}

// testRoot is the topic level both of a test's prefixes are under.
func testRoot(_ *testing.T, n string) string { return "amigotest/" + n }

// message is one message a watcher received.
type message struct {
	Topic    string
	Payload  []byte
	Retained bool
}

// watcher is an independent MQTT client subscribed to a filter, as Home
// Assistant would be.
type watcher struct {
	t      *testing.T
	client mqtt.Client
	ch     chan message
}

func watch(t *testing.T, broker, filter string) *watcher {
	t.Helper()
	w := &watcher{t: t, ch: make(chan message, 1024)}
	opts := mqtt.NewClientOptions().AddBroker(broker).
		SetClientID(fmt.Sprintf("watch-%d", time.Now().UnixNano())).
		SetConnectTimeout(5 * time.Second).SetAutoReconnect(false)
	w.client = mqtt.NewClient(opts)
	if tok := w.client.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("watcher connect: %v", tok.Error())
	}
	tok := w.client.Subscribe(filter, 1, func(_ mqtt.Client, m mqtt.Message) {
		w.ch <- message{Topic: m.Topic(), Payload: append([]byte(nil), m.Payload()...), Retained: m.Retained()}
	})
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", filter, tok.Error())
	}
	t.Cleanup(func() { w.client.Disconnect(100) })
	return w
}

// next is the next message, failing the test when none comes in 10 s.
func (w *watcher) next() message {
	w.t.Helper()
	select {
	case m := <-w.ch:
		return m
	case <-time.After(10 * time.Second):
		w.t.Fatal("no message within 10 s")
		return message{}
	}
}

// until returns the first message on topic, skipping others.
func (w *watcher) until(topic string) message {
	w.t.Helper()
	for {
		if m := w.next(); m.Topic == topic {
			return m
		}
	}
}

// clearRetained deletes the retained messages under prefix when the test
// ends, so the broker does not collect them run after run.
func clearRetained(t *testing.T, broker string, prefixes ...string) {
	t.Cleanup(func() {
		for _, prefix := range prefixes {
			w := watch(t, broker, prefix+"/#")
			// A retained message is delivered at once on subscribing; an
			// end marker published after the subscription tells us we
			// have them all.
			end := prefix + "/zz-end-of-retained"
			w.client.Publish(end, 1, false, "x").WaitTimeout(5 * time.Second)
			for {
				m := w.next()
				if m.Topic == end {
					break
				}
				if m.Retained && len(m.Payload) > 0 {
					w.client.Publish(m.Topic, 1, true, []byte{}).WaitTimeout(5 * time.Second)
				}
			}
		}
	})
}

func newPublisher(t *testing.T, o Options) *Publisher {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Second
	}
	if o.ClientID == "" {
		o.ClientID = fmt.Sprintf("pub-%d", time.Now().UnixNano())
	}
	p, err := New(ctx, o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// proxy forwards TCP to the broker, and can cut every connection at
// once: a publisher's connection dying without a DISCONNECT, which is
// when the broker publishes its will.
type proxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newProxy(t *testing.T) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.DialTimeout("tcp", brokerAddr, 5*time.Second)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, b)
			p.mu.Unlock()
			go func() { io.Copy(b, c); b.Close() }()
			go func() { io.Copy(c, b); c.Close() }()
		}
	}()
	t.Cleanup(func() { ln.Close(); p.cut() })
	return p
}

func (p *proxy) url() string { return "tcp://" + p.ln.Addr().String() }

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}
