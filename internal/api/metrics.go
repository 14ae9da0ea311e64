package api

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the server's own Prometheus collectors, registered on a registry of the
// server's (never the global one), so two servers in one test process do not collide.
type metrics struct {
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	inflight    prometheus.Gauge
	quotaSoft   prometheus.Counter
	quotaHard   prometheus.Counter
	rateLimited prometheus.Counter
	authFail    *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stellaops_http_requests_total",
			Help: "HTTP requests by route pattern, method and status code."}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "stellaops_http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern and method.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}}, []string{"route", "method"}),
		inflight:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "stellaops_http_requests_in_flight", Help: "HTTP requests being served."}),
		quotaSoft:   prometheus.NewCounter(prometheus.CounterOpts{Name: "stella_quota_soft_hits_total", Help: "Scans delayed because the daily quota was exceeded."}),
		quotaHard:   prometheus.NewCounter(prometheus.CounterOpts{Name: "stella_quota_hard_hits_total", Help: "Scans refused by the hard daily limit."}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{Name: "stellaops_rate_limited_total", Help: "Requests refused by the per-token rate limit."}),
		authFail: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stellaops_auth_failures_total",
			Help: "Requests refused by authentication or authorisation, by reason."}, []string{"reason"}),
	}
	reg.MustRegister(m.requests, m.duration, m.inflight, m.quotaSoft, m.quotaHard, m.rateLimited, m.authFail,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
