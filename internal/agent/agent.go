// Package agent is `hagen agent`, the process that runs next to the
// database on every primary-standby node (the hagen-agent compose service,
// host network). It serves the node's role over HTTP on
// database.streaming.healthPort, so that HAProxy, a cloud load balancer or
// an operator can tell the writable primary from a standby or a fenced old
// primary. Promotion is keepalived's notify.sh, and so is fencing on a
// VRRP state change; the agent changes two settings only:
// synchronous_standby_names on the writable primary (sync.go: it names a
// standby that streams again after a failover, and clears it when
// onStandbyDown is "async" and no standby has been synchronous for
// failoverAfter seconds), and default_transaction_read_only on a stale
// writable primary, one whose peer reports a primary on a later timeline
// (fence.go, every second). With Patroni (patroni.go) the agent serves
// nothing and only keeps Patroni's strict synchronous mode from blocking a
// standby promoted with no standby left.
//
// The agent is built to stay available to the checks that decide
// failover, whatever else asks it, and to cost the database next to
// nothing:
//   - it listens on the addresses agent.json names (the site address and
//     loopback), optionally only for the networks of allowFrom;
//   - at most maxConns connections are open; at the cap the longest
//     waiting connection that is not being served is closed for the new
//     one. No keep-alive; a client has readHeaderTimeout to send its
//     request, headers are capped at maxHeaderBytes, at most maxInFlight
//     requests are served at once;
//   - the database status is probed by one request at a time and the
//     answer shared for statusTTL (250 ms): any number of requests costs
//     at most four probes a second;
//   - the probes, the sync keeper and the fencer share one pool of at most poolSize
//     (2) sessions, reused, each with a 1 s statement timeout;
//   - it connects as the least-privilege role contract.AgentRole
//     (pg_monitor, pg_reload_conf() and, from PostgreSQL 15, ALTER SYSTEM
//     of synchronous_standby_names and default_transaction_read_only
//     only; see contract.AgentRoleSQL), by
//     peer authentication over the Unix socket when agent.json names no
//     password.
package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/hagen-ha/hagen/contract"
)

// Limits of the HTTP side. A health endpoint needs no keep-alive: HAProxy
// and keepalived's curl open a connection per check, and a response
// closes it, so idle keep-alive connections cannot pile up.
const (
	maxConns          = 512             // open HTTP connections, all listeners together
	maxInFlight       = 32              // requests served at once
	queueWait         = time.Second     // how long a request waits for one of those slots
	readHeaderTimeout = 2 * time.Second // a client must send its request line and headers within this
	readTimeout       = 3 * time.Second // and the whole request within this
	maxHeaderBytes    = 4 << 10         // request line and headers
	shutdownWait      = 5 * time.Second // for requests in progress at the end
)

// Run loads the config at cfgPath and serves /primary, /replica and
// /health until ctx is done. It logs to stdout: where it listens, and
// every change of the node's role it observes.
func Run(ctx context.Context, cfgPath string, stdout io.Writer) error {
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		return err
	}
	logger := log.New(stdout, "hagen agent: ", log.LUTC|log.Ltime)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p := newPool(cfg.Database)
	defer p.closeIdle()
	go p.reapIdle(ctx, 5*time.Second)
	src := newPgSource(p, cfg.Streaming)
	cache := newStatusCache(src, probeTimeout(cfg.Database))
	if cfg.Patroni != nil {
		return runPatroni(ctx, cfg, cache, logger) // patroni.go: no HTTP
	}
	if cfg.Streaming.Synchronous {
		k := newSyncKeeper(cfg, cache, src, logger)
		k.publish = func(s string) { src.keeper.Store(&s) }
		go k.run(ctx, cache.invalidate)
	}
	if len(cfg.Peers) > 0 {
		go newFencer(cfg, cache, src, logger).run(ctx, cache.invalidate)
	}
	return serve(ctx, cfg, cache, logger)
}

// probeTimeout bounds one status probe: a connection, then statements
// each bounded by statementTimeout.
func probeTimeout(db contract.AgentDatabase) time.Duration {
	return time.Duration(db.ConnectTimeout)*time.Second + 2*statementTimeout
}

func serve(ctx context.Context, cfg *contract.AgentConfig, src roleSource, logger *log.Logger) error {
	var allow []netip.Prefix
	for _, a := range cfg.AllowFrom {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			return fmt.Errorf("agent: allowFrom: %w", err)
		}
		allow = append(allow, p.Masked())
	}
	lim := newConnLimiter(maxConns, allow)
	h := newHandler(cfg.Site, cfg.Peers, src, logger)
	h.primaryPath = cfg.PrimaryPath
	h.answerWithin = probeTimeout(cfg.Database)
	h.lim = lim
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      queueWait + h.answerWithin + 2*time.Second,
		IdleTimeout:       readHeaderTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          logger,
		ConnState:         lim.track,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, connKey{}, c)
		},
	}
	srv.SetKeepAlivesEnabled(false)

	var lns []net.Listener
	closeAll := func() {
		for _, ln := range lns {
			ln.Close()
		}
	}
	for _, addr := range append([]string{cfg.Listen}, cfg.AlsoListen...) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			closeAll()
			return fmt.Errorf("agent: %w", err)
		}
		lns = append(lns, ln)
	}
	var where []string
	for _, ln := range lns {
		where = append(where, ln.Addr().String())
	}
	logger.Printf("site %s: serving /primary /replica /health on %s (database %s as %s)", cfg.Site, strings.Join(where, " "), describeDB(cfg.Database), cfg.Database.User)
	if host, _, _ := net.SplitHostPort(cfg.Listen); host == "" {
		logger.Printf("site %s: listen %q names no address: the agent answers on every address of this host", cfg.Site, cfg.Listen)
	}
	if len(allow) == 0 {
		logger.Printf("site %s: no allowFrom: connections from every source are served", cfg.Site)
	}

	// The role at start, so the log shows it before any check arrives.
	first, cancel := context.WithTimeout(ctx, h.answerWithin)
	st, err := src.status(first)
	cancel()
	if err != nil {
		st = status{Role: roleUnreachable, Error: err.Error()}
	}
	st.Site = cfg.Site
	h.observe(st)

	errc := make(chan error, len(lns))
	for _, ln := range lns {
		go func() { errc <- srv.Serve(lim.listener(ln)) }()
	}
	select {
	case err := <-errc:
		closeAll()
		srv.Close()
		return fmt.Errorf("agent: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), shutdownWait)
	defer cancel()
	err = srv.Shutdown(shutdown)
	for range lns {
		if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
			err = serr
		}
	}
	logger.Printf("site %s: stopped", cfg.Site)
	return err
}

// describeDB names where the database is reached.
func describeDB(db contract.AgentDatabase) string {
	if strings.HasPrefix(db.Host, "/") {
		return fmt.Sprintf("%s/.s.PGSQL.%d", db.Host, db.Port)
	}
	return net.JoinHostPort(db.Host, fmt.Sprint(db.Port))
}
