package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/hagen-ha/hagen/contract"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// pgSource asks the local PostgreSQL through the agent's pool: at most
// poolSize sessions, reused. Each status is read afresh on the session
// (pg_is_in_recovery() and the settings read follow a promotion or a
// configuration reload in an open session); a session that fails is
// closed, and a probe that fails on a reused session is tried once more
// on a new one, so a restarted database costs no failed check.
type pgSource struct {
	pool *pool
	spec contract.AgentStreaming

	// keeper is what the sync keeper can do, shown in /health (sync.keeper).
	keeper atomic.Pointer[string]
}

func newPgSource(p *pool, spec contract.AgentStreaming) *pgSource {
	return &pgSource{pool: p, spec: spec}
}

// withConn runs fn on a pooled session, retrying once on a new session
// when a reused one fails below SQL (it was closed by a restart).
func (p *pgSource) withConn(ctx context.Context, fn func(*pgx.Conn) error) error {
	for attempt := 0; ; attempt++ {
		conn, fresh, release, err := p.pool.acquire(ctx)
		if err != nil {
			return err
		}
		err = fn(conn)
		release(err)
		var pgErr *pgconn.PgError
		if err == nil || fresh || attempt > 0 || ctx.Err() != nil || errors.As(err, &pgErr) {
			return err
		}
	}
}

func (p *pgSource) status(ctx context.Context) (status, error) {
	var st status
	err := p.withConn(ctx, func(conn *pgx.Conn) error {
		var err error
		st, err = p.statusOn(ctx, conn)
		return err
	})
	return st, err
}

func (p *pgSource) statusOn(ctx context.Context, conn *pgx.Conn) (status, error) {
	var st status
	var timeline *int32
	var lsn string
	err := conn.QueryRow(ctx, `SELECT pg_is_in_recovery(),
		current_setting('default_transaction_read_only')::boolean,
		CASE WHEN pg_is_in_recovery() THEN coalesce(pg_last_wal_replay_lsn()::text, '')
		     ELSE pg_current_wal_lsn()::text END,
		CASE WHEN pg_is_in_recovery() THEN NULL
		     ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END`).
		Scan(&st.InRecovery, &st.ReadOnly, &lsn, &timeline)
	if err != nil {
		return status{}, fmt.Errorf("query the role: %w", err)
	}
	st.LSN = lsn
	if timeline != nil {
		st.Timeline = int(*timeline)
	}
	switch {
	case st.InRecovery:
		st.Role = roleStandby
		sb, tli, err := standbyOf(ctx, conn)
		if err != nil {
			return status{}, err
		}
		st.Standby, st.Timeline = sb, tli
	case st.ReadOnly:
		st.Role = roleFenced
	default:
		st.Role = rolePrimary
		st.Writable = true
	}
	if !st.InRecovery {
		reps, names, err := replicasOf(ctx, conn)
		if err != nil {
			return status{}, err
		}
		st.Replicas = reps
		state, connected := syncState(names, reps)
		st.Sync = &syncStatus{Spec: p.spec.Synchronous, StandbyNames: names, Connected: connected, State: state}
		if k := p.keeper.Load(); k != nil {
			st.Sync.Keeper = *k
		}
	}
	return st, nil
}

// canKeepSync says whether the session's role may change
// synchronous_standby_names (ALTER SYSTEM, then pg_reload_conf()), and
// if not, why.
func (p *pgSource) canKeepSync(ctx context.Context) (bool, string, error) {
	var ok bool
	var why string
	err := p.withConn(ctx, func(conn *pgx.Conn) error {
		var version int
		var super, reload bool
		var user string
		err := conn.QueryRow(ctx, `SELECT current_setting('server_version_num')::int, current_user,
			coalesce((SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user), false),
			has_function_privilege('pg_catalog.pg_reload_conf()', 'EXECUTE')`).Scan(&version, &user, &super, &reload)
		if err != nil {
			return fmt.Errorf("query the agent's privileges: %w", err)
		}
		switch {
		case super:
			ok = true
		case version < 150000:
			why = fmt.Sprintf("PostgreSQL %d cannot grant ALTER SYSTEM to a role that is not a superuser (15 and later can), and %s is not one", version/10000, user)
		case !reload:
			why = fmt.Sprintf("%s may not run pg_reload_conf() (see contract.AgentRoleSQL)", user)
		default:
			var alter bool
			if err := conn.QueryRow(ctx, `SELECT has_parameter_privilege('synchronous_standby_names', 'ALTER SYSTEM')`).Scan(&alter); err != nil {
				return fmt.Errorf("query the agent's privileges: %w", err)
			}
			ok = alter
			if !alter {
				why = fmt.Sprintf("%s has no ALTER SYSTEM privilege on synchronous_standby_names (see contract.AgentRoleSQL)", user)
			}
		}
		return nil
	})
	return ok, why, err
}

// setSyncStandbyNames sets synchronous_standby_names with ALTER SYSTEM
// and reloads the configuration.
func (p *pgSource) setSyncStandbyNames(ctx context.Context, value string) error {
	return p.withConn(ctx, func(conn *pgx.Conn) error {
		if _, err := conn.Exec(ctx, "ALTER SYSTEM SET synchronous_standby_names = "+quoteLiteral(value)); err != nil {
			return err
		}
		_, err := conn.Exec(ctx, "SELECT pg_reload_conf()")
		return err
	})
}

// fence makes the database read-only for new transactions: ALTER SYSTEM
// SET default_transaction_read_only = on, and a reload.
func (p *pgSource) fence(ctx context.Context) error {
	return p.withConn(ctx, func(conn *pgx.Conn) error {
		if _, err := conn.Exec(ctx, "ALTER SYSTEM SET default_transaction_read_only = on"); err != nil {
			return err
		}
		_, err := conn.Exec(ctx, "SELECT pg_reload_conf()")
		return err
	})
}

// quoteLiteral quotes a string as an SQL literal (standard_conforming_strings
// is on since PostgreSQL 9.1: only the quote is doubled).
func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

func standbyOf(ctx context.Context, conn *pgx.Conn) (*standbyStatus, int, error) {
	sb := &standbyStatus{Receiver: "stopped"}
	var (
		receiver, host, slot, receiveLSN *string
		port, tli                        *int32
	)
	err := conn.QueryRow(ctx, `SELECT status, sender_host, sender_port, slot_name,
		coalesce(latest_end_lsn, flushed_lsn)::text, received_tli FROM pg_stat_wal_receiver`).
		Scan(&receiver, &host, &port, &slot, &receiveLSN, &tli)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, 0, fmt.Errorf("query the WAL receiver: %w", err)
	}
	timeline := 0
	if err == nil {
		sb.Receiver = deref(receiver)
		sb.Streaming = sb.Receiver == "streaming"
		sb.SenderHost = deref(host)
		sb.Slot = deref(slot)
		sb.ReceiveLSN = deref(receiveLSN)
		if port != nil {
			sb.SenderPort = int(*port)
		}
		if tli != nil {
			timeline = int(*tli)
		}
	}
	var lag *float64
	err = conn.QueryRow(ctx, `SELECT coalesce(pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()), 0)::bigint,
		pg_is_wal_replay_paused(),
		extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8`).
		Scan(&sb.ReplayLagBytes, &sb.ReplayPaused, &lag)
	if err != nil {
		return nil, 0, fmt.Errorf("query the replay lag: %w", err)
	}
	sb.LastReplaySeconds = lag
	return sb, timeline, nil
}

func replicasOf(ctx context.Context, conn *pgx.Conn) ([]replica, string, error) {
	var names string
	if err := conn.QueryRow(ctx, `SELECT current_setting('synchronous_standby_names')`).Scan(&names); err != nil {
		return nil, "", fmt.Errorf("query synchronous_standby_names: %w", err)
	}
	rows, err := conn.Query(ctx, `SELECT coalesce(application_name, ''), coalesce(client_addr::text, ''),
		coalesce(state, ''), coalesce(sync_state, ''),
		pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint,
		extract(epoch FROM replay_lag)::float8
		FROM pg_stat_replication ORDER BY application_name, client_addr`)
	if err != nil {
		return nil, "", fmt.Errorf("query pg_stat_replication: %w", err)
	}
	reps, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (replica, error) {
		var r replica
		err := row.Scan(&r.ApplicationName, &r.ClientAddr, &r.State, &r.SyncState, &r.ReplayLagBytes, &r.ReplayLagSecs)
		return r, err
	})
	if err != nil {
		return nil, "", fmt.Errorf("read pg_stat_replication: %w", err)
	}
	return reps, names, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
