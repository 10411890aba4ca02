package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/hagen-ha/hagen/contract"
)

// fakeSource reports a fixed status, or an error.
type fakeSource struct {
	mu  sync.Mutex
	st  status
	err error
}

func (f *fakeSource) status(context.Context) (status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st, f.err
}

func (f *fakeSource) set(st status, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st, f.err = st, err
}

var (
	writable = status{Role: rolePrimary, Writable: true, Timeline: 1,
		Sync: &syncStatus{Spec: true, StandbyNames: "db1", Connected: []string{"db1"}, State: "sync"}}
	fenced    = status{Role: roleFenced, ReadOnly: true, Timeline: 1}
	streaming = status{Role: roleStandby, InRecovery: true, Timeline: 1,
		Standby: &standbyStatus{Receiver: "streaming", Streaming: true, SenderHost: "10.232.0.11", SenderPort: 5444}}
	orphaned = status{Role: roleStandby, InRecovery: true,
		Standby: &standbyStatus{Receiver: "stopped"}}
)

func get(t *testing.T, h http.Handler, method, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Code, rec.Body.String()
}

// Each endpoint answers 200 for exactly one role.
func TestEndpointsByRole(t *testing.T) {
	down := errors.New("dial tcp 127.0.0.1:5444: connect: connection refused")
	cases := []struct {
		name            string
		st              status
		err             error
		primary, replic int
		health          int
	}{
		{"writable primary", writable, nil, 200, 503, 200},
		{"fenced primary", fenced, nil, 503, 503, 200},
		{"streaming standby", streaming, nil, 503, 200, 200},
		{"standby without its primary", orphaned, nil, 503, 503, 200},
		{"database down", status{}, down, 503, 503, 503},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := &fakeSource{st: c.st, err: c.err}
			h := newHandler("db0", nil, src, log.New(io.Discard, "", 0))
			if code, body := get(t, h, "GET", "/primary"); code != c.primary {
				t.Errorf("/primary = %d %q, want %d", code, body, c.primary)
			}
			if code, body := get(t, h, "GET", "/replica"); code != c.replic {
				t.Errorf("/replica = %d %q, want %d", code, body, c.replic)
			}
			if code, body := get(t, h, "HEAD", "/primary"); code != c.primary || body != "" {
				t.Errorf("HEAD /primary = %d %q, want %d and no body", code, body, c.primary)
			}
			if code, _ := get(t, h, "GET", "/health"); code != c.health {
				t.Errorf("/health = %d, want %d", code, c.health)
			}
			// The spec's health path answers as /primary; other paths
			// do not.
			if code, _ := get(t, h, "GET", "/var/modules/mirror/ready.txt"); code != 404 {
				t.Errorf("health path without primaryPath = %d, want 404", code)
			}
			h.primaryPath = "/var/modules/mirror/ready.txt"
			if code, body := get(t, h, "GET", h.primaryPath); code != c.primary {
				t.Errorf("%s = %d %q, want %d", h.primaryPath, code, body, c.primary)
			}
			if code, _ := get(t, h, "GET", "/var/modules/mirror"); code != 404 {
				t.Errorf("a prefix of the health path = %d, want 404", code)
			}
		})
	}
}

// A primary whose role says writable but whose flag does not is not served
// as the primary: /primary requires both.
func TestPrimaryNeedsWritable(t *testing.T) {
	st := writable
	st.Writable = false
	h := newHandler("db0", nil, &fakeSource{st: st}, log.New(io.Discard, "", 0))
	if code, _ := get(t, h, "GET", "/primary"); code != 503 {
		t.Errorf("/primary = %d for a primary that is not writable", code)
	}
}

func TestHealthJSON(t *testing.T) {
	peers := []contract.AgentPeer{{Site: "db1", Address: "10.232.0.12", Health: "http://10.232.0.12:8008/health"}}
	h := newHandler("db0", peers, &fakeSource{st: writable}, log.New(io.Discard, "", 0))
	code, body := get(t, h, "GET", "/health")
	if code != 200 {
		t.Fatalf("/health = %d", code)
	}
	var got struct {
		Site     string
		Role     string
		Writable bool
		Timeline int
		Sync     struct {
			State     string
			Connected []string
		}
		Peers []contract.AgentPeer
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("/health is not JSON: %v\n%s", err, body)
	}
	if got.Site != "db0" || got.Role != "primary" || !got.Writable || got.Timeline != 1 {
		t.Errorf("/health = %+v", got)
	}
	if got.Sync.State != "sync" || len(got.Sync.Connected) != 1 || got.Sync.Connected[0] != "db1" {
		t.Errorf("/health sync = %+v", got.Sync)
	}
	if len(got.Peers) != 1 || got.Peers[0] != peers[0] {
		t.Errorf("/health peers = %+v", got.Peers)
	}

	h = newHandler("db0", nil, &fakeSource{err: errors.New("password authentication failed")}, log.New(io.Discard, "", 0))
	code, body = get(t, h, "GET", "/health")
	if code != 503 || !strings.Contains(body, `"role": "unreachable"`) || !strings.Contains(body, "password authentication failed") {
		t.Errorf("/health with the database down = %d\n%s", code, body)
	}
}

func TestMethodsAndPaths(t *testing.T) {
	h := newHandler("db0", nil, &fakeSource{st: writable}, log.New(io.Discard, "", 0))
	if code, _ := get(t, h, "POST", "/primary"); code != http.StatusMethodNotAllowed {
		t.Errorf("POST /primary = %d", code)
	}
	if code, _ := get(t, h, "GET", "/"); code != http.StatusNotFound {
		t.Errorf("GET / = %d", code)
	}
}

// The log names each role change once, not every check.
func TestRoleChangesLoggedOnce(t *testing.T) {
	var buf bytes.Buffer
	src := &fakeSource{st: writable}
	h := newHandler("db0", nil, src, log.New(&buf, "", 0))
	get(t, h, "GET", "/primary")
	get(t, h, "GET", "/primary")
	src.set(fenced, nil)
	get(t, h, "GET", "/primary")
	get(t, h, "GET", "/health")
	src.set(status{}, errors.New("connection refused"))
	get(t, h, "GET", "/primary")
	want := "site db0 is primary (timeline 1)\n" +
		"site db0 is fenced primary (default_transaction_read_only is on) (timeline 1)\n" +
		"site db0 is the database does not answer: connection refused\n"
	if buf.String() != want {
		t.Errorf("log:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func TestSyncState(t *testing.T) {
	rep := func(name, state, sync string) replica {
		return replica{ApplicationName: name, State: state, SyncState: sync}
	}
	cases := []struct {
		names string
		reps  []replica
		want  string
	}{
		{"", nil, "async"},
		{"", []replica{rep("db1", "streaming", "async")}, "async"},
		{"db1", nil, "blocked"},
		{"db1", []replica{rep("db1", "catchup", "sync")}, "blocked"},
		{"db1", []replica{rep("db1", "streaming", "sync")}, "sync"},
		{"ANY 1 (db1, db2)", []replica{rep("db2", "streaming", "quorum")}, "sync"},
		// Fewer stream than the setting waits for: commits wait.
		{`ANY 2 ("db1", "db2", "db3")`, []replica{rep("db2", "streaming", "quorum")}, "blocked"},
		{`ANY 2 ("db1", "db2", "db3")`, []replica{rep("db2", "streaming", "quorum"), rep("db3", "streaming", "quorum")}, "sync"},
		{`FIRST 2 ("db1", "db2")`, []replica{rep("db1", "streaming", "sync"), rep("db2", "catchup", "potential")}, "blocked"},
	}
	for _, c := range cases {
		if got, _ := syncState(c.names, c.reps); got != c.want {
			t.Errorf("syncState(%q, %v) = %s, want %s", c.names, c.reps, got, c.want)
		}
	}
}
