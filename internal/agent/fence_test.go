package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hagen-ha/hagen/contract"
)

// fixedSource reports one status.
type fixedSource struct{ st status }

func (f fixedSource) status(context.Context) (status, error) { return f.st, nil }

// fenceRecorder counts fences; err makes each fail.
type fenceRecorder struct {
	n   int
	err error
}

func (r *fenceRecorder) fence(context.Context) error {
	r.n++
	return r.err
}

// peerAgent serves /health as a peer's agent with the given role and
// timeline ("" serves a 503 without JSON, as a broken agent might).
func peerAgent(t *testing.T, role string, timeline int) contract.AgentPeer {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if role == "" {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "{\n  \"site\": \"peer\",\n  \"role\": %q,\n  \"timeline\": %d\n}\n", role, timeline)
	}))
	t.Cleanup(srv.Close)
	return contract.AgentPeer{Site: "db1", Health: srv.URL + "/health"}
}

// The fencer fences a writable primary only when a peer reports a
// primary, writable or fenced, on a later timeline; never the newest.
func TestFencerFencesOnlyAStalePrimary(t *testing.T) {
	writable := status{Role: rolePrimary, Writable: true, Timeline: 2}
	for _, tc := range []struct {
		name  string
		local status
		role  string
		tl    int
		fence bool
	}{
		{"peer writable on a later timeline", writable, rolePrimary, 3, true},
		{"peer fenced on a later timeline", writable, roleFenced, 3, true},
		{"peer writable on the same timeline", writable, rolePrimary, 2, false},
		{"peer writable on an older timeline", writable, rolePrimary, 1, false},
		{"peer a standby on a later timeline", writable, roleStandby, 3, false},
		{"peer agent broken", writable, "", 0, false},
		{"local already fenced", status{Role: roleFenced, ReadOnly: true, Timeline: 2}, rolePrimary, 3, false},
		{"local a standby", status{Role: roleStandby, InRecovery: true, Timeline: 3}, rolePrimary, 3, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &contract.AgentConfig{Site: "db0", Peers: []contract.AgentPeer{peerAgent(t, tc.role, tc.tl)}}
			rec := &fenceRecorder{}
			f := newFencer(cfg, fixedSource{tc.local}, rec, log.New(io.Discard, "", 0))
			if changed := f.tick(context.Background()); changed != tc.fence || rec.n != map[bool]int{true: 1}[tc.fence] {
				t.Errorf("tick changed %v after %d fences; want %v", changed, rec.n, tc.fence)
			}
		})
	}
}

// A fence that fails is tried again at the next tick and logged once.
func TestFencerRetriesAndLogsOnce(t *testing.T) {
	cfg := &contract.AgentConfig{Site: "db0", Peers: []contract.AgentPeer{peerAgent(t, rolePrimary, 3)}}
	rec := &fenceRecorder{err: errors.New("permission denied to set parameter")}
	var logged strings.Builder
	f := newFencer(cfg, fixedSource{status{Role: rolePrimary, Writable: true, Timeline: 2}}, rec, log.New(&logged, "", 0))
	for range 3 {
		if f.tick(context.Background()) {
			t.Error("a failed fence reported a change")
		}
	}
	if rec.n != 3 {
		t.Errorf("%d fences in 3 ticks, want 3", rec.n)
	}
	if n := strings.Count(logged.String(), "fencing this stale primary failed"); n != 1 {
		t.Errorf("logged the failure %d times, want once:\n%s", n, logged.String())
	}
}
