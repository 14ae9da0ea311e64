// Command apiload drives a running StellaOps server on loopback and reports latency
// percentiles, status counts and the server's own latency histogram for the route. The
// request modes are open loop: requests leave on a fixed schedule whatever the server does,
// and latency is measured from the scheduled time, so a stalled server shows up in the tail
// instead of slowing the generator (no coordinated omission). Every answer of the product
// modes is checked, not only its status.
//
// Modes:
//
//	latency    -rps R for -duration D over -clients C OAuth clients (each holder stays under
//	           the per-token rate limit), GET -path with a bearer token.
//	ratelimit  one token at -rps R for -duration D: counts 200s and 429s per one-second
//	           window and checks every 429's Retry-After.
//	layers     POST /layers/missing with -digests digests per request, half of them cached:
//	           it first scans an image built from testdata's alpine archive plus synthetic
//	           layers (POST /scan), so the cached half is known through a real scan.
//	scan-sbom  POST /scan?sbom-only=true with testdata/sbom/postgres-stretch.cdx.xml.gz
//	           (gunzipped; a fresh serialNumber per request, so each is its own scan).
//	rescan     POST /scan of testdata's alpine image archive: one cold scan, then warm
//	           re-scans with every layer cached (the archive is byte-identical inside; only
//	           a gzip header comment differs per request, so no request joins another's scan).
//	runtime    POST /api/v1/runtime/events, batches of -batch zastava.runtime.event@v1
//	           envelopes with unique event ids, from -senders closed-loop senders for
//	           -duration: accepted events per second.
//
// It creates its clients through the bootstrap admin API (-bootstrap-key); scan clients get
// a large maxScansPerDay so the daily quota never delays a request.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stellaops/stellaops/pkg/client"
)

// Scan clients' daily quota: far above anything a run sends, so no scan is delayed.
const scanQuota = 1_000_000

func main() {
	o := opts{}
	flag.StringVar(&o.server, "server", "http://127.0.0.1:8080", "server URL")
	flag.StringVar(&o.key, "bootstrap-key", "", "bootstrap key (creates the load clients)")
	flag.StringVar(&o.mode, "mode", "latency", "latency, ratelimit, layers, scan-sbom, rescan or runtime")
	flag.IntVar(&o.rps, "rps", 0, "requests per second, open loop (default: 1000; scan-sbom 20; rescan 5)")
	flag.DurationVar(&o.dur, "duration", 10*time.Second, "how long to send (bounded)")
	flag.IntVar(&o.clients, "clients", 0, "token holders to spread the load over (default: latency 30, layers 40, scan-sbom 4, rescan 2, runtime 32)")
	flag.StringVar(&o.path, "path", "/api/v1/quota", "latency mode: route to call (GET, scope stella.api)")
	flag.StringVar(&o.testdata, "testdata", "testdata", "the repository's testdata directory (layers, scan-sbom, rescan)")
	flag.IntVar(&o.digests, "digests", 100, "layers mode: digests per request, half of them cached")
	flag.IntVar(&o.senders, "senders", 4, "runtime mode: concurrent closed-loop senders")
	flag.IntVar(&o.batch, "batch", 256, "runtime mode: events per batch")
	flag.Parse()
	if err := o.setDefaults(); err != nil {
		fmt.Fprintln(os.Stderr, "apiload:", err)
		os.Exit(2)
	}
	if err := o.run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "apiload:", err)
		os.Exit(1)
	}
}

type opts struct {
	server, key, mode, path, testdata string
	rps, clients, digests             int
	senders, batch                    int
	dur                               time.Duration
}

// setDefaults fills the per-mode defaults and bounds every mode in rate, time and size.
func (o *opts) setDefaults() error {
	defRPS, defClients, maxRPS := 1000, 30, 20000
	switch o.mode {
	case "latency", "ratelimit":
	case "layers":
		defClients = 40
	case "scan-sbom":
		defRPS, defClients, maxRPS = 20, 4, 100
	case "rescan":
		defRPS, defClients, maxRPS = 5, 2, 50
	case "runtime":
		defClients = 32
	default:
		return fmt.Errorf("-mode %q: want latency, ratelimit, layers, scan-sbom, rescan or runtime", o.mode)
	}
	if o.rps == 0 {
		o.rps = defRPS
	}
	if o.clients == 0 {
		o.clients = defClients
	}
	if o.mode == "ratelimit" {
		o.clients = 1
	}
	switch {
	case o.dur <= 0 || o.dur > 2*time.Minute:
		return errors.New("-duration: more than 0, at most 2m")
	case o.rps < 1 || o.rps > maxRPS:
		return fmt.Errorf("-rps: 1..%d in mode %s", maxRPS, o.mode)
	case o.clients < 1 || o.clients > 200:
		return errors.New("-clients: 1..200")
	case o.digests < 2 || o.digests > 1024:
		return errors.New("-digests: 2..1024")
	case o.senders < 1 || o.senders > 32:
		return errors.New("-senders: 1..32")
	case o.batch < 1 || o.batch > 1024:
		return errors.New("-batch: 1..1024")
	}
	return nil
}

func (o *opts) run(ctx context.Context) error {
	tr := &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512, IdleConnTimeout: time.Minute}
	hc := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	var scopes []string
	maxScans := 0
	switch o.mode {
	case "latency", "ratelimit":
		scopes = []string{"stella.api"}
	case "layers", "scan-sbom", "rescan":
		scopes, maxScans = []string{"scanner.scans.enqueue", "scanner.scans.read"}, scanQuota
	case "runtime":
		scopes = []string{"scanner.runtime.ingest"}
	}
	toks, err := tokens(ctx, o.server, o.key, o.clients, scopes, maxScans)
	if err != nil {
		return err
	}
	switch o.mode {
	case "ratelimit":
		res := run(hc, o.server, getTarget(o.path), toks, o.rps, o.dur)
		reportRate(res, o.rps, o.dur)
		return nil
	case "layers":
		return o.layers(ctx, hc, toks)
	case "scan-sbom":
		return o.scanSBOM(ctx, hc, toks)
	case "rescan":
		return o.rescan(ctx, hc, toks)
	case "runtime":
		return o.runtime(hc, toks)
	}
	route := "GET " + o.path
	before := scrape(hc, o.server)
	res := run(hc, o.server, getTarget(o.path), toks, o.rps, o.dur)
	fmt.Printf("`%s`, %d rps over %d token holders for %s:\n\n", route, o.rps, len(toks), o.dur)
	reportLatency(res)
	reportServer(route, before, scrape(hc, o.server), 0.01)
	return nil
}

// tokens creates n clients with the scopes (and a daily scan quota when maxScans > 0) and
// returns a token of each.
func tokens(ctx context.Context, server, key string, n int, scopes []string, maxScans int) ([]string, error) {
	admin, err := client.New(server, client.WithBootstrapKey(key))
	if err != nil {
		return nil, err
	}
	anon, _ := client.New(server)
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	var out []string
	for i := range n {
		c, err := admin.CreateClient(ctx, client.NewClient{ClientID: fmt.Sprintf("load-%s-%d", run, i), Scopes: scopes, MaxScansPerDay: maxScans})
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
	// wrong is why the answer failed the mode's check ("" when it passed or was not checked).
	wrong string
}

// target describes the i-th request of a run.
type target struct {
	method, path, contentType string
	// body returns the i-th request's body and its length (nil: no body).
	body func(i int) (io.Reader, int64)
	// check judges an answer's status and body; nil discards the body unread.
	check func(i, status int, body []byte) string
}

func getTarget(path string) target { return target{method: http.MethodGet, path: path} }

// maxAnswer bounds the body read from an answer that is checked.
const maxAnswer = 4 << 20

func run(hc *http.Client, server string, t target, toks []string, rps int, dur time.Duration) []result {
	total := int(int64(rps) * int64(dur) / int64(time.Second))
	interval := time.Second / time.Duration(rps)
	res := make([]result, total)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range total {
		at := time.Duration(i) * interval
		if d := time.Until(start.Add(at)); d > 0 {
			time.Sleep(d)
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			scheduled := start.Add(at)
			res[i] = send(hc, server, t, toks[i%len(toks)], i, scheduled)
		}(i)
	}
	wg.Wait()
	return res
}

// send makes the i-th request; latency runs from since to the end of the answer's body.
func send(hc *http.Client, server string, t target, tok string, i int, since time.Time) result {
	var body io.Reader
	var n int64
	if t.body != nil {
		body, n = t.body(i)
	}
	req, err := http.NewRequest(t.method, server+t.path, body)
	if err != nil {
		return result{sentAt: since, err: err}
	}
	if body != nil {
		req.ContentLength = n
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if t.contentType != "" {
		req.Header.Set("Content-Type", t.contentType)
	}
	resp, err := hc.Do(req)
	r := result{sentAt: since, err: err}
	var answer []byte
	if err == nil {
		if t.check != nil {
			answer, r.err = io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
		} else {
			_, r.err = io.Copy(io.Discard, resp.Body)
		}
		resp.Body.Close()
		r.status, r.retryAfter = resp.StatusCode, resp.Header.Get("Retry-After")
	}
	r.latency = time.Since(since)
	if r.err == nil && t.check != nil {
		r.wrong = t.check(i, r.status, answer)
	}
	return r
}

func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// statuses renders status counts as "200 × 9,998, 429 × 2".
func statuses(codes map[int]int) string {
	if len(codes) == 0 {
		return "—"
	}
	keys := make([]int, 0, len(codes))
	for k := range codes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d × %s", k, thousands(codes[k])))
	}
	return strings.Join(parts, ", ")
}

func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// reportLatency prints the client-side table; the percentiles are over the answered requests
// (wrong answers included), transport errors are counted apart.
func reportLatency(res []result) {
	codes := map[int]int{}
	errs, wrong := 0, 0
	var firstErr, firstWrong string
	lat := make([]time.Duration, 0, len(res))
	for _, r := range res {
		if r.err == nil {
			lat = append(lat, r.latency)
		}
		switch {
		case r.err != nil:
			errs++
			if firstErr == "" {
				firstErr = r.err.Error()
			}
		case r.wrong != "":
			codes[r.status]++
			wrong++
			if firstWrong == "" {
				firstWrong = r.wrong
			}
		default:
			codes[r.status]++
		}
	}
	slices.Sort(lat)
	fmt.Printf("| requests | statuses | transport errors | wrong answers | p50 | p90 | p95 | p99 | p99.9 | max |\n")
	fmt.Printf("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	fmt.Printf("| %s | %s | %d | %d | %s | %s | %s | %s | %s | %s |\n", thousands(len(res)), statuses(codes), errs, wrong,
		ms(pct(lat, 50)), ms(pct(lat, 90)), ms(pct(lat, 95)), ms(pct(lat, 99)), ms(pct(lat, 99.9)), ms(pct(lat, 100)))
	if firstErr != "" {
		fmt.Printf("\nfirst transport error: %s\n", firstErr)
	}
	if firstWrong != "" {
		fmt.Printf("\nfirst wrong answer: %s\n", firstWrong)
	}
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
			if n, err := strconv.Atoi(r.retryAfter); err != nil || n != 1 {
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

// scrape returns the server's /metrics text ("" when unreachable).
func scrape(hc *http.Client, server string) string {
	resp, err := hc.Get(server + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// histogram reads the latency histogram of one route ("POST /scan") from a scrape:
// cumulative counts per bucket bound, +Inf included.
func histogram(metrics, route string) map[float64]float64 {
	method, _, _ := strings.Cut(route, " ")
	prefix := `stellaops_http_request_duration_seconds_bucket{method="` + method + `",route="` + route + `",le="`
	out := map[float64]float64{}
	for _, line := range strings.Split(metrics, "\n") {
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

// counter reads an unlabelled counter from a scrape (0 when absent).
func counter(metrics, name string) float64 {
	for _, line := range strings.Split(metrics, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f
		}
	}
	return 0
}

// reportServer prints the server-side share of the route's requests within each histogram
// bound up to upTo seconds during the run (from the difference of two scrapes: the latency
// without the load generator's own scheduling and the loopback), and quantiles estimated the
// way Prometheus' histogram_quantile does, by linear interpolation inside the bucket.
func reportServer(route, beforeText, afterText string, upTo float64) {
	before, after := histogram(beforeText, route), histogram(afterText, route)
	if len(after) == 0 {
		fmt.Printf("\nserver-side: no histogram for %s in /metrics\n", route)
		return
	}
	var bounds []float64
	for b := range after {
		bounds = append(bounds, b)
	}
	slices.Sort(bounds)
	cum := make([]float64, len(bounds))
	for i, b := range bounds {
		cum[i] = after[b] - before[b]
	}
	total := cum[len(cum)-1]
	if total <= 0 {
		return
	}
	fmt.Printf("\nserver-side (`stellaops_http_request_duration_seconds`, `%s`, %s requests):", route, thousands(int(total)))
	for i, b := range bounds {
		if b > upTo || math.IsInf(b, 1) {
			break
		}
		if i+1 < len(cum) && cum[i+1] == 0 {
			continue // below the fastest request's bucket
		}
		fmt.Printf(" ≤ %s %.2f %%;", boundText(b), 100*cum[i]/total)
		if cum[i] == total {
			break
		}
	}
	fmt.Printf(" estimated p50 %s, p95 %s, p99 %s", quantile(bounds, cum, 0.50), quantile(bounds, cum, 0.95), quantile(bounds, cum, 0.99))
	fmt.Println()
}

func boundText(b float64) string {
	if b < 1 {
		return strconv.FormatFloat(b*1000, 'g', -1, 64) + " ms"
	}
	return strconv.FormatFloat(b, 'g', -1, 64) + " s"
}

// quantile interpolates the q-quantile inside its bucket and names the bucket.
func quantile(bounds, cum []float64, q float64) string {
	total := cum[len(cum)-1]
	rank := q * total
	for i, c := range cum {
		if c < rank {
			continue
		}
		lo, loCum := 0.0, 0.0
		if i > 0 {
			lo, loCum = bounds[i-1], cum[i-1]
		}
		if math.IsInf(bounds[i], 1) {
			return "> " + boundText(lo)
		}
		est := lo + (bounds[i]-lo)*(rank-loCum)/(c-loCum)
		return fmt.Sprintf("≈ %.2f ms (bucket %s–%s)", est*1000, boundText(lo), boundText(bounds[i]))
	}
	return "?"
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

// runID names this run's clients, layers, bodies and events apart from earlier runs'.
var runID = strconv.FormatInt(time.Now().UnixNano(), 36)

func readGunzip(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	b, err := io.ReadAll(io.LimitReader(zr, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

// scanAnswer is the part of POST /scan's 200 answer the scan modes check.
type scanAnswer struct {
	ScanID       string `json:"scanId"`
	Digest       string `json:"digest"`
	PolicyStatus string `json:"policyStatus"`
	Findings     int    `json:"findings"`
	Quota        struct {
		DelayedMs int64 `json:"delayedMs"`
	} `json:"quota"`
}

// checkScan judges a POST /scan answer against the first scan's: 200, the same findings and
// policy status, the same digest unless want.Digest is empty (an SBOM's digest is that of
// its content, which varies here), and no quota delay.
func checkScan(want scanAnswer, status int, body []byte) (scanAnswer, string) {
	var got scanAnswer
	if status != http.StatusOK {
		return got, fmt.Sprintf("status %d: %s", status, clip(body))
	}
	if err := json.Unmarshal(body, &got); err != nil {
		return got, fmt.Sprintf("answer: %v", err)
	}
	switch {
	case !strings.HasPrefix(got.Digest, "sha256:") || (want.Digest != "" && got.Digest != want.Digest) ||
		got.Findings != want.Findings || got.PolicyStatus != want.PolicyStatus:
		return got, fmt.Sprintf("scan %s: digest %s, %d findings, %s; the first scan had %s, %d, %s", got.ScanID, got.Digest, got.Findings,
			got.PolicyStatus, want.Digest, want.Findings, want.PolicyStatus)
	case got.Quota.DelayedMs != 0:
		return got, fmt.Sprintf("scan %s delayed %d ms by the daily quota", got.ScanID, got.Quota.DelayedMs)
	}
	return got, ""
}

func clip(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// scanOnce posts one scan outside the timed run and returns its answer and latency.
func scanOnce(hc *http.Client, server, tok string, t target) (scanAnswer, time.Duration, error) {
	var got scanAnswer
	t.check = func(_, status int, body []byte) string {
		if status != http.StatusOK {
			return fmt.Sprintf("status %d: %s", status, clip(body))
		}
		if err := json.Unmarshal(body, &got); err != nil || got.ScanID == "" || !strings.HasPrefix(got.Digest, "sha256:") {
			return fmt.Sprintf("answer %s: %v", clip(body), err)
		}
		return ""
	}
	r := send(hc, server, t, tok, 0, time.Now())
	switch {
	case r.err != nil:
		return got, 0, r.err
	case r.wrong != "":
		return got, 0, errors.New(r.wrong)
	}
	return got, r.latency, nil
}

// ---- layers ----

// layers measures POST /layers/missing with o.digests digests per request, half of them
// cached. The cached half is recorded by a real scan of a docker-save image: testdata's
// alpine layer and o.digests/2-1 small synthetic layers (unique to this run).
func (o *opts) layers(ctx context.Context, hc *http.Client, toks []string) error {
	cachedN := o.digests / 2
	img, diffIDs, err := buildLayeredImage(filepath.Join(o.testdata, "images", "alpine-3.10.4.docker-save.tar.gz"), cachedN-1)
	if err != nil {
		return err
	}
	c, err := client.New(o.server, client.WithToken(toks[0]), client.WithHTTPClient(hc))
	if err != nil {
		return err
	}
	t0 := time.Now()
	up, _, err := c.ScanUpload(ctx, bytes.NewReader(img), client.ScanUploadOptions{ContentType: "application/x-tar"})
	if err != nil {
		return fmt.Errorf("scanning the %d-layer image: %w", len(diffIDs), err)
	}
	if up.Accepted != nil {
		st, err := c.WaitScan(ctx, up.Accepted.ScanID, 200*time.Millisecond)
		if err != nil || st.Status != "Succeeded" {
			return fmt.Errorf("scan %s of the %d-layer image: %s %v", up.Accepted.ScanID, len(diffIDs), st.Status, err)
		}
	}
	populate := time.Since(t0)
	if missing, err := c.LayersMissing(ctx, diffIDs); err != nil || len(missing) != 0 {
		return fmt.Errorf("after the scan, the server misses %d of the image's %d layers: %v", len(missing), len(diffIDs), err)
	}

	// Distinct bodies, each with the cached layers and fresh unknown digests shuffled
	// together; each body's answer is checked once, then must come back byte for byte.
	const variants = 64
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	bodies := make([][]byte, variants)
	want := make([][]byte, variants)
	for v := range variants {
		layers := slices.Clone(diffIDs)
		unknown := make(map[string]bool, o.digests-cachedN)
		for len(layers) < o.digests {
			var b [32]byte
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			d := "sha256:" + hex.EncodeToString(b[:])
			unknown[d] = true
			layers = append(layers, d)
		}
		rng.Shuffle(len(layers), func(i, j int) { layers[i], layers[j] = layers[j], layers[i] })
		var expect []string
		for _, l := range layers {
			if unknown[l] {
				expect = append(expect, l)
			}
		}
		bodies[v], _ = json.Marshal(map[string][]string{"layers": layers})
		resp, err := layersAnswer(hc, o.server, toks[v%len(toks)], bodies[v])
		if err != nil {
			return err
		}
		var got struct{ Missing []string }
		if err := json.Unmarshal(resp, &got); err != nil || !slices.Equal(got.Missing, expect) {
			return fmt.Errorf("layers/missing answered %d missing, want the %d unknown ones in request order (%v)", len(got.Missing), len(expect), err)
		}
		want[v] = resp
	}
	t := target{method: http.MethodPost, path: "/layers/missing", contentType: "application/json",
		body: func(i int) (io.Reader, int64) {
			b := bodies[i%variants]
			return bytes.NewReader(b), int64(len(b))
		},
		check: func(i, status int, body []byte) string {
			if status != http.StatusOK {
				return fmt.Sprintf("status %d: %s", status, clip(body))
			}
			if !bytes.Equal(body, want[i%variants]) {
				return "the answer differs from the checked one: " + clip(body)
			}
			return ""
		}}
	before := scrape(hc, o.server)
	res := run(hc, o.server, t, toks, o.rps, o.dur)
	after := scrape(hc, o.server)
	fmt.Printf("`POST /layers/missing`, %d digests per request (%d cached by a scan of a %d-layer image, %s; %d unknown), %d rps over %d token holders for %s:\n\n",
		o.digests, cachedN, len(diffIDs), populate.Round(time.Millisecond), o.digests-cachedN, o.rps, len(toks), o.dur)
	reportLatency(res)
	reportServer("POST /layers/missing", before, after, 0.01)
	return nil
}

// layersAnswer posts one /layers/missing body and returns the 200 answer.
func layersAnswer(hc *http.Client, server, tok string, body []byte) ([]byte, error) {
	req, err := http.NewRequest(http.MethodPost, server+"/layers/missing", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("layers/missing: %d %s", resp.StatusCode, clip(b))
	}
	return b, nil
}

// buildLayeredImage returns an uncompressed docker-save archive: the base archive's image
// (one layer) with extra small layers on top, each adding one file unique to this run, and
// the diff IDs of all its layers.
func buildLayeredImage(basePath string, extra int) ([]byte, []string, error) {
	raw, err := readGunzip(basePath)
	if err != nil {
		return nil, nil, err
	}
	files := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(raw))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", basePath, err)
		}
		if h.Typeflag == tar.TypeReg {
			if files[h.Name], err = io.ReadAll(tr); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", basePath, err)
			}
		}
	}
	var manifest []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil || len(manifest) != 1 {
		return nil, nil, fmt.Errorf("%s: manifest.json: want one image (%v)", basePath, err)
	}
	var cfg map[string]json.RawMessage
	if err := json.Unmarshal(files[manifest[0].Config], &cfg); err != nil {
		return nil, nil, fmt.Errorf("%s: config: %w", basePath, err)
	}
	var rootfs struct {
		Type    string   `json:"type"`
		DiffIDs []string `json:"diff_ids"`
	}
	var history []map[string]any
	if err := json.Unmarshal(cfg["rootfs"], &rootfs); err != nil || len(rootfs.DiffIDs) != len(manifest[0].Layers) {
		return nil, nil, fmt.Errorf("%s: config rootfs: %v", basePath, err)
	}
	if h := cfg["history"]; h != nil {
		if err := json.Unmarshal(h, &history); err != nil {
			return nil, nil, fmt.Errorf("%s: config history: %w", basePath, err)
		}
	}

	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	mtime := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	add := func(name string, b []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), ModTime: mtime, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := tw.Write(b)
		return err
	}
	layerPaths := slices.Clone(manifest[0].Layers)
	for _, p := range layerPaths {
		if err := add(p, files[p]); err != nil {
			return nil, nil, err
		}
	}
	for j := range extra {
		var lb bytes.Buffer
		lw := tar.NewWriter(&lb)
		content := []byte(fmt.Sprintf("apiload run %s, layer %d\n%s", runID, j+1, strings.Repeat("x", 512)))
		for _, h := range []*tar.Header{
			{Name: "opt/", Mode: 0o755, Typeflag: tar.TypeDir, ModTime: mtime},
			{Name: "opt/app/", Mode: 0o755, Typeflag: tar.TypeDir, ModTime: mtime},
			{Name: fmt.Sprintf("opt/app/part-%03d.txt", j+1), Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg, ModTime: mtime},
		} {
			if err := lw.WriteHeader(h); err != nil {
				return nil, nil, err
			}
		}
		if _, err := lw.Write(content); err != nil {
			return nil, nil, err
		}
		if err := lw.Close(); err != nil {
			return nil, nil, err
		}
		sum := sha256.Sum256(lb.Bytes())
		p := hex.EncodeToString(sum[:]) + "/layer.tar"
		if err := add(p, lb.Bytes()); err != nil {
			return nil, nil, err
		}
		layerPaths = append(layerPaths, p)
		rootfs.DiffIDs = append(rootfs.DiffIDs, "sha256:"+hex.EncodeToString(sum[:]))
		history = append(history, map[string]any{"created": mtime.Format(time.RFC3339),
			"created_by": fmt.Sprintf("/bin/sh -c #(nop) COPY file:part-%03d.txt in /opt/app/", j+1)})
	}
	if cfg["rootfs"], err = json.Marshal(rootfs); err != nil {
		return nil, nil, err
	}
	if cfg["history"], err = json.Marshal(history); err != nil {
		return nil, nil, err
	}
	cfgRaw, err := json.Marshal(cfg)
	if err != nil {
		return nil, nil, err
	}
	sum := sha256.Sum256(cfgRaw)
	cfgName := hex.EncodeToString(sum[:]) + ".json"
	if err := add(cfgName, cfgRaw); err != nil {
		return nil, nil, err
	}
	mf, _ := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": []string{"apiload/layers:" + runID}, "Layers": layerPaths}})
	if err := add("manifest.json", mf); err != nil {
		return nil, nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, nil, err
	}
	return out.Bytes(), rootfs.DiffIDs, nil
}

// ---- scan-sbom ----

var serialRE = regexp.MustCompile(`serialNumber="urn:uuid:([0-9a-f-]{36})"`)

// scanSBOM measures POST /scan?sbom-only=true with the postgres-stretch CycloneDX SBOM. Each
// request carries its own serialNumber (as each build's SBOM does), so no request joins
// another's identical scan; the first, untimed, sets what every answer must match.
func (o *opts) scanSBOM(_ context.Context, hc *http.Client, toks []string) error {
	path := filepath.Join(o.testdata, "sbom", "postgres-stretch.cdx.xml.gz")
	doc, err := readGunzip(path)
	if err != nil {
		return err
	}
	loc := serialRE.FindSubmatchIndex(doc)
	if loc == nil {
		return fmt.Errorf("%s: no serialNumber to vary", path)
	}
	head, tail := doc[:loc[2]], doc[loc[3]:]
	serial := func(i int) []byte {
		sum := sha256.Sum256([]byte(fmt.Sprintf("apiload %s %d", runID, i)))
		h := hex.EncodeToString(sum[:16])
		return []byte(h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32])
	}
	t := target{method: http.MethodPost, path: "/scan?sbom-only=true", contentType: "application/xml",
		body: func(i int) (io.Reader, int64) {
			return io.MultiReader(bytes.NewReader(head), bytes.NewReader(serial(i)), bytes.NewReader(tail)), int64(len(doc))
		}}
	first := t
	first.body = func(int) (io.Reader, int64) {
		return io.MultiReader(bytes.NewReader(head), bytes.NewReader(serial(-1)), bytes.NewReader(tail)), int64(len(doc))
	}
	want, firstLat, err := scanOnce(hc, o.server, toks[0], first)
	if err != nil {
		return fmt.Errorf("first SBOM scan: %w", err)
	}
	want.Digest = ""
	t.check = func(_, status int, body []byte) string {
		_, wrong := checkScan(want, status, body)
		return wrong
	}
	before := scrape(hc, o.server)
	res := run(hc, o.server, t, toks, o.rps, o.dur)
	after := scrape(hc, o.server)
	fmt.Printf("`POST /scan?sbom-only=true`, %s (%s KB of CycloneDX XML; %d findings, policy %s; first scan %s), %d rps over %d token holders for %s:\n\n",
		filepath.Base(path), thousands(len(doc)/1000), want.Findings, want.PolicyStatus, ms(firstLat), o.rps, len(toks), o.dur)
	reportLatency(res)
	reportServer("POST /scan", before, after, 1)
	return nil
}

// ---- rescan ----

// rescan measures warm re-scans of testdata's alpine image archive: one cold scan (untimed
// run, reported), then POST /scan of the same archive on a schedule. Every request's gzip
// header carries its own comment, so its content digest (and so its scan) is its own while
// the archive inside is byte-identical.
func (o *opts) rescan(ctx context.Context, hc *http.Client, toks []string) error {
	path := filepath.Join(o.testdata, "images", "alpine-3.10.4.docker-save.tar.gz")
	gz, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	tarBytes, err := readGunzip(path)
	if err != nil {
		return err
	}
	hdrEnd, err := gzipHeaderEnd(gz)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	body := func(comment string) (io.Reader, int64) {
		h := append(slices.Clone(gz[:hdrEnd]), comment...)
		h = append(h, 0)
		h[3] |= 0x10 // FCOMMENT
		return io.MultiReader(bytes.NewReader(h), bytes.NewReader(gz[hdrEnd:])), int64(len(h) + len(gz) - hdrEnd)
	}
	t := target{method: http.MethodPost, path: "/scan", contentType: "application/gzip",
		body: func(i int) (io.Reader, int64) { return body(fmt.Sprintf("apiload %s rescan %d", runID, i)) }}
	first := t
	first.body = func(int) (io.Reader, int64) { return body("apiload " + runID + " first scan") }
	want, coldLat, err := scanOnce(hc, o.server, toks[0], first)
	if err != nil {
		return fmt.Errorf("first image scan: %w", err)
	}
	c, err := client.New(o.server, client.WithToken(toks[0]), client.WithHTTPClient(hc))
	if err != nil {
		return err
	}
	coldLayers, err := layerStates(ctx, c, want.ScanID)
	if err != nil {
		return err
	}
	ids := make([]string, int(int64(o.rps)*int64(o.dur)/int64(time.Second)))
	t.check = func(i, status int, body []byte) string {
		got, wrong := checkScan(want, status, body)
		ids[i] = got.ScanID
		return wrong
	}
	before := scrape(hc, o.server)
	res := run(hc, o.server, t, toks, o.rps, o.dur)
	after := scrape(hc, o.server)
	// The layer states of the warm scans: every one should report its layer cached. Paced
	// under the per-token rate limit.
	warm := map[string]int{}
	for i, id := range ids {
		if id == "" || res[i].wrong != "" {
			continue
		}
		time.Sleep(40 * time.Millisecond)
		st, err := layerStates(ctx, c, id)
		if err != nil {
			return err
		}
		for k, v := range st {
			warm[k] += v
		}
	}
	fmt.Printf("`POST /scan` of %s (%s MB gzip, %s MB docker-save tar; %d findings, policy %s). First scan %s, its layers %s. Then %d rps over %d token holders for %s, layers of the re-scans %s:\n\n",
		filepath.Base(path), mb(len(gz)), mb(len(tarBytes)), want.Findings, want.PolicyStatus, ms(coldLat), stateText(coldLayers), o.rps, len(toks), o.dur, stateText(warm))
	reportLatency(res)
	reportServer("POST /scan", before, after, 1)
	return nil
}

func mb(n int) string { return strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64) }

var layerEventRE = regexp.MustCompile(`^layer \d+/\d+ (cached|analysed)$`)

// layerStates counts a scan's layer events by state (cached, analysed).
func layerStates(ctx context.Context, c *client.Client, id string) (map[string]int, error) {
	out := map[string]int{}
	_, err := c.ScanEvents(ctx, id, client.ScanEventsOptions{Format: "jsonl"}, func(e client.ScanEvent) error {
		if m := layerEventRE.FindStringSubmatch(e.Message); m != nil {
			out[m[1]]++
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("events of scan %s: %w", id, err)
	}
	return out, nil
}

func stateText(m map[string]int) string {
	if len(m) == 0 {
		return "not reported"
	}
	var parts []string
	for _, k := range []string{"cached", "analysed"} {
		if m[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %s", thousands(m[k]), k))
		}
	}
	return strings.Join(parts, ", ")
}

// gzipHeaderEnd returns where a gzip member's header ends, after the optional extra field
// and file name; it refuses headers that already carry a comment or a header CRC (which
// the inserted comment would invalidate).
func gzipHeaderEnd(b []byte) (int, error) {
	if len(b) < 18 || b[0] != 0x1f || b[1] != 0x8b || b[2] != 8 {
		return 0, errors.New("not a gzip (deflate) stream")
	}
	flg := b[3]
	if flg&(0x02|0x10|0xe0) != 0 {
		return 0, fmt.Errorf("gzip header flags %#x: a comment, header CRC or reserved bit is set already", flg)
	}
	off := 10
	if flg&0x04 != 0 {
		off += 2 + int(b[10]) | int(b[11])<<8
	}
	if flg&0x08 != 0 {
		i := bytes.IndexByte(b[off:], 0)
		if i < 0 {
			return 0, errors.New("gzip file name not terminated")
		}
		off += i + 1
	}
	if off >= len(b) {
		return 0, errors.New("truncated gzip header")
	}
	return off, nil
}

// ---- runtime ----

// Runtime event layout. Each batch is one observer's: one node of one tenant, as a Zastava
// observer reports its own node. The default buckets let a node send 50 events/s and a
// tenant 200/s (burst 200; a larger batch is admitted when the bucket is full and leaves it
// in debt), so batches rotate over tenants first and then over each tenant's nodes: at
// 100k events/s (390 batches/s) a tenant comes back every 2.6 s and a node every 10.5 s,
// after its bucket has refilled. A batch's events are about imagesPerBatch images of a pool
// of runtimeImages (32 events each in a 256-event batch).
const (
	runtimeTenants  = 1024
	nodesPerTenant  = 4
	runtimeImages   = 64
	imagesPerBatch  = 8
	runtimeMaxBytes = 1 << 20
)

// runtimeImage is an image the synthetic containers run: its digest and its libssl's.
type runtimeImage struct{ digest, libssl string }

// runtimeBatch appends the k-th batch of n envelopes to buf.
func runtimeBatch(buf []byte, k, n int, now time.Time, images []runtimeImage) []byte {
	buf = append(buf, `{"batchId":"apiload-`...)
	buf = append(buf, runID...)
	buf = append(buf, '-')
	buf = strconv.AppendInt(buf, int64(k), 10)
	buf = append(buf, `","events":[`...)
	when := now.UTC().Format("2006-01-02T15:04:05.000Z")
	tenant := k % runtimeTenants
	node := (k / runtimeTenants) % nodesPerTenant
	perImage := max(1, (n+imagesPerBatch-1)/imagesPerBatch)
	for i := range n {
		imgIdx := (k*imagesPerBatch + i/perImage) % len(images)
		img := images[imgIdx]
		kind := "ContainerStart"
		switch i % 8 {
		case 5:
			kind = "ContainerStop"
		case 7:
			kind = "Drift"
		}
		id := sha256.Sum256(fmt.Appendf(nil, "%s/%d/%d", runID, k, i))
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = fmt.Appendf(buf, `{"schemaVersion":"zastava.runtime.event@v1","event":{"eventId":"evt-%s-%d-%d","when":"%s","kind":"%s",`+
			`"tenant":"tenant-%04d","node":"cluster-%04d/node-%02d","runtime":{"engine":"containerd","version":"1.7.19"},`+
			`"workload":{"platform":"kubernetes","namespace":"payments","pod":"api-%x-%d","container":"api",`+
			`"containerId":"containerd://%x","imageRef":"ghcr.io/acme/app-%d@sha256:%s"},`+
			`"process":{"pid":%d,"entrypoint":["/start.sh","--serve"]},`+
			`"loadedLibs":[{"path":"/lib/x86_64-linux-gnu/libssl.so.3","inode":%d,"sha256":"%s"}],`+
			`"posture":{"imageSigned":true,"sbomReferrer":"present"},"delta":{"baselineImageDigest":"sha256:%s"},`+
			`"evidence":[{"signal":"proc.maps","value":"libssl.so.3@0x7f3a%08x"}],"annotations":{"observerVersion":"1.0.0"}}}`,
			runID, k, i, when, kind, tenant, tenant, node, id[:4], i, id[:], imgIdx, img.digest,
			1000+(k*n+i)%60000, 100000+imgIdx, img.libssl, img.digest, k*n+i)
	}
	return append(buf, "]}"...)
}

// runtime sends batches from o.senders closed-loop senders for o.dur (each sends its next
// batch when the last is answered) and reports the events the server accepted per second.
func (o *opts) runtime(hc *http.Client, toks []string) error {
	images := make([]runtimeImage, runtimeImages)
	for j := range images {
		d := sha256.Sum256(fmt.Appendf(nil, "apiload image %d", j))
		l := sha256.Sum256(fmt.Appendf(nil, "apiload image %d libssl.so.3", j))
		images[j] = runtimeImage{hex.EncodeToString(d[:]), hex.EncodeToString(l[:])}
	}
	size := len(runtimeBatch(nil, 0, o.batch, time.Now(), images))
	if size > runtimeMaxBytes {
		return fmt.Errorf("-batch %d makes %d-byte batches, more than the server's default 1 MiB", o.batch, size)
	}
	type sent struct {
		latency              time.Duration
		status               int
		accepted, duplicates int
		wrong                string
		err                  error
	}
	var (
		next    atomic.Int64
		mu      sync.Mutex
		results []sent
		wg      sync.WaitGroup
	)
	before := scrape(hc, o.server)
	start := time.Now()
	deadline := start.Add(o.dur)
	for range o.senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			var mine []sent
			for time.Now().Before(deadline) {
				k := int(next.Add(1) - 1)
				buf = runtimeBatch(buf[:0], k, o.batch, time.Now(), images)
				var ans struct{ Accepted, Duplicates int }
				s := sent{}
				t := target{method: http.MethodPost, path: "/api/v1/runtime/events", contentType: "application/json",
					body: func(int) (io.Reader, int64) { return bytes.NewReader(buf), int64(len(buf)) }}
				t.check = func(_, status int, body []byte) string {
					s.status = status
					if status != http.StatusAccepted {
						return fmt.Sprintf("status %d: %s", status, clip(body))
					}
					if err := json.Unmarshal(body, &ans); err != nil {
						return "answer: " + err.Error()
					}
					if ans.Accepted+ans.Duplicates != o.batch {
						return fmt.Sprintf("accepted %d + duplicates %d of a %d-event batch", ans.Accepted, ans.Duplicates, o.batch)
					}
					return ""
				}
				r := send(hc, o.server, t, toks[k%len(toks)], k, time.Now())
				s.latency, s.err, s.wrong = r.latency, r.err, r.wrong
				s.accepted, s.duplicates = ans.Accepted, ans.Duplicates
				mine = append(mine, s)
			}
			mu.Lock()
			results = append(results, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	after := scrape(hc, o.server)

	codes := map[int]int{}
	accepted, dups, errs, wrong := 0, 0, 0, 0
	var firstWrong string
	lat := make([]time.Duration, 0, len(results))
	for _, s := range results {
		lat = append(lat, s.latency)
		if s.err != nil {
			errs++
			if firstWrong == "" {
				firstWrong = s.err.Error()
			}
			continue
		}
		codes[s.status]++
		accepted += s.accepted
		dups += s.duplicates
		if s.wrong != "" {
			wrong++
			if firstWrong == "" {
				firstWrong = s.wrong
			}
		}
	}
	slices.Sort(lat)
	serverAccepted := counter(after, "stellaops_runtime_events_accepted_total") - counter(before, "stellaops_runtime_events_accepted_total")
	fmt.Printf("`POST /api/v1/runtime/events`, batches of %d events (%s KB, %d B per event) each from one node (%d tenants × %d nodes rotating; %d of %d images per batch), %d closed-loop senders over %d token holders for %s:\n\n",
		o.batch, thousands(size/1000), size/o.batch, runtimeTenants, nodesPerTenant, min(imagesPerBatch, o.batch), runtimeImages, o.senders, len(toks), o.dur)
	fmt.Printf("| batches | statuses | transport errors | wrong answers | events accepted | duplicates | elapsed | **events/s** | batch p50 | p90 | p99 | max |\n")
	fmt.Printf("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	fmt.Printf("| %s | %s | %d | %d | %s | %d | %.2f s | **%s** | %s | %s | %s | %s |\n", thousands(len(results)), statuses(codes), errs, wrong,
		thousands(accepted), dups, elapsed.Seconds(), thousands(int(float64(accepted)/elapsed.Seconds())),
		ms(pct(lat, 50)), ms(pct(lat, 90)), ms(pct(lat, 99)), ms(pct(lat, 100)))
	fmt.Printf("\nserver counter `stellaops_runtime_events_accepted_total` rose by %s during the run.\n", thousands(int(serverAccepted)))
	if firstWrong != "" {
		fmt.Printf("\nfirst failure: %s\n", firstWrong)
	}
	reportServer("POST /api/v1/runtime/events", before, after, 1)
	return nil
}
