package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hagen-ha/hagen/contract"

	"github.com/jackc/pgx/v5"
)

// pgSource asks the local PostgreSQL, over a new connection for every
// probe: a session started after a reload sees the fenced setting, and a
// database that restarts never leaves a stale connection behind.
type pgSource struct {
	db   contract.AgentDatabase
	spec contract.AgentStreaming
}

func (p *pgSource) connConfig() (*pgx.ConnConfig, error) {
	pw, err := p.db.Password()
	if err != nil {
		return nil, err
	}
	cfg, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=%s connect_timeout=%d application_name=hagen-agent",
		p.db.Host, p.db.Port, p.db.User, p.db.Name, p.db.SSLMode, p.db.ConnectTimeout))
	if err != nil {
		return nil, err
	}
	cfg.Password = pw
	return cfg, nil
}

func (p *pgSource) status(ctx context.Context) (status, error) {
	cfg, err := p.connConfig()
	if err != nil {
		return status{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(p.db.ConnectTimeout+3)*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return status{}, err
	}
	defer conn.Close(context.Background())

	var st status
	var timeline *int32
	var lsn string
	err = conn.QueryRow(ctx, `SELECT pg_is_in_recovery(),
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
	}
	return st, nil
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
