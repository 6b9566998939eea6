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

// memberFlags collects repeated -member user:password flags.
type memberFlags []string

func (m *memberFlags) String() string     { return strings.Join(*m, ",") }
func (m *memberFlags) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	if err := run(); err != nil {
		log.Printf("fake-resamania: %v", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (loopback only)")
	prefix := flag.String("prefix", "", "gateway path prefix, e.g. /integration")
	clientToken := flag.String("client-token", "demo", "chain identifier (client_token)")
	clientID := flag.String("client-id", "1_demo", "OAuth client_id ({id}_{randomId})")
	clientSecret := flag.String("client-secret", "demo-secret", "OAuth client_secret")
	expiresIn := flag.Int("expires-in", 3600, "access-token lifetime in seconds")
	gatewayKey := flag.String("gateway-key", "", "require this x-gravitee-api-key on every request")
	redirectURI := flag.String("redirect-uri", "http://127.0.0.1:8250/callback", "registered redirect URI for the code flow")
	var members memberFlags
	flag.Var(&members, "member", "member user:password who can sign in, the user also an email for the contact grant (repeatable; default member:password and alice@demo.example:password)")
	var clubs memberFlags
	flag.Var(&clubs, "club", "number of a club of the chain, for the club grant (repeatable; default 1)")
	flag.Parse()
	if len(members) == 0 {
		members = memberFlags{"member:password", "alice@demo.example:password"}
	}
	if len(clubs) == 0 {
		clubs = memberFlags{"1"}
	}

	if err := checkLoopback(*addr); err != nil {
		return err
	}
	srv := fakeresamania.New(fakeresamania.Options{PathPrefix: *prefix, GatewayKey: *gatewayKey, Logf: log.Printf})
	srv.AddClient(fakeresamania.Client{
		ClientToken: *clientToken, ClientID: *clientID, ClientSecret: *clientSecret,
		ExpiresIn: *expiresIn, RedirectURIs: []string{*redirectURI},
		AllowedGrants: []string{fakeresamania.GrantClientCredentials, fakeresamania.GrantAuthorizationCode, fakeresamania.GrantRefreshToken,
			fakeresamania.GrantClubCredentials, fakeresamania.GrantContactCredentials},
	})
	for _, c := range clubs {
		id, err := strconv.Atoi(c)
		if err != nil || id <= 0 {
			return fmt.Errorf("-club %q: want a club number", c)
		}
		srv.AddClub(*clientToken, id)
	}
	for _, m := range members {
		user, pass, ok := strings.Cut(m, ":")
		if !ok || user == "" {
			return errors.New("-member: want user:password") // no value: it may hold a password
		}
		srv.AddMember(*clientToken, user, pass)
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	httpSrv := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- httpSrv.Serve(ln) }()

	fmt.Printf("RESAMANIA_URL=http://%s%s\n", ln.Addr(), srv.PathPrefix())
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
