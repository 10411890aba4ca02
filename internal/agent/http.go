package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/hagen-ha/hagen/contract"
)

// handler serves the node's health from a roleSource:
//
//	GET /primary  200 only on the writable primary (not in recovery, not
//	              fenced read-only): the health URL HAProxy and cloud load
//	              balancers check, as SafeKit's answers only on the active node
//	GET /replica  200 only on a standby whose WAL receiver is streaming
//	GET /health   the full status as JSON; 503 when the database does not answer
//	GET <primaryPath>  as /primary: the spec's health path, when it is another
//
// The status comes from src (in the agent, the shared cache: at most
// statusTTL old); role changes are logged. At most maxInFlight requests
// are served at once; a request waits queueWait for a slot, then gets 503.
type handler struct {
	site  string
	peers []contract.AgentPeer
	src   roleSource
	log   *log.Logger

	slots        chan struct{}
	answerWithin time.Duration // the longest a request waits for the status
	lim          *connLimiter  // told which connections are serving

	mu   sync.Mutex
	last string // the last role logged

	// primaryPath answers as /primary (the spec's health path); empty
	// for /primary only.
	primaryPath string
}

// connKey carries a request's net.Conn in its context (http.Server.ConnContext).
type connKey struct{}

func newHandler(site string, peers []contract.AgentPeer, src roleSource, logger *log.Logger) *handler {
	return &handler{site: site, peers: peers, src: src, log: logger,
		slots: make(chan struct{}, maxInFlight), answerWithin: 5 * time.Second}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if c, ok := r.Context().Value(connKey{}).(net.Conn); ok && h.lim != nil {
		h.lim.serving(c, true)
		defer h.lim.serving(c, false)
	}
	path := r.URL.Path
	if h.primaryPath != "" && path == h.primaryPath {
		path = "/primary"
	}
	switch path {
	case "/primary", "/replica", "/health":
	default:
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	select {
	case h.slots <- struct{}{}:
	default:
		wait := time.NewTimer(queueWait)
		select {
		case h.slots <- struct{}{}:
			wait.Stop()
		case <-wait.C:
			http.Error(w, h.site+": busy: too many requests at once", http.StatusServiceUnavailable)
			return
		case <-r.Context().Done():
			wait.Stop()
			return
		}
	}
	defer func() { <-h.slots }()
	ctx, cancel := context.WithTimeout(r.Context(), h.answerWithin)
	defer cancel()
	st, err := h.src.status(ctx)
	if err != nil {
		st = status{Role: roleUnreachable, Error: err.Error()}
	}
	st.Site = h.site
	h.observe(st)
	w.Header().Set("Cache-Control", "no-store")
	switch path {
	case "/primary":
		text(w, r, st.Role == rolePrimary && st.Writable, "writable primary", st)
	case "/replica":
		text(w, r, st.Role == roleStandby && st.Standby != nil && st.Standby.Streaming, "streaming standby", st)
	case "/health":
		code := http.StatusOK
		if st.Role == roleUnreachable {
			code = http.StatusServiceUnavailable
		}
		body := struct {
			status
			Peers []contract.AgentPeer `json:"peers"`
		}{st, h.peers}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		if r.Method == http.MethodHead {
			return
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(body)
	}
}

// text answers 200 "<what>" when ok, else 503 with the role it found.
func text(w http.ResponseWriter, r *http.Request, ok bool, what string, st status) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	code, msg := http.StatusOK, fmt.Sprintf("%s: %s", st.Site, what)
	if !ok {
		code, msg = http.StatusServiceUnavailable, fmt.Sprintf("%s: not a %s: %s", st.Site, what, describe(st))
	}
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		fmt.Fprintln(w, msg)
	}
}

// describe is a role in words, with the detail that matters for it.
func describe(st status) string {
	switch {
	case st.Role == roleUnreachable:
		return "the database does not answer: " + st.Error
	case st.Role == roleStandby && st.Standby != nil:
		return "standby, WAL receiver " + st.Standby.Receiver
	case st.Role == roleFenced:
		return "fenced primary (default_transaction_read_only is on)"
	default:
		return st.Role
	}
}

// observe logs the role when it differs from the last one logged.
func (h *handler) observe(st status) {
	h.mu.Lock()
	defer h.mu.Unlock()
	key := st.Role
	if st.Standby != nil {
		key += "/" + st.Standby.Receiver
	}
	if key == h.last {
		return
	}
	h.last = key
	msg := fmt.Sprintf("site %s is %s", st.Site, describe(st))
	if st.Timeline > 0 {
		msg += fmt.Sprintf(" (timeline %d)", st.Timeline)
	}
	h.log.Print(msg)
}
