package agent

import (
	"io"
	"log"
	"testing"
	"time"

	"github.com/hagen-ha/hagen/contract"
)

func keeper(policy string) *syncKeeper {
	cfg := &contract.AgentConfig{
		Site:  "db1",
		Peers: []contract.AgentPeer{{Site: "db0"}},
		Streaming: contract.AgentStreaming{
			Synchronous: true, OnStandbyDown: policy, FailoverAfter: 3,
			StandbyNames: map[string]string{"db0": "db0", "db1": "db1"},
		},
	}
	return newSyncKeeper(cfg, nil, nil, log.New(io.Discard, "", 0))
}

func TestSyncKeeperRestoresAReturningStandby(t *testing.T) {
	k := keeper("block")
	now := time.Unix(1000, 0)
	// Cleared at promotion, nobody streams: nothing to do.
	if _, apply, _ := k.decide("", "async", nil, now); apply {
		t.Error("set synchronous_standby_names with no standby streaming")
	}
	// A standby the spec does not know, or one still catching up: nothing.
	if _, apply, _ := k.decide("", "async", []replica{{ApplicationName: "other", State: "streaming"}, {ApplicationName: "db0", State: "catchup"}}, now); apply {
		t.Error("set synchronous_standby_names for an unknown or catching-up standby")
	}
	want, apply, _ := k.decide("", "async", []replica{{ApplicationName: "db0", State: "streaming", SyncState: "async"}}, now)
	if !apply || want != `FIRST 1 ("db0")` {
		t.Errorf("decide = %q, %v; want FIRST 1 (\"db0\"), true", want, apply)
	}
}

func TestSyncKeeperPolicy(t *testing.T) {
	now := time.Unix(1000, 0)
	for _, tc := range []struct {
		policy string
		after  time.Duration
		clear  bool
	}{
		{"block", 10 * time.Second, false},
		{"async", 2 * time.Second, false},
		{"async", 3 * time.Second, true},
	} {
		k := keeper(tc.policy)
		if _, apply, _ := k.decide(`FIRST 1 ("db0")`, "blocked", nil, now); apply {
			t.Errorf("%s: acted on the first tick without a standby", tc.policy)
		}
		want, apply, _ := k.decide(`FIRST 1 ("db0")`, "blocked", nil, now.Add(tc.after))
		if apply != tc.clear || want != "" {
			t.Errorf("%s after %s: decide = %q, %v; want clear %v", tc.policy, tc.after, want, apply, tc.clear)
		}
		// A synchronous standby resets the clock.
		k.decide(`FIRST 1 ("db0")`, "sync", nil, now.Add(tc.after))
		if !k.noSync.IsZero() {
			t.Errorf("%s: the clock was not reset by a synchronous standby", tc.policy)
		}
	}
}

// The keeper restores the spec's method and count, never more standbys
// than stream.
func TestSyncKeeperKeepsMethodAndCount(t *testing.T) {
	now := time.Unix(1000, 0)
	k := keeper("block")
	k.cfg.Site = "db0"
	k.cfg.Peers = []contract.AgentPeer{{Site: "db1"}, {Site: "db2"}}
	k.cfg.Streaming.StandbyNames = map[string]string{"db0": "db0", "db1": "db1", "db2": "db2"}
	k.cfg.Streaming.SynchronousMethod, k.cfg.Streaming.SynchronousCount = contract.SyncAny, 2
	both := []replica{{ApplicationName: "db1", State: "streaming"}, {ApplicationName: "db2", State: "streaming"}}
	if want, apply, _ := k.decide("", "async", both, now); !apply || want != `ANY 2 ("db1", "db2")` {
		t.Errorf("decide = %q, %v; want ANY 2 (\"db1\", \"db2\"), true", want, apply)
	}
	if want, apply, _ := k.decide("", "async", both[1:], now); !apply || want != `ANY 1 ("db2")` {
		t.Errorf("decide with one standby = %q, %v; want ANY 1 (\"db2\"), true", want, apply)
	}
}
