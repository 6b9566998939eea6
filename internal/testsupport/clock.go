package testsupport

import (
	"sync"
	"time"
)

// Clock is a settable clock, for a backend's and a fake server's Now.
type Clock struct {
	mu  sync.Mutex
	now time.Time // guarded by mu
}

// NewClock starts a clock at a fixed instant, so test output is stable.
func NewClock() *Clock {
	return &Clock{now: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}
}

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
