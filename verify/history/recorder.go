package history

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Recorder collects the operations and events of one scenario. Its clock
// starts at NewRecorder: offsets are read from the monotonic clock, so a
// wall-clock step during the run does not bend the history. Safe for
// concurrent use; each Client is meant for one goroutine at a time (a
// client runs one operation at a time) and costs one uncontended lock
// per call.
type Recorder struct {
	scenario string
	start    time.Time

	mu      sync.Mutex
	clients []*Client
	names   map[string]bool
	events  []Event
}

// NewRecorder starts the clock of a scenario's history.
func NewRecorder(scenario string) *Recorder {
	return &Recorder{scenario: scenario, start: time.Now(), names: map[string]bool{}}
}

// Start is the wall-clock time of offset 0.
func (r *Recorder) Start() time.Time { return r.start }

// Now is the current offset.
func (r *Recorder) Now() time.Duration { return time.Since(r.start) }

// Offset converts a time to an offset: monotonic for a time.Now() reading
// of this process, wall-clock for a time parsed from elsewhere (a
// pgbench log), which is then on the same clock only as far as the two
// wall clocks agree (containers share the host's).
func (r *Recorder) Offset(t time.Time) time.Duration { return t.Sub(r.start) }

// Event records an event now.
func (r *Recorder) Event(kind EventKind, node, detail string) {
	r.EventAt(r.Now(), kind, node, detail)
}

// EventAt records an event at a given offset (for example the moment a
// poller first saw the VIP on a node).
func (r *Recorder) EventAt(at time.Duration, kind EventKind, node, detail string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, Event{At: at, Kind: kind, Node: node, Detail: detail})
}

// Client returns a new client whose operations go through path until
// SetPath changes it. Client names must be unique within the recorder.
func (r *Recorder) Client(name string, path Path) *Client {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.names[name] {
		panic(fmt.Sprintf("history: client %q registered twice", name))
	}
	r.names[name] = true
	c := &Client{r: r, name: name, path: path, pending: -1}
	r.clients = append(r.clients, c)
	return c
}

// Add records finished operations from elsewhere (a pgbench log turned
// into operations); their Index is reassigned.
func (r *Recorder) Add(ops ...Op) {
	c := &Client{r: r, pending: -1, ops: slices.Clone(ops)}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clients = append(r.clients, c)
}

// History returns what was recorded so far, normalized. An operation
// still in flight is included as unknown, completed now: a write the
// client has not heard back about may commit.
func (r *Recorder) History() History {
	now := r.Now()
	r.mu.Lock()
	clients := slices.Clone(r.clients)
	h := History{Format: FormatVersion, Scenario: r.scenario, Start: r.start, Events: slices.Clone(r.events)}
	r.mu.Unlock()
	for _, c := range clients {
		c.mu.Lock()
		for i, o := range c.ops {
			if i == c.pending {
				o.Outcome = Unknown
				o.Complete = max(now, o.Invoke)
				o.Error = "still in flight when the history was taken"
			}
			h.Ops = append(h.Ops, o)
		}
		c.mu.Unlock()
	}
	h.Normalize()
	return h
}

// Client records the operations of one client, one at a time.
type Client struct {
	r    *Recorder
	name string

	mu      sync.Mutex
	path    Path
	ops     []Op
	pending int // index into ops of the operation in flight, or -1
}

// Name is the client's name.
func (c *Client) Name() string { return c.name }

// SetPath changes the path of the client's next operations (a client
// library failing over to the next DNS name).
func (c *Client) SetPath(p Path) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.path = p
}

// Invoke records the start of an operation; call it just before sending
// the request, and end the returned Pending once the answer is in. It
// panics if the client's previous operation was not ended: a client runs
// one operation at a time.
func (c *Client) Invoke(kind Kind, key, value string) Pending {
	at := c.r.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending >= 0 {
		panic(fmt.Sprintf("history: client %q invoked a %s of %q while operation %d is in flight", c.name, kind, key, c.pending))
	}
	c.ops = append(c.ops, Op{Client: c.name, Kind: kind, Key: key, Value: value, Invoke: at, Complete: at, Outcome: Unknown, Path: c.path})
	c.pending = len(c.ops) - 1
	return Pending{c: c, i: c.pending}
}

// Pending is an operation in flight.
type Pending struct {
	c *Client
	i int
}

// OK ends a write the server acknowledged.
func (p Pending) OK(s *Server) { p.end(OK, nil, s, nil) }

// ReadOK ends a read the server answered: found is false when no row was
// found.
func (p Pending) ReadOK(s *Server, value string, found bool) {
	p.end(OK, nil, s, func(o *Op) {
		if found {
			o.Value = value
		} else {
			o.Value, o.Absent = "", true
		}
	})
}

// Fail ends an operation that certainly did not take effect.
func (p Pending) Fail(err error) { p.end(Failed, err, nil, nil) }

// Unknown ends an operation whose outcome the client cannot know.
func (p Pending) Unknown(err error) { p.end(Unknown, err, nil, nil) }

// End ends a write with the outcome Classify gives err (OK for nil).
func (p Pending) End(err error, s *Server) {
	if err == nil {
		p.OK(s)
		return
	}
	p.end(Classify(err), err, nil, nil)
}

func (p Pending) end(out Outcome, err error, s *Server, set func(*Op)) {
	at := p.c.r.Now()
	p.c.mu.Lock()
	defer p.c.mu.Unlock()
	if p.c.pending != p.i {
		panic(fmt.Sprintf("history: client %q ended operation %d twice", p.c.name, p.i))
	}
	o := &p.c.ops[p.i]
	o.Complete, o.Outcome, o.Server = at, out, s
	if err != nil {
		o.Error = oneLine(err.Error())
	}
	if set != nil {
		set(o)
	}
	p.c.pending = -1
}

// oneLine keeps an error's first line, at most 300 bytes.
func oneLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
