package agent

import (
	"context"

	"github.com/hagen-ha/hagen/contract"
)

// Roles a node reports.
const (
	rolePrimary     = "primary"     // writable primary: the one HAProxy sends to
	roleFenced      = "fenced"      // a primary made read-only (default_transaction_read_only)
	roleStandby     = "standby"     // in recovery
	roleUnreachable = "unreachable" // the local database does not answer
)

// status is what the local database reports, served as /health.
type status struct {
	Site       string `json:"site"`
	Role       string `json:"role"`
	Writable   bool   `json:"writable"`
	InRecovery bool   `json:"inRecovery"`
	ReadOnly   bool   `json:"readOnly"`
	// Timeline is the primary's current timeline or the timeline a standby
	// receives; a later timeline means a later promotion.
	Timeline int    `json:"timeline,omitempty"`
	LSN      string `json:"lsn,omitempty"`
	// Standby is set on a node in recovery, Replicas and Sync on a primary.
	Standby  *standbyStatus `json:"standby,omitempty"`
	Replicas []replica      `json:"replicas,omitempty"`
	Sync     *syncStatus    `json:"sync,omitempty"`
	Error    string         `json:"error,omitempty"`
}

// standbyStatus is the WAL receiver of a standby and how far replay is
// behind what was received.
type standbyStatus struct {
	Receiver       string `json:"receiver"` // pg_stat_wal_receiver.status, or "stopped"
	Streaming      bool   `json:"streaming"`
	SenderHost     string `json:"senderHost,omitempty"`
	SenderPort     int    `json:"senderPort,omitempty"`
	Slot           string `json:"slot,omitempty"`
	ReceiveLSN     string `json:"receiveLsn,omitempty"`
	ReplayLagBytes int64  `json:"replayLagBytes"`
	ReplayPaused   bool   `json:"replayPaused"`
	// Seconds since the last replayed transaction committed on the
	// primary; it also grows while the primary is idle.
	LastReplaySeconds *float64 `json:"lastReplaySeconds,omitempty"`
}

// replica is one row of pg_stat_replication on a primary.
type replica struct {
	ApplicationName string   `json:"applicationName"`
	ClientAddr      string   `json:"clientAddr,omitempty"`
	State           string   `json:"state"`
	SyncState       string   `json:"syncState"`
	ReplayLagBytes  *int64   `json:"replayLagBytes,omitempty"`
	ReplayLagSecs   *float64 `json:"replayLagSeconds,omitempty"`
}

// syncStatus compares synchronous_standby_names with the standbys that
// are streaming as sync or quorum standbys.
type syncStatus struct {
	// Spec is the spec's synchronous setting; StandbyNames what the
	// primary runs with (a promoted node clears it, see notify.sh).
	Spec         bool     `json:"spec"`
	StandbyNames string   `json:"standbyNames"`
	Connected    []string `json:"connected"`
	// State: "sync" (as many synchronous standbys as the setting waits
	// for confirm commits), "async" (synchronous_standby_names is empty),
	// or "blocked" (names are set but fewer of them stream than FIRST n or
	// ANY n waits for: every commit waits).
	State string `json:"state"`
	// Keeper is what the agent's sync keeper does: "keeps
	// synchronous_standby_names", or why it only reports it; empty when
	// the spec is not synchronous or the keeper has not checked yet.
	Keeper string `json:"keeper,omitempty"`
}

// roleSource reports the local database's status. The agent's HTTP
// handlers depend only on this, so they are tested without a database.
type roleSource interface {
	status(ctx context.Context) (status, error)
}

// syncState classifies a primary's synchronous replication.
func syncState(names string, replicas []replica) (state string, connected []string) {
	connected = []string{}
	for _, r := range replicas {
		if r.State == "streaming" && (r.SyncState == "sync" || r.SyncState == "quorum") {
			connected = append(connected, r.ApplicationName)
		}
	}
	switch {
	case names == "":
		return "async", connected
	case len(connected) == 0 || len(connected) < contract.SyncCount(names):
		return "blocked", connected
	default:
		return "sync", connected
	}
}
