// Command apiload drives a running StellaOps server with an open-loop load on loopback and
// reports latency percentiles and status counts. Open loop: requests leave on a fixed schedule
// whatever the server does, and latency is measured from the scheduled time, so a stalled
// server shows up in the tail instead of slowing the generator (no coordinated omission).
//
// Modes:
//
//	latency    -rps R for -duration D over -clients C OAuth clients (each holder stays under
//	           the per-token rate limit), GET -path with a bearer token.
//	ratelimit  one token at -rps R for -duration D: counts 200s and 429s per one-second
//	           window and checks every 429's Retry-After.
//
// It creates its clients through the bootstrap admin API (-bootstrap-key).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stellaops/stellaops/pkg/client"
)

func main() {
	server := flag.String("server", "http://127.0.0.1:8080", "server URL")
	key := flag.String("bootstrap-key", "", "bootstrap key (creates the load clients)")
	mode := flag.String("mode", "latency", "latency or ratelimit")
	rps := flag.Int("rps", 1000, "requests per second (open loop)")
	dur := flag.Duration("duration", 10*time.Second, "how long to send (bounded)")
	clients := flag.Int("clients", 30, "latency mode: token holders to spread the load over")
	path := flag.String("path", "/api/v1/quota", "route to call (GET, scope stella.api)")
	flag.Parse()
	if *dur > 2*time.Minute || *rps > 20000 || *rps < 1 {
		fmt.Fprintln(os.Stderr, "apiload: -duration at most 2m, -rps 1..20000")
		os.Exit(2)
	}
	ctx := context.Background()
	n := *clients
	if *mode == "ratelimit" {
		n = 1
	}
	toks, err := tokens(ctx, *server, *key, n)
	if err != nil {
		fmt.Fprintln(os.Stderr, "apiload:", err)
		os.Exit(1)
	}
	tr := &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512, IdleConnTimeout: time.Minute}
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	before := scrape(hc, *server, *path)
	res := run(hc, *server+*path, toks, *rps, *dur)
	switch *mode {
	case "ratelimit":
		reportRate(res, *rps, *dur)
	default:
		reportLatency(res, *rps, *dur, len(toks))
		reportServer(before, scrape(hc, *server, *path))
	}
}

// tokens creates n clients with scope stella.api and returns a token of each.
func tokens(ctx context.Context, server, key string, n int) ([]string, error) {
	admin, err := client.New(server, client.WithBootstrapKey(key))
	if err != nil {
		return nil, err
	}
	anon, _ := client.New(server)
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	var out []string
	for i := range n {
		c, err := admin.CreateClient(ctx, client.NewClient{ClientID: fmt.Sprintf("load-%s-%d", run, i), Scopes: []string{"stella.api"}})
		if err != nil {
			return nil, fmt.Errorf("create client: %w", err)
		}
		t, err := anon.Token(ctx, client.TokenRequest{ClientID: c.ClientID, ClientSecret: c.Secret})
		if err != nil {
			return nil, fmt.Errorf("token: %w", err)
		}
		out = append(out, t.AccessToken)
	}
	return out, nil
}

type result struct {
	sentAt     time.Time // scheduled send time
	latency    time.Duration
	status     int
	retryAfter string
	err        error
}

func run(hc *http.Client, url string, toks []string, rps int, dur time.Duration) []result {
	total := int(int64(rps) * int64(dur) / int64(time.Second))
	interval := time.Second / time.Duration(rps)
	res := make([]result, total)
	var wg sync.WaitGroup
	var inflight atomic.Int64
	start := time.Now()
	for i := range total {
		at := time.Duration(i) * interval
		if d := time.Until(start.Add(at)); d > 0 {
			time.Sleep(d)
		}
		wg.Add(1)
		inflight.Add(1)
		go func(i int) {
			defer wg.Done()
			defer inflight.Add(-1)
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			req.Header.Set("Authorization", "Bearer "+toks[i%len(toks)])
			scheduled := start.Add(at)
			resp, err := hc.Do(req)
			r := result{sentAt: scheduled, err: err}
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				r.status, r.retryAfter = resp.StatusCode, resp.Header.Get("Retry-After")
			}
			r.latency = time.Since(scheduled)
			res[i] = r
		}(i)
	}
	wg.Wait()
	return res
}

func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p/100*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func reportLatency(res []result, rps int, dur time.Duration, holders int) {
	codes := map[int]int{}
	errs := 0
	var lat []time.Duration
	for _, r := range res {
		if r.err != nil {
			errs++
			continue
		}
		codes[r.status]++
		lat = append(lat, r.latency)
	}
	slices.Sort(lat)
	fmt.Printf("| target rps | duration | token holders | requests | statuses | errors | p50 | p90 | p99 | p99.9 | max |\n")
	fmt.Printf("|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|\n")
	fmt.Printf("| %d | %s | %d | %d | %v | %d | %s | %s | %s | %s | %s |\n", rps, dur, holders, len(res), codes, errs,
		ms(pct(lat, 50)), ms(pct(lat, 90)), ms(pct(lat, 99)), ms(pct(lat, 99.9)), ms(pct(lat, 100)))
}

func reportRate(res []result, rps int, dur time.Duration) {
	type win struct{ ok, limited, other int }
	// Buckets are wall-clock seconds, as the server's rate windows are.
	wins := map[int64]*win{}
	var first, last int64 = 1 << 62, 0
	badRetry := 0
	for _, r := range res {
		s := r.sentAt.Unix()
		first, last = min(first, s), max(last, s)
		if wins[s] == nil {
			wins[s] = &win{}
		}
		switch {
		case r.err == nil && r.status == 200:
			wins[s].ok++
		case r.err == nil && r.status == 429:
			wins[s].limited++
			if n, err := strconv.Atoi(r.retryAfter); err != nil || n < 1 || n > 1 {
				badRetry++
			}
		default:
			wins[s].other++
		}
	}
	fmt.Printf("one token at %d rps for %s (per wall-clock second: 200 / 429 / other; first and last seconds are partial)\n", rps, dur)
	for s := first; s <= last; s++ {
		if w := wins[s]; w != nil {
			fmt.Printf("  %s: %d / %d / %d\n", time.Unix(s, 0).UTC().Format("15:04:05"), w.ok, w.limited, w.other)
		}
	}
	fmt.Printf("429 answers with a Retry-After other than 1 s: %d\n", badRetry)
}

// scrape reads the server's latency histogram of GET path: cumulative counts per bucket bound.
func scrape(hc *http.Client, server, path string) map[float64]float64 {
	resp, err := hc.Get(server + "/metrics")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	prefix := `stellaops_http_request_duration_seconds_bucket{method="GET",route="GET ` + path + `",le="`
	out := map[float64]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, prefix)
		if !ok {
			continue
		}
		le, count, ok := strings.Cut(rest, `"} `)
		if !ok {
			continue
		}
		bound, err1 := strconv.ParseFloat(le, 64)
		n, err2 := strconv.ParseFloat(count, 64)
		if err1 == nil && err2 == nil {
			out[bound] = n
		}
	}
	return out
}

// reportServer prints the server-side share of requests within each histogram bound during the
// run, from the difference of two scrapes: the latency without the load generator's own
// scheduling and the loopback.
func reportServer(before, after map[float64]float64) {
	if len(after) == 0 {
		return
	}
	var bounds []float64
	for b := range after {
		bounds = append(bounds, b)
	}
	slices.Sort(bounds)
	total := after[bounds[len(bounds)-1]] - before[bounds[len(bounds)-1]]
	if total <= 0 {
		return
	}
	fmt.Printf("\nserver-side (stellaops_http_request_duration_seconds, %d requests):", int(total))
	for _, b := range bounds {
		if b > 0.01 {
			break
		}
		fmt.Printf(" ≤%gms %.2f%%", b*1000, 100*(after[b]-before[b])/total)
	}
	fmt.Println()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }
