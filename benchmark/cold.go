package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// runCold is measurement 4: a read that must mint (the first read of a chain
// just configured: nothing in memory or storage) beside the same token POST
// sent straight to the fake server, alternating, ColdReads pairs; the
// overhead is the difference of their medians.
func runCold(t *run, p plugins, s settings, res *results) {
	st := newStack(t, p, stackOptions{nodes: 1})
	chains := names("cold", s.ColdReads)
	if _, err := st.addChains(chains, 3600, nil, 8); err != nil {
		t.Fatalf("%v", err)
	}
	// A new connection for each POST, as the plugin's first call for a
	// chain opens one.
	direct := &http.Client{Timeout: time.Minute, Transport: &http.Transport{DisableKeepAlives: true}}
	var viaVault, straight []float64
	for i, chain := range chains {
		read := func() error {
			_, err := st.call(http.MethodGet, mount+"/token/"+chain, nil)
			return err
		}
		post := func() error { return postToken(direct, st.fake.TokenURL(chain)) }
		type step struct {
			times *[]float64
			do    func() error
		}
		steps := []step{{&viaVault, read}, {&straight, post}}
		if i%2 == 1 {
			steps[0], steps[1] = steps[1], steps[0]
		}
		for _, step := range steps {
			start := time.Now()
			if err := step.do(); err != nil {
				t.Fatalf("cold read %s: %v", chain, err)
			}
			*step.times = append(*step.times, ms(time.Since(start)))
		}
	}
	v, d := median(viaVault), median(straight)
	res.add(info("4 cold read", "read that mints, median", v, "ms").with(fmt.Sprintf("%d reads", len(viaVault))),
		info("4 cold read", "the same POST straight to the fake, median", d, "ms"),
		atMost("4 cold read", "overhead: the difference", v-d, "ms", 2))
}

// postToken sends the client_credentials request the plugin sends (form
// body, credentials in it, the gateway key) and reads the answer.
func postToken(c *http.Client, tokenURL string) error {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {clientSecret}}
	req, err := http.NewRequest(http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("x-gravitee-api-key", gatewayKey)
	return send(c, req)
}
