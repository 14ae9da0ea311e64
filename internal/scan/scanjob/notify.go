package scanjob

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Notifier wakes event streams when a scan has new events. Events themselves are always read
// from the store, so a wake-up carries nothing but the scan id and a lost one only delays a
// stream until its next poll. In one process the wake-up is a channel send; across replicas
// it is a Redis pub/sub message (RunRedis).
type Notifier struct {
	mu   sync.Mutex
	subs map[string]map[chan struct{}]struct{}

	rc      *redis.Client
	channel string
	log     *slog.Logger
}

// NewNotifier returns a notifier; rc (nil for the embedded mode) and channel make it publish
// to, and RunRedis listen on, other replicas.
func NewNotifier(rc *redis.Client, channel string, log *slog.Logger) *Notifier {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Notifier{subs: map[string]map[chan struct{}]struct{}{}, rc: rc, channel: channel, log: log}
}

// Subscribe returns a channel that receives (without blocking the sender, coalesced) after
// each Notify of id, and the function that ends the subscription.
func (n *Notifier) Subscribe(id string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	n.mu.Lock()
	set := n.subs[id]
	if set == nil {
		set = map[chan struct{}]struct{}{}
		n.subs[id] = set
	}
	set[ch] = struct{}{}
	n.mu.Unlock()
	return ch, func() {
		n.mu.Lock()
		delete(n.subs[id], ch)
		if len(n.subs[id]) == 0 {
			delete(n.subs, id)
		}
		n.mu.Unlock()
	}
}

// Notify wakes the local subscribers of id and, with Redis, those of every replica.
func (n *Notifier) Notify(ctx context.Context, id string) {
	n.wake(id)
	if n.rc == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := n.rc.Publish(ctx, n.channel, id).Err(); err != nil {
		// Streams poll anyway; a lost wake-up costs latency, not events.
		n.log.WarnContext(ctx, "scan event wake-up not published", "component", "scanjob", "error", err)
	}
}

func (n *Notifier) wake(id string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for ch := range n.subs[id] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// RunRedis relays the other replicas' wake-ups to local subscribers until ctx ends. Without
// Redis it just waits for ctx.
func (n *Notifier) RunRedis(ctx context.Context) error {
	if n.rc == nil {
		<-ctx.Done()
		return nil
	}
	sub := n.rc.Subscribe(ctx, n.channel)
	defer sub.Close()
	ch := sub.Channel()
	for {
		select {
		case <-ctx.Done():
			return nil
		case m, ok := <-ch:
			if !ok {
				return nil
			}
			n.wake(m.Payload)
		}
	}
}
