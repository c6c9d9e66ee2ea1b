package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/amigo-ami/amigo/api"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
)

func runQuery(ctx context.Context, o Options) ([]Result, error) {
	meters, rate, dur := 200, 1000, 5*time.Second
	if o.Tiny {
		meters, rate, dur = 10, 200, 500*time.Millisecond
	}
	st, closeFn, err := engines(o)[0].open(ctx, "query")
	if err != nil {
		return nil, err
	}
	defer closeFn()
	ids := make([]string, meters)
	for i := range ids {
		ids[i] = fmt.Sprintf("Q%05d", i)
	}
	first := cim.Date{Year: 2026, Month: 10, Day: 1}
	to := first.AddDays(30)
	blocks := benchDays(ids, first, 31, time.UTC)
	var ds []interval.Day
	for _, b := range blocks {
		date := cim.DateOf(b.Readings[0].End.Add(-time.Minute), time.UTC)
		d := interval.Day{MeterID: b.MeterID, Channel: b.ReadingType.ID, Date: date, Start: date.Start(time.UTC), Interval: 15 * time.Minute,
			Values: make([]int64, len(b.Readings)), Quality: make([]cim.Quality, len(b.Readings)), Source: interval.SourceMeter}
		for j, r := range b.Readings {
			d.Values[j] = r.Value
		}
		ds = append(ds, d)
	}
	for i := 0; i < len(ds); i += 512 {
		if _, err := st.PutDays(ctx, ds[i:min(i+512, len(ds))]); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: api.New(api.Deps{Store: st}), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	base := "http://" + ln.Addr().String() + "/api/v1/meters/"
	q := "/readings?channel=" + url.QueryEscape(cim.EnergyImport15m.ID) + "&from=" + first.String() + "&to=" + to.String()

	direct, err := load(ctx, rate, dur, func(i int) error {
		days, err := st.Days(ctx, ids[i%meters], cim.EnergyImport15m.ID, first, to)
		if err == nil && len(days) != 31 {
			err = fmt.Errorf("%d days, want 31", len(days))
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	overHTTP, err := load(ctx, rate, dur, func(i int) error {
		resp, err := client.Get(base + ids[i%meters] + q)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		n, err := io.Copy(io.Discard, resp.Body)
		if err == nil && (resp.StatusCode != 200 || n < 31*96*4) {
			err = fmt.Errorf("HTTP %d, %d bytes", resp.StatusCode, n)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("HTTP: %w", err)
	}
	note := fmt.Sprintf("open loop at %d requests/s for %s over %d meters; a month is 31 days × 96 quarter hours", rate, dur, meters)
	return []Result{
		{Metric: "one month of one meter over HTTP, p50", Value: ms(overHTTP.p50), Unit: "ms", Baseline: "store call, p50", BaselineValue: ms(direct.p50)},
		{Metric: "one month of one meter over HTTP, p99", Value: ms(overHTTP.p99), Unit: "ms", Baseline: "store call, p99", BaselineValue: ms(direct.p99), Note: note},
		{Metric: "requests served", Value: overHTTP.rate, Unit: "requests/s", Baseline: "store calls", BaselineValue: direct.rate},
	}, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

type loadResult struct {
	p50, p99 time.Duration
	rate     float64
}

// load issues f at a fixed rate for dur, each call in its own goroutine
// (an open loop: a slow answer does not slow the arrivals, as with real
// clients), and measures each call from its scheduled start, so queueing
// counts.
func load(ctx context.Context, rate int, dur time.Duration, f func(i int) error) (loadResult, error) {
	n := int(float64(rate) * dur.Seconds())
	lat := make([]time.Duration, n)
	errs := make([]error, n)
	gap := time.Second / time.Duration(rate)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := range n {
		at := t0.Add(time.Duration(i) * gap)
		if d := time.Until(at); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				wg.Wait()
				return loadResult{}, ctx.Err()
			}
		}
		wg.Go(func() {
			errs[i] = f(i)
			lat[i] = time.Since(at)
		})
	}
	wg.Wait()
	el := time.Since(t0)
	for i, err := range errs {
		if err != nil {
			return loadResult{}, fmt.Errorf("request %d of %d: %w", i+1, n, err)
		}
	}
	slices.Sort(lat)
	return loadResult{p50: lat[n/2], p99: lat[min(n-1, n*99/100)], rate: float64(n) / el.Seconds()}, nil
}
