package upstream

import (
	"context"
	"sync"
	"sync/atomic"
)

// InFlightLimit bounds the requests sent to Resamania at once by every client
// that shares it (one mount: every chain, grant, reader and background job),
// so that 10,000 chains read cold at once cannot open 10,000 connections to
// the gateway. Within it, each client's Config.InFlightShare (its chain) gets
// at most a share of the slots, so that one chain's readers cannot take them
// all and hold every other chain back. Safe for concurrent use; a nil limit
// bounds nothing.
type InFlightLimit struct {
	slots    chan struct{}
	perShare int // the most slots one share may hold; set once

	// shareWaits counts the requests that waited because their share was full.
	shareWaits atomic.Uint64

	mu     sync.Mutex
	shares map[string]*shareSlots // guarded by mu; a share lives while in use
}

type shareSlots struct {
	slots chan struct{}
	users int // guarded by InFlightLimit.mu
}

// NewInFlightLimit allows n requests in flight at once, and at most
// perShare of them to one share (perShare <= 0 or >= n: no share bound).
func NewInFlightLimit(n, perShare int) *InFlightLimit {
	if perShare <= 0 || perShare > n {
		perShare = n
	}
	return &InFlightLimit{slots: make(chan struct{}, n), perShare: perShare, shares: make(map[string]*shareSlots)}
}

// ShareWaits is how many requests waited because their share of the slots
// was full.
func (l *InFlightLimit) ShareWaits() uint64 {
	if l == nil {
		return 0
	}
	return l.shareWaits.Load()
}

// acquire waits for a slot of share's, then one of the limit's, until ctx
// ends; release gives both back.
func (l *InFlightLimit) acquire(ctx context.Context, share string) (release func(), err error) {
	if l == nil {
		return func() {}, nil
	}
	s := l.enter(share)
	select {
	case s.slots <- struct{}{}:
	default:
		l.shareWaits.Add(1)
		select {
		case s.slots <- struct{}{}:
		case <-ctx.Done():
			l.leave(share, s)
			return nil, ctx.Err()
		}
	}
	select {
	case l.slots <- struct{}{}:
		return func() {
			<-l.slots
			<-s.slots
			l.leave(share, s)
		}, nil
	case <-ctx.Done():
		<-s.slots
		l.leave(share, s)
		return nil, ctx.Err()
	}
}

func (l *InFlightLimit) enter(share string) *shareSlots {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.shares[share]
	if s == nil {
		s = &shareSlots{slots: make(chan struct{}, l.perShare)}
		l.shares[share] = s
	}
	s.users++
	return s
}

func (l *InFlightLimit) leave(share string, s *shareSlots) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s.users--; s.users == 0 {
		delete(l.shares, share)
	}
}
