package headend

import "github.com/prometheus/client_golang/prometheus"

// metrics are the head-end's Prometheus collectors. Success rate per
// segment is jobs{outcome="ok"} over all jobs of the segment; per day the
// store's collection summary answers it.
type metrics struct {
	jobs         *prometheus.CounterVec
	retries      *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	inFlight     prometheus.Gauge
	readings     prometheus.Counter
	clockSyncs   prometheus.Counter
	busRetries   prometheus.Counter
	storeRetries prometheus.Counter
	pushes       *prometheus.CounterVec
	pushRefused  *prometheus.CounterVec
	pushAccept   *prometheus.CounterVec
	pushConns    prometheus.Gauge
	commands     *prometheus.CounterVec
	// objectProblems counts the objects a collection could not read while
	// its session went on, once per meter and run.
	objectProblems *prometheus.CounterVec
}

func newMetrics() *metrics {
	return &metrics{
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "amigo_collection_jobs_total",
			Help: "Collection jobs ended, by network segment and outcome (ok, timeout, auth, refused, protocol, other)."},
			[]string{"segment", "outcome"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "amigo_collection_retries_total",
			Help: "Collection attempts retried, by the cause of the failed attempt."}, []string{"cause"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "amigo_meter_session_seconds",
			Help:    "Meter sessions from connect to release, by operation and outcome.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120}}, []string{"op", "outcome"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "amigo_meter_sessions_in_flight",
			Help: "Meter sessions open now."}),
		readings: prometheus.NewCounter(prometheus.CounterOpts{Name: "amigo_collected_readings_total",
			Help: "Interval readings collected and acknowledged by the bus."}),
		clockSyncs: prometheus.NewCounter(prometheus.CounterOpts{Name: "amigo_clock_syncs_total",
			Help: "Meter clocks set because their drift passed the threshold."}),
		busRetries: prometheus.NewCounter(prometheus.CounterOpts{Name: "amigo_headend_bus_retries_total",
			Help: "Publishes retried because the bus did not acknowledge."}),
		storeRetries: prometheus.NewCounter(prometheus.CounterOpts{Name: "amigo_headend_store_retries_total",
			Help: "Head-end store writes retried."}),
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "amigo_pushes_total",
			Help: "Pushed notifications received, by result (accepted, unknown-sender, replay, auth, malformed, rate-limited, store-error, bus-error)."},
			[]string{"result"}),
		pushRefused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "amigo_push_refused_total",
			Help: "Push connections refused or dropped by the listener, by cause (per-source: the source address holds its share; " +
				"busy: every slot serves a meter; evicted: dropped before its first frame to make room; first-frame-timeout; framing: not the protocol's framing)."},
			[]string{"cause"}),
		pushAccept: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "amigo_push_accept_errors_total",
			Help: "Accepts of the push listener that failed and were retried after a back-off, by cause (emfile, enfile, econnaborted...)."},
			[]string{"cause"}),
		pushConns: prometheus.NewGauge(prometheus.GaugeOpts{Name: "amigo_push_connections",
			Help: "Connections the push listener holds now."}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "amigo_commands_total",
			Help: "Command transitions, by command type and the status reached."}, []string{"type", "status"}),
		objectProblems: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "amigo_collection_object_problems_total",
			Help: "Objects a collection could not read while the session went on, once per meter and run, by cause " +
				"(read-write-denied, object-undefined, not-integer, tolerated, other...)."}, []string{"cause"}),
	}
}

func (m *metrics) register(r prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.jobs, m.retries, m.latency, m.inFlight, m.readings, m.clockSyncs,
		m.busRetries, m.storeRetries, m.pushes, m.pushRefused, m.pushAccept, m.pushConns, m.commands, m.objectProblems} {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}
