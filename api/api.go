// Package api owns amigo's HTTP surface: liveness and readiness probes,
// Prometheus metrics, and the JSON API under /api/v1 with its uniform
// error shape, request limits and per-route metrics.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/amigo-ami/amigo/auth"
	"github.com/amigo-ami/amigo/billing"
	"github.com/amigo-ami/amigo/mdm/vee"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/tariff"
)

// Check is a named readiness check.
type Check struct {
	Name string
	Fn   func(context.Context) error
}

// Deps is what the API serves from.
type Deps struct {
	Store   store.Store
	Ready   []Check
	Metrics *prometheus.Registry
	// Registerer takes the API's own collectors (nil: Metrics), so a
	// node can label them as it labels every other series it serves.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	Version    string
	// MaxBodyBytes caps request bodies.
	MaxBodyBytes int64
	// HeadEnd serves on-demand reads, commands and collection status;
	// nil leaves those routes out.
	HeadEnd HeadEnd
	// ObjectModels answers what the head-end learned of a meter's object
	// model; nil answers that nothing was learned.
	ObjectModels ObjectModels
	// Rules are the validation rule sets by meter group (nil: the
	// defaults for every meter).
	Rules *vee.RuleSets
	// Tariffs are the retail tariffs by id; a usage point naming none of
	// them is priced by tariff.Default.
	Tariffs map[string]tariff.Tariff
	// Auth authenticates every request and its roles authorise the
	// routes; nil leaves the API open (for tests of the handlers alone).
	Auth *auth.Service
	// Campaigns creates, decides and reports campaigns; nil leaves those
	// routes out.
	Campaigns Campaigns
	// Audit is the audit trail: the API appends configuration and key
	// changes, exports of personal data and denied requests, and serves
	// it (nil: nothing is kept).
	Audit AuditTrail
	// ConsentChanged, when set, hears of every consent a household
	// granted or revoked, once it is stored.
	ConsentChanged func(usagePoint, purpose string)
	// DR runs demand response; nil answers its routes 503.
	DR DemandResponse
	// Billing runs bills and rebills (nil: a runner over Store with the
	// default policy, no estimation and no holidays).
	Billing *billing.Runner
}

// API is the HTTP handler.
type API struct {
	d        Deps
	mux      *http.ServeMux
	handler  http.Handler // mux, behind authentication when there is an auth service
	table    []route
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	services
	auditing
}

// New builds the handler and registers its metrics.
func New(d Deps) *API {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.MaxBodyBytes <= 0 {
		d.MaxBodyBytes = 8 << 20
	}
	a := &API{d: d, mux: http.NewServeMux(), services: newServices(d), auditing: newAuditing(d)}
	a.portal.TariffOn = a.billedTariff
	a.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "amigo_http_requests_total", Help: "HTTP requests by route, method and status code.",
	}, []string{"route", "method", "code"})
	a.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "amigo_http_request_duration_seconds", Help: "HTTP request latency by route.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"route"})
	if d.Metrics != nil {
		reg := d.Registerer
		if reg == nil {
			reg = d.Metrics
		}
		reg.MustRegister(a.requests, a.latency)
		a.mux.Handle("GET /metrics", promhttp.HandlerFor(d.Metrics, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(d.Logger.Handler(), slog.LevelWarn)}))
	}
	a.register()
	// The mux sets the matched pattern on the request it serves, which
	// the middleware has copied; the recorder takes it from there.
	var inner http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mux.ServeHTTP(w, r)
		if rec, ok := w.(*recorder); ok {
			rec.pattern = r.Pattern
		}
	})
	a.handler = inner
	if d.Auth != nil {
		a.handler = d.Auth.Middleware(a.isPublic, inner)
	}
	return a
}

// Handle adds a route; later issues plug their endpoints in here.
func (a *API) Handle(pattern string, h http.Handler) { a.mux.Handle(pattern, h) }

// ServeHTTP implements http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	// Every answer, JSON, page or error, is what its Content-Type says:
	// a browser must not guess an uploaded or echoed body into a script.
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if r.URL.Path != importPath && !(r.Method == http.MethodPut && r.URL.Path == topologyPath) {
		// An import streams its manifest, and a topology file comes,
		// under a limit of its own.
		r.Body = http.MaxBytesReader(w, r.Body, a.d.MaxBodyBytes)
	}
	rec := &recorder{ResponseWriter: w, code: http.StatusOK, path: r.URL.Path, api: strings.HasPrefix(r.URL.Path, "/api/")}
	a.handler.ServeHTTP(rec, r)
	route := rec.pattern
	if route == "" {
		route = "unmatched"
	}
	a.requests.WithLabelValues(route, r.Method, strconv.Itoa(rec.code)).Inc()
	a.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
	a.d.Logger.Debug("http", "method", r.Method, "path", r.URL.Path, "code", rec.code, "dur", time.Since(start))
}

// recorder keeps the status code, and turns the mux's own plain-text
// errors (405 on a known path) into the API's JSON error shape.
type recorder struct {
	http.ResponseWriter
	code     int
	path     string
	pattern  string
	api      bool
	replaced bool
}

func (r *recorder) WriteHeader(code int) {
	r.code = code
	if r.api && code >= 400 && r.Header().Get("Content-Type") == "text/plain; charset=utf-8" {
		r.replaced = true
		msg := http.StatusText(code)
		switch code {
		case http.StatusNotFound:
			msg = "no such endpoint: " + r.path
		case http.StatusMethodNotAllowed:
			msg = "method not allowed on " + r.path + "; allowed: " + r.Header().Get("Allow")
		}
		writeJSON(r.ResponseWriter, code, errorBody{Error: errorDetail{Code: codeName(code), Message: msg}})
		return
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.replaced {
		return len(b), nil
	}
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func codeName(code int) string {
	switch code {
	case http.StatusMethodNotAllowed:
		return "method_not_allowed"
	case http.StatusNotFound:
		return "not_found"
	case http.StatusRequestEntityTooLarge:
		return "too_large"
	}
	if code >= 500 {
		return "internal"
	}
	return "bad_request"
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

// Error writes the API's JSON error: {"error":{"code":..., "message":...}}.
func Error(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, errorBody{Error: errorDetail{Code: code, Message: msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	// Compact: a month of quarter hours indented is one line per value,
	// and encoding it was most of a readings request's cost.
	json.NewEncoder(w).Encode(v)
}

// JSON writes v as a 200 JSON response.
func JSON(w http.ResponseWriter, v any) { writeJSON(w, http.StatusOK, v) }

func (a *API) healthz(w http.ResponseWriter, r *http.Request) {
	JSON(w, map[string]string{"status": "ok"})
}

func (a *API) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	status := map[string]string{}
	ready := true
	for _, c := range a.d.Ready {
		if err := c.Fn(ctx); err != nil {
			status[c.Name] = err.Error()
			ready = false
			continue
		}
		status[c.Name] = "ok"
	}
	code := http.StatusOK
	if !ready {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, map[string]any{"ready": ready, "checks": status})
}

func (a *API) root(w http.ResponseWriter, r *http.Request) {
	JSON(w, map[string]any{"name": "amigo", "version": a.d.Version, "links": map[string]string{
		"meters": "/api/v1/meters", "commands": "/api/v1/commands", "collection": "/api/v1/collection", "health": "/healthz", "ready": "/readyz", "metrics": "/metrics",
	}})
}

// page is the envelope of every listing.
type page[T any] struct {
	Items []T  `json:"items"`
	Total *int `json:"total,omitempty"`
	// Next is the cursor to pass as ?after= for the next page.
	Next string `json:"next,omitempty"`
}

func (a *API) listMeters(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for k := range q {
		switch k {
		case "segment", "region", "status", "usage_point", "protocol", "after", "limit":
		default:
			Error(w, http.StatusBadRequest, "bad_query", fmt.Sprintf("unknown query parameter %q", k))
			return
		}
	}
	limit := 100
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			Error(w, http.StatusBadRequest, "bad_query", "limit must be an integer from 1 to 1000")
			return
		}
		limit = n
	}
	mq := store.MeterQuery{Segment: q.Get("segment"), Region: q.Get("region"), Status: q.Get("status"),
		UsagePointID: q.Get("usage_point"), Protocol: q.Get("protocol"), After: q.Get("after"), Limit: limit}
	ms, err := a.d.Store.Meters(r.Context(), mq)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	total, err := a.d.Store.CountMeters(r.Context(), mq)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	items, err := a.withCollection(r.Context(), ms)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	p := page[meterItem]{Items: items, Total: &total}
	if len(ms) == limit {
		p.Next = ms[len(ms)-1].MRID
	}
	JSON(w, p)
}

func (a *API) getMeter(w http.ResponseWriter, r *http.Request) {
	m, err := a.d.Store.Meter(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		Error(w, http.StatusNotFound, "not_found", "no meter "+strconv.Quote(r.PathValue("id")))
		return
	}
	if err != nil {
		a.internal(w, r, err)
		return
	}
	out, err := a.meterDetail(r.Context(), m)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	JSON(w, out)
}

func (a *API) internal(w http.ResponseWriter, r *http.Request, err error) {
	a.d.Logger.Error("api", "path", r.URL.Path, "err", err)
	Error(w, http.StatusInternalServerError, "internal", "internal error")
}
