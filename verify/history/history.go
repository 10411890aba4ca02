package history

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// FormatVersion is the version of the JSON encoding written by WriteJSON.
// It changes only when a field changes meaning or is removed; new optional
// fields keep the version.
const FormatVersion = 1

// Kind is what an operation does.
type Kind string

const (
	// Write sets Key to Value (an INSERT of a new key, or an UPSERT).
	Write Kind = "write"
	// Read reads Key; Value is what it returned, Absent that no row was found.
	Read Kind = "read"
)

// Outcome is what the client knows about an operation after it ended.
type Outcome string

const (
	// OK: the server answered with success (a write was committed).
	OK Outcome = "ok"
	// Failed: the operation certainly did not take effect: the server
	// answered with an error that rolled it back, or the request was never
	// sent (the connection could not be opened).
	Failed Outcome = "failed"
	// Unknown: the request was sent and no answer came (the connection
	// broke, the client timed out). The write may have committed, at any
	// time after its invocation, even long after the client gave up.
	Unknown Outcome = "unknown"
)

// Via is the kind of route a client took to the database.
type Via string

const (
	ViaVIP     Via = "vip"     // the keepalived virtual IP, straight to PostgreSQL
	ViaHAProxy Via = "haproxy" // an HAProxy front (on a node or at the VIP)
	ViaDNS     Via = "dns"     // a client DNS name (0.ha.test, …)
	ViaDirect  Via = "direct"  // a named node's own address
	ViaApp     Via = "app"     // a site's app service, which writes its site's database
)

// Path is the route one operation took.
type Path struct {
	Via Via `json:"via"`
	// Target is what the client dialled: "10.0.0.100:5444", "0.ha.test:8001".
	Target string `json:"target"`
	// Node names the node (direct) or site (app) the path is bound to.
	Node string `json:"node,omitempty"`
}

// String is "via target" or "via node (target)": "vip 10.0.0.100:5444",
// "direct db1 (10.0.1.10:5444)".
func (p Path) String() string {
	if p.Node != "" {
		return fmt.Sprintf("%s %s (%s)", p.Via, p.Node, p.Target)
	}
	return fmt.Sprintf("%s %s", p.Via, p.Target)
}

// Server is who served an operation, as the server itself reported it
// (for PostgreSQL: cluster_name, inet_server_addr(), pg_is_in_recovery()
// and the timeline; for an app: the site it says it serves).
type Server struct {
	// Node is the node's name (PostgreSQL cluster_name) or the app's site.
	Node string `json:"node"`
	Addr string `json:"addr,omitempty"`
	// InRecovery is pg_is_in_recovery(): true on a standby. Nil when the
	// server did not say (an app).
	InRecovery *bool `json:"inRecovery,omitempty"`
	// Epoch is the node's term as primary: PostgreSQL's timeline
	// (substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) on a primary).
	// A node promoted again gets a new epoch. Empty when unknown.
	Epoch string `json:"epoch,omitempty"`
	// Site is the site of an app that served the request.
	Site string `json:"site,omitempty"`
}

// Primary is a Server that answered as a writable primary.
func Primary(node, addr, epoch string) *Server {
	f := false
	return &Server{Node: node, Addr: addr, InRecovery: &f, Epoch: epoch}
}

// Standby is a Server that answered in recovery.
func Standby(node, addr string) *Server {
	t := true
	return &Server{Node: node, Addr: addr, InRecovery: &t}
}

// AppSite is a Server that is a site's app service.
func AppSite(site string) *Server { return &Server{Node: site, Site: site} }

// Identity is the node and epoch that acknowledged a write: "db0" or
// "db0@00000002".
func (s *Server) Identity() string {
	if s == nil {
		return ""
	}
	if s.Epoch != "" {
		return s.Node + "@" + s.Epoch
	}
	return s.Node
}

// Op is one client operation.
type Op struct {
	// Index is the operation's position in History.Ops (set by the
	// recorder and by Normalize).
	Index int `json:"index"`
	// Client names the client (a writer goroutine, a pgbench session).
	// A client runs one operation at a time.
	Client string `json:"client"`
	Kind   Kind   `json:"kind"`
	Key    string `json:"key"`
	// Value is the value written, or the value a read returned.
	Value string `json:"value,omitempty"`
	// Absent: the read found no row for Key.
	Absent bool `json:"absent,omitempty"`
	// Invoke and Complete are offsets from History.Start: when the client
	// sent the request and when it had the answer (or gave up).
	Invoke   time.Duration `json:"invokeNs"`
	Complete time.Duration `json:"completeNs"`
	Outcome  Outcome       `json:"outcome"`
	Error    string        `json:"error,omitempty"`
	Path     Path          `json:"path"`
	// Server is who answered; nil when nobody did (failed, unknown).
	Server *Server `json:"server,omitempty"`
}

// EventKind is what happened to the deployment.
type EventKind string

const (
	FaultStart EventKind = "fault-start" // Detail: the fault ("kill db0")
	FaultEnd   EventKind = "fault-end"   // the fault was lifted (healed, restarted)
	VIPHolder  EventKind = "vip"         // Node now holds the VIP ("" = nobody)
	Promotion  EventKind = "promotion"   // Node became writable
	Demotion   EventKind = "demotion"    // Node stopped being writable (fenced, rejoined)
	Note       EventKind = "note"        // anything else worth a mark on the timeline
)

// Event is something the harness did or observed, on the history's clock.
type Event struct {
	At     time.Duration `json:"atNs"`
	Kind   EventKind     `json:"kind"`
	Node   string        `json:"node,omitempty"`
	Detail string        `json:"detail,omitempty"`
}

// History is every operation of one scenario and the events around them.
type History struct {
	Format   int    `json:"format"`
	Scenario string `json:"scenario,omitempty"`
	// Start is the wall-clock time of offset 0; offsets were measured on
	// the monotonic clock.
	Start  time.Time `json:"start"`
	Ops    []Op      `json:"ops"`
	Events []Event   `json:"events"`
}

// Normalize sorts the operations by invocation (then client, then
// completion) and numbers them, sorts the events by time, and sets
// Format. The recorder's History is already normal.
func (h *History) Normalize() {
	h.Format = FormatVersion
	slices.SortStableFunc(h.Ops, func(a, b Op) int {
		if c := cmpDur(a.Invoke, b.Invoke); c != 0 {
			return c
		}
		if c := strings.Compare(a.Client, b.Client); c != 0 {
			return c
		}
		return cmpDur(a.Complete, b.Complete)
	})
	for i := range h.Ops {
		h.Ops[i].Index = i
	}
	slices.SortStableFunc(h.Events, func(a, b Event) int { return cmpDur(a.At, b.At) })
	if h.Ops == nil {
		h.Ops = []Op{}
	}
	if h.Events == nil {
		h.Events = []Event{}
	}
}

func cmpDur(a, b time.Duration) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// End is the latest time in the history (an operation's completion or an
// event).
func (h *History) End() time.Duration {
	var end time.Duration
	for _, o := range h.Ops {
		end = max(end, o.Invoke, o.Complete)
	}
	for _, e := range h.Events {
		end = max(end, e.At)
	}
	return end
}

// Validate reports the first malformed operation or event: an unknown
// kind or outcome, a completion before the invocation, a value written
// twice to one key (values must be unique per key: the checker tells
// writes apart by them).
func (h *History) Validate() error {
	if h.Format != 0 && h.Format != FormatVersion {
		return fmt.Errorf("history format %d: this version reads format %d", h.Format, FormatVersion)
	}
	written := map[[2]string]int{}
	for i, o := range h.Ops {
		at := fmt.Sprintf("operation %d (client %q)", i, o.Client)
		switch o.Kind {
		case Write, Read:
		default:
			return fmt.Errorf("%s: kind %q: want write or read", at, o.Kind)
		}
		switch o.Outcome {
		case OK, Failed, Unknown:
		default:
			return fmt.Errorf("%s: outcome %q: want ok, failed or unknown", at, o.Outcome)
		}
		if o.Complete < o.Invoke {
			return fmt.Errorf("%s: completes at %v, before its invocation at %v", at, o.Complete, o.Invoke)
		}
		if o.Kind == Write && o.Absent {
			return fmt.Errorf("%s: a write cannot be absent", at)
		}
		if o.Kind == Read && o.Outcome == OK && o.Absent && o.Value != "" {
			return fmt.Errorf("%s: a read cannot be absent and return %q", at, o.Value)
		}
		if o.Kind == Write {
			k := [2]string{o.Key, o.Value}
			if j, dup := written[k]; dup {
				return fmt.Errorf("%s: writes %q to key %q, as operation %d did: values must be unique per key", at, o.Value, o.Key, j)
			}
			written[k] = i
		}
	}
	for i, e := range h.Events {
		switch e.Kind {
		case FaultStart, FaultEnd, VIPHolder, Promotion, Demotion, Note:
		default:
			return fmt.Errorf("event %d: kind %q: want fault-start, fault-end, vip, promotion, demotion or note", i, e.Kind)
		}
	}
	return nil
}

// WriteJSON writes the history as one indented JSON object.
func (h History) WriteJSON(w io.Writer) error {
	h.Format = FormatVersion
	if h.Ops == nil {
		h.Ops = []Op{}
	}
	if h.Events == nil {
		h.Events = []Event{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(h)
}

// ReadJSON reads a history written by WriteJSON and validates it.
func ReadJSON(r io.Reader) (History, error) {
	var h History
	dec := json.NewDecoder(r)
	if err := dec.Decode(&h); err != nil {
		return h, fmt.Errorf("history: %w", err)
	}
	if err := h.Validate(); err != nil {
		return h, fmt.Errorf("history: %w", err)
	}
	return h, nil
}
