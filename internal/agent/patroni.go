package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/hagen-ha/hagen/contract"
)

// With Patroni (agent.json's patroni section) the agent serves no HTTP:
// Patroni's REST API answers /primary and /replica on the health port. It
// keeps one promise of onStandbyDown "block" that Patroni's strict
// synchronous mode breaks with a single standby: a standby promoted after
// the primary's loss commits alone until the old primary streams again.
//
// Patroni's on_role_change callback leaves a mark file when it promotes
// this node and no standby streams from it. While the mark exists and
// this node holds the leader lock, the keeper, level-triggered every
// interval:
//
//   - synchronous_standby_names is '*' (strict mode with no standby:
//     every commit waits): turns strict mode and synchronous mode off
//     (PATCH /config). Turning strict mode off alone does not clear '*' in
//     Patroni 3.0.2, which changes the setting only when the set of picked
//     standbys changes; with synchronous mode off it clears it;
//   - synchronous mode is off and the setting is empty: turns synchronous
//     mode on again, so that the returning standby is picked (it is not
//     promotable, not in /sync, until then);
//   - a member is Patroni's synchronous standby and streams: turns strict
//     mode on again and removes the mark. From then on a lost standby
//     blocks writes, as "block" says.
//
// Patroni may put '*' back while it settles; the next tick undoes it
// again. A primary whose standby fails later is never marked, so its
// writes wait.

// patroniState is what the keeper reads at each tick.
type patroniState struct {
	Leader bool
	// SyncMode and Strict are the cluster's dynamic configuration.
	SyncMode, Strict bool
	// SyncStreams: a member is the synchronous standby (in /sync) and
	// runs or streams.
	SyncStreams bool
	// Names is the local synchronous_standby_names.
	Names  string
	Marked bool
}

// patroniAction is one change the keeper makes.
type patroniAction struct {
	// Patch is the body of PATCH /config, nil for none.
	Patch map[string]bool
	// Unmark removes the mark (after Patch succeeded).
	Unmark bool
	Why    string
}

// decidePatroni is the keeper's rule; see the package comment above.
func decidePatroni(s patroniState) patroniAction {
	if !s.Leader || !s.Marked {
		return patroniAction{}
	}
	if s.SyncStreams {
		a := patroniAction{Unmark: true, Why: "a synchronous standby streams again"}
		if !s.SyncMode || !s.Strict {
			a.Patch = map[string]bool{"synchronous_mode": true, "synchronous_mode_strict": true}
			a.Why += ": strict synchronous mode on (writes wait for it again)"
		}
		return a
	}
	switch {
	case s.Names == "*":
		return patroniAction{
			Patch: map[string]bool{"synchronous_mode_strict": false, "synchronous_mode": false},
			Why:   "promoted with no standby and synchronous_standby_names is '*' (every commit waits): strict and synchronous mode off",
		}
	case s.Names == "" && !s.SyncMode:
		return patroniAction{
			Patch: map[string]bool{"synchronous_mode": true},
			Why:   "synchronous_standby_names is cleared: synchronous mode on again (not strict), so the returning standby is picked",
		}
	}
	return patroniAction{}
}

// patroniAPI is the local Patroni's REST API.
type patroniAPI interface {
	// leader reports whether GET /primary answers 200.
	leader(ctx context.Context) (bool, error)
	// config is GET /config: the dynamic configuration.
	config(ctx context.Context) (syncMode, strict bool, err error)
	// syncStreams is GET /cluster: a sync_standby that runs or streams.
	syncStreams(ctx context.Context) (bool, error)
	patch(ctx context.Context, body map[string]bool) error
}

// patroniKeeper runs decidePatroni every interval.
type patroniKeeper struct {
	site  string
	api   patroniAPI
	src   roleSource // the local database: synchronous_standby_names
	mark  string
	every time.Duration
	log   *log.Logger
	// exists and unmark reach the mark file (replaced in tests).
	exists func(string) bool
	unmark func(string) error
	// last is the last action logged, so that a repeated one is logged
	// once.
	last string
}

func newPatroniKeeper(cfg *contract.AgentConfig, src roleSource, logger *log.Logger) *patroniKeeper {
	p := cfg.Patroni
	return &patroniKeeper{
		site:  cfg.Site,
		api:   &patroniHTTP{base: strings.TrimRight(p.API, "/"), cfg: p, client: &http.Client{Timeout: 2 * time.Second}},
		src:   src,
		mark:  p.PromotedAloneMark,
		every: time.Duration(p.IntervalMs) * time.Millisecond,
		log:   logger,
		exists: func(path string) bool {
			_, err := os.Stat(path)
			return err == nil
		},
		unmark: func(path string) error {
			if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			return nil
		},
	}
}

func (k *patroniKeeper) run(ctx context.Context, invalidate func()) {
	k.log.Printf("site %s: Patroni manages the database; the agent relaxes strict synchronous mode after a promotion that leaves no standby (mark %s)", k.site, k.mark)
	t := time.NewTicker(k.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		changed, err := k.tick(ctx)
		if err != nil && ctx.Err() == nil && err.Error() != k.last {
			k.last = err.Error()
			k.log.Printf("site %s: %v", k.site, err)
		}
		if changed {
			invalidate()
		}
	}
}

// tick reads the state, decides and acts; it reports whether it changed
// Patroni's configuration.
func (k *patroniKeeper) tick(ctx context.Context) (bool, error) {
	s := patroniState{Marked: k.exists(k.mark)}
	if !s.Marked {
		return false, nil // the common case costs no request
	}
	var err error
	if s.Leader, err = k.api.leader(ctx); err != nil || !s.Leader {
		return false, err
	}
	if s.SyncMode, s.Strict, err = k.api.config(ctx); err != nil {
		return false, err
	}
	if s.SyncStreams, err = k.api.syncStreams(ctx); err != nil {
		return false, err
	}
	if !s.SyncStreams {
		st, err := k.src.status(ctx)
		if err != nil {
			return false, fmt.Errorf("read synchronous_standby_names: %w", err)
		}
		if st.Role != rolePrimary || st.Sync == nil {
			return false, nil // not (yet) the writable primary
		}
		s.Names = st.Sync.StandbyNames
	}
	a := decidePatroni(s)
	changed := false
	if a.Patch != nil {
		if err := k.api.patch(ctx, a.Patch); err != nil {
			return false, fmt.Errorf("%s, but PATCH /config failed: %w", a.Why, err)
		}
		changed = true
	}
	if a.Unmark {
		if err := k.unmark(k.mark); err != nil {
			return changed, fmt.Errorf("remove %s: %w", k.mark, err)
		}
	}
	if a.Why != "" && (a.Patch != nil || a.Unmark) {
		k.last = ""
		k.log.Printf("site %s: %s", k.site, a.Why)
	}
	return changed, nil
}

// patroniHTTP is the REST API over HTTP.
type patroniHTTP struct {
	base   string
	cfg    *contract.AgentPatroni
	client *http.Client
}

func (p *patroniHTTP) get(ctx context.Context, path string, v any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+path, nil)
	if err != nil {
		return 0, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("GET %s: %w", path, err)
	}
	if v != nil {
		if resp.StatusCode != http.StatusOK {
			return resp.StatusCode, fmt.Errorf("GET %s: %s", path, resp.Status)
		}
		if err := json.Unmarshal(data, v); err != nil {
			return resp.StatusCode, fmt.Errorf("GET %s: %w", path, err)
		}
	}
	return resp.StatusCode, nil
}

func (p *patroniHTTP) leader(ctx context.Context) (bool, error) {
	code, err := p.get(ctx, "/primary", nil)
	return code == http.StatusOK, err
}

func (p *patroniHTTP) config(ctx context.Context) (bool, bool, error) {
	var c struct {
		SyncMode bool `json:"synchronous_mode"`
		Strict   bool `json:"synchronous_mode_strict"`
	}
	_, err := p.get(ctx, "/config", &c)
	return c.SyncMode, c.Strict, err
}

func (p *patroniHTTP) syncStreams(ctx context.Context) (bool, error) {
	var c struct {
		Members []struct {
			Role  string `json:"role"`
			State string `json:"state"`
		} `json:"members"`
	}
	if _, err := p.get(ctx, "/cluster", &c); err != nil {
		return false, err
	}
	for _, m := range c.Members {
		// Patroni 3.0.2 shows a streaming replica as "running".
		if m.Role == "sync_standby" && (m.State == "streaming" || m.State == "running") {
			return true, nil
		}
	}
	return false, nil
}

func (p *patroniHTTP) patch(ctx context.Context, body map[string]bool) error {
	pw, err := p.cfg.Password()
	if err != nil {
		return err
	}
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, p.base+"/config", bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(p.cfg.User, pw)
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}

// runPatroni is Run with Patroni: the keeper, over the agent's one small
// pool of database sessions, until ctx is done.
func runPatroni(ctx context.Context, cfg *contract.AgentConfig, cache *statusCache, logger *log.Logger) error {
	k := newPatroniKeeper(cfg, cache, logger)
	k.run(ctx, cache.invalidate)
	logger.Printf("site %s: stopped", cfg.Site)
	return nil
}
