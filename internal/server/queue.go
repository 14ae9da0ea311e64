package server

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stellaops/stellaops/internal/queue"
)

// queueCollector exposes the job queue's depth as stellaops_queue_jobs{state}, read when
// Prometheus scrapes (a gauge updated by a poller would need a goroutine and go stale).
type queueCollector struct {
	q    queue.Queue
	desc *prometheus.Desc
}

func newQueueCollector(q queue.Queue) *queueCollector {
	return &queueCollector{q: q, desc: prometheus.NewDesc("stellaops_queue_jobs",
		"Jobs in the scan queue by state (ready, leased, delayed, dead).", []string{"state"}, nil)}
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := c.q.Depth(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	for _, s := range []struct {
		name string
		n    int
	}{{"ready", st.Ready}, {"leased", st.Leased}, {"delayed", st.Delayed}, {"dead", st.Dead}} {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(s.n), s.name)
	}
}
