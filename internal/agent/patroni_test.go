package agent

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/hagen-ha/hagen/contract"
)

func TestDecidePatroni(t *testing.T) {
	off := map[string]bool{"synchronous_mode_strict": false, "synchronous_mode": false}
	syncOn := map[string]bool{"synchronous_mode": true}
	strictOn := map[string]bool{"synchronous_mode": true, "synchronous_mode_strict": true}
	for _, c := range []struct {
		name   string
		s      patroniState
		patch  map[string]bool
		unmark bool
	}{
		{"a replica does nothing", patroniState{Marked: true, Names: "*", SyncMode: true, Strict: true}, nil, false},
		{"an unmarked primary blocks, as block says", patroniState{Leader: true, Names: "*", SyncMode: true, Strict: true}, nil, false},
		{"promoted alone, '*': strict and sync off", patroniState{Leader: true, Marked: true, Names: "*", SyncMode: true, Strict: true}, off, false},
		{"Patroni put '*' back with strict off: off again", patroniState{Leader: true, Marked: true, Names: "*", SyncMode: true}, off, false},
		{"cleared: synchronous mode on again", patroniState{Leader: true, Marked: true, Names: ""}, syncOn, false},
		{"sync on, nothing picked yet: wait", patroniState{Leader: true, Marked: true, Names: "", SyncMode: true}, nil, false},
		{"Patroni not caught up yet: '*' stays until cleared", patroniState{Leader: true, Marked: true, Names: `"db0"`, SyncMode: true}, nil, false},
		{"standby back and synchronous: strict on, unmark", patroniState{Leader: true, Marked: true, SyncStreams: true, SyncMode: true}, strictOn, true},
		{"standby back, strict already on: unmark only", patroniState{Leader: true, Marked: true, SyncStreams: true, SyncMode: true, Strict: true}, nil, true},
	} {
		a := decidePatroni(c.s)
		if !reflect.DeepEqual(a.Patch, c.patch) || a.Unmark != c.unmark {
			t.Errorf("%s: got patch %v unmark %v, want %v %v", c.name, a.Patch, a.Unmark, c.patch, c.unmark)
		}
		if (a.Patch != nil || a.Unmark) && a.Why == "" {
			t.Errorf("%s: an action without a reason", c.name)
		}
	}
}

// fakePatroni is a Patroni REST API with a dynamic configuration that
// PATCH changes, as Patroni does, and a synchronous_standby_names that
// follows it one step behind (the keeper must not outrun it).
type fakePatroni struct {
	mu          sync.Mutex
	leader      bool
	syncMode    bool
	strict      bool
	syncStreams bool
	names       string
	patches     []map[string]bool
	auth        []string
}

func (f *fakePatroni) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/primary":
		if f.leader {
			w.WriteHeader(http.StatusOK)
		} else {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	case r.Method == http.MethodGet && r.URL.Path == "/config":
		json.NewEncoder(w).Encode(map[string]any{"ttl": 3, "synchronous_mode": f.syncMode, "synchronous_mode_strict": f.strict})
	case r.Method == http.MethodGet && r.URL.Path == "/cluster":
		members := []map[string]string{{"name": "db1", "role": "leader", "state": "running"}}
		if f.syncStreams {
			members = append(members, map[string]string{"name": "db0", "role": "sync_standby", "state": "running"})
		}
		json.NewEncoder(w).Encode(map[string]any{"members": members})
	case r.Method == http.MethodPatch && r.URL.Path == "/config":
		user, pw, _ := r.BasicAuth()
		f.auth = append(f.auth, user+":"+pw)
		if user != "hagen" || pw != "rest-secret" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var body map[string]bool
		data, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(data, &body); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		f.patches = append(f.patches, body)
		if v, ok := body["synchronous_mode"]; ok {
			f.syncMode = v
		}
		if v, ok := body["synchronous_mode_strict"]; ok {
			f.strict = v
		}
		w.WriteHeader(http.StatusOK)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

// settle is Patroni's next loop: synchronous_standby_names follows the
// configuration as Patroni 3.0.2 sets it.
func (f *fakePatroni) settle() {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case !f.syncMode:
		f.names = ""
	case f.syncStreams:
		f.names = "db0"
	}
}

// fakeNames is the local database as the keeper sees it.
type fakeNames struct{ f *fakePatroni }

func (s fakeNames) status(context.Context) (status, error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	return status{Role: rolePrimary, Writable: true, Sync: &syncStatus{StandbyNames: s.f.names}}, nil
}

func newTestKeeper(t *testing.T, f *fakePatroni) (*patroniKeeper, string) {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	t.Setenv("HAGEN_TEST_RESTAPI_PASSWORD", "rest-secret")
	mark := filepath.Join(t.TempDir(), "promoted-alone")
	cfg := &contract.AgentConfig{Site: "db1", Patroni: &contract.AgentPatroni{
		API: srv.URL, User: "hagen", PasswordEnv: "HAGEN_TEST_RESTAPI_PASSWORD", PromotedAloneMark: mark, IntervalMs: 100,
	}}
	return newPatroniKeeper(cfg, fakeNames{f}, log.New(io.Discard, "", 0)), mark
}

// TestPatroniKeeperRelaxesAndRestores plays a promotion that left no
// standby: strict mode and '*' block every write; the keeper turns strict
// and synchronous mode off, waits for Patroni to clear the setting, turns
// synchronous mode on, and when the old primary streams as synchronous
// standby turns strict mode on and removes the mark.
func TestPatroniKeeperRelaxesAndRestores(t *testing.T) {
	f := &fakePatroni{leader: true, syncMode: true, strict: true, names: "*"}
	k, mark := newTestKeeper(t, f)
	ctx := context.Background()

	// Not marked: nothing, not even a request.
	if changed, err := k.tick(ctx); changed || err != nil {
		t.Fatalf("unmarked tick: changed %v, err %v", changed, err)
	}
	if err := os.WriteFile(mark, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	step := func(want map[string]bool) {
		t.Helper()
		before := len(f.patches)
		if _, err := k.tick(ctx); err != nil {
			t.Fatalf("tick: %v", err)
		}
		switch {
		case want == nil && len(f.patches) != before:
			t.Fatalf("unexpected PATCH %v", f.patches[before:])
		case want != nil && (len(f.patches) != before+1 || !reflect.DeepEqual(f.patches[before], want)):
			t.Fatalf("PATCHes %v, want one %v", f.patches[before:], want)
		}
	}
	step(map[string]bool{"synchronous_mode_strict": false, "synchronous_mode": false})
	// Patroni has not run its loop yet: '*' is still there, so the
	// keeper says the same again rather than turning sync on too early.
	step(map[string]bool{"synchronous_mode_strict": false, "synchronous_mode": false})
	f.settle() // Patroni clears the setting
	step(map[string]bool{"synchronous_mode": true})
	step(nil) // waiting for the standby
	f.mu.Lock()
	f.syncStreams = true
	f.mu.Unlock()
	f.settle()
	step(map[string]bool{"synchronous_mode": true, "synchronous_mode_strict": true})
	if _, err := os.Stat(mark); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the mark is still there: %v", err)
	}
	if !f.strict || !f.syncMode {
		t.Errorf("strict %v sync %v at the end, want both on", f.strict, f.syncMode)
	}
	for _, a := range f.auth {
		if a != "hagen:rest-secret" {
			t.Errorf("PATCH sent credentials %q", a)
		}
	}
}

// A marked node that is not the leader (demoted meanwhile) changes
// nothing; a PATCH refused by Patroni keeps the mark and says why.
func TestPatroniKeeperLeaderAndErrors(t *testing.T) {
	f := &fakePatroni{leader: false, syncMode: true, strict: true, names: "*"}
	k, mark := newTestKeeper(t, f)
	if err := os.WriteFile(mark, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if changed, err := k.tick(context.Background()); changed || err != nil || len(f.patches) != 0 {
		t.Fatalf("a replica: changed %v err %v patches %v", changed, err, f.patches)
	}
	f.leader = true
	t.Setenv("HAGEN_TEST_RESTAPI_PASSWORD", "wrong")
	_, err := k.tick(context.Background())
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "'*'") {
		t.Fatalf("refused PATCH: err %v", err)
	}
	if _, err := os.Stat(mark); err != nil {
		t.Errorf("the mark went away after a failed PATCH: %v", err)
	}
}
