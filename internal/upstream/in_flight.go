package upstream

import (
	"context"
	"sync/atomic"
)

// InFlightLimit bounds the requests sent to Resamania at once by every client
// that shares it (one mount: every chain, grant, reader and background job),
// so that 10,000 chains read cold at once cannot open 10,000 connections to
// the gateway. Safe for concurrent use; a nil limit bounds nothing.
type InFlightLimit struct {
	slots chan struct{}
	peak  atomic.Int64 // the most requests in flight at once so far
}

// NewInFlightLimit allows n requests in flight at once.
func NewInFlightLimit(n int) *InFlightLimit {
	return &InFlightLimit{slots: make(chan struct{}, n)}
}

// Peak is the most requests that were in flight at once.
func (l *InFlightLimit) Peak() int64 {
	if l == nil {
		return 0
	}
	return l.peak.Load()
}

// acquire waits for a slot until ctx ends.
func (l *InFlightLimit) acquire(ctx context.Context) error {
	if l == nil {
		return nil
	}
	select {
	case l.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	for n := int64(len(l.slots)); ; {
		p := l.peak.Load()
		if n <= p || l.peak.CompareAndSwap(p, n) {
			return nil
		}
	}
}

func (l *InFlightLimit) release() {
	if l != nil {
		<-l.slots
	}
}
