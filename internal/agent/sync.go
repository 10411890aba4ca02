package agent

import (
	"context"
	"fmt"
	"log"
	"slices"
	"strings"
	"time"

	"github.com/hagen-ha/hagen/contract"
)

// syncKeeper keeps synchronous_standby_names in line with the spec while
// this node is the writable primary. It is the only place where the agent
// changes the database, and it changes only that setting:
//   - the setting is empty (keepalived's notify.sh clears it when it
//     promotes this node and no synchronous standby is left) and a standby
//     the spec knows streams again (a rejoined old primary): the setting
//     names the standbys that stream, with the spec's method (FIRST or
//     ANY) and count (at most as many as stream), so commits are
//     synchronous again;
//   - onStandbyDown is "async" and no synchronous standby has been
//     connected for failoverAfter seconds: the setting is cleared, so
//     commits stop waiting (and the log says so); it is put back by the
//     rule above when the standby streams again.
//
// With onStandbyDown "block" it never clears the setting: commits wait for
// the standby, as the spec says.
type syncKeeper struct {
	src    roleSource // the shared status cache: the keeper adds no probe of its own
	db     syncTarget
	cfg    *contract.AgentConfig
	log    *log.Logger
	every  time.Duration
	noSync time.Time // since when no synchronous standby is connected

	// What the role may do, checked on the writable primary and again
	// every recheck while it may not.
	checkedAt time.Time
	able      bool
	why       string
	publish   func(string) // shows the keeper's state in /health
	refused   string       // the value last refused for lack of privilege (logged once)
}

// syncTarget is where the keeper changes synchronous_standby_names: the
// database, through the agent's pool.
type syncTarget interface {
	canKeepSync(ctx context.Context) (bool, string, error)
	setSyncStandbyNames(ctx context.Context, value string) error
}

const recheck = time.Minute

func newSyncKeeper(cfg *contract.AgentConfig, src roleSource, db syncTarget, logger *log.Logger) *syncKeeper {
	return &syncKeeper{src: src, db: db, cfg: cfg, log: logger, every: time.Second, publish: func(string) {}}
}

func (k *syncKeeper) run(ctx context.Context, invalidate func()) {
	t := time.NewTicker(k.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		changed, err := k.tick(ctx, time.Now())
		if err != nil && ctx.Err() == nil {
			k.noSync = time.Time{}
		}
		if changed {
			invalidate()
		}
	}
}

// standbyNames are the application names of the peers as standbys, in
// the order of the peers.
func (k *syncKeeper) standbyNames() []string {
	var out []string
	for _, p := range k.cfg.Peers {
		if n := k.cfg.Streaming.StandbyNames[p.Site]; n != "" {
			out = append(out, n)
		}
	}
	return out
}

// tick looks at the node's status (from the shared cache) and changes
// synchronous_standby_names when decide says so and the role may; it
// reports whether it changed the setting.
func (k *syncKeeper) tick(ctx context.Context, now time.Time) (bool, error) {
	st, err := k.src.status(ctx)
	if err != nil {
		return false, err
	}
	if st.Role != rolePrimary || !st.Writable || st.Sync == nil || !k.cfg.Streaming.Synchronous {
		k.noSync = time.Time{}
		return false, nil
	}
	if k.checkedAt.IsZero() || (!k.able && now.Sub(k.checkedAt) >= recheck) {
		able, why, err := k.db.canKeepSync(ctx)
		if err != nil {
			return false, err
		}
		if k.checkedAt.IsZero() || able != k.able {
			if able {
				k.log.Printf("site %s: the agent keeps synchronous_standby_names (onStandbyDown %s)", k.cfg.Site, k.cfg.Streaming.OnStandbyDown)
			} else {
				k.log.Printf("site %s: the agent cannot change synchronous_standby_names: %s; it reports the synchronous state only, set the setting by hand after a failover (RUNBOOK.md)", k.cfg.Site, why)
			}
		}
		k.checkedAt, k.able, k.why = now, able, why
		if able {
			k.publish("keeps synchronous_standby_names")
		} else {
			k.publish("reports only: " + why)
		}
	}
	want, apply, reason := k.decide(st.Sync.StandbyNames, st.Sync.State, st.Replicas, now)
	if !apply {
		return false, nil
	}
	if !k.able {
		if k.refused != want {
			k.refused = want
			k.log.Printf("site %s: %s, but the agent may not change it (%s): run ALTER SYSTEM SET synchronous_standby_names = %s; SELECT pg_reload_conf(); as the superuser", k.cfg.Site, reason, k.why, quoteLiteral(want))
		}
		return false, nil
	}
	if err := k.db.setSyncStandbyNames(ctx, want); err != nil {
		k.log.Printf("site %s: %s, but setting it failed: %v", k.cfg.Site, reason, err)
		return false, err
	}
	k.refused = ""
	k.log.Printf("site %s: %s", k.cfg.Site, reason)
	return true, nil
}

// decide returns the synchronous_standby_names to set, if any, and why
// in words.
func (k *syncKeeper) decide(names, state string, reps []replica, now time.Time) (string, bool, string) {
	known := k.standbyNames()
	if names == "" {
		var streaming []string
		for _, n := range known {
			if slices.ContainsFunc(reps, func(r replica) bool { return r.ApplicationName == n && r.State == "streaming" }) {
				streaming = append(streaming, n)
			}
		}
		if len(streaming) == 0 {
			return "", false, ""
		}
		want := contract.SyncStandbyNames(k.cfg.Streaming.SynchronousMethod, k.cfg.Streaming.SynchronousCount, streaming)
		k.noSync = time.Time{}
		return want, true, fmt.Sprintf("%s streams from this primary again: synchronous_standby_names = '%s' (commits wait for it)", strings.Join(streaming, ", "), want)
	}
	if state == "sync" {
		k.noSync = time.Time{}
		return "", false, ""
	}
	if k.noSync.IsZero() {
		k.noSync = now
		k.log.Printf("site %s: no synchronous standby is connected (synchronous_standby_names = '%s'): commits wait (onStandbyDown %s)", k.cfg.Site, names, k.cfg.Streaming.OnStandbyDown)
	}
	after := time.Duration(max(1, k.cfg.Streaming.FailoverAfter)) * time.Second
	if k.cfg.Streaming.OnStandbyDown != "async" || now.Sub(k.noSync) < after {
		return "", false, ""
	}
	return "", true, fmt.Sprintf("no synchronous standby for %s and onStandbyDown is async: synchronous_standby_names = '' (commits no longer wait; set again when a standby streams)", after)
}
