package probe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// ServeConfig configures the application-server stand-in.
type ServeConfig struct {
	// Site is the name the server reports (site0).
	Site string
	// Listen is the HTTP address (:8001).
	Listen string
	DB     DBConfig
	// Timeout bounds each request's database work; zero means 2 s.
	Timeout time.Duration
	// Log receives the server's log lines; nil discards them.
	Log *log.Logger
}

// Serve runs the stand-in until ctx is done, then shuts down gracefully.
func Serve(ctx context.Context, c ServeConfig) error {
	logger := c.Log
	if logger == nil {
		logger = log.New(discard{}, "", 0)
	}
	store, err := NewPGStore(c.DB)
	if err != nil {
		return fmt.Errorf("database %s: %w", c.DB, err)
	}
	defer store.Close()
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           NewHandler(c.Site, store, c.Timeout, logger),
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          logger,
	}
	logger.Printf("site %s listening on %s, database %s", c.Site, ln.Addr(), c.DB)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	logger.Printf("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// handler serves the stand-in's HTTP API over a Store.
type handler struct {
	site    string
	store   Store
	timeout time.Duration
	log     *log.Logger

	mu     sync.Mutex
	dbDown bool // logs only the changes of the database's state
}

// NewHandler returns the HTTP API of the application stand-in:
//
//	GET  /site                  200 {"site"}; 503 when the database does not answer
//	POST /write?id=ID&client=C  INSERT; 200 {"site","id"} only after the commit returned
//	POST /update?id=ID&value=V  UPDATE value; 200 {"site","id","value"}, 404 without the row
//	GET  /read?id=ID            200 {"id","site","value","servedBy"}, 404 without the row
//
// Errors are JSON {"site","error"}: 400 bad request, 405 wrong method,
// 409 duplicate id, 503 database unavailable or the statement failed.
// timeout bounds the database work of each request (zero: 2 s).
func NewHandler(site string, store Store, timeout time.Duration, logger *log.Logger) http.Handler {
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	if logger == nil {
		logger = log.New(discard{}, "", 0)
	}
	h := &handler{site: site, store: store, timeout: timeout, log: logger}
	mux := http.NewServeMux()
	mux.HandleFunc("/site", h.method(http.MethodGet, h.getSite))
	mux.HandleFunc("/write", h.method(http.MethodPost, h.write))
	mux.HandleFunc("/update", h.method(http.MethodPost, h.update))
	mux.HandleFunc("/read", h.method(http.MethodGet, h.read))
	return mux
}

func (h *handler) method(m string, f http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != m {
			w.Header().Set("Allow", m)
			h.fail(w, http.StatusMethodNotAllowed, fmt.Errorf("%s wants %s", r.URL.Path, m))
			return
		}
		f(w, r)
	}
}

func (h *handler) getSite(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), h.timeout)
	defer cancel()
	if err := h.db(h.store.Ping(ctx)); err != nil {
		h.fail(w, http.StatusServiceUnavailable, err)
		return
	}
	h.reply(w, http.StatusOK, map[string]any{"site": h.site})
}

func (h *handler) write(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	id := q.Get("id")
	if id == "" {
		h.fail(w, http.StatusBadRequest, errors.New("write needs id"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.timeout)
	defer cancel()
	switch err := h.store.Insert(ctx, id, h.site, q.Get("client")); {
	case errors.Is(err, ErrDuplicate):
		h.db(nil)
		h.fail(w, http.StatusConflict, fmt.Errorf("id %q: %w", id, err))
	case err != nil:
		h.fail(w, http.StatusServiceUnavailable, h.db(err))
	default:
		h.db(nil)
		h.reply(w, http.StatusOK, map[string]any{"site": h.site, "id": id})
	}
}

func (h *handler) update(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	id := q.Get("id")
	value, verr := strconv.ParseInt(q.Get("value"), 10, 64)
	if id == "" || verr != nil {
		h.fail(w, http.StatusBadRequest, errors.New("update needs id and an integer value"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.timeout)
	defer cancel()
	switch err := h.store.Update(ctx, id, value); {
	case errors.Is(err, ErrNotFound):
		h.db(nil)
		h.fail(w, http.StatusNotFound, fmt.Errorf("id %q: %w", id, err))
	case err != nil:
		h.fail(w, http.StatusServiceUnavailable, h.db(err))
	default:
		h.db(nil)
		h.reply(w, http.StatusOK, map[string]any{"site": h.site, "id": id, "value": value})
	}
}

func (h *handler) read(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	if id == "" {
		h.fail(w, http.StatusBadRequest, errors.New("read needs id"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.timeout)
	defer cancel()
	row, err := h.store.Read(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound):
		h.db(nil)
		h.fail(w, http.StatusNotFound, fmt.Errorf("id %q: %w", id, err))
	case err != nil:
		h.fail(w, http.StatusServiceUnavailable, h.db(err))
	default:
		h.db(nil)
		h.reply(w, http.StatusOK, map[string]any{"id": row.ID, "site": row.Site, "value": row.Value, "servedBy": h.site})
	}
}

// db records whether the database answered and logs when that changes,
// so an outage is two log lines, not one per request. It returns err.
func (h *handler) db(err error) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch down := err != nil; {
	case down && !h.dbDown:
		h.log.Printf("database error: %v", err)
	case !down && h.dbDown:
		h.log.Printf("database answers again")
	}
	h.dbDown = err != nil
	return err
}

func (h *handler) fail(w http.ResponseWriter, code int, err error) {
	h.reply(w, code, map[string]any{"site": h.site, "error": err.Error()})
}

func (h *handler) reply(w http.ResponseWriter, code int, body map[string]any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}
