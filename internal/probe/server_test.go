package probe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeStore is an in-memory Store; down makes every call fail as an
// unreachable database does.
type fakeStore struct {
	mu      sync.Mutex
	rows    map[string]Row
	clients map[string]string
	down    error
	// block makes Insert wait until its context ends, as a commit does
	// when a synchronous standby is gone.
	block bool
}

func newFakeStore() *fakeStore {
	return &fakeStore{rows: map[string]Row{}, clients: map[string]string{}}
}

func (f *fakeStore) Ping(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.down
}

func (f *fakeStore) Insert(ctx context.Context, id, site, client string) error {
	f.mu.Lock()
	block := f.block
	f.mu.Unlock()
	if block {
		<-ctx.Done()
		return ctx.Err()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down != nil {
		return f.down
	}
	if _, ok := f.rows[id]; ok {
		return ErrDuplicate
	}
	f.rows[id] = Row{ID: id, Site: site}
	f.clients[id] = client
	return nil
}

func (f *fakeStore) Update(ctx context.Context, id string, value int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down != nil {
		return f.down
	}
	r, ok := f.rows[id]
	if !ok {
		return ErrNotFound
	}
	r.Value = value
	f.rows[id] = r
	return nil
}

func (f *fakeStore) Read(ctx context.Context, id string) (Row, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down != nil {
		return Row{}, f.down
	}
	r, ok := f.rows[id]
	if !ok {
		return Row{}, ErrNotFound
	}
	return r, nil
}

func TestHandler(t *testing.T) {
	type step struct {
		method, target string
		down           bool
		code           int
		body           map[string]any
	}
	errDown := errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
	tests := []struct {
		name  string
		steps []step
	}{
		{"site", []step{
			{method: "GET", target: "/site", code: 200, body: map[string]any{"site": "site0"}},
		}},
		{"site while the database is down", []step{
			{method: "GET", target: "/site", down: true, code: 503, body: map[string]any{"site": "site0", "error": errDown.Error()}},
			{method: "GET", target: "/site", code: 200, body: map[string]any{"site": "site0"}},
		}},
		{"write, read, update, read", []step{
			{method: "POST", target: "/write?id=c-1&client=c", code: 200, body: map[string]any{"site": "site0", "id": "c-1"}},
			{method: "GET", target: "/read?id=c-1", code: 200, body: map[string]any{"id": "c-1", "site": "site0", "value": 0.0, "servedBy": "site0"}},
			{method: "POST", target: "/update?id=c-1&value=7", code: 200, body: map[string]any{"site": "site0", "id": "c-1", "value": 7.0}},
			{method: "GET", target: "/read?id=c-1", code: 200, body: map[string]any{"id": "c-1", "site": "site0", "value": 7.0, "servedBy": "site0"}},
		}},
		{"duplicate write", []step{
			{method: "POST", target: "/write?id=c-1&client=c", code: 200, body: map[string]any{"site": "site0", "id": "c-1"}},
			{method: "POST", target: "/write?id=c-1&client=c", code: 409, body: map[string]any{"site": "site0", "error": `id "c-1": id exists`}},
		}},
		{"write while the database is down is not acknowledged", []step{
			{method: "POST", target: "/write?id=c-1&client=c", down: true, code: 503, body: map[string]any{"site": "site0", "error": errDown.Error()}},
			{method: "GET", target: "/read?id=c-1", code: 404, body: map[string]any{"site": "site0", "error": `id "c-1": no such row`}},
		}},
		{"missing rows", []step{
			{method: "GET", target: "/read?id=nope", code: 404, body: map[string]any{"site": "site0", "error": `id "nope": no such row`}},
			{method: "POST", target: "/update?id=nope&value=1", code: 404, body: map[string]any{"site": "site0", "error": `id "nope": no such row`}},
		}},
		{"bad requests", []step{
			{method: "POST", target: "/write", code: 400, body: map[string]any{"site": "site0", "error": "write needs id"}},
			{method: "POST", target: "/update?id=c-1&value=x", code: 400, body: map[string]any{"site": "site0", "error": "update needs id and an integer value"}},
			{method: "GET", target: "/read", code: 400, body: map[string]any{"site": "site0", "error": "read needs id"}},
			{method: "GET", target: "/write?id=c-1", code: 405, body: map[string]any{"site": "site0", "error": "/write wants POST"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newFakeStore()
			var logs bytes.Buffer
			h := NewHandler("site0", store, time.Second, log.New(&logs, "", 0))
			for i, s := range tt.steps {
				store.down = nil
				if s.down {
					store.down = errDown
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(s.method, s.target, nil))
				if rec.Code != s.code {
					t.Errorf("step %d %s %s: code %d, want %d", i, s.method, s.target, rec.Code, s.code)
				}
				if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
					t.Errorf("step %d: Content-Type %q", i, ct)
				}
				var body map[string]any
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
					t.Fatalf("step %d: body %q: %v", i, rec.Body, err)
				}
				if diff := cmp.Diff(s.body, body); diff != "" {
					t.Errorf("step %d %s %s: body (-want +got):\n%s", i, s.method, s.target, diff)
				}
			}
		})
	}
}

// The write is acknowledged only when the commit returned: a commit that
// hangs ends in 503 at the timeout, never in 200.
func TestHandlerWriteTimeout(t *testing.T) {
	store := newFakeStore()
	store.block = true
	h := NewHandler("site1", store, 20*time.Millisecond, nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/write?id=c-9&client=c", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("code %d, want 503; body %s", rec.Code, rec.Body)
	}
	if len(store.rows) != 0 {
		t.Errorf("rows %v, want none", store.rows)
	}
}

// The log says when the database goes away and when it is back, once
// each, however many requests fail in between.
func TestHandlerLogsStateChanges(t *testing.T) {
	store := newFakeStore()
	var logs bytes.Buffer
	h := NewHandler("site0", store, time.Second, log.New(&logs, "", 0))
	get := func() {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/site", nil))
	}
	get()
	store.down = errors.New("connection refused")
	get()
	get()
	get()
	store.down = nil
	get()
	get()
	want := "database error: connection refused\ndatabase answers again\n"
	if got := logs.String(); got != want {
		t.Errorf("log:\n%s\nwant:\n%s", got, want)
	}
}

func TestDBConfigStringHasNoPassword(t *testing.T) {
	c := DBConfig{Host: "127.0.0.1", Port: 5444, Name: "kwanza", User: "postgres", Password: "s3cret"}
	s := c.String()
	if strings.Contains(s, "s3cret") {
		t.Errorf("String() = %q contains the password", s)
	}
	if want := "postgres://postgres@127.0.0.1:5444/kwanza"; s != want {
		t.Errorf("String() = %q, want %q", s, want)
	}
}
