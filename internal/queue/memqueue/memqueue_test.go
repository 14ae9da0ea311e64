package memqueue_test

import (
	"testing"

	"github.com/stellaops/stellaops/internal/queue"
	"github.com/stellaops/stellaops/internal/queue/memqueue"
	"github.com/stellaops/stellaops/internal/queue/queuetest"
)

func TestConformance(t *testing.T) {
	queuetest.Run(t, func(t *testing.T) queuetest.Opener {
		// In embedded mode every "replica" is the same process, hence the same queue.
		var q *memqueue.Queue
		return func(t *testing.T, cfg queue.Config) queue.Queue {
			if q == nil {
				var err error
				if q, err = memqueue.New(cfg); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { q.Close() })
			}
			return q
		}
	})
}

func TestNewRejectsBadConfig(t *testing.T) {
	if _, err := memqueue.New(queue.Config{MaxAttempts: -1}); err == nil {
		t.Fatal("negative MaxAttempts accepted")
	}
}
