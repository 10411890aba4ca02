package agent

import (
	"context"
	"fmt"
	"log"
	"slices"
	"strings"
	"time"

	"github.com/hagen-ha/hagen/contract"

	"github.com/jackc/pgx/v5"
)

// syncKeeper keeps synchronous_standby_names in line with the spec while
// this node is the writable primary. It is the only place where the agent
// changes the database, and it changes only that setting:
//   - the setting is empty (keepalived's notify.sh clears it when it
//     promotes this node and no synchronous standby is left) and a standby
//     the spec knows streams again (a rejoined old primary): the setting
//     names it, so commits are synchronous again;
//   - onStandbyDown is "async" and no synchronous standby has been
//     connected for failoverAfter seconds: the setting is cleared, so
//     commits stop waiting (and the log says so); it is put back by the
//     rule above when the standby streams again.
//
// With onStandbyDown "block" it never clears the setting: commits wait for
// the standby, as the spec says.
type syncKeeper struct {
	src    *pgSource
	cfg    *contract.AgentConfig
	log    *log.Logger
	every  time.Duration
	noSync time.Time // since when no synchronous standby is connected
}

func newSyncKeeper(cfg *contract.AgentConfig, src *pgSource, logger *log.Logger) *syncKeeper {
	return &syncKeeper{src: src, cfg: cfg, log: logger, every: time.Second}
}

func (k *syncKeeper) run(ctx context.Context) {
	t := time.NewTicker(k.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := k.tick(ctx, time.Now()); err != nil && ctx.Err() == nil {
			k.noSync = time.Time{}
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

func (k *syncKeeper) tick(ctx context.Context, now time.Time) error {
	cfg, err := k.src.connConfig()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(k.src.db.ConnectTimeout+3)*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var recovery, readOnly bool
	if err := conn.QueryRow(ctx, `SELECT pg_is_in_recovery(), current_setting('default_transaction_read_only')::boolean`).Scan(&recovery, &readOnly); err != nil {
		return err
	}
	if recovery || readOnly || !k.cfg.Streaming.Synchronous {
		k.noSync = time.Time{}
		return nil
	}
	reps, names, err := replicasOf(ctx, conn)
	if err != nil {
		return err
	}
	state, _ := syncState(names, reps)
	want, apply := k.decide(names, state, reps, now)
	if !apply {
		return nil
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf("ALTER SYSTEM SET synchronous_standby_names = '%s'", strings.ReplaceAll(want, "'", "''"))); err != nil {
		return err
	}
	_, err = conn.Exec(ctx, "SELECT pg_reload_conf()")
	return err
}

// decide returns the synchronous_standby_names to set, if any, and logs why.
func (k *syncKeeper) decide(names, state string, reps []replica, now time.Time) (string, bool) {
	known := k.standbyNames()
	if names == "" {
		var streaming []string
		for _, n := range known {
			if slices.ContainsFunc(reps, func(r replica) bool { return r.ApplicationName == n && r.State == "streaming" }) {
				streaming = append(streaming, n)
			}
		}
		if len(streaming) == 0 {
			return "", false
		}
		want := syncStandbyNamesOf(streaming)
		k.log.Printf("site %s: %s streams from this primary again: synchronous_standby_names = '%s' (commits wait for it)", k.cfg.Site, strings.Join(streaming, ", "), want)
		k.noSync = time.Time{}
		return want, true
	}
	if state == "sync" {
		k.noSync = time.Time{}
		return "", false
	}
	if k.noSync.IsZero() {
		k.noSync = now
		k.log.Printf("site %s: no synchronous standby is connected (synchronous_standby_names = '%s'): commits wait (onStandbyDown %s)", k.cfg.Site, names, k.cfg.Streaming.OnStandbyDown)
	}
	after := time.Duration(max(1, k.cfg.Streaming.FailoverAfter)) * time.Second
	if k.cfg.Streaming.OnStandbyDown != "async" || now.Sub(k.noSync) < after {
		return "", false
	}
	k.log.Printf("site %s: no synchronous standby for %s and onStandbyDown is async: synchronous_standby_names = '' (commits no longer wait; set again when a standby streams)", k.cfg.Site, after)
	return "", true
}

// syncStandbyNamesOf is FIRST 1 over the names, as hagen renders it.
func syncStandbyNamesOf(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = `"` + n + `"`
	}
	return fmt.Sprintf("FIRST 1 (%s)", strings.Join(quoted, ", "))
}
