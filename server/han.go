package server

import (
	"log/slog"

	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/config"
	"github.com/amigo-ami/amigo/han"
	"github.com/amigo-ami/amigo/store"
)

// newHAN builds the home area network bridge when a broker is set.
func newHAN(c config.HAN, b *bus.Bus, st store.Store, log *slog.Logger) (*han.Bridge, error) {
	if !c.Enabled() {
		return nil, nil
	}
	m := c.MQTT
	return han.NewBridge(han.BridgeOptions{
		MQTT: han.Options{Broker: m.Broker, ClientID: m.ClientID, Username: m.Username, Password: m.Password.Reveal(),
			DiscoveryPrefix: m.DiscoveryPrefix, TopicPrefix: m.TopicPrefix, Timeout: m.Timeout},
		Bus: b, Registry: st, Consents: st, Logger: log,
	})
}

// consentChanged passes a household's decision to the bridge, which
// withdraws a revoked usage point's entities at once.
func (s *Server) consentChanged(_, purpose string) {
	if s.HAN != nil && purpose == store.ConsentHomeNetwork {
		s.HAN.ConsentChanged()
	}
}
