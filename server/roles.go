package server

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/config"
	"github.com/amigo-ami/amigo/mdm"
)

// A node runs some of amigo's roles (config.Node): the head-end role
// talks to meters, the mdm role stores what they said, the api role
// answers people. Every node builds the same objects, because the API
// issues commands through the head-end and reads through the store, but
// only the roles it runs start their loops and listeners.

// runs reports whether this node runs role.
func (s *Server) runs(role string) bool { return s.cfg.Node.Has(role) }

// registerer labels every series this node exports with its name, so
// the series of a cluster's nodes stay apart in one Prometheus.
func (s *Server) registerer() prometheus.Registerer {
	return prometheus.WrapRegistererWith(prometheus.Labels{"node": s.cfg.Node.Name}, s.Metrics)
}

// probePaths are what a node without the api role still answers: the
// probes and the metrics an orchestrator and Prometheus need.
var probePaths = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// handler is what the node's HTTP listener serves: everything with the
// api role, else only the probes and /metrics.
func (s *Server) handler() http.Handler {
	if s.runs(config.RoleAPI) {
		return s.API
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !probePaths[r.URL.Path] {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Content-Type-Options", "nosniff")
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":"node ` + jsonSafe(s.cfg.Node.Name) + ` does not run the api role (roles: ` + strings.Join(s.cfg.Node.Roles, ",") + `)"}` + "\n"))
			return
		}
		s.API.ServeHTTP(w, r)
	})
}

// jsonSafe keeps a node name (validated: no spaces or dots) from
// breaking the hand-written JSON above.
func jsonSafe(v string) string {
	return strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < 0x20 {
			return -1
		}
		return r
	}, v)
}

// ingestCollector reports how far the MDM ingest stands behind the bus
// and how many exceptions validation raised, read when scraped.
type ingestCollector struct {
	b          *bus.Bus
	in         *mdm.Ingest
	pending    *prometheus.Desc
	exceptions *prometheus.Desc
}

func newIngestCollector(b *bus.Bus, in *mdm.Ingest) *ingestCollector {
	return &ingestCollector{b: b, in: in,
		pending: prometheus.NewDesc("amigo_ingest_pending_messages",
			"Messages on a stream the MDM ingest has not yet acknowledged (not yet handed out plus in hand).", []string{"stream"}, nil),
		exceptions: prometheus.NewDesc("amigo_ingest_vee_exceptions_total",
			"Validation exceptions the MDM ingest on this node raised since it started.", nil, nil),
	}
}

func (c *ingestCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.pending
	ch <- c.exceptions
}

func (c *ingestCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, stream := range []string{bus.Readings, bus.Events} {
		st, err := c.b.ConsumerStatus(ctx, stream, "mdm-ingest")
		if err != nil {
			// Before the ingest first ran its consumer does not exist:
			// nothing is known to be behind.
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(st.Pending+st.AckPending), stream)
	}
	ch <- prometheus.MustNewConstMetric(c.exceptions, prometheus.CounterValue, float64(c.in.Stats().Exceptions))
}
