// Package agent is `hagen agent`, the process that runs next to the
// database on every primary-standby node (the hagen-agent compose service,
// host network). It serves the node's role over HTTP on
// database.streaming.healthPort, so that HAProxy, a cloud load balancer or
// an operator can tell the writable primary from a standby or a fenced old
// primary. Promotion and fencing are keepalived's notify.sh; the agent
// changes one setting only, synchronous_standby_names on the writable
// primary (sync.go): it names a standby that streams again after a
// failover, and clears it when onStandbyDown is "async" and no standby has
// been synchronous for failoverAfter seconds.
package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/hagen-ha/hagen/contract"
)

// Run loads the config at cfgPath and serves /primary, /replica and
// /health until ctx is done. It logs to stdout: where it listens, and
// every change of the node's role it observes.
func Run(ctx context.Context, cfgPath string, stdout io.Writer) error {
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		return err
	}
	src := &pgSource{db: cfg.Database, spec: cfg.Streaming}
	if cfg.Streaming.Synchronous {
		logger := log.New(stdout, "hagen agent: ", log.LUTC|log.Ltime)
		go newSyncKeeper(cfg, src, logger).run(ctx)
	}
	return serve(ctx, cfg, src, stdout)
}

func serve(ctx context.Context, cfg *contract.AgentConfig, src roleSource, stdout io.Writer) error {
	logger := log.New(stdout, "hagen agent: ", log.LUTC|log.Ltime)
	h := newHandler(cfg.Site, cfg.Peers, src, logger)
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      time.Duration(cfg.Database.ConnectTimeout+10) * time.Second,
		ErrorLog:          logger,
	}
	logger.Printf("site %s: serving /primary /replica /health on %s (database %s:%d)", cfg.Site, ln.Addr(), cfg.Database.Host, cfg.Database.Port)

	// The role at start, so the log shows it before any check arrives.
	st, err := src.status(ctx)
	if err != nil {
		st = status{Role: roleUnreachable, Error: err.Error()}
	}
	st.Site = cfg.Site
	h.observe(st)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("agent: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdown)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	logger.Printf("site %s: stopped", cfg.Site)
	return err
}
