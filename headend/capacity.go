package headend

import (
	"cmp"
	"context"
	"errors"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/store"
)

// segmentCapacity is how many sessions segment name may carry at once: a
// collector's own capacity when CollectionConfig.SegmentCapacity names
// it, else the default PerSegment. A radio collector's scheduler takes a
// handful of meter sessions; a cellular cell takes many more, so one
// number for every segment fits neither.
func (h *HeadEnd) segmentCapacity(name string) int {
	if n, ok := h.ccfg.SegmentCapacity[name]; ok && n > 0 {
		return n
	}
	return h.ccfg.PerSegment
}

// SegmentCapacity returns the sessions at once the head-end allows in a
// segment.
func (h *HeadEnd) SegmentCapacity(name string) int { return h.segmentCapacity(name) }

// dayKey carries the collection day a session belongs to, so that its
// time is counted for that day's collector view.
type dayKey struct{}

func withCollectionDay(ctx context.Context, day cim.Date) context.Context {
	return context.WithValue(ctx, dayKey{}, day)
}

// sessionDays is how many collection days of session times are kept.
const sessionDays = 14

// sessionBuckets bound a session-time histogram: bucket b holds times
// below 2^(b/4) ms, so quantiles are within 19 % from 1 ms to 4.6 hours.
const sessionBuckets = 96

// sessionTimes keeps, per collection day and segment, a histogram of
// session times: bounded memory however many meters, enough for a
// median and a 95th percentile.
type sessionTimes struct {
	mu   sync.Mutex
	days map[cim.Date]map[string]*[sessionBuckets]uint32
}

func sessionBucket(d time.Duration) int {
	ms := float64(d) / float64(time.Millisecond)
	if ms < 1 {
		return 0
	}
	return min(sessionBuckets-1, int(4*math.Log2(ms))+1)
}

// bucketUpper is the upper bound of bucket b.
func bucketUpper(b int) time.Duration {
	return time.Duration(math.Exp2(float64(b)/4) * float64(time.Millisecond))
}

func (s *sessionTimes) observe(day cim.Date, segment string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.days == nil {
		s.days = map[cim.Date]map[string]*[sessionBuckets]uint32{}
	}
	segs, ok := s.days[day]
	if !ok {
		if len(s.days) >= sessionDays {
			var oldest cim.Date
			first := true
			for d := range s.days {
				if first || d.Before(oldest) {
					oldest, first = d, false
				}
			}
			delete(s.days, oldest)
		}
		segs = map[string]*[sessionBuckets]uint32{}
		s.days[day] = segs
	}
	hist, ok := segs[segment]
	if !ok {
		hist = new([sessionBuckets]uint32)
		segs[segment] = hist
	}
	hist[sessionBucket(d)]++
}

// SessionTime is a segment's session times on one collection day.
type SessionTime struct {
	Sessions int           `json:"sessions"`
	Median   time.Duration `json:"-"`
	P95      time.Duration `json:"-"`
}

func (s *sessionTimes) get(day cim.Date) map[string]SessionTime {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]SessionTime{}
	for seg, hist := range s.days[day] {
		var n uint32
		for _, c := range hist {
			n += c
		}
		st := SessionTime{Sessions: int(n)}
		st.Median = quantile(hist, n, 0.5)
		st.P95 = quantile(hist, n, 0.95)
		out[seg] = st
	}
	return out
}

func quantile(hist *[sessionBuckets]uint32, n uint32, q float64) time.Duration {
	if n == 0 {
		return 0
	}
	rank := uint32(math.Ceil(q * float64(n)))
	var seen uint32
	for b, c := range hist {
		seen += c
		if seen >= rank {
			return bucketUpper(b)
		}
	}
	return bucketUpper(sessionBuckets - 1)
}

// SessionTimes returns each segment's collection session times on a
// collection day, as far as this head-end ran them since it started.
func (h *HeadEnd) SessionTimes(day cim.Date) map[string]SessionTime { return h.times.get(day) }

// Collector is one collector's (one segment's) collection day: what the
// console's collector view shows.
type Collector struct {
	Segment  string         `json:"collector"`
	Meters   int            `json:"meters"`
	OK       int            `json:"ok"`
	Success  float64        `json:"successRate"` // OK / Meters, 0 without meters
	Failed   map[string]int `json:"failed"`      // failures by cause
	Sessions int            `json:"sessions"`    // collection sessions timed (0: none known)
	MedianMs float64        `json:"medianMs"`    // session time, median
	P95Ms    float64        `json:"p95Ms"`       // session time, 95th percentile
	Capacity int            `json:"capacity"`    // sessions at once allowed
	Healthy  bool           `json:"healthy"`     // success at least HealthyRate
}

// HealthyRate is the read success below which a collector stands out.
const HealthyRate = 0.995

// CollectorSummaries is the store's part of the collector view.
type CollectorSummaries interface {
	CollectionSummary(ctx context.Context, day cim.Date, segment string) ([]store.CollectionSummary, error)
}

// Collectors returns the collector view of a collection day, worst first:
// per segment the meters with a result, read success, failures by cause,
// and session times (from times; nil or missing: unknown). capacity, when
// set, gives a segment's session limit.
func Collectors(ctx context.Context, st CollectorSummaries, day cim.Date, times map[string]SessionTime, capacity func(string) int) ([]Collector, error) {
	sum, err := st.CollectionSummary(ctx, day, "")
	if err != nil {
		return nil, err
	}
	out := make([]Collector, 0, len(sum))
	for _, s := range sum {
		c := Collector{Segment: s.Segment, Meters: s.Total, OK: s.OK, Failed: s.Failed}
		if c.Failed == nil {
			c.Failed = map[string]int{}
		}
		if s.Total > 0 {
			c.Success = float64(s.OK) / float64(s.Total)
		}
		if t, ok := times[s.Segment]; ok {
			c.Sessions = t.Sessions
			c.MedianMs = float64(t.Median) / float64(time.Millisecond)
			c.P95Ms = float64(t.P95) / float64(time.Millisecond)
		}
		if capacity != nil {
			c.Capacity = capacity(s.Segment)
		}
		c.Healthy = c.Success >= HealthyRate
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Collector) int {
		return cmp.Or(cmp.Compare(a.Success, b.Success), cmp.Compare(b.Meters, a.Meters), cmp.Compare(a.Segment, b.Segment))
	})
	return out, nil
}

// CollectorView is Collectors over the head-end's own store, session
// times and capacities.
func (h *HeadEnd) CollectorView(ctx context.Context, day cim.Date) ([]Collector, error) {
	st, ok := h.st.(CollectorSummaries)
	if !ok {
		return nil, errors.New("headend: collector view: the store keeps no collection summaries")
	}
	return Collectors(ctx, st, day, h.SessionTimes(day), h.segmentCapacity)
}
