package upstream

import "context"

// InFlightLimit bounds the requests sent to Resamania at once by every client
// that shares it (one mount: every chain, grant, reader and background job),
// so that 10,000 chains read cold at once cannot open 10,000 connections to
// the gateway. Safe for concurrent use; a nil limit bounds nothing.
type InFlightLimit struct {
	slots chan struct{}
}

// NewInFlightLimit allows n requests in flight at once.
func NewInFlightLimit(n int) *InFlightLimit {
	return &InFlightLimit{slots: make(chan struct{}, n)}
}

// acquire waits for a slot until ctx ends.
func (l *InFlightLimit) acquire(ctx context.Context) error {
	if l == nil {
		return nil
	}
	select {
	case l.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *InFlightLimit) release() {
	if l != nil {
		<-l.slots
	}
}
