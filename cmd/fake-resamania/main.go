// Command fake-resamania serves the fake Resamania OAuth server for demos
// and scripts. Once listening it prints one line, RESAMANIA_URL=<url>, to
// stdout; everything else goes to stderr. It stops on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

// repeatedFlag collects a flag given several times (-member, -club, -outside-plan).
type repeatedFlag []string

func (m *repeatedFlag) String() string     { return strings.Join(*m, ",") }
func (m *repeatedFlag) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	if err := run(); err != nil {
		log.Printf("fake-resamania: %v", err)
		os.Exit(1)
	}
}

func run() error {
	opts, err := parseFlags()
	if err != nil {
		return err
	}
	srv, err := buildServer(opts)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", opts.addr)
	if err != nil {
		return err
	}
	fmt.Printf("RESAMANIA_URL=http://%s%s\n", ln.Addr(), srv.PathPrefix())
	return serveUntilSignalled(ln, srv)
}

// options are the command line's.
type options struct {
	addr, prefix, clientToken, clientID, clientSecret, gatewayKey, redirectURI string
	expiresIn                                                                  int
	members, clubs, outsidePlan                                                repeatedFlag
	limits                                                                     fakeresamania.GatewayLimits
}

func parseFlags() (options, error) {
	var o options
	flag.StringVar(&o.addr, "addr", "127.0.0.1:0", "listen address (loopback only)")
	flag.StringVar(&o.prefix, "prefix", "", "gateway path prefix, e.g. /integration")
	flag.StringVar(&o.clientToken, "client-token", "demo", "chain identifier (client_token)")
	flag.StringVar(&o.clientID, "client-id", "1_demo", "OAuth client_id ({id}_{randomId})")
	flag.StringVar(&o.clientSecret, "client-secret", "demo-secret", "OAuth client_secret")
	flag.IntVar(&o.expiresIn, "expires-in", 3600, "access-token lifetime in seconds")
	flag.StringVar(&o.gatewayKey, "gateway-key", "", "require this x-gravitee-api-key on every request")
	flag.StringVar(&o.redirectURI, "redirect-uri", "http://127.0.0.1:8250/callback", "registered redirect URI for the code flow")
	flag.Var(&o.members, "member", "member user:password who can sign in, the user also an email for the contact grant (repeatable; default member:password and alice@demo.example:password)")
	flag.Var(&o.clubs, "club", "number of a club of the chain, for the club grant (repeatable; default 1)")
	flag.Var(&o.outsidePlan, "outside-plan", "client_token whose token endpoint the gateway key's plan does not cover: a 403 (repeatable)")
	flag.IntVar(&o.limits.SpikeArrest, "spike-arrest", 0, "the gateway's spike arrest, requests per 100 ms per key (0: none)")
	flag.IntVar(&o.limits.RatePerMinute, "rate-per-minute", 0, "the gateway's rate limit, requests per minute per key (0: none)")
	flag.IntVar(&o.limits.DailyQuota, "daily-quota", 0, "the gateway's quota, requests per day per key (0: none)")
	flag.Parse()
	if len(o.members) == 0 {
		o.members = repeatedFlag{"member:password", "alice@demo.example:password"}
	}
	if len(o.clubs) == 0 {
		o.clubs = repeatedFlag{"1"}
	}
	return o, checkLoopback(o.addr)
}

// buildServer is the fake server with the chain, its clubs and members.
func buildServer(o options) (*fakeresamania.Server, error) {
	srv := fakeresamania.New(fakeresamania.Options{PathPrefix: o.prefix, GatewayKey: o.gatewayKey, Logf: log.Printf})
	srv.AddClient(fakeresamania.Client{
		ClientToken: o.clientToken, ClientID: o.clientID, ClientSecret: o.clientSecret,
		ExpiresIn: o.expiresIn, RedirectURIs: []string{o.redirectURI},
		AllowedGrants: []string{fakeresamania.GrantClientCredentials, fakeresamania.GrantAuthorizationCode, fakeresamania.GrantRefreshToken,
			fakeresamania.GrantClubCredentials, fakeresamania.GrantContactCredentials},
	})
	for _, c := range o.clubs {
		id, err := strconv.Atoi(c)
		if err != nil || id <= 0 {
			return nil, fmt.Errorf("-club %q: want a club number", c)
		}
		srv.AddClub(o.clientToken, id)
	}
	for _, m := range o.members {
		user, pass, ok := strings.Cut(m, ":")
		if !ok || user == "" {
			return nil, errors.New("-member: want user:password") // no value: it may hold a password
		}
		srv.AddMember(o.clientToken, user, pass)
	}
	for _, ct := range o.outsidePlan {
		srv.LeaveOutOfPlan(ct)
	}
	srv.SetGatewayLimits(o.limits)
	return srv, nil
}

// serveUntilSignalled serves srv on ln until SIGINT or SIGTERM.
func serveUntilSignalled(ln net.Listener, srv *fakeresamania.Server) error {
	httpSrv := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- httpSrv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Printf("fake-resamania: shutting down")
	srv.Close()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := httpSrv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// checkLoopback refuses to expose the fake server beyond this machine.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-addr %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-addr %q: only loopback addresses are allowed", addr)
	}
	return nil
}
