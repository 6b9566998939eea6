package e2e

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/vaultharness"
)

// The soak's rhythm: a plugin reload every 30 s, a fault burst every minute
// lasting a few seconds, and the gateway's limits set from the load the
// warm-up measured, so that they are reached now and then.
const (
	soakWarmUp      = 20 * time.Second
	soakReloadEvery = 30 // seconds; at 15 s past each half minute of the run
	soakBurstEvery  = 60 // seconds; at 40 s past each minute of the run
	soakBurstLength = 5  // seconds
	// The per-minute limit against the warm-up's rate: a little under it, so
	// most minutes reach it in their last seconds and the gateway holds the
	// key until the minute ends (the warm-up's rate is about the steady one).
	soakRateHeadroom = 0.95
	// The spike arrest allows this many times the average 100 ms slice.
	soakSpikeHeadroom = 2
)

// soakBurst is one minute's fault burst. Refreshes only get slow answers:
// a 5xx or a reset after a refresh was sent may have spent the refresh token
// (docs/resamania.md, "Answers"), so the plugin rightly asks for a new sign-in then;
// that has its own tests. The client_credentials grant, which spends
// nothing, gets them all.
func soakBurst() []fakeresamania.Fault {
	cc, rt := fakeresamania.GrantClientCredentials, fakeresamania.GrantRefreshToken
	return []fakeresamania.Fault{
		{Status: 503, GrantType: cc, Count: 15},
		{Reset: true, GrantType: cc, Count: 5},
		{Status: 502, Body: "<html><body>Bad Gateway</body></html>", GrantType: cc, Count: 5},
		{Delay: 1500 * time.Millisecond, GrantType: cc, Count: 10},
		{Delay: 2 * time.Second, GrantType: rt, Count: 20},
	}
}

// disturbances counts what the soak did to the stack.
type disturbances struct {
	mu             sync.Mutex
	reloads        int
	reloadFailures []string
	bursts         int
	limits         fakeresamania.GatewayLimits
}

// warmUp runs the readers alone, then sets the gateway's limits from the
// rate of upstream requests they caused.
func (sk *soak) warmUp(t *testing.T) {
	t.Helper()
	before := len(sk.fake.Requests())
	ctx, cancel := context.WithTimeout(context.Background(), soakWarmUp)
	defer cancel()
	sk.load(ctx)
	perMinute := float64(len(sk.fake.Requests())-before) * float64(time.Minute) / float64(soakWarmUp)
	limits := fakeresamania.GatewayLimits{
		RatePerMinute: int(math.Ceil(perMinute * soakRateHeadroom)),
		SpikeArrest:   max(2, int(math.Ceil(perMinute/600*soakSpikeHeadroom))),
	}
	sk.fake.SetGatewayLimits(limits)
	sk.events.mu.Lock()
	sk.events.limits = limits
	sk.events.mu.Unlock()
	t.Logf("soak warm-up: %.0f upstream requests a minute; gateway limits %+v", perMinute, limits)
}

// run loads the stack for length while disturbing it.
func (sk *soak) run(t *testing.T, length time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), length)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { sk.load(ctx) })
	wg.Go(func() { sk.disturb(t, ctx) })
	wg.Wait()
}

// disturb reloads the plugin and injects fault bursts on the soak's rhythm
// until ctx ends.
func (sk *soak) disturb(t *testing.T, ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for s := 1; ; s++ {
		select {
		case <-ctx.Done():
			sk.fake.ClearFaults()
			return
		case <-tick.C:
		}
		if s%soakReloadEvery == soakReloadEvery/2 {
			sk.reload(t)
		}
		switch s % soakBurstEvery {
		case 40:
			for _, f := range soakBurst() {
				sk.fake.InjectFault(f)
			}
			sk.events.mu.Lock()
			sk.events.bursts++
			sk.events.mu.Unlock()
		case 40 + soakBurstLength:
			sk.fake.ClearFaults()
		}
	}
}

// reload is `vault plugin reload` of every mount of the plugin.
func (sk *soak) reload(t *testing.T) {
	_, stderr, err := sk.vault.CLI(t, vaultharness.ReloadPluginArgs(sk.vault.Flavor, sk.plugin.Name)...)
	sk.events.mu.Lock()
	defer sk.events.mu.Unlock()
	sk.events.reloads++
	if err != nil {
		sk.events.reloadFailures = append(sk.events.reloadFailures, fmt.Sprintf("%v: %s", err, strings.TrimSpace(stderr)))
	}
}
