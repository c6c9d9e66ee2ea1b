package headend

import (
	"context"
	"sync"
	"time"

	"github.com/amigo-ami/amigo/store"
	"github.com/prometheus/client_golang/prometheus"
)

// exposedDesc is amigo_meters_exposed: the registered meters whose
// security has a known weakness their protocol cannot fix, by protocol
// and exposure. Operators watch it fall as meters move off the broken
// suite.
var exposedDesc = prometheus.NewDesc("amigo_meters_exposed",
	"Registered meters whose security has a known weakness (osgp-legacy: the broken OMA digest and RC4), by protocol and exposure.",
	[]string{"protocol", "exposure"}, nil)

// exposedTTL is how long a count stands before a scrape counts again: a
// registry changes with imports, not by the second.
const exposedTTL = 30 * time.Second

// exposedCollector counts exposed meters from the registry at scrape
// time, a protocol's meters at a time in pages.
type exposedCollector struct {
	h      *HeadEnd
	mu     sync.Mutex
	at     time.Time
	counts map[[2]string]int
}

func (c *exposedCollector) Describe(ch chan<- *prometheus.Desc) { ch <- exposedDesc }

func (c *exposedCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts == nil || time.Since(c.at) > exposedTTL {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		counts, err := c.h.countExposed(ctx)
		cancel()
		if err == nil {
			c.counts, c.at = counts, time.Now()
		}
	}
	for k, n := range c.counts {
		ch <- prometheus.MustNewConstMetric(exposedDesc, prometheus.GaugeValue, float64(n), k[0], k[1])
	}
}

// countExposed counts the meters with an exposure, by protocol and
// exposure, over the protocols of the head-end's drivers.
func (h *HeadEnd) countExposed(ctx context.Context) (map[[2]string]int, error) {
	counts := map[[2]string]int{}
	for p := range h.drivers {
		q := store.MeterQuery{Protocol: p, Limit: 1000}
		for {
			ms, err := h.st.Meters(ctx, q)
			if err != nil {
				return nil, err
			}
			for _, m := range ms {
				if m.Exposure != "" {
					counts[[2]string{m.Protocol, m.Exposure}]++
				}
			}
			if len(ms) < q.Limit {
				break
			}
			q.After = ms[len(ms)-1].MRID
		}
	}
	return counts, nil
}
