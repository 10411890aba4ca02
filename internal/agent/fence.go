package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"sync"
	"time"

	"github.com/hagen-ha/hagen/contract"
)

// fencer makes a stale writable primary read-only, every second for as
// long as it is one. A primary is stale when a peer's agent reports a
// primary, writable or fenced, on a later timeline: the peer was promoted
// after this node last had the data (this node was frozen, cut off or
// restarted meanwhile). keepalived's notify.sh fences once, when the VRRP
// state changes, and only when it reaches the peer's database in time;
// the fencer needs no state change and goes on trying.
//
// It never fences the primary on the latest timeline: a node whose
// timeline is as late as every peer's keeps its writes, whatever VRRP
// says (a thawed old master may advertise a higher priority than the
// new primary's). A peer that does not answer within peerTimeout counts
// as not newer.
//
// Fencing is ALTER SYSTEM SET default_transaction_read_only = on and a
// reload (contract.AgentRoleSQL grants exactly that): new transactions,
// in new sessions and in open ones, are read-only. The agent cannot end
// the superuser's sessions; a transaction already open goes on, and its
// commit waits for a synchronous standby that no longer streams from this
// node.
type fencer struct {
	src   roleSource // the shared status cache
	db    fenceTarget
	site  string
	peers []contract.AgentPeer
	http  *http.Client
	log   *log.Logger
	every time.Duration
	// failed is the last error logged, so a fence that keeps failing
	// logs once until it changes.
	failed string
}

// fenceTarget is where the fencer makes the database read-only: the
// database, through the agent's pool.
type fenceTarget interface {
	fence(ctx context.Context) error
}

// peerTimeout bounds one peer's /health answer.
const peerTimeout = 500 * time.Millisecond

func newFencer(cfg *contract.AgentConfig, src roleSource, db fenceTarget, logger *log.Logger) *fencer {
	return &fencer{src: src, db: db, site: cfg.Site, peers: cfg.Peers, log: logger, every: time.Second,
		http: &http.Client{Timeout: peerTimeout, Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}}
}

func (f *fencer) run(ctx context.Context, invalidate func()) {
	t := time.NewTicker(f.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if f.tick(ctx) {
			invalidate()
		}
	}
}

// tick fences the local database when it is a stale writable primary;
// it reports whether it changed the database.
func (f *fencer) tick(ctx context.Context) bool {
	st, err := f.src.status(ctx)
	if err != nil || st.Role != rolePrimary || !st.Writable {
		return false
	}
	peer, newer := f.newerPeer(ctx, st.Timeline)
	if peer == "" {
		f.failed = ""
		return false
	}
	if err := f.db.fence(ctx); err != nil {
		if msg := err.Error(); msg != f.failed {
			f.failed = msg
			f.log.Printf("site %s: %s, but fencing this stale primary failed: %v", f.site, newer, err)
		}
		return false
	}
	f.failed = ""
	f.log.Printf("site %s: %s: fenced this stale primary (timeline %d): default_transaction_read_only = on", f.site, newer, st.Timeline)
	return true
}

// newerPeer asks every peer's agent at once and returns the first peer
// that reports a primary (writable or fenced) on a later timeline than
// timeline, and a sentence saying so; "" when none does.
func (f *fencer) newerPeer(ctx context.Context, timeline int) (string, string) {
	type answer struct {
		site, role string
		timeline   int
	}
	answers := make([]answer, len(f.peers))
	var wg sync.WaitGroup
	for i, p := range f.peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			role, tl, err := f.peerStatus(ctx, p.Health)
			if err == nil {
				answers[i] = answer{p.Site, role, tl}
			}
		}()
	}
	wg.Wait()
	for _, a := range answers {
		if (a.role == rolePrimary || a.role == roleFenced) && a.timeline > timeline {
			return a.site, fmt.Sprintf("%s runs a %s primary on the later timeline %d", a.site, a.role, a.timeline)
		}
	}
	return "", ""
}

// peerStatus reads a peer agent's /health: its role and timeline.
func (f *fencer) peerStatus(ctx context.Context, url string) (string, int, error) {
	ctx, cancel := context.WithTimeout(ctx, peerTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", 0, err
	}
	resp, err := f.http.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	var st struct {
		Role     string `json:"role"`
		Timeline int    `json:"timeline"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&st); err != nil {
		return "", 0, fmt.Errorf("%s: %w", url, err)
	}
	return st.Role, st.Timeline, nil
}
